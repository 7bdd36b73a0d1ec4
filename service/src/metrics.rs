//! The process's Prometheus metrics, in one registry of its own (not the `prometheus` crate's
//! default one, so nothing a dependency registers leaks into the scrape).
//!
//! They are process-wide because the events they count happen deep in the service (a session
//! row inserted in a transaction, a hashing job picked up by a worker thread), where threading a
//! handle through would touch every flow. Counting costs an atomic add whether or not anything
//! scrapes; `ORGAUTH_METRICS_ADDR` only decides whether they are served (see docs/deploy.md).
//!
//! Labels take values from fixed sets only (route templates, methods, status codes, reasons),
//! so no client can grow the registry.

use std::sync::LazyLock;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Every metric, registered in [`Metrics::registry`].
pub struct Metrics {
    pub registry: Registry,
    /// `orgauth_http_requests_total{method,route,status}`.
    pub http_requests: IntCounterVec,
    /// `orgauth_http_request_duration_seconds{method,route,status}`.
    pub http_duration: HistogramVec,
    /// `orgauth_password_hash_queue`: callers queued for a hashing worker or being served.
    pub hash_queue: IntGauge,
    /// `orgauth_password_hash_wait_seconds`: from queueing to a worker starting the job.
    pub hash_wait: Histogram,
    /// `orgauth_password_hash_refused_total`: callers refused (queue full or waited too long).
    pub hash_refused: IntCounter,
    /// `orgauth_db_pool_connections{state="idle"|"in_use"}`, read at scrape time.
    pub db_pool_connections: IntGaugeVec,
    /// `orgauth_db_pool_max_connections`, read at scrape time.
    pub db_pool_max: IntGauge,
    /// `orgauth_sessions_created_total`.
    pub sessions_created: IntCounter,
    /// `orgauth_sessions_revoked_total`: sign-outs and revocations (not expiries).
    pub sessions_revoked: IntCounter,
    /// `orgauth_sign_in_failures_total{reason}`: the reasons of `audit::sign_in_failed`.
    pub sign_in_failures: IntCounterVec,
    /// `orgauth_rate_limit_refusals_total`: requests answered 429 by the rate limiter.
    pub rate_limit_refusals: IntCounter,
    /// `orgauth_session_cache_hits_total`: sessions served from the session cache.
    pub session_cache_hits: IntCounter,
    /// `orgauth_session_cache_misses_total`: lookups the session cache could not serve.
    pub session_cache_misses: IntCounter,
    /// `orgauth_session_cache_trusted`: 1 while the session cache hears its notifications.
    pub session_cache_trusted: IntGauge,
}

/// Request durations: 1 ms to 10 s (a password hash alone is tens of milliseconds).
const HTTP_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Hashing waits: none to the 5 s after which a caller is refused.
const WAIT_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

impl Metrics {
    fn new() -> Self {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new("orgauth_http_requests_total", "HTTP requests answered."),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "orgauth_http_request_duration_seconds",
                "Time from a request's arrival to its response's head.",
            )
            .buckets(HTTP_BUCKETS.to_vec()),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let hash_queue = IntGauge::new(
            "orgauth_password_hash_queue",
            "Callers waiting for a password-hashing worker or being served.",
        )
        .expect("valid metric");
        let hash_wait = Histogram::with_opts(
            HistogramOpts::new(
                "orgauth_password_hash_wait_seconds",
                "Time a password hash waited for a worker.",
            )
            .buckets(WAIT_BUCKETS.to_vec()),
        )
        .expect("valid metric");
        let hash_refused = IntCounter::new(
            "orgauth_password_hash_refused_total",
            "Password hashes refused because the pool was overloaded (answered 503).",
        )
        .expect("valid metric");
        let db_pool_connections = IntGaugeVec::new(
            Opts::new(
                "orgauth_db_pool_connections",
                "Open database connections, idle or in use.",
            ),
            &["state"],
        )
        .expect("valid metric");
        let db_pool_max = IntGauge::new(
            "orgauth_db_pool_max_connections",
            "The database pool's size limit.",
        )
        .expect("valid metric");
        let sessions_created = IntCounter::new(
            "orgauth_sessions_created_total",
            "Sessions opened (sign-up, sign-in, social, magic link, impersonation).",
        )
        .expect("valid metric");
        let sessions_revoked = IntCounter::new(
            "orgauth_sessions_revoked_total",
            "Sessions ended by sign-out or revocation (expiries not counted).",
        )
        .expect("valid metric");
        let sign_in_failures = IntCounterVec::new(
            Opts::new(
                "orgauth_sign_in_failures_total",
                "Refused sign-ins, by reason.",
            ),
            &["reason"],
        )
        .expect("valid metric");
        let rate_limit_refusals = IntCounter::new(
            "orgauth_rate_limit_refusals_total",
            "Requests refused by the rate limiter (429).",
        )
        .expect("valid metric");
        let session_cache_hits = IntCounter::new(
            "orgauth_session_cache_hits_total",
            "Sessions served from the session cache, without a query.",
        )
        .expect("valid metric");
        let session_cache_misses = IntCounter::new(
            "orgauth_session_cache_misses_total",
            "Session lookups the session cache could not serve (not cached, or not trusted).",
        )
        .expect("valid metric");
        let session_cache_trusted = IntGauge::new(
            "orgauth_session_cache_trusted",
            "1 while the session cache hears the database's change notifications.",
        )
        .expect("valid metric");
        let metrics = Self {
            registry,
            http_requests,
            http_duration,
            hash_queue,
            hash_wait,
            hash_refused,
            db_pool_connections,
            db_pool_max,
            sessions_created,
            sessions_revoked,
            sign_in_failures,
            rate_limit_refusals,
            session_cache_hits,
            session_cache_misses,
            session_cache_trusted,
        };
        let collectors: [Box<dyn prometheus::core::Collector>; 14] = [
            Box::new(metrics.http_requests.clone()),
            Box::new(metrics.http_duration.clone()),
            Box::new(metrics.hash_queue.clone()),
            Box::new(metrics.hash_wait.clone()),
            Box::new(metrics.hash_refused.clone()),
            Box::new(metrics.db_pool_connections.clone()),
            Box::new(metrics.db_pool_max.clone()),
            Box::new(metrics.sessions_created.clone()),
            Box::new(metrics.sessions_revoked.clone()),
            Box::new(metrics.sign_in_failures.clone()),
            Box::new(metrics.rate_limit_refusals.clone()),
            Box::new(metrics.session_cache_hits.clone()),
            Box::new(metrics.session_cache_misses.clone()),
            Box::new(metrics.session_cache_trusted.clone()),
        ];
        for c in collectors {
            metrics.registry.register(c).expect("unique metric names");
        }
        metrics
    }

    /// Reads the gauges that are states rather than events (the database pool), then renders
    /// everything in the Prometheus text format.
    pub fn render(&self, db: &sea_orm::DatabaseConnection) -> String {
        if let Some((size, idle, max)) = pool_state(db) {
            let in_use = (size as usize).saturating_sub(idle);
            self.db_pool_connections
                .with_label_values(&["idle"])
                .set(idle as i64);
            self.db_pool_connections
                .with_label_values(&["in_use"])
                .set(in_use as i64);
            self.db_pool_max.set(max as i64);
        }
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding into memory");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

/// The pool's open, idle and maximum connections, as sqlx counts them.
fn pool_state(db: &sea_orm::DatabaseConnection) -> Option<(u32, usize, u32)> {
    match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            Some((
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            ))
        }
        sea_orm::DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            Some((
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            ))
        }
        _ => None,
    }
}

/// The process's metrics.
pub fn get() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}
