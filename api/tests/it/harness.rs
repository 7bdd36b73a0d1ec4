//! The real server on a free port, backed by a fresh migrated database, with a clock the test
//! moves and a client that keeps cookies; the checks of a reply (`assert_error`, `expect_ok`);
//! the server's log in the test output when `ORGAUTH_TEST_LOG` is set.

use std::fmt::Display;
use std::future::Future;
use std::sync::{Arc, Once};
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
    /// The server's own rules object (its session cache, for the cache's tests).
    pub auth: service::Auth,
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
            client_ip: api::client_ip::ClientIp::new(client_ip_header, Vec::new()),
            ..Default::default()
        };
        // These servers test the per-address limiter; the per-account throttle stays out of it.
        Self::start_full(test_db, |c| c.account_guessing.free_failures = 0, web).await
    }

    /// With rate limiting behind the proxies `trusted_proxies` names (as `ORGAUTH_TRUSTED_PROXIES`),
    /// reading `header` (default `x-forwarded-for`) from them.
    pub async fn start_behind_proxies(
        test_db: &TestDb,
        rate_limit: RateLimitConfig,
        header: Option<&str>,
        trusted_proxies: &str,
    ) -> Self {
        let proxies = api::client_ip::parse_trusted_proxies(&[trusted_proxies]).unwrap();
        let web = WebSettings {
            base_url: ORIGIN.to_owned(),
            rate_limit: Some(rate_limit),
            client_ip: api::client_ip::ClientIp::new(header, proxies),
            ..Default::default()
        };
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
        log_to_test_output();
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
        // As the server defaults: the session cache on with PostgreSQL (a test may switch it
        // off); ORGAUTH_TEST_SESSION_CACHE=off runs them all without it.
        if test_db.db_backend() == sea_orm::DbBackend::Postgres
            && std::env::var("ORGAUTH_TEST_SESSION_CACHE").as_deref() != Ok("off")
        {
            cfg.session_cache = Some(Default::default());
        }
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
        let state = api::state::AppState::new(auth.clone(), web);
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
            auth,
        }
    }

    /// Waits until the server has heard every change committed before now (its session cache's
    /// fence): a test that changes users or sessions by SQL calls it before asking the server,
    /// as a cached copy goes only when the change's notification arrives.
    pub async fn settle(&self) {
        if let Some(cache) = &self.auth.session_cache {
            cache.fence().await;
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

/// A reply to check: a response (read when checked) or its [`parts`].
pub trait Reply {
    fn into_parts(self) -> impl Future<Output = (u16, Value)> + Send;
}

impl Reply for reqwest::Response {
    fn into_parts(self) -> impl Future<Output = (u16, Value)> + Send {
        parts(self)
    }
}

impl Reply for (u16, Value) {
    fn into_parts(self) -> impl Future<Output = (u16, Value)> + Send {
        std::future::ready(self)
    }
}

/// Asserts Better Auth's error answer: `status` with `code` in the body. Returns the body.
pub async fn assert_error(reply: impl Reply, status: u16, code: &str) -> Value {
    assert_error_for(reply, status, code, "").await
}

/// [`assert_error`], naming the case in the failure message.
pub async fn assert_error_for(
    reply: impl Reply,
    status: u16,
    code: &str,
    case: impl Display,
) -> Value {
    let (s, body) = reply.into_parts().await;
    assert_eq!(
        (s, body["code"].as_str()),
        (status, Some(code)),
        "{case} {body}"
    );
    body
}

/// Asserts a 200; returns the body.
pub async fn expect_ok(reply: impl Reply) -> Value {
    let (s, body) = reply.into_parts().await;
    assert_eq!(s, 200, "{body}");
    body
}

/// With `ORGAUTH_TEST_LOG` set (an `EnvFilter` directive such as `debug` or
/// `api=trace,sqlx=warn`), installs a subscriber that writes the server's log to the test output,
/// once per test binary. The test harness shows it for failed tests, or always with
/// `--nocapture`.
pub fn log_to_test_output() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let Ok(directives) = std::env::var("ORGAUTH_TEST_LOG") else {
            return;
        };
        let filter = tracing_subscriber::EnvFilter::try_new(&directives)
            .unwrap_or_else(|e| panic!("ORGAUTH_TEST_LOG={directives:?}: {e}"));
        // Fails only when another subscriber is already installed; that one then keeps the log.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .with_test_writer()
            .try_init();
    });
}
