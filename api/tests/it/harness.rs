//! The real server on a free port, backed by a fresh migrated database, with a clock the test
//! moves and a client that keeps cookies.

use std::sync::Arc;
use std::time::Duration;

use api::rate_limit::RateLimitConfig;
use api::state::WebSettings;
use chrono::{TimeZone, Utc};
use migration::testing::TestDb;
use migration::{Migrator, MigratorTrait};
use sea_orm::DatabaseConnection;
use serde_json::Value;
use service::clock::ManualClock;
use service::config::{AuthConfig, Secret};
use service::db::PoolSize;

use crate::smtp::MailSink;

pub const SECRET: &str = "test-secret-0123456789-0123456789-abcdef";
pub const ORIGIN: &str = "http://localhost:3000";

pub struct TestServer {
    pub base: String,
    pub http: reqwest::Client,
    pub db: DatabaseConnection,
    pub clock: ManualClock,
    pub mail: MailSink,
}

impl TestServer {
    pub async fn start(test_db: &TestDb) -> Self {
        Self::start_with(test_db, |_| {}).await
    }

    pub async fn start_with(test_db: &TestDb, configure: impl FnOnce(&mut AuthConfig)) -> Self {
        let web = WebSettings {
            base_url: ORIGIN.to_owned(),
            ..Default::default()
        };
        Self::start_full(test_db, configure, web).await
    }

    /// With rate limiting, the client address from `client_ip_header` when given.
    pub async fn start_rate_limited(
        test_db: &TestDb,
        rate_limit: RateLimitConfig,
        client_ip_header: Option<&str>,
    ) -> Self {
        let web = WebSettings {
            base_url: ORIGIN.to_owned(),
            rate_limit: Some(rate_limit),
            client_ip_header: client_ip_header.map(str::to_owned),
            ..Default::default()
        };
        // These servers test the per-address limiter; the per-account throttle stays out of it.
        Self::start_full(test_db, |c| c.account_guessing.free_failures = 0, web).await
    }

    pub async fn start_full(
        test_db: &TestDb,
        configure: impl FnOnce(&mut AuthConfig),
        web: WebSettings,
    ) -> Self {
        let hasher = service::password::Hasher::new(2, 128);
        Self::start_hashing(test_db, configure, web, hasher).await
    }

    /// With a given password-hashing pool (to test its limits).
    pub async fn start_hashing(
        test_db: &TestDb,
        configure: impl FnOnce(&mut AuthConfig),
        web: WebSettings,
        hasher: service::password::Hasher,
    ) -> Self {
        // What the server writes must keep the store's invariants; they are checked after the test.
        test_db.hold_to_invariants();
        let db = service::db::connect(&test_db.url, PoolSize::default())
            .await
            .unwrap();
        Migrator::up(&db, None).await.unwrap();
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap());
        let mail = MailSink::start().await;
        let mut cfg = AuthConfig::with_secret(Secret::new(SECRET));
        cfg.api_base_url = format!("{ORIGIN}/api/auth");
        cfg.read_database(&db).await.unwrap();
        configure(&mut cfg);
        let auth = service::Auth::new(
            db.clone(),
            hasher,
            cfg,
            Arc::new(clock.clone()),
            service::mail::Mailer::smtp(&mail.url, "orgauth <no-reply@example.com>").unwrap(),
        );
        let acceptor = api::server::bind("127.0.0.1", 0).await.unwrap();
        let addr = api::server::local_addr(&acceptor).unwrap();
        let state = api::state::AppState::new(auth, web);
        tokio::spawn(api::server::run(
            acceptor,
            api::server::app(state),
            std::future::pending(),
            Duration::from_secs(1),
        ));
        Self {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            db,
            clock,
            mail,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    /// A client with its own cookie jar, sending the trusted Origin as a browser would.
    pub fn browser(&self) -> Browser {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("origin", ORIGIN.parse().unwrap());
        Browser {
            base: self.base.clone(),
            http: reqwest::Client::builder()
                .cookie_store(true)
                .default_headers(headers)
                .build()
                .unwrap(),
        }
    }
}

#[derive(Clone)]
pub struct Browser {
    pub base: String,
    pub http: reqwest::Client,
}

impl Browser {
    pub async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.http
            .post(format!("{}/api/auth{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}/api/auth{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    pub async fn json(&self, path: &str) -> Value {
        self.get(path).await.json().await.unwrap()
    }

    /// Signs up `email` with `password`; panics unless it succeeds.
    pub async fn sign_up(&self, email: &str, password: &str) -> Value {
        let r = self
            .post(
                "/sign-up/email",
                serde_json::json!({"name": "Test", "email": email, "password": password}),
            )
            .await;
        assert_eq!(r.status(), 200, "sign-up of {email}");
        r.json().await.unwrap()
    }
}

/// Status and JSON body of a response.
pub async fn parts(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        },
    )
}

/// The Set-Cookie headers of a response.
pub fn set_cookies(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}
