//! Per-client limits: how many buyer sessions one client address may start, and how many
//! order event streams one buyer and the whole gateway keep open. Who the client is (its
//! address, through proxies the operator trusts) is `boxoffice_http::client`, shared with the
//! admin side's sign-in limits.
//!
//! These are a first line against one client taking more than its share (unlimited sessions
//! are unlimited draw entries and per-buyer allowances), not a bot defence: an address is
//! cheap to change and many real buyers share one behind a NAT. README "Abuse limits" says
//! what a deployment adds in front.

use std::{
    collections::HashMap,
    net::IpAddr,
    num::NonZeroU32,
    sync::{Arc, Mutex},
};

use axum::extract::FromRef;
pub use boxoffice_http::client::{ClientIp, TrustedProxies};
use boxoffice_http::client::{limit_key, parse_net, wait_s};
use boxoffice_nats::BuyerId;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;

use crate::AppState;

/// The per-client limits (flags or `BOXOFFICE_*` variables).
#[derive(clap::Args, Debug, Clone)]
pub struct ClientLimitsConfig {
    /// Buyer sessions one client address (an IPv6 /64) may start per minute: a token bucket
    /// holding this many, refilled over a minute. Past it, `POST /api/v1/sessions` answers
    /// 429 with `Retry-After`. 0 turns the limit off (load tests driving every buyer from one
    /// address).
    #[arg(
        long = "sessions-per-address-per-minute",
        env = "BOXOFFICE_SESSIONS_PER_ADDRESS_PER_MINUTE",
        default_value_t = 300
    )]
    pub sessions_per_address_per_minute: u32,
    /// Order event streams (`GET /api/v1/orders/{id}/events`) one buyer may keep open on this
    /// gateway.
    #[arg(
        long = "order-streams-per-buyer",
        env = "BOXOFFICE_ORDER_STREAMS_PER_BUYER",
        default_value_t = 4
    )]
    pub order_streams_per_buyer: u32,
    /// Order event streams open on this gateway in all.
    #[arg(
        long = "order-streams-max",
        env = "BOXOFFICE_ORDER_STREAMS_MAX",
        default_value_t = 20_000
    )]
    pub order_streams_max: usize,
    /// Presale code attempts (`POST /api/v1/events/{id}/presale`) one buyer session may make
    /// per minute (a token bucket); past it, 429 with `Retry-After`. 0: unlimited.
    #[arg(
        long = "presale-codes-per-buyer-per-minute",
        env = "BOXOFFICE_PRESALE_CODES_PER_BUYER_PER_MINUTE",
        default_value_t = 5
    )]
    pub presale_codes_per_buyer_per_minute: u32,
    /// Presale code attempts one client address (an IPv6 /64) may make per minute, whatever
    /// sessions it uses. 0: unlimited.
    #[arg(
        long = "presale-codes-per-address-per-minute",
        env = "BOXOFFICE_PRESALE_CODES_PER_ADDRESS_PER_MINUTE",
        default_value_t = 20
    )]
    pub presale_codes_per_address_per_minute: u32,
    /// Proxies whose `X-Forwarded-For` is believed, as addresses or networks
    /// (`10.0.0.0/8`), comma-separated: the load balancer or CDN in front. Empty (the
    /// default): the connection's peer is the client and the header is ignored.
    #[arg(
        long = "trusted-proxies",
        env = "BOXOFFICE_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_parser = parse_net
    )]
    pub trusted_proxies: Vec<IpNet>,
}

/// Sessions started per client address (a token bucket each).
pub struct SessionLimiter {
    by_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
}

impl SessionLimiter {
    /// `per_minute` sessions per address; 0: unlimited.
    pub fn new(per_minute: u32) -> Self {
        Self {
            by_address: NonZeroU32::new(per_minute)
                .map(|n| RateLimiter::keyed(Quota::per_minute(n))),
        }
    }

    /// Takes one session for `from`, or says how many seconds to wait.
    pub fn check(&self, from: IpAddr) -> Result<(), u32> {
        let Some(limiter) = &self.by_address else {
            return Ok(());
        };
        limiter
            .check_key(&limit_key(from))
            .map_err(|e| wait_s(&e))?;
        // Full buckets are forgotten now and then, so the map stays the size of the
        // addresses active in the last minute.
        if limiter.len() > 100_000 {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        Ok(())
    }
}

/// Presale code attempts per buyer session and per client address (a token bucket each): a
/// code is a short secret, and guessing it must cost more than any buyer will spend.
pub struct PresaleLimiter {
    by_buyer: Option<DefaultKeyedRateLimiter<BuyerId>>,
    by_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
}

impl PresaleLimiter {
    /// `per_buyer` and `per_address` attempts per minute; 0: that bound is off.
    pub fn new(per_buyer: u32, per_address: u32) -> Self {
        Self {
            by_buyer: NonZeroU32::new(per_buyer).map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            by_address: NonZeroU32::new(per_address)
                .map(|n| RateLimiter::keyed(Quota::per_minute(n))),
        }
    }

    /// Takes one attempt for `buyer` from `from`, or says how many seconds to wait.
    pub fn check(&self, buyer: BuyerId, from: IpAddr) -> Result<(), u32> {
        if let Some(limiter) = &self.by_address {
            limiter
                .check_key(&limit_key(from))
                .map_err(|e| wait_s(&e))?;
            if limiter.len() > 100_000 {
                limiter.retain_recent();
            }
        }
        if let Some(limiter) = &self.by_buyer {
            limiter.check_key(&buyer).map_err(|e| wait_s(&e))?;
            if limiter.len() > 100_000 {
                limiter.retain_recent();
            }
        }
        Ok(())
    }
}

/// Why no stream slot was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamsFull {
    /// This buyer has its allowance open already.
    Buyer(u32),
    /// The gateway has its allowance open already.
    Gateway(usize),
}

