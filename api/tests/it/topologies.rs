//! The topologies Better Auth supports: CORS for a web app on another origin (`ORGAUTH_CORS`, on
//! the trusted origins: preflights answered, credentials allowed, nothing for other origins or
//! outside the auth routes), and the cookie prefix and cookies shared across subdomains.

use api::state::WebSettings;
use migration::db_tests;
use migration::testing::TestDb;
use reqwest::{Method, Response};
use serde_json::json;

use crate::harness::{parts, set_cookies, TestServer, ORIGIN};

const APP: &str = "https://app.example.com";
const EVIL: &str = "https://evil.example.com";

async fn server(db: &TestDb, cors: bool) -> TestServer {
    let web = WebSettings {
        base_url: ORIGIN.to_owned(),
        trusted_origins: vec![APP.to_owned()],
        cors,
        ..Default::default()
    };
    TestServer::start_full(db, |_| {}, web).await
}

fn header<'a>(r: &'a Response, name: &str) -> Option<&'a str> {
    r.headers().get(name).map(|v| v.to_str().unwrap())
}

fn varies_by_origin(r: &Response) -> bool {
    r.headers()
        .get_all("vary")
        .iter()
        .flat_map(|v| v.to_str().unwrap().split(','))
        .any(|v| v.trim().eq_ignore_ascii_case("origin"))
}

async fn preflight(server: &TestServer, origin: &str, path: &str) -> Response {
    server
        .http
        .request(Method::OPTIONS, server.url(path))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap()
}

async fn sign_up(server: &TestServer, origin: &str, email: &str) -> Response {
    server
        .http
        .post(server.url("/api/auth/sign-up/email"))
        .header("origin", origin)
        .json(&json!({"email": email, "password": "password123", "name": "C"}))
        .send()
        .await
        .unwrap()
}

