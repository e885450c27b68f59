//! Per-client limits: who the client is (its address, through proxies the operator trusts),
//! how many buyer sessions one address may start, and how many order event streams one buyer
//! and the whole gateway keep open.
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

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, request::Parts},
};
use boxoffice_nats::BuyerId;
use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};
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

/// An address (`10.0.0.1`, a host) or a network (`10.0.0.0/8`).
fn parse_net(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{s:?} is not an address or a network such as 10.0.0.0/8"))
}

/// The client's address: the peer, or, when the peer is a trusted proxy, the nearest
/// `X-Forwarded-For` entry that is not itself a trusted proxy (read from the right: entries
/// further left were written by the client and prove nothing). An entry that does not parse
/// stops the walk at the proxy that passed it on.
pub fn client_address(peer: IpAddr, forwarded: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    let mut client = canonical(peer);
    if !is_trusted(&client) {
        return client;
    }
    let hops: Vec<&str> = forwarded
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            return client;
        };
        client = canonical(ip);
        if !is_trusted(&client) {
            return client;
        }
    }
    client
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The key an address is limited by: an IPv4 address, or an IPv6 address's /64 (one
/// subscriber commonly holds a whole /64 and can pick any address in it).
pub fn limit_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

/// The client's address, as [`client_address`] finds it.
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // Without connection info (a router driven in-process), the client is local.
        let peer = parts
            .extensions
            .get::<ConnectInfo<std::net::SocketAddr>>()
            .map_or(IpAddr::from([127, 0, 0, 1]), |c| c.0.ip());
        Ok(Self(client_address(
            peer,
            &parts.headers,
            &state.clients.trusted_proxies,
        )))
    }
}

/// Seconds until a governor bucket has a token again, rounded up.
pub fn wait_s(e: &governor::NotUntil<<DefaultClock as Clock>::Instant>) -> u32 {
    u32::try_from(e.wait_time_from(DefaultClock::default().now()).as_secs())
        .unwrap_or(u32::MAX)
        .saturating_add(1)
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
    pub trusted_proxies: Vec<IpNet>,
    /// Sessions per address.
    pub sessions: SessionLimiter,
    /// Order event streams.
    pub streams: Arc<StreamSlots>,
}

impl Clients {
    /// From the settings.
    pub fn new(config: &ClientLimitsConfig) -> Arc<Self> {
        Arc::new(Self {
            trusted_proxies: config.trusted_proxies.clone(),
            sessions: SessionLimiter::new(config.sessions_per_address_per_minute),
            streams: StreamSlots::new(config.order_streams_per_buyer, config.order_streams_max),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use axum::http::HeaderValue;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_header_is_ignored_unless_the_peer_is_a_trusted_proxy() {
        let h = xff(&["203.0.113.9"]);
        assert_eq!(
            client_address(ip("198.51.100.1"), &h, &[]),
            ip("198.51.100.1")
        );
        let lb = [parse_net("10.0.0.0/8").unwrap()];
        assert_eq!(
            client_address(ip("198.51.100.1"), &h, &lb),
            ip("198.51.100.1")
        );
        assert_eq!(client_address(ip("10.1.2.3"), &h, &lb), ip("203.0.113.9"));
    }

    #[test]
    fn the_nearest_untrusted_hop_is_the_client_whatever_the_client_wrote_further_left() {
        let trusted = [
            parse_net("10.0.0.0/8").unwrap(),
            parse_net("192.0.2.7").unwrap(),
        ];
        // The client forged "1.1.1.1"; the CDN (192.0.2.7) and the LB (10.0.0.1) appended.
        let h = xff(&["1.1.1.1, 203.0.113.9", "192.0.2.7"]);
        assert_eq!(
            client_address(ip("10.0.0.1"), &h, &trusted),
            ip("203.0.113.9")
        );
        // Garbage stops the walk at the proxy that passed it on.
        let h = xff(&["203.0.113.9, not-an-ip"]);
        assert_eq!(client_address(ip("10.0.0.1"), &h, &trusted), ip("10.0.0.1"));
        // Only proxies: the farthest one.
        let h = xff(&["10.9.9.9"]);
        assert_eq!(client_address(ip("10.0.0.1"), &h, &trusted), ip("10.9.9.9"));
        assert!(parse_net("nonsense").is_err());
    }

    #[test]
    fn ipv6_addresses_are_limited_by_their_64() {
        assert_eq!(limit_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(limit_key(ip("::ffff:198.51.100.1")), ip("198.51.100.1"));
        assert_eq!(limit_key(ip("198.51.100.1")), ip("198.51.100.1"));
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
