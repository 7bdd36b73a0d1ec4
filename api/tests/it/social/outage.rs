//! Providers that are down, stall or answer garbage: GitHub and Google sign-ins start without
//! the network; a start that needs discovery fails with 503 `PROVIDER_UNAVAILABLE` and stores
//! nothing; a callback whose token endpoint is down or stalls lands on the error callback with
//! `provider_unavailable`, one that answers garbage with `invalid_code`; other routes answer
//! meanwhile; a cached discovery document outlives a failing refresh. The provider timeout is a
//! second here; nothing below asserts how long anything took.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use migration::db_tests;
use migration::testing::TestDb;
use poem::web::Data;
use poem::{handler, EndpointExt, IntoResponse, Response, Route};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{json, Value};
use service::config::social::GOOGLE_AUTHORIZE_URL;
use service::social::{ProviderConfig, ProviderKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{users, Browser};
use crate::harness::{assert_error, parts, TestServer};

/// A local address where nothing listens: connections are refused.
async fn refused() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// A server that accepts, reads and never answers.
async fn stalling() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{addr}")
}

/// A server that answers every request with a 200 whose JSON body is cut short.
async fn garbage() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                let _ = socket.read(&mut buf).await;
                let body = "{\"access_tok";
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(reply.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}

fn github_at(id: &str, authorize: &str, token: &str, api: &str) -> ProviderConfig {
    let mut cfg = ProviderConfig::github("gh-client", "gh-secret");
    cfg.id = id.into();
    cfg.kind = ProviderKind::Github {
        authorize_url: format!("{authorize}/login/oauth/authorize"),
        token_url: format!("{token}/login/oauth/access_token"),
        api_url: api.into(),
    };
    cfg
}

fn oidc_at(id: &str, issuer: &str) -> ProviderConfig {
    ProviderConfig::oidc(
        id,
        &format!("{issuer}/.well-known/openid-configuration"),
        "client",
        "secret",
    )
}

async fn start(db: &TestDb, providers: Vec<ProviderConfig>, ttl: Duration) -> TestServer {
    TestServer::start_with(db, |cfg| {
        cfg.social = providers;
        cfg.provider_timeout = Duration::from_secs(1);
        cfg.discovery_ttl = ttl;
    })
    .await
}

async fn stored_states(server: &TestServer) -> u64 {
    entity::verification::Entity::find()
        .count(&server.db)
        .await
        .unwrap()
}

fn body(provider: &str) -> Value {
    json!({"provider": provider, "callbackURL": "/dashboard", "errorCallbackURL": "/auth-error"})
}

async fn github_and_google_start_without_the_network(db: TestDb) {
    let nowhere = refused().await;
    let mut google = ProviderConfig::google("google-client", "google-secret");
    google.kind = ProviderKind::Oidc {
        discovery_url: format!("{nowhere}/.well-known/openid-configuration"),
        authorize_url: Some(GOOGLE_AUTHORIZE_URL.into()),
    };
    let github = github_at("github", &nowhere, &nowhere, &nowhere);
    let server = start(&db, vec![github, google], Duration::from_secs(3600)).await;
    let b = Browser::new(&server);
    for (provider, prefix) in [
        ("github", format!("{nowhere}/login/oauth/authorize?")),
        ("google", format!("{GOOGLE_AUTHORIZE_URL}?")),
    ] {
        let (status, started) = parts(b.post("/sign-in/social", body(provider)).await).await;
        assert_eq!(status, 200, "{provider}: {started}");
        let url = started["url"].as_str().unwrap();
        assert!(url.starts_with(&prefix), "{url}");
        assert!(url.contains("code_challenge_method=S256"), "{url}");
    }
    assert_eq!(stored_states(&server).await, 2);
}

async fn a_start_that_cannot_discover_answers_503_and_stores_nothing(db: TestDb) {
    let providers = vec![
        oidc_at("down", &refused().await),
        oidc_at("stalled", &stalling().await),
    ];
    let server = start(&db, providers, Duration::from_secs(3600)).await;
    let b = Browser::new(&server);
    for provider in ["down", "stalled", "down"] {
        // Other routes answer while the start waits for the provider.
        let (start, ok) = tokio::join!(b.post("/sign-in/social", body(provider)), b.get("/ok"),);
        assert_eq!(ok.status(), 200);
        let retry_after = start.headers().get("retry-after").cloned();
        assert_error(start, 503, "PROVIDER_UNAVAILABLE").await;
        assert!(retry_after.is_some(), "{provider}: Retry-After");
    }
    assert_eq!(stored_states(&server).await, 0);
}