/// A trusted origin's preflight is answered, and its requests may carry and read credentials.
async fn a_trusted_origin_gets_cors_with_credentials(db: TestDb) {
    let server = server(&db, true).await;
    let pre = preflight(&server, APP, "/api/auth/sign-in/email").await;
    assert_eq!(pre.status(), 204);
    assert_eq!(header(&pre, "access-control-allow-origin"), Some(APP));
    assert_eq!(
        header(&pre, "access-control-allow-credentials"),
        Some("true")
    );
    assert!(header(&pre, "access-control-allow-methods")
        .unwrap()
        .contains("POST"));
    assert_eq!(
        header(&pre, "access-control-allow-headers"),
        Some("content-type")
    );
    assert!(varies_by_origin(&pre));

    let signed_up = sign_up(&server, APP, "cors@example.com").await;
    assert_eq!(signed_up.status(), 200);
    assert_eq!(header(&signed_up, "access-control-allow-origin"), Some(APP));
    assert_eq!(
        header(&signed_up, "access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(
        header(&signed_up, "access-control-expose-headers"),
        Some("set-auth-token")
    );
    assert!(varies_by_origin(&signed_up));
    // An error answer is readable by the page too.
    let taken = sign_up(&server, APP, "cors@example.com").await;
    assert_eq!(taken.status(), 422);
    assert_eq!(header(&taken, "access-control-allow-origin"), Some(APP));
}

/// Another origin gets no CORS header: its preflight is not answered here and its requests stay
/// unreadable (and, carrying cookies or being a sign-in, are refused by the origin check).
async fn an_untrusted_origin_gets_none(db: TestDb) {
    let server = server(&db, true).await;
    let pre = preflight(&server, EVIL, "/api/auth/sign-in/email").await;
    assert_ne!(pre.status(), 204);
    assert_eq!(header(&pre, "access-control-allow-origin"), None);
    assert_eq!(header(&pre, "access-control-allow-credentials"), None);
    let refused = sign_up(&server, EVIL, "evil@example.com").await;
    assert_eq!(refused.status(), 403);
    assert_eq!(header(&refused, "access-control-allow-origin"), None);
    assert!(varies_by_origin(&refused));
    // `null` (a sandboxed page) is no trusted origin.
    let pre = preflight(&server, "null", "/api/auth/get-session").await;
    assert_eq!(header(&pre, "access-control-allow-origin"), None);
}

/// Only the auth routes: Swagger UI, the document and the health checks are not opened up; and
/// `ORGAUTH_CORS=off` sends nothing anywhere.
async fn only_the_auth_routes_and_only_when_on(db: TestDb) {
    let server = server(&db, true).await;
    for path in ["/healthz", "/openapi.json"] {
        let r = server
            .http
            .get(server.url(path))
            .header("origin", APP)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(header(&r, "access-control-allow-origin"), None, "{path}");
    }
    let pre = preflight(&server, APP, "/healthz").await;
    assert_eq!(header(&pre, "access-control-allow-origin"), None);

    let off = self::server(&db, false).await;
    let pre = preflight(&off, APP, "/api/auth/sign-in/email").await;
    assert_eq!(header(&pre, "access-control-allow-origin"), None);
    let signed_up = sign_up(&off, APP, "off@example.com").await;
    assert_eq!(signed_up.status(), 200);
    assert_eq!(header(&signed_up, "access-control-allow-origin"), None);
}

/// A sign-up's session cookie (`name=value` as a client sends it back) and its `Set-Cookie`.
async fn session_cookie(server: &TestServer, email: &str) -> (String, String) {
    let signed_up = sign_up(server, ORIGIN, email).await;
    assert_eq!(signed_up.status(), 200);
    let set = set_cookies(&signed_up)
        .into_iter()
        .find(|c| c.contains(".session_token="))
        .expect("a session cookie");
    let pair = set.split(';').next().unwrap().to_owned();
    (pair, set)
}

async fn session_with_cookie(server: &TestServer, cookie: &str) -> serde_json::Value {
    let me = server
        .http
        .get(server.url("/api/auth/get-session"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    parts(me).await.1
}

/// `ORGAUTH_COOKIE_PREFIX` names every cookie (Better Auth's `cookiePrefix`); only that name is
/// read.
async fn the_cookie_prefix_names_the_cookies(db: TestDb) {
    let web = WebSettings {
        base_url: ORIGIN.to_owned(),
        cookie_prefix: Some("myapp".to_owned()),
        ..Default::default()
    };
    let server = TestServer::start_full(&db, |_| {}, web).await;
    let (pair, set) = session_cookie(&server, "prefix@example.com").await;
    assert!(pair.starts_with("myapp.session_token="), "{set}");
    assert!(!set.to_ascii_lowercase().contains("domain="), "{set}");
    assert_eq!(
        session_with_cookie(&server, &pair).await["user"]["email"],
        "prefix@example.com"
    );
    let default_name = pair.replacen("myapp.", "better-auth.", 1);
    assert_eq!(
        session_with_cookie(&server, &default_name).await,
        serde_json::Value::Null
    );
    // Signing out clears the prefixed cookies.
    let out = server
        .http
        .post(server.url("/api/auth/sign-out"))
        .header("cookie", &pair)
        .header("origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 200);
    let cleared = set_cookies(&out);
    assert!(
        cleared
            .iter()
            .any(|c| c.starts_with("myapp.session_token=;")),
        "{cleared:?}"
    );
}

/// Cookies shared across subdomains carry `Domain` (Better Auth's `crossSubDomainCookies`), on
/// setting and on clearing alike.
async fn cross_subdomain_cookies_carry_the_domain(db: TestDb) {
    let web = WebSettings {
        base_url: ORIGIN.to_owned(),
        cookie_domain: Some("example.com".to_owned()),
        ..Default::default()
    };
    let server = TestServer::start_full(&db, |_| {}, web).await;
    let (pair, set) = session_cookie(&server, "shared@example.com").await;
    assert!(pair.starts_with("better-auth.session_token="), "{set}");
    assert!(set.contains("; Domain=example.com"), "{set}");
    assert_eq!(
        session_with_cookie(&server, &pair).await["user"]["email"],
        "shared@example.com"
    );
    let out = server
        .http
        .post(server.url("/api/auth/sign-out"))
        .header("cookie", &pair)
        .header("origin", ORIGIN)
        .send()
        .await
        .unwrap();
    let cleared = set_cookies(&out);
    assert!(!cleared.is_empty());
    assert!(
        cleared.iter().all(|c| c.contains("; Domain=example.com")),
        "{cleared:?}"
    );
}

db_tests!(
    a_trusted_origin_gets_cors_with_credentials,
    an_untrusted_origin_gets_none,
    only_the_auth_routes_and_only_when_on,
    the_cookie_prefix_names_the_cookies,
    cross_subdomain_cookies_carry_the_domain,
);
