//! Origin and CSRF checks, and rate limits, over HTTP.

use chrono::Duration;
use entity::user;
use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;

use api::rate_limit::RateLimitConfig;

use crate::harness::{parts, TestServer, ORIGIN};

async fn cookie_bearing_posts_need_a_trusted_origin(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = server.browser();
    b.sign_up("ann@example.com", "password123").await;
    // The same cookies, sent by a client that sets Origin (or not) itself.
    let me = b.get("/get-session").await;
    assert_eq!(me.status(), 200);
    let token = parts(me).await.1["session"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let cookie = format!(
        "better-auth.session_token={}",
        api::cookies::sign(crate::harness::SECRET, &token)
    );
    let post = |origin: Option<&str>, referer: Option<&str>| {
        let mut r = server
            .http
            .post(server.url("/api/auth/update-user"))
            .header("cookie", &cookie)
            .json(&json!({"name": "X"}));
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        if let Some(rf) = referer {
            r = r.header("referer", rf);
        }
        r.send()
    };
    let missing = parts(post(None, None).await.unwrap()).await;
    assert_eq!(
        missing,
        (
            403,
            json!({"message": "Missing or null Origin", "code": "MISSING_OR_NULL_ORIGIN"})
        )
    );
    let null = parts(post(Some("null"), None).await.unwrap()).await;
    assert_eq!(null.1["code"], "MISSING_OR_NULL_ORIGIN");
    let evil = parts(post(Some("http://evil.com"), None).await.unwrap()).await;
    assert_eq!(
        evil,
        (
            403,
            json!({"message": "Invalid origin", "code": "INVALID_ORIGIN"})
        )
    );
    let evil_referer = parts(post(None, Some("http://evil.com/page")).await.unwrap()).await;
    assert_eq!(evil_referer.1["code"], "INVALID_ORIGIN");
    assert_eq!(
        b.json("/get-session").await["user"]["name"],
        "Test",
        "refused requests change nothing"
    );
    assert_eq!(
        post(None, Some(&format!("{ORIGIN}/settings")))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(post(Some(ORIGIN), None).await.unwrap().status(), 200);
    // Without cookies, a non-sign-in POST is not origin-checked (it has no session to abuse).
    let anonymous = server
        .http
        .post(server.url("/api/auth/revoke-sessions"))
        .header("origin", "http://evil.com")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

async fn callback_urls_must_be_trusted(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = server.browser();
    b.sign_up("ben@example.com", "password123").await;
    let client = reqwest::Client::new();
    let sign_in = |callback: serde_json::Value| {
        client
            .post(server.url("/api/auth/sign-in/email"))
            .json(&json!({"email": "ben@example.com", "password": "password123", "callbackURL": callback}))
            .send()
    };
    for bad in [
        "http://evil.com/x",
        "//evil.com",
        "https://localhost:3000.evil.com/",
        "javascript:alert(1)",
        "/\\evil.com",
    ] {
        let (s, body) = parts(sign_in(json!(bad)).await.unwrap()).await;
        assert_eq!(
            (s, body),
            (
                403,
                json!({"message": "Invalid callbackURL", "code": "INVALID_CALLBACK_URL"})
            ),
            "{bad}"
        );
    }
    let (s, body) = parts(sign_in(json!(42)).await.unwrap()).await;
    assert_eq!(
        (s, body),
        (
            400,
            json!({"message": "Invalid callbackURL: expected a string"})
        )
    );
    for good in ["/dashboard", "http://localhost:3000/welcome"] {
        assert_eq!(sign_in(json!(good)).await.unwrap().status(), 200, "{good}");
    }
    let query = client
        .get(server.url("/api/auth/get-session?callbackURL=http%3A%2F%2Fevil.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(parts(query).await.1["code"], "INVALID_CALLBACK_URL");
}

async fn login_csrf_is_blocked(db: TestDb) {
    let server = TestServer::start(&db).await;
    let url = server.url("/api/auth/sign-up/email");
    let body = json!({"name": "C", "email": "cat@example.com", "password": "password123"});
    let http = &server.http;
    let navigate = http
        .post(&url)
        .header("sec-fetch-site", "cross-site")
        .header("sec-fetch-mode", "navigate")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        parts(navigate).await.1["code"],
        "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED"
    );
    let evil = http
        .post(&url)
        .header("origin", "http://evil.com")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(parts(evil).await.1["code"], "INVALID_ORIGIN");
    let fetch_without_origin = http
        .post(&url)
        .header("sec-fetch-mode", "cors")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        parts(fetch_without_origin).await.1["code"],
        "MISSING_OR_NULL_ORIGIN"
    );
    assert_eq!(user::Entity::find().count(&server.db).await.unwrap(), 0);
    // A server-side client (no Origin, no Fetch Metadata) may sign up.
    assert_eq!(
        http.post(&url).json(&body).send().await.unwrap().status(),
        200
    );
}

fn limits() -> RateLimitConfig {
    RateLimitConfig::default()
}

async fn sign_in_is_rate_limited_per_address(db: TestDb) {
    let server = TestServer::start_rate_limited(&db, limits(), None).await;
    let attempt = || {
        server
            .http
            .post(server.url("/api/auth/sign-in/email"))
            .header("x-forwarded-for", format!("203.0.113.{}", rand_octet()))
            .json(&json!({"email": "nobody@example.com", "password": "password123"}))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(attempt().await.unwrap().status(), 401);
    }
    let limited = attempt().await.unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["x-retry-after"], "10");
    assert_eq!(
        parts(limited).await.1,
        json!({"message": "Too many requests. Please try again later."})
    );
    // Other paths have their own budget; the window resets.
    assert_eq!(server.get("/api/auth/ok").await.status(), 200);
    server.clock.advance(Duration::seconds(10));
    assert_eq!(attempt().await.unwrap().status(), 401);
}

async fn a_trusted_proxy_header_separates_clients(db: TestDb) {
    let server = TestServer::start_rate_limited(&db, limits(), Some("x-forwarded-for")).await;
    let from = |ip: &str| {
        server
            .http
            .post(server.url("/api/auth/sign-in/email"))
            .header("x-forwarded-for", ip)
            .json(&json!({"email": "nobody@example.com", "password": "password123"}))
            .send()
    };
    for _ in 0..3 {
        from("198.51.100.1").await.unwrap();
    }
    assert_eq!(from("198.51.100.1").await.unwrap().status(), 429);
    assert_eq!(from("198.51.100.2").await.unwrap().status(), 401);
    // One IPv6 client is one /64.
    for i in 0..3 {
        from(&format!("2001:db8:1:2::{i}")).await.unwrap();
    }
    assert_eq!(from("2001:db8:1:2::ffff").await.unwrap().status(), 429);
    // Sessions record the same address.
    server
        .browser()
        .sign_up("proxy@example.com", "password123")
        .await;
    let signed_in = server
        .http
        .post(server.url("/api/auth/sign-in/email"))
        .header("x-forwarded-for", "192.0.2.77")
        .json(&json!({"email": "proxy@example.com", "password": "password123"}))
        .send()
        .await
        .unwrap();
    let token = parts(signed_in).await.1["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = parts(
        server
            .http
            .get(server.url("/api/auth/get-session"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await
    .1;
    assert_eq!(me["session"]["ipAddress"], "192.0.2.77");
}

/// Concurrent requests cannot slip past the limit.
async fn the_limit_holds_under_concurrency(db: TestDb) {
    let server = TestServer::start_rate_limited(&db, limits(), None).await;
    let requests = (0..50).map(|_| {
        server
            .http
            .post(server.url("/api/auth/sign-in/email"))
            .json(&json!({"email": "nobody@example.com", "password": "password123"}))
            .send()
    });
    let statuses: Vec<u16> = futures_join(requests).await;
    assert_eq!(
        statuses.iter().filter(|s| **s != 429).count(),
        3,
        "{statuses:?}"
    );
}

/// Paths the server does not have share one budget per client, however many there are; its routes
/// keep their own, a route with a parameter being one route.
async fn unknown_paths_share_one_budget(db: TestDb) {
    let limits = RateLimitConfig { max: 3, ..limits() };
    let server = TestServer::start_rate_limited(&db, limits, None).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |path: String| {
        let request = http.get(server.url(&path)).send();
        async move { request.await.unwrap().status().as_u16() }
    };
    for i in 0..3 {
        assert_eq!(get(format!("/api/auth/x/{i}")).await, 404);
    }
    assert_eq!(get("/api/auth/y/another/path".into()).await, 429);
    assert_eq!(get("/api/auth/callback/github/extra".into()).await, 429);
    // The server's routes are untouched.
    assert_eq!(get("/api/auth/ok".into()).await, 200);
    for provider in ["a", "b", "c"] {
        assert_ne!(get(format!("/api/auth/callback/{provider}")).await, 429);
    }
    assert_eq!(get("/api/auth/callback/d".into()).await, 429);
    // Paths outside /api/auth are not limited.
    for _ in 0..5 {
        assert_eq!(get("/x".into()).await, 404);
    }
    server.clock.advance(Duration::seconds(10));
    assert_eq!(get("/api/auth/x/new".into()).await, 404);
}

async fn futures_join<F>(requests: impl Iterator<Item = F>) -> Vec<u16>
where
    F: std::future::Future<Output = reqwest::Result<reqwest::Response>> + Send + 'static,
{
    let handles: Vec<_> = requests.map(|f| tokio::spawn(f)).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap().unwrap().status().as_u16());
    }
    out
}

fn rand_octet() -> u8 {
    use std::sync::atomic::{AtomicU8, Ordering};
    static N: AtomicU8 = AtomicU8::new(1);
    N.fetch_add(1, Ordering::Relaxed)
}

db_tests!(
    cookie_bearing_posts_need_a_trusted_origin,
    callback_urls_must_be_trusted,
    login_csrf_is_blocked,
    sign_in_is_rate_limited_per_address,
    a_trusted_proxy_header_separates_clients,
    the_limit_holds_under_concurrency,
    unknown_paths_share_one_budget,
);