/// The state of a started sign-in, from the provider URL the start answered with.
async fn started_state(b: &Browser, provider: &str) -> String {
    let (status, started) = parts(b.post("/sign-in/social", body(provider)).await).await;
    assert_eq!(status, 200, "{started}");
    let url = url::Url::parse(started["url"].as_str().unwrap()).unwrap();
    let state = url.query_pairs().find(|(k, _)| k == "state").unwrap().1;
    state.into_owned()
}

async fn a_failing_token_endpoint_lands_on_the_error_callback(db: TestDb) {
    let (nowhere, stall, junk) = (refused().await, stalling().await, garbage().await);
    let providers = vec![
        github_at("gh-down", &nowhere, &nowhere, &nowhere),
        github_at("gh-stalled", &nowhere, &stall, &nowhere),
        github_at("gh-junk", &nowhere, &junk, &nowhere),
    ];
    let server = start(&db, providers, Duration::from_secs(3600)).await;
    for (provider, error) in [
        ("gh-down", "provider_unavailable"),
        ("gh-stalled", "provider_unavailable"),
        ("gh-junk", "invalid_code"),
    ] {
        let b = Browser::new(&server);
        let state = started_state(&b, provider).await;
        let callback = format!("/callback/{provider}?code=abc&state={state}");
        let (landed, ok) = tokio::join!(b.get(&callback), b.get("/ok"),);
        assert_eq!(ok.status(), 200);
        assert_eq!(landed.status(), 302, "{provider}");
        assert_eq!(
            super::location(&landed),
            format!("/auth-error?error={error}"),
            "{provider}"
        );
        assert!(landed
            .headers()
            .get("set-cookie")
            .is_none_or(|c| !c.to_str().unwrap().contains("session_token=")));
    }
    assert_eq!(users(&server).await, 0);
}

/// A discovery document and its (empty) JWKS served while `up`, a 500 otherwise; counts the
/// requests to both.
#[derive(Default)]
struct Discovery {
    up: bool,
    hits: u32,
    issuer: String,
}

type Shared = Arc<Mutex<Discovery>>;

#[handler]
fn discovery_document(d: Data<&Shared>) -> Response {
    let mut d = d.lock().unwrap();
    d.hits += 1;
    if !d.up {
        return poem::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let issuer = &d.issuer;
    poem::web::Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
    .into_response()
}

#[handler]
fn jwks(d: Data<&Shared>) -> Response {
    let mut d = d.lock().unwrap();
    d.hits += 1;
    match d.up {
        true => poem::web::Json(json!({"keys": []})).into_response(),
        false => poem::http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn discovery_server() -> Shared {
    let shared: Shared = Arc::default();
    let app = Route::new()
        .at("/.well-known/openid-configuration", discovery_document)
        .at("/jwks", jwks)
        .data(shared.clone());
    let acceptor = api::server::bind("127.0.0.1", 0).await.unwrap();
    let addr = api::server::local_addr(&acceptor).unwrap();
    {
        let mut d = shared.lock().unwrap();
        d.up = true;
        d.issuer = format!("http://{addr}");
    }
    tokio::spawn(api::server::run(
        acceptor,
        app,
        std::future::pending(),
        Duration::from_secs(1),
    ));
    shared
}

async fn a_cached_discovery_document_outlives_a_failing_refresh(db: TestDb) {
    let provider = discovery_server().await;
    let issuer = provider.lock().unwrap().issuer.clone();
    // Every use finds the document old, so each starts a background refresh.
    let server = start(&db, vec![oidc_at("idp", &issuer)], Duration::ZERO).await;
    let b = Browser::new(&server);
    let authorize = format!("{issuer}/authorize?");
    let url_of = |v: &Value| v["url"].as_str().unwrap_or_default().to_owned();
    let (status, first) = parts(b.post("/sign-in/social", body("idp")).await).await;
    assert_eq!(status, 200, "{first}");
    assert!(url_of(&first).starts_with(&authorize));
    let fetched = provider.lock().unwrap().hits;
    provider.lock().unwrap().up = false;
    let (status, second) = parts(b.post("/sign-in/social", body("idp")).await).await;
    assert_eq!(status, 200, "{second}");
    assert!(url_of(&second).starts_with(&authorize));
    // The refresh that start began reaches the provider, which fails it...
    tokio::time::timeout(Duration::from_secs(30), async {
        while provider.lock().unwrap().hits == fetched {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("a background refresh");
    // ...and the document is still used.
    for _ in 0..3 {
        let (status, again) = parts(b.post("/sign-in/social", body("idp")).await).await;
        assert_eq!(status, 200, "{again}");
        assert!(url_of(&again).starts_with(&authorize));
    }
}

db_tests!(
    github_and_google_start_without_the_network,
    a_start_that_cannot_discover_answers_503_and_stores_nothing,
    a_failing_token_endpoint_lands_on_the_error_callback,
    a_cached_discovery_document_outlives_a_failing_refresh,
);
