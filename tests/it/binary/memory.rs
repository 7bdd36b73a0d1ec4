//! Memory stays flat under a flood of distinct paths.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::Duration;

use super::{orgauth, start};

/// The server's resident memory, from `/proc/<pid>/status`.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/<pid>/status")
}

/// Sends `count` GET requests, each to its own unknown path, over 16 keep-alive connections
/// (HTTP/1.1, pipelined 32 deep, from plain threads, so that the client's own work stays small);
/// returns how many got each status.
fn flood_distinct_paths(base: &str, count: usize) -> BTreeMap<u16, usize> {
    const CONNECTIONS: usize = 16;
    const DEPTH: usize = 32;
    let addr = base.trim_start_matches("http://").to_owned();
    let threads: Vec<_> = (0..CONNECTIONS)
        .map(|i| {
            let addr = addr.clone();
            let share = count / CONNECTIONS + usize::from(i < count % CONNECTIONS);
            std::thread::spawn(move || {
                let mut conn = std::net::TcpStream::connect(&addr).unwrap();
                conn.set_nodelay(true).unwrap();
                let mut statuses = BTreeMap::new();
                let mut buf = Vec::new();
                let mut left = share;
                while left > 0 {
                    let batch = left.min(DEPTH);
                    let mut requests = String::new();
                    for _ in 0..batch {
                        requests.push_str(&format!(
                            "GET /api/auth/x/{}/{} HTTP/1.1\r\nHost: {addr}\r\n\r\n",
                            uuid::Uuid::new_v4(),
                            uuid::Uuid::new_v4()
                        ));
                    }
                    conn.write_all(requests.as_bytes()).unwrap();
                    for _ in 0..batch {
                        let status = read_response(&mut conn, &mut buf);
                        *statuses.entry(status).or_insert(0) += 1;
                    }
                    left -= batch;
                }
                statuses
            })
        })
        .collect();
    let mut all = BTreeMap::new();
    for t in threads {
        for (status, n) in t.join().unwrap() {
            *all.entry(status).or_insert(0) += n;
        }
    }
    all
}

/// Reads one HTTP/1.1 response with a `content-length` from `conn` (`buf` keeps what was read past
/// it); returns its status.
fn read_response(conn: &mut std::net::TcpStream, buf: &mut Vec<u8>) -> u16 {
    let mut chunk = [0u8; 16 * 1024];
    let mut read_more = |buf: &mut Vec<u8>| {
        let n = conn.read(&mut chunk).unwrap();
        assert!(n > 0, "the server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    };
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end])
                .unwrap()
                .to_ascii_lowercase();
            let status = head[9..12].parse().unwrap();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .unwrap_or_else(|| panic!("a content-length: {head}"));
            let total = end + 4 + length;
            while buf.len() < total {
                read_more(buf);
            }
            buf.drain(..total);
            return status;
        }
        read_more(buf);
    }
}

/// With rate limiting on, a flood of requests from one client to distinct unknown paths leaves the
/// server's memory where it was after warm-up, and `/api/auth/ok` still answers at once: unknown
/// paths share one bucket, and the limiter's table stays small. `ORGAUTH_TEST_FLOOD_REQUESTS`
/// sets the number of requests (default 200,000).
#[test]
fn a_flood_of_distinct_paths_leaves_memory_flat() {
    let count: usize = std::env::var("ORGAUTH_TEST_FLOOD_REQUESTS")
        .ok()
        .map(|v| v.parse().expect("ORGAUTH_TEST_FLOOD_REQUESTS is a number"))
        .unwrap_or(200_000);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("f.db").display());
    let mut cmd = orgauth();
    cmd.env("DATABASE_URL", url)
        .env("ORGAUTH_RATE_LIMIT", "on")
        // One line per request would only measure the log.
        .env("RUST_LOG", "info,api::request_log=warn");
    let server = start(cmd);
    let pid = server.child.id();

    flood_distinct_paths(&server.base, 5_000);
    let before = rss_kib(pid);
    let started = std::time::Instant::now();
    let flood = flood_distinct_paths(&server.base, count);
    let took = started.elapsed();
    let after = rss_kib(pid);
    eprintln!("{count} requests in {took:?}: {flood:?}; RSS {before} KiB -> {after} KiB");
    assert_eq!(
        flood.get(&429).copied().unwrap_or(0) + flood.get(&404).copied().unwrap_or(0),
        count,
        "only 404 and 429: {flood:?}"
    );
    assert!(
        after <= before + 20 * 1024,
        "RSS grew from {before} KiB to {after} KiB over {count} requests"
    );
    // Every unknown path counts against one budget.
    assert!(
        flood.get(&429).copied().unwrap_or(0) > count / 2,
        "{flood:?}"
    );

    let started = std::time::Instant::now();
    let addr = server.base.trim_start_matches("http://");
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    write!(conn, "GET /api/auth/ok HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut conn, &mut Vec::new()), 200);
    assert!(started.elapsed() < Duration::from_secs(1));
}
