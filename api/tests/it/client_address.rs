//! The client's address behind trusted proxies, through the real server: the rate limiter's
//! buckets and the address sessions record (the walk itself is property-tested in
//! `api/src/client_ip.rs`; deploy/nginx/test.sh runs it behind a real nginx).

use std::net::IpAddr;

use api::rate_limit::RateLimitConfig;
use migration::db_tests;
use migration::testing::TestDb;
use serde_json::json;

use crate::harness::{parts, TestServer};

/// A client whose connections come from `source` (any 127/8 address reaches the server on
/// 127.0.0.1).
fn client_from(source: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(source.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

/// A failed sign-in's status (401, or 429 once the address's bucket is spent).
async fn failed_sign_in(server: &TestServer, http: &reqwest::Client, header: (&str, &str)) -> u16 {
    http.post(server.url("/api/auth/sign-in/email"))
        .header(header.0, header.1)
        .json(&json!({"email": "nobody@example.com", "password": "password123"}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The address the session of a sign-up sent with `header: value` records.
async fn session_address(
    server: &TestServer,
    http: &reqwest::Client,
    email: &str,
    header: (&str, &str),
) -> String {
    let signed_up = http
        .post(server.url("/api/auth/sign-up/email"))
        .header(header.0, header.1)
        .json(&json!({"email": email, "password": "password123", "name": "P"}))
        .send()
        .await
        .unwrap();
    let (status, body) = parts(signed_up).await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    let me = http
        .get(server.url("/api/auth/get-session"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    parts(me).await.1["session"]["ipAddress"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Behind a trusted proxy, `X-Forwarded-For` is walked from the right: what a client prepends is
/// passed over, trusted hops are skipped, and each client has its own bucket and address.
async fn x_forwarded_for_is_walked_from_the_right(db: TestDb) {
    let server = TestServer::start_behind_proxies(
        &db,
        RateLimitConfig::default(),
        None,
        "127.0.0.1, 10.0.0.0/8",
    )
    .await;
    let http = client_from("127.0.0.1");
    for spoof in ["6.6.6.1", "6.6.6.2", "6.6.6.3"] {
        let xff = format!("{spoof}, 198.51.100.1");
        assert_eq!(
            failed_sign_in(&server, &http, ("x-forwarded-for", &xff)).await,
            401
        );
    }
    // A fourth address prepended does not buy a fresh bucket.
    let xff = ("x-forwarded-for", "6.6.6.4, 198.51.100.1");
    assert_eq!(failed_sign_in(&server, &http, xff).await, 429);
    // Another client, behind two proxies (the inner one trusted), has its own.
    let xff = ("x-forwarded-for", "198.51.100.2, 10.0.0.7");
    assert_eq!(failed_sign_in(&server, &http, xff).await, 401);
    // Sessions record the client's own address, IPv4-mapped IPv6 read as IPv4.
    let xff = ("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.1.2.3");
    assert_eq!(
        session_address(&server, &http, "a@example.com", xff).await,
        "203.0.113.9"
    );
    let xff = ("x-forwarded-for", "::ffff:203.0.113.10");
    assert_eq!(
        session_address(&server, &http, "b@example.com", xff).await,
        "203.0.113.10"
    );
    // Every hop trusted: the leftmost is the client.
    let xff = ("x-forwarded-for", "10.9.9.9, 10.1.2.3");
    assert_eq!(
        session_address(&server, &http, "c@example.com", xff).await,
        "10.9.9.9"
    );
}

/// A peer that is not a trusted proxy cannot name another address: its header is not read.
async fn a_header_from_an_untrusted_peer_is_ignored(db: TestDb) {
    let server =
        TestServer::start_behind_proxies(&db, RateLimitConfig::default(), None, "127.0.0.1").await;
    let direct = client_from("127.0.0.2");
    for i in 1..=3 {
        let xff = format!("198.51.100.{i}");
        assert_eq!(
            failed_sign_in(&server, &direct, ("x-forwarded-for", &xff)).await,
            401
        );
    }
    let xff = ("x-forwarded-for", "198.51.100.4");
    assert_eq!(failed_sign_in(&server, &direct, xff).await, 429);
    let xff = ("x-forwarded-for", "198.51.100.5");
    assert_eq!(
        session_address(&server, &direct, "d@example.com", xff).await,
        "127.0.0.2"
    );
    // The proxy's own requests carry the header and are read.
    let proxy = client_from("127.0.0.1");
    assert_eq!(failed_sign_in(&server, &proxy, xff).await, 401);
}

/// With `ORGAUTH_CLIENT_IP_HEADER=forwarded`, RFC 7239's `for=` is read (quoted IPv6 with a port,
/// obfuscated identifiers) and `X-Forwarded-For` is not.
async fn forwarded_names_the_client(db: TestDb) {
    let server = TestServer::start_behind_proxies(
        &db,
        RateLimitConfig::default(),
        Some("Forwarded"),
        "127.0.0.1",
    )
    .await;
    let http = client_from("127.0.0.1");
    let fwd = (
        "forwarded",
        r#"for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https"#,
    );
    assert_eq!(
        session_address(&server, &http, "e@example.com", fwd).await,
        "2001:db8:cafe::17"
    );
    // A hop the proxy could not name stops the walk at the proxy.
    let fwd = ("forwarded", "for=192.0.2.1, for=_hidden");
    assert_eq!(
        session_address(&server, &http, "f@example.com", fwd).await,
        "127.0.0.1"
    );
    let xff = ("x-forwarded-for", "198.51.100.8");
    assert_eq!(
        session_address(&server, &http, "g@example.com", xff).await,
        "127.0.0.1"
    );
    // Several lines of the header are one list.
    let signed_up = http
        .post(server.url("/api/auth/sign-up/email"))
        .header("forwarded", "for=6.6.6.6")
        .header("forwarded", "for=192.0.2.44")
        .json(&json!({"email": "h@example.com", "password": "password123", "name": "P"}))
        .send()
        .await
        .unwrap();
    let token = parts(signed_up).await.1["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = http
        .get(server.url("/api/auth/get-session"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(parts(me).await.1["session"]["ipAddress"], "192.0.2.44");
}

db_tests!(
    x_forwarded_for_is_walked_from_the_right,
    a_header_from_an_untrusted_peer_is_ignored,
    forwarded_names_the_client,
);
