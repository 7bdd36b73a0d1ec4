//! `orgauth healthcheck`: asks the running server's `/readyz` and succeeds when it answers 200.
//!
//! A container image without a shell or curl (see the Dockerfile) runs this as its HEALTHCHECK.
//! It reads the same `HOST` and `PORT` as `serve`, so in the image's environment it finds the
//! server without settings of its own. Plain HTTP/1.1 over a `std` socket: the check needs no
//! runtime, no TLS (it talks to its own container) and nothing the server does not link already.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{bail, Context};

/// A server that does not accept within this is not healthy.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longer than the database acquire timeout's default (10 s), so a server whose database is
/// slow answers 503 itself rather than being reported as silent.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

/// Sends `GET /readyz` to the server listening on `host:port`; Ok when it answers 200.
pub fn check(host: &str, port: u16) -> anyhow::Result<()> {
    let addr = target(host, port)?;
    let mut stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)
        .with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
    stream.set_write_timeout(Some(ANSWER_TIMEOUT))?;
    write!(
        stream,
        "GET /readyz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .with_context(|| format!("cannot send to {addr}"))?;
    let status = status_code(&mut stream).with_context(|| format!("no HTTP answer from {addr}"))?;
    if status != 200 {
        bail!("http://{addr}/readyz answered {status}");
    }
    Ok(())
}

/// Where the server is reached: an unspecified listening address (`0.0.0.0`, `::`, as in a
/// container) is reached on the loopback of its family; a name is resolved.
fn target(host: &str, port: u16) -> anyhow::Result<SocketAddr> {
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) if ip.is_unspecified() => Ok((Ipv4Addr::LOCALHOST, port).into()),
        Ok(IpAddr::V6(ip)) if ip.is_unspecified() => Ok((Ipv6Addr::LOCALHOST, port).into()),
        Ok(ip) => Ok((ip, port).into()),
        Err(_) => (host, port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut addrs| addrs.next())
            .with_context(|| format!("cannot resolve HOST {host}")),
    }
}

/// The status code of the answer's first line (`HTTP/1.1 200 OK`), read up to 1 KiB.
fn status_code(stream: &mut impl Read) -> anyhow::Result<u16> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 256];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 1024 {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
    }
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    match line.split(' ').collect::<Vec<_>>()[..] {
        [version, code, ..] if version.starts_with("HTTP/1.") => {
            code.parse().ok().context("not an HTTP status line")
        }
        _ => bail!("not an HTTP status line"),
    }
}
