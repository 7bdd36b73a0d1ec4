//! The client's address: the socket's peer, or — only when configured — the single value of a
//! header that a trusted proxy sets. One definition, used for sessions and rate limits alike.

use std::net::IpAddr;

use poem::Request;

pub fn client_ip(req: &Request, trusted_header: Option<&str>) -> Option<IpAddr> {
    let from_header = trusted_header.and_then(|h| {
        // Only a single-valued header is trusted, as Better Auth does.
        let value = req.header(h)?.trim();
        (!value.contains(','))
            .then(|| value.parse::<IpAddr>().ok())
            .flatten()
    });
    let ip = from_header.or_else(|| req.remote_addr().as_socket_addr().map(|a| a.ip()))?;
    Some(match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    })
}
