//! The client's address, one definition used for sessions, rate limits and the request log.
//!
//! Three ways to read it, from the settings:
//! - nothing configured: the socket's peer;
//! - `ORGAUTH_CLIENT_IP_HEADER` alone: that header when it holds exactly one address, from any peer
//!   (Better Auth's rule without `trustedProxies`, kept for deployments that already use it);
//! - `ORGAUTH_TRUSTED_PROXIES`: only when the peer is one of those proxies is a forwarding header
//!   read at all (`ORGAUTH_CLIENT_IP_HEADER`, default `x-forwarded-for`; `forwarded` is read as
//!   RFC 7239). Its hops are walked from the right, skipping trusted ones: each proxy appends the
//!   address it saw, so the first untrusted one is the last address a proxy we trust vouched for,
//!   and anything a client wrote itself sits to the left of it.
//!
//! An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, as a dual-stack socket reports) is read as the
//! IPv4 address it carries, both as the answer and when matched against the trusted proxies.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use poem::Request;

/// The header read behind trusted proxies when `ORGAUTH_CLIENT_IP_HEADER` is not set.
pub const DEFAULT_HEADER: &str = "x-forwarded-for";

/// How the client's address is read (see the module's comment).
#[derive(Clone, Debug, Default)]
pub struct ClientIp {
    /// The header, lower case.
    header: Option<String>,
    /// Empty: no proxy is trusted, and the header (if any) is read in the single-address mode.
    trusted: Arc<[IpNet]>,
}

impl ClientIp {
    /// `header`: `ORGAUTH_CLIENT_IP_HEADER`; `trusted`: `ORGAUTH_TRUSTED_PROXIES`.
    pub fn new(header: Option<&str>, trusted: Vec<IpNet>) -> Self {
        let header = match (header, trusted.is_empty()) {
            (Some(h), _) => Some(h.trim().to_ascii_lowercase()),
            (None, false) => Some(DEFAULT_HEADER.to_owned()),
            (None, true) => None,
        };
        Self {
            header,
            trusted: trusted.into(),
        }
    }

    /// The client's address for `req`; `None` only when the peer is not an IP socket.
    pub fn of(&self, req: &Request) -> Option<IpAddr> {
        let peer = req.remote_addr().as_socket_addr().map(SocketAddr::ip);
        let Some(header) = &self.header else {
            return peer.map(canonical);
        };
        // Several lines of one header are one list, in order (RFC 9110 §5.3).
        let lines: Vec<String> = req
            .headers()
            .get_all(header.as_str())
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        let value = (!lines.is_empty()).then(|| lines.join(","));
        self.from_parts(value.as_deref(), peer)
    }

    /// The address from the configured header's value (all its lines joined by commas) and the
    /// socket's peer.
    pub fn from_parts(&self, header_value: Option<&str>, peer: Option<IpAddr>) -> Option<IpAddr> {
        if self.trusted.is_empty() {
            return single_address(header_value.filter(|_| self.header.is_some()), peer);
        }
        let peer = canonical(peer?);
        let value = match header_value {
            Some(v) if self.is_trusted(peer) => v,
            _ => return Some(peer),
        };
        let hops: Vec<Option<IpAddr>> = if self.header.as_deref() == Some("forwarded") {
            forwarded_for(value).collect()
        } else {
            value.split(',').map(node).collect()
        };
        Some(self.walk(peer, hops))
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// From the right: trusted hops are passed; the first untrusted address is the client. A hop
    /// that names no address (`unknown`, an obfuscated identifier, garbage) cannot be vouched for
    /// nor passed, so the nearest trusted hop stands for the client; when every hop is trusted, the
    /// leftmost one is the client.
    fn walk(&self, peer: IpAddr, hops: Vec<Option<IpAddr>>) -> IpAddr {
        let mut nearest_trusted = peer;
        for hop in hops.into_iter().rev() {
            match hop.map(canonical) {
                Some(ip) if self.is_trusted(ip) => nearest_trusted = ip,
                Some(ip) => return ip,
                None => return nearest_trusted,
            }
        }
        nearest_trusted
    }
}

/// `ORGAUTH_TRUSTED_PROXIES`: a comma list of addresses (`192.0.2.7`, `::1`) and networks
/// (`10.0.0.0/8`, `2001:db8::/32`); blanks and empty items are ignored.
pub fn parse_trusted_proxies<S: AsRef<str>>(items: &[S]) -> Result<Vec<IpNet>, String> {
    items
        .iter()
        .flat_map(|item| item.as_ref().split(','))
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map(|net| net.trunc())
                .map_err(|_| {
                    format!(
                        "ORGAUTH_TRUSTED_PROXIES: `{item}` is not an IP address or CIDR network \
                         (e.g. 10.0.0.0/8, 192.0.2.7, ::1)"
                    )
                })
        })
        .collect()
}

