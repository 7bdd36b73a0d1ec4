//! The topologies Better Auth supports: CORS for a web app on another origin (`ORGAUTH_CORS`, on
//! the trusted origins: preflights answered, credentials allowed, nothing for other origins or
//! outside the auth routes), the cookie prefix and cookies shared across subdomains, and a base
//! path other than `/api/auth` (`ORGAUTH_BASE_PATH`).

use api::state::WebSettings;
use migration::db_tests;
use migration::testing::TestDb;
use reqwest::{Method, Response};
use sea_orm::EntityTrait;
use serde_json::json;

use crate::harness::{assert_error, parts, set_cookies, TestServer, ORIGIN};
use crate::smtp::MailSink;

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

// ---------------------------------------------------------------------------------------------
// Base path (`ORGAUTH_BASE_PATH`, Better Auth's `basePath`).

const BASE_PATH: &str = "/custom/auth";

/// A server whose auth routes are under [`BASE_PATH`], with `ORGAUTH_RATE_LIMIT` as `rate_limit`.
async fn under_base_path(
    db: &TestDb,
    configure: impl FnOnce(&mut service::config::AuthConfig),
    rate_limit: Option<api::rate_limit::RateLimitConfig>,
) -> TestServer {
    let web = WebSettings {
        base_url: ORIGIN.to_owned(),
        trusted_origins: vec![APP.to_owned()],
        cors: true,
        base_path: Some(BASE_PATH.to_owned()),
        rate_limit,
        ..Default::default()
    };
    let configure = |cfg: &mut service::config::AuthConfig| {
        // What `orgauth serve` derives from BETTER_AUTH_URL and ORGAUTH_BASE_PATH.
        cfg.api_base_url = format!("{ORIGIN}{BASE_PATH}");
        configure(cfg);
    };
    TestServer::start_full(db, configure, web).await
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The routes answer under the base path, with the session cookie working there; under
/// `/api/auth` every path is Better Auth's 404 for a path outside its base path; the pages and
/// the health check stay where they are.
async fn the_routes_move_to_the_base_path(db: TestDb) {
    let server = under_base_path(&db, |_| {}, None).await;
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let signed_up = http
        .post(server.url("/custom/auth/sign-up/email"))
        .header("origin", ORIGIN)
        .json(&json!({"email": "base@example.com", "password": "password123", "name": "B"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_up.status(), 200);
    let session = http
        .get(server.url("/custom/auth/get-session?disableCookieCache=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(parts(session).await.1["user"]["email"], "base@example.com");
    let created = http
        .post(server.url("/custom/auth/organization/create"))
        .header("origin", ORIGIN)
        .json(&json!({"name": "Base", "slug": "base"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    assert_eq!(server.get("/custom/auth/ok").await.status(), 200);

    for path in [
        "/api/auth/ok",
        "/api/auth/get-session",
        "/api/auth",
        "/api/auth/reference",
        "/api/auth/open-api/generate-schema",
        "/custom/authx/ok",
        "/custom/auth/",
    ] {
        let r = http.get(server.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
        assert_eq!(r.text().await.unwrap(), "", "{path}");
    }
    let old = http
        .post(server.url("/api/auth/sign-up/email"))
        .header("origin", ORIGIN)
        .json(&json!({"email": "old@example.com", "password": "password123", "name": "O"}))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 404);
    for path in ["/healthz", "/docs", "/openapi.json"] {
        assert_eq!(server.get(path).await.status(), 200, "{path}");
    }
}

/// Swagger UI, `/openapi.json`, and the `openAPI()` plugin's document and reference page (now
/// under the base path) all show the configured paths, in the document's order.
async fn the_documents_show_the_base_path(db: TestDb) {
    let server = under_base_path(&db, |_| {}, None).await;
    let spec: serde_json::Value = server.get("/openapi.json").await.json().await.unwrap();
    let paths: Vec<&String> = spec["paths"].as_object().unwrap().keys().collect();
    assert!(paths.iter().any(|p| *p == "/custom/auth/sign-up/email"));
    assert!(paths
        .iter()
        .any(|p| *p == "/custom/auth/organization/create"));
    assert!(paths.iter().any(|p| *p == "/healthz"));
    assert!(
        !paths.iter().any(|p| p.starts_with("/api/auth")),
        "{paths:?}"
    );
    let plugin = server.get("/custom/auth/open-api/generate-schema").await;
    assert_eq!(plugin.status(), 200);
    assert_eq!(plugin.json::<serde_json::Value>().await.unwrap(), spec);
    for page in ["/docs", "/custom/auth/reference"] {
        let html = server.get(page).await.text().await.unwrap();
        assert!(html.contains("\"/custom/auth/sign-up/email\""), "{page}");
        assert!(!html.contains("\"/api/auth/sign-up/email\""), "{page}");
    }
    // The document keeps its order: the core routes before the admin plugin's.
    let text = server.get("/openapi.json").await.text().await.unwrap();
    let sign_up = text.find("\"/custom/auth/sign-up/email\"").unwrap();
    let admin = text.find("\"/custom/auth/admin/").unwrap();
    assert!(sign_up < admin);
}

/// Mailed links (verification, password reset) and the social callback carry the base path, and
/// the links work.
async fn links_carry_the_base_path(db: TestDb) {
    let server = under_base_path(
        &db,
        |cfg| {
            cfg.send_verification_on_sign_up = true;
            cfg.social = vec![service::social::ProviderConfig::github(
                "gh-id",
                "gh-secret",
            )];
        },
        None,
    )
    .await;
    let http = no_redirects();
    let signed_up = http
        .post(server.url("/custom/auth/sign-up/email"))
        .json(&json!({"email": "links@example.com", "password": "password123", "name": "L"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_up.status(), 200);
    let mail = server.mail.wait("links@example.com", 1).await;
    let verify = MailSink::link(&mail, &format!("{ORIGIN}{BASE_PATH}/verify-email?token="));
    let verified = http
        .get(verify.replacen(ORIGIN, &server.base, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(verified.status(), 302);
    assert_eq!(verified.headers()["location"], "/");
    let user = entity::user::Entity::find().one(&server.db).await.unwrap();
    assert!(user.unwrap().email_verified);

    let asked = http
        .post(server.url("/custom/auth/request-password-reset"))
        .json(&json!({"email": "links@example.com", "redirectTo": "/reset"}))
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), 200);
    let mail = server.mail.wait("links@example.com", 2).await;
    let reset = MailSink::link(&mail, &format!("{ORIGIN}{BASE_PATH}/reset-password/"));
    let landed = http
        .get(reset.replacen(ORIGIN, &server.base, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(landed.status(), 302);
    assert!(landed.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/reset?token="));

    let social = http
        .post(server.url("/custom/auth/sign-in/social"))
        .json(&json!({"provider": "github"}))
        .send()
        .await
        .unwrap();
    let (status, body) = parts(social).await;
    assert_eq!(status, 200, "{body}");
    let url = url::Url::parse(body["url"].as_str().unwrap()).unwrap();
    let redirect_uri = url
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| v.into_owned());
    assert_eq!(
        redirect_uri.as_deref(),
        Some(format!("{ORIGIN}{BASE_PATH}/callback/github").as_str())
    );
    // A provider's form_post goes on to the GET form, under the base path too.
    let form = http
        .post(server.url("/custom/auth/callback/github"))
        .form(&[("code", "abc"), ("state", "xyz")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 302);
    assert_eq!(
        form.headers()["location"],
        format!("{ORIGIN}{BASE_PATH}/callback/github?code=abc&state=xyz").as_str()
    );
}

/// Rate limits, origin checks and CORS apply to the routes under the base path as under
/// `/api/auth`.
async fn the_checks_apply_under_the_base_path(db: TestDb) {
    let limits = api::rate_limit::RateLimitConfig::default();
    let server = under_base_path(&db, |c| c.account_guessing.free_failures = 0, Some(limits)).await;
    let attempt = || {
        server
            .http
            .post(server.url("/custom/auth/sign-in/email"))
            .json(&json!({"email": "nobody@example.com", "password": "password123"}))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(attempt().await.unwrap().status(), 401);
    }
    assert_eq!(attempt().await.unwrap().status(), 429);

    let refused = server
        .http
        .post(server.url("/custom/auth/sign-up/email"))
        .header("origin", EVIL)
        .json(&json!({"email": "evil@example.com", "password": "password123", "name": "E"}))
        .send()
        .await
        .unwrap();
    assert_error(refused, 403, "INVALID_ORIGIN").await;
    let refused = server
        .http
        .get(server.url("/custom/auth/get-session"))
        .query(&[("callbackURL", "https://evil.example.com/x")])
        .send()
        .await
        .unwrap();
    assert_error(refused, 403, "INVALID_CALLBACK_URL").await;

    let pre = preflight(&server, APP, "/custom/auth/get-session").await;
    assert_eq!(pre.status(), 204);
    assert_eq!(header(&pre, "access-control-allow-origin"), Some(APP));
    let pre = preflight(&server, APP, "/api/auth/get-session").await;
    assert_eq!(header(&pre, "access-control-allow-origin"), None);
}

db_tests!(
    a_trusted_origin_gets_cors_with_credentials,
    an_untrusted_origin_gets_none,
    only_the_auth_routes_and_only_when_on,
    the_cookie_prefix_names_the_cookies,
    cross_subdomain_cookies_carry_the_domain,
    the_routes_move_to_the_base_path,
    the_documents_show_the_base_path,
    links_carry_the_base_path,
    the_checks_apply_under_the_base_path,
);
