//! Who the client is: its address, through the proxies the operator trusts, and the key the
//! per-address limits (buyer sessions, admin sign-in) count it by.

use std::{convert::Infallible, net::IpAddr, sync::Arc};

use axum::{
    extract::{ConnectInfo, FromRef, FromRequestParts},
    http::{HeaderMap, request::Parts},
};
use governor::clock::{Clock, DefaultClock};
use ipnet::IpNet;

/// An address (`10.0.0.1`, a host) or a network (`10.0.0.0/8`).
pub fn parse_net(s: &str) -> Result<IpNet, String> {
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

/// Seconds until a governor bucket has a token again, rounded up.
pub fn wait_s(e: &governor::NotUntil<<DefaultClock as Clock>::Instant>) -> u32 {
    u32::try_from(e.wait_time_from(DefaultClock::default().now()).as_secs())
        .unwrap_or(u32::MAX)
        .saturating_add(1)
}

/// The proxies whose `X-Forwarded-For` is believed. Cheap to clone: a router's state hands it
/// to [`ClientIp`] through [`FromRef`].
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    /// These proxies (none: the connection's peer is the client).
    pub fn new(proxies: Vec<IpNet>) -> Self {
        Self(proxies.into())
    }
}

/// The client's address, as [`client_address`] finds it.
pub struct ClientIp(pub IpAddr);

impl<S> FromRequestParts<S> for ClientIp
where
    S: Send + Sync,
    TrustedProxies: FromRef<S>,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // Without connection info (a router driven in-process), the client is local.
        let peer = parts
            .extensions
            .get::<ConnectInfo<std::net::SocketAddr>>()
            .map_or(IpAddr::from([127, 0, 0, 1]), |c| c.0.ip());
        let trusted = TrustedProxies::from_ref(state);
        Ok(Self(client_address(peer, &parts.headers, &trusted.0)))
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
}