/// The single-address mode: the header's value when it is exactly one address, else the peer.
fn single_address(header_value: Option<&str>, peer: Option<IpAddr>) -> Option<IpAddr> {
    let from_header = header_value.and_then(|value| {
        // Only a single-valued header is trusted, as Better Auth does.
        let value = value.trim();
        (!value.contains(','))
            .then(|| value.parse::<IpAddr>().ok())
            .flatten()
    });
    from_header.or(peer).map(canonical)
}

/// An IPv4-mapped IPv6 address as the IPv4 address it carries.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// One hop as proxies write it: `192.0.2.1`, `2001:db8::1`, with a port (`192.0.2.1:4711`,
/// `[2001:db8::1]:4711`) or bracketed (`[2001:db8::1]`). Anything else names no address.
fn node(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|a| a.ip()))
        .ok()
        .or_else(|| {
            hop.strip_prefix('[')?
                .strip_suffix(']')?
                .parse::<std::net::Ipv6Addr>()
                .ok()
                .map(IpAddr::V6)
        })
}

/// The `for=` node of each element of an RFC 7239 `Forwarded` value, left to right; an element
/// without one names no address.
///
/// Elements are split at every comma and pairs at every semicolon, quoted or not: no address, port
/// or obfuscated identifier holds either, and splitting this way means a client's unbalanced quote
/// cannot swallow the elements proxies append after it.
fn forwarded_for(value: &str) -> impl Iterator<Item = Option<IpAddr>> + '_ {
    value.split(',').map(|element| {
        element.split(';').find_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            name.trim().eq_ignore_ascii_case("for").then(|| {
                let value = value.trim();
                let value = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(value);
                node(value)
            })
        })?
    })
}

#[cfg(test)]
mod examples {
    use std::net::IpAddr;

    use super::{parse_trusted_proxies, ClientIp};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn behind(header: Option<&str>, proxies: &str) -> ClientIp {
        ClientIp::new(header, parse_trusted_proxies(&[proxies]).unwrap())
    }