#[derive(Default)]
struct Open {
    total: usize,
    by_buyer: HashMap<BuyerId, u32>,
}

/// Counts the order event streams open, per buyer and in all. Cheap to share (`Arc`).
pub struct StreamSlots {
    per_buyer: u32,
    max: usize,
    open: Mutex<Open>,
}

/// One open stream's place: given back when dropped (the stream ended, or its client went
/// away and the response body was dropped).
pub struct StreamSlot {
    slots: Arc<StreamSlots>,
    buyer: BuyerId,
}

impl StreamSlots {
    /// At most `per_buyer` per buyer and `max` in all.
    pub fn new(per_buyer: u32, max: usize) -> Arc<Self> {
        Arc::new(Self {
            per_buyer,
            max,
            open: Mutex::new(Open::default()),
        })
    }

    /// A place for one more of `buyer`'s streams, if both bounds allow it.
    pub fn acquire(self: &Arc<Self>, buyer: BuyerId) -> Result<StreamSlot, StreamsFull> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.total >= self.max {
            return Err(StreamsFull::Gateway(self.max));
        }
        let mine = open.by_buyer.entry(buyer).or_default();
        if *mine >= self.per_buyer {
            if *mine == 0 {
                open.by_buyer.remove(&buyer);
            }
            return Err(StreamsFull::Buyer(self.per_buyer));
        }
        *mine += 1;
        open.total += 1;
        metrics::gauge!("boxoffice_order_streams_open").set(open.total as f64);
        Ok(StreamSlot {
            slots: self.clone(),
            buyer,
        })
    }

    /// Streams open now (all buyers).
    pub fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).total
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|e| e.into_inner());
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.by_buyer.get_mut(&self.buyer) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.by_buyer.remove(&self.buyer);
            }
        }
        metrics::gauge!("boxoffice_order_streams_open").set(open.total as f64);
    }
}

/// What the per-client limits share.
pub struct Clients {
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: TrustedProxies,
    /// Sessions per address.
    pub sessions: SessionLimiter,
    /// Order event streams.
    pub streams: Arc<StreamSlots>,
    /// Presale code attempts.
    pub presale: PresaleLimiter,
}

impl Clients {
    /// From the settings.
    pub fn new(config: &ClientLimitsConfig) -> Arc<Self> {
        Arc::new(Self {
            trusted_proxies: TrustedProxies::new(config.trusted_proxies.clone()),
            sessions: SessionLimiter::new(config.sessions_per_address_per_minute),
            streams: StreamSlots::new(config.order_streams_per_buyer, config.order_streams_max),
            presale: PresaleLimiter::new(
                config.presale_codes_per_buyer_per_minute,
                config.presale_codes_per_address_per_minute,
            ),
        })
    }
}

/// The client-address extractor ([`ClientIp`]) reads the trusted proxies from here.
impl FromRef<AppState> for TrustedProxies {
    fn from_ref(state: &AppState) -> Self {
        state.clients.trusted_proxies.clone()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn sessions_past_the_bucket_wait_and_other_addresses_do_not() {
        let l = SessionLimiter::new(3);
        let a = ip("198.51.100.1");
        for _ in 0..3 {
            assert!(l.check(a).is_ok());
        }
        let wait = l.check(a).unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        assert!(l.check(ip("198.51.100.2")).is_ok());
        assert!(l.check(ip("2001:db8::1")).is_ok());
        assert!(l.check(ip("2001:db8::2")).is_ok());
        assert!(l.check(ip("2001:db8::3")).is_ok());
        assert!(l.check(ip("2001:db8::4")).is_err(), "one /64, one bucket");
        let off = SessionLimiter::new(0);
        assert!((0..10_000).all(|_| off.check(a).is_ok()));
    }

    #[test]
    fn presale_attempts_are_bounded_per_buyer_and_per_address() {
        let l = PresaleLimiter::new(2, 3);
        let (a, b) = (BuyerId::new(), BuyerId::new());
        let from = ip("198.51.100.1");
        assert!(l.check(a, from).is_ok());
        assert!(l.check(a, from).is_ok());
        assert!(l.check(a, from).is_err(), "per buyer");
        assert!(
            l.check(b, from).is_err(),
            "per address (the refused try counted)"
        );
        assert!(l.check(b, ip("198.51.100.2")).is_ok());
    }

    #[test]
    fn stream_slots_are_bounded_per_buyer_and_in_all_and_given_back_on_drop() {
        let slots = StreamSlots::new(2, 3);
        let (a, b) = (BuyerId::new(), BuyerId::new());
        let a1 = slots.acquire(a).unwrap();
        let _a2 = slots.acquire(a).unwrap();
        assert_eq!(slots.acquire(a).err(), Some(StreamsFull::Buyer(2)));
        let _b1 = slots.acquire(b).unwrap();
        assert_eq!(
            slots.acquire(BuyerId::new()).err(),
            Some(StreamsFull::Gateway(3))
        );
        drop(a1);
        assert_eq!(slots.open(), 2);
        let _a3 = slots.acquire(a).unwrap();
        assert_eq!(slots.acquire(b).err(), Some(StreamsFull::Gateway(3)));
    }
}
