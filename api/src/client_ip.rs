//! The client's address: the socket's peer, or — only when configured — the single value of a
//! header that a trusted proxy sets. One definition, used for sessions and rate limits alike.

use std::net::IpAddr;

use poem::Request;

pub fn client_ip(req: &Request, trusted_header: Option<&str>) -> Option<IpAddr> {
    let value = trusted_header.and_then(|h| req.header(h));
    let peer = req.remote_addr().as_socket_addr().map(|a| a.ip());
    from_parts(value, peer)
}

/// The address from the trusted header's value (when it holds exactly one address), else the
/// peer's; an IPv4-mapped IPv6 address is read as the IPv4 address it carries.
pub fn from_parts(header_value: Option<&str>, peer: Option<IpAddr>) -> Option<IpAddr> {
    let from_header = header_value.and_then(|value| {
        // Only a single-valued header is trusted, as Better Auth does.
        let value = value.trim();
        (!value.contains(','))
            .then(|| value.parse::<IpAddr>().ok())
            .flatten()
    });
    let ip = from_header.or(peer)?;
    Some(match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    })
}

#[cfg(test)]
mod props {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use proptest::prelude::*;

    use super::from_parts;

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

    proptest! {
        /// A trusted header holding one address (with any surrounding blanks) names the client.
        #[test]
        fn one_address_in_the_header_is_the_client(
            ip in any_ip(),
            peer in any_ip(),
            pad in "[ \t]{0,3}",
        ) {
            let value = format!("{pad}{ip}{pad}");
            prop_assert_eq!(from_parts(Some(&value), Some(peer)), Some(canonical(ip)));
        }

        /// A list (as a proxy chain appends) is not trusted: the peer is the client.
        #[test]
        fn a_list_in_the_header_falls_back_to_the_peer(
            ips in prop::collection::vec(any_ip(), 2..4),
            peer in any_ip(),
        ) {
            let value = ips.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
            prop_assert_eq!(from_parts(Some(&value), Some(peer)), Some(canonical(peer)));
        }

        /// Whatever the header holds: no panic, and the answer is the header's one address or the
        /// peer — never anything else.
        #[test]
        fn any_header_value_gives_the_header_address_or_the_peer(
            value in "\\PC{0,64}|[0-9a-fA-F:., \t%\\[\\]]{0,48}",
            peer in proptest::option::of(any_ip()),
        ) {
            let got = from_parts(Some(&value), peer);
            let from_header = value.trim().parse::<IpAddr>().ok().filter(|_| !value.contains(','));
            prop_assert_eq!(got, from_header.or(peer).map(canonical));
        }

        /// Without a configured header only the socket counts.
        #[test]
        fn without_a_header_the_peer_is_the_client(peer in proptest::option::of(any_ip())) {
            prop_assert_eq!(from_parts(None, peer), peer.map(canonical));
        }
    }
}