    #[test]
    fn forwarded_as_rfc_7239_writes_it() {
        let rule = behind(Some("Forwarded"), "127.0.0.1, 10.0.0.0/8");
        let peer = Some(ip("10.1.1.1"));
        let client = |value: &str| rule.from_parts(Some(value), peer);
        assert_eq!(
            client(r#"for="[2001:db8:cafe::17]:4711""#),
            Some(ip("2001:db8:cafe::17"))
        );
        assert_eq!(
            client("for=192.0.2.60;proto=http;by=203.0.113.43"),
            Some(ip("192.0.2.60"))
        );
        assert_eq!(
            client(r#"for=192.0.2.43, For="[2001:db8:cafe::17]", for=10.0.0.2"#),
            Some(ip("2001:db8:cafe::17"))
        );
        assert_eq!(client("for=192.0.2.60:8080"), Some(ip("192.0.2.60")));
        // A hop that names no address stops the walk at the nearest trusted one.
        assert_eq!(client("for=unknown"), peer);
        assert_eq!(
            client(r#"for=198.51.100.1, for="_hidden", for=10.0.0.2"#),
            Some(ip("10.0.0.2"))
        );
        assert_eq!(client("proto=https"), peer);
        // A client's unbalanced quote does not swallow what the proxy appended.
        assert_eq!(
            client(r#"for="198.51.100.9, for=192.0.2.1"#),
            Some(ip("192.0.2.1"))
        );
        // An X-Forwarded-For next to it is not read.
        assert_eq!(rule.from_parts(None, peer), peer);
    }

    #[test]
    fn x_forwarded_for_is_walked_from_the_right() {
        let rule = behind(None, "127.0.0.1,10.0.0.0/8,::1");
        let peer = Some(ip("::ffff:127.0.0.1"));
        let client = |value: &str| rule.from_parts(Some(value), peer);
        assert_eq!(client("203.0.113.5"), Some(ip("203.0.113.5")));
        assert_eq!(
            client("6.6.6.6, 203.0.113.5, 10.2.3.4"),
            Some(ip("203.0.113.5"))
        );
        assert_eq!(client("10.9.9.9, 10.2.3.4"), Some(ip("10.9.9.9")));
        assert_eq!(client("[2001:db8::5]:443"), Some(ip("2001:db8::5")));
        assert_eq!(client("::ffff:198.51.100.3"), Some(ip("198.51.100.3")));
        assert_eq!(client("garbage, 10.2.3.4"), Some(ip("10.2.3.4")));
        assert_eq!(client(""), Some(ip("127.0.0.1")));
        // From a peer not in the list, the header is not read.
        assert_eq!(
            rule.from_parts(Some("203.0.113.5"), Some(ip("192.0.2.9"))),
            Some(ip("192.0.2.9"))
        );
    }

    #[test]
    fn trusted_proxies_name_addresses_or_networks() {
        assert_eq!(
            parse_trusted_proxies(&["127.0.0.1, 10.1.2.3/8", "", "::1,2001:db8::/32 "]).unwrap(),
            ["127.0.0.1/32", "10.0.0.0/8", "::1/128", "2001:db8::/32"]
                .map(|n| n.parse().unwrap())
                .to_vec()
        );
        let err = parse_trusted_proxies(&["10.0.0.0/33"]).unwrap_err();
        assert!(
            err.starts_with("ORGAUTH_TRUSTED_PROXIES: `10.0.0.0/33`"),
            "{err}"
        );
        assert!(parse_trusted_proxies(&["localhost"]).is_err());
    }
}

#[cfg(test)]
mod props {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use ipnet::IpNet;
    use proptest::prelude::*;

    use super::ClientIp;

    /// How the server reads an address: IPv4-mapped IPv6 as IPv4.
    fn canonical(ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        }
    }

    fn any_ip() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<[u8; 4]>().prop_map(|o| IpAddr::V4(Ipv4Addr::from(o))),
            any::<[u8; 16]>().prop_map(|o| IpAddr::V6(Ipv6Addr::from(o))),
            // IPv4-mapped IPv6 (`::ffff:a.b.c.d`), which a dual-stack socket reports.
            any::<[u8; 4]>().prop_map(|o| IpAddr::V6(Ipv4Addr::from(o).to_ipv6_mapped())),
        ]
    }

    /// The single-address mode, as `ORGAUTH_CLIENT_IP_HEADER=x-forwarded-for` alone sets it.
    fn single(value: Option<&str>, peer: Option<IpAddr>) -> Option<IpAddr> {
        ClientIp::new(Some("x-forwarded-for"), Vec::new()).from_parts(value, peer)
    }

    /// The proxies the walk tests trust.
    fn trusted_nets() -> Vec<IpNet> {
        ["10.0.0.0/8", "127.0.0.1/32", "2001:db8:ffff::/48"]
            .map(|n| n.parse().unwrap())
            .to_vec()
    }

    fn is_trusted(ip: IpAddr) -> bool {
        trusted_nets().iter().any(|n| n.contains(&canonical(ip)))
    }

    /// A trusted proxy's address, in any of the forms a socket reports it.
    fn trusted_ip() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<[u8; 3]>().prop_map(|[a, b, c]| IpAddr::V4(Ipv4Addr::new(10, a, b, c))),
            any::<[u8; 3]>()
                .prop_map(|[a, b, c]| IpAddr::V6(Ipv4Addr::new(10, a, b, c).to_ipv6_mapped())),
            Just(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            any::<[u16; 5]>().prop_map(|[a, b, c, d, e]| IpAddr::V6(Ipv6Addr::new(
                0x2001, 0xdb8, 0xffff, a, b, c, d, e
            ))),
        ]
    }

    fn untrusted_ip() -> impl Strategy<Value = IpAddr> {
        any_ip().prop_filter("an address no trusted proxy has", |ip| !is_trusted(*ip))
    }

    /// One hop as a proxy may write it in `X-Forwarded-For`: bare, with a port, bracketed.
    fn xff_hop(ip: IpAddr, form: u8) -> String {
        match (ip, form % 3) {
            (IpAddr::V4(v4), 1) => format!("{v4}:{}", 1000 + u16::from(form)),
            (IpAddr::V6(v6), 1) => format!("[{v6}]:{}", 1000 + u16::from(form)),
            (IpAddr::V6(v6), 2) => format!("[{v6}]"),
            (ip, _) => ip.to_string(),
        }
    }

    /// One element of a `Forwarded` value naming `ip`, with other parameters and spellings.
    fn forwarded_element(ip: IpAddr, form: u8) -> String {
        let node = match (ip, form % 3) {
            (IpAddr::V4(v4), 0) => v4.to_string(),
            (IpAddr::V4(v4), 1) => format!("\"{v4}:4711\""),
            (IpAddr::V6(v6), 1) => format!("\"[{v6}]:4711\""),
            (ip, _) => format!("\"{}\"", xff_hop(ip, 2)),
        };
        let name = if form & 4 == 0 { "for" } else { "For" };
        match form & 8 {
            0 => format!("{name}={node}"),
            _ => format!("proto=https;{name}={node};by=_edge"),
        }
    }

    proptest! {
        /// A trusted header holding one address (with any surrounding blanks) names the client.
        #[test]
        fn one_address_in_the_header_is_the_client(
            ip in any_ip(),
            peer in any_ip(),
            pad in "[ \t]{0,3}",
        ) {
            let value = format!("{pad}{ip}{pad}");
            prop_assert_eq!(single(Some(&value), Some(peer)), Some(canonical(ip)));
        }

        /// A list (as a proxy chain appends) is not trusted: the peer is the client.
        #[test]
        fn a_list_in_the_header_falls_back_to_the_peer(
            ips in prop::collection::vec(any_ip(), 2..4),
            peer in any_ip(),
        ) {
            let value = ips.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
            prop_assert_eq!(single(Some(&value), Some(peer)), Some(canonical(peer)));
        }

        /// Whatever the header holds: no panic, and the answer is the header's one address or the
        /// peer — never anything else.
        #[test]
        fn any_header_value_gives_the_header_address_or_the_peer(
            value in "\\PC{0,64}|[0-9a-fA-F:., \t%\\[\\]]{0,48}",
            peer in proptest::option::of(any_ip()),
        ) {
            let got = single(Some(&value), peer);
            let from_header = value.trim().parse::<IpAddr>().ok().filter(|_| !value.contains(','));
            prop_assert_eq!(got, from_header.or(peer).map(canonical));
        }

        /// Without a configured header only the socket counts.
        #[test]
        fn without_a_header_the_peer_is_the_client(
            value in proptest::option::of("\\PC{0,32}"),
            peer in proptest::option::of(any_ip()),
        ) {
            prop_assert_eq!(ClientIp::default().from_parts(value.as_deref(), peer), peer.map(canonical));
        }

        /// From a peer that is not a trusted proxy no header is read, whatever it holds.
        #[test]
        fn an_untrusted_peer_cannot_name_another_address(
            value in "\\PC{0,64}|[0-9a-fA-F:., \t\\[\\]]{0,48}|(for=[0-9.]{1,15}[,;]? ?){0,4}",
            peer in untrusted_ip(),
            header in prop_oneof![Just("x-forwarded-for"), Just("forwarded"), Just("x-real-ip")],
        ) {
            let rule = ClientIp::new(Some(header), trusted_nets());
            prop_assert_eq!(rule.from_parts(Some(&value), Some(peer)), Some(canonical(peer)));
        }

        /// Behind trusted proxies the client is the rightmost untrusted hop: the addresses a client
        /// writes into the header itself (to the left of it) never change the answer, in either
        /// header's syntax.
        #[test]
        fn addresses_a_client_prepends_are_walked_past(
            prepended in prop::collection::vec((any_ip(), any::<u8>()), 0..4),
            client in untrusted_ip(),
            hops in prop::collection::vec((trusted_ip(), any::<u8>()), 0..4),
            peer in trusted_ip(),
            form in any::<u8>(),
        ) {
            let chain: Vec<(IpAddr, u8)> = prepended
                .into_iter()
                .chain([(client, form)])
                .chain(hops)
                .collect();
            let xff = chain.iter().map(|(ip, f)| xff_hop(*ip, *f)).collect::<Vec<_>>().join(", ");
            let forwarded =
                chain.iter().map(|(ip, f)| forwarded_element(*ip, *f)).collect::<Vec<_>>().join(", ");
            let walk = ClientIp::new(None, trusted_nets());
            prop_assert_eq!(walk.from_parts(Some(&xff), Some(peer)), Some(canonical(client)));
            let walk = ClientIp::new(Some("Forwarded"), trusted_nets());
            prop_assert_eq!(walk.from_parts(Some(&forwarded), Some(peer)), Some(canonical(client)));
        }

        /// When every hop is a trusted proxy the leftmost one is the client; with no header, the peer.
        #[test]
        fn when_all_hops_are_trusted_the_leftmost_is_the_client(
            hops in prop::collection::vec(trusted_ip(), 1..5),
            peer in trusted_ip(),
        ) {
            let xff = hops.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
            let walk = ClientIp::new(None, trusted_nets());
            prop_assert_eq!(walk.from_parts(Some(&xff), Some(peer)), Some(canonical(hops[0])));
            prop_assert_eq!(walk.from_parts(None, Some(peer)), Some(canonical(peer)));
        }

        /// Whatever a trusted proxy passes on: no panic, and the answer is the peer or an address
        /// written in the header.
        #[test]
        fn any_value_from_a_trusted_peer_gives_an_address_it_holds_or_the_peer(
            value in "\\PC{0,64}|[0-9a-fA-F:., \t\\[\\]]{0,48}",
            peer in trusted_ip(),
        ) {
            let got = ClientIp::new(None, trusted_nets()).from_parts(Some(&value), Some(peer)).unwrap();
            let written = value.split(',').filter_map(super::node).map(canonical);
            prop_assert!(got == canonical(peer) || written.clone().any(|ip| ip == got), "{got} from {value:?}");
        }
    }
}
