//! Observability end to end: the Prometheus endpoint as a scraper reads it (parsed with a real
//! text-format parser), and traces as a collector receives them (OTLP/HTTP protobuf, decoded).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use migration::db_tests;
use migration::testing::{Backend, TestDb};
use prometheus_parse::{Sample, Scrape, Value};

use super::{orgauth, start, Running};

const ORIGIN: &str = "http://localhost:3000";

/// The `metrics on http://…/metrics` line logged after the start-up line.
fn metrics_url(server: &Running) -> String {
    loop {
        let line = server
            .lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the server logs its metrics address");
        if let Some(rest) = line.split("metrics on ").nth(1) {
            return rest
                .split_whitespace()
                .next()
                .unwrap()
                .trim_end_matches('"')
                .to_owned();
        }
    }
}

async fn scrape(url: &str) -> (String, Scrape) {
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = response.text().await.unwrap();
    let parsed = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    (text, parsed)
}

/// The sample of `metric` whose labels include `labels`.
fn sample<'a>(scrape: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
}

/// A counter's or gauge's value (untyped too: a histogram's `_count`), 0 when absent.
fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    match sample(scrape, metric, labels).map(|s| &s.value) {
        None => 0.0,
        Some(Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v)) => *v,
        Some(other) => panic!("{metric} is not a single value: {other:?}"),
    }
}

/// Follows a reset link carrying a token (not its redirect); returns the status.
async fn reset_link(base: &str) -> u16 {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    http.get(format!(
        "{base}/api/auth/reset-password/secret-reset-token?callbackURL=/"
    ))
    .send()
    .await
    .unwrap()
    .status()
    .as_u16()
}

/// Sign-up, a failed sign-in, sign-in requests until one is refused by the rate limiter,
/// sign-out, a reset link and an unknown path: each shows in the scrape by exactly its amount,
/// labelled with route templates.
async fn metrics_count_what_happened(db: TestDb) {
    let mut cmd = orgauth();
    cmd.env("DATABASE_URL", &db.url)
        .env("ORGAUTH_METRICS_ADDR", "127.0.0.1:0")
        .env("BETTER_AUTH_TRUSTED_ORIGINS", ORIGIN);
    let server = start(cmd);
    let metrics = metrics_url(&server);
    let (_, before) = scrape(&metrics).await;

    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let post = |path: &str, body: &str| {
        http.post(format!("{}/api/auth{path}", server.base))
            .header("origin", ORIGIN)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
    };
    let r = post(
        "/sign-up/email",
        r#"{"name":"Metrics","email":"metrics@example.com","password":"metrics-secret-pw"}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let r = post(
        "/sign-in/email",
        r#"{"email":"metrics@example.com","password":"wrong-secret-pw"}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 401);
    // Malformed bodies (400, no password checked) until the limiter refuses one.
    let mut malformed = 0;
    loop {
        let status = post("/sign-in/email", "{").await.unwrap().status();
        if status == 429 {
            break;
        }
        assert_eq!(status, 400);
        malformed += 1;
        assert!(malformed < 10, "the rate limiter never refused");
    }
    let r = post("/sign-out", "{}").await.unwrap();
    assert_eq!(r.status(), 200);
    let reset_status = reset_link(&server.base).await.to_string();
    let r = http
        .get(format!("{}/no/such/path-xyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let (text, after) = scrape(&metrics).await;
    let delta = |metric: &str, labels: &[(&str, &str)]| {
        value(&after, metric, labels) - value(&before, metric, labels)
    };
    let requests = "orgauth_http_requests_total";
    let sign_up = [("method", "POST"), ("route", "/api/auth/sign-up/email")];
    let sign_in = [("method", "POST"), ("route", "/api/auth/sign-in/email")];
    assert_eq!(
        delta(requests, &[sign_up[0], sign_up[1], ("status", "200")]),
        1.0
    );
    assert_eq!(
        delta(requests, &[sign_in[0], sign_in[1], ("status", "401")]),
        1.0
    );
    assert_eq!(
        delta(requests, &[sign_in[0], sign_in[1], ("status", "400")]),
        malformed as f64
    );
    assert_eq!(
        delta(requests, &[sign_in[0], sign_in[1], ("status", "429")]),
        1.0
    );
    assert_eq!(
        delta(
            requests,
            &[
                ("route", "/api/auth/reset-password/:token"),
                ("status", &reset_status)
            ]
        ),
        1.0
    );
    assert_eq!(
        delta(requests, &[("route", "unmatched"), ("status", "404")]),
        1.0
    );
    // The token is nowhere, and every route label is a template or `unmatched`.
    assert!(!text.contains("secret-reset-token"));
    assert!(!text.contains("path-xyz"));
    for s in after
        .samples
        .iter()
        .filter(|s| s.metric.starts_with("orgauth_http_"))
    {
        let route = s.labels.get("route").unwrap();
        assert!(
            route == "unmatched" || route.starts_with('/') && !route.contains("secret"),
            "{route}"
        );
    }

    // The sign-up's latency histogram: cumulative buckets up to +Inf, one observation.
    let histogram = sample(
        &after,
        "orgauth_http_request_duration_seconds",
        &[sign_up[0], sign_up[1], ("status", "200")],
    )
    .expect("the sign-up's duration histogram");
    let Value::Histogram(buckets) = &histogram.value else {
        panic!("not a histogram: {histogram:?}")
    };
    assert!(buckets.len() > 5, "{buckets:?}");
    assert_eq!(buckets.last().unwrap().less_than, f64::INFINITY);
    assert_eq!(buckets.last().unwrap().count, 1.0);
    assert!(buckets.windows(2).all(|w| w[0].count <= w[1].count));
    assert_eq!(
        delta(
            "orgauth_http_request_duration_seconds_count",
            &[sign_up[0], sign_up[1], ("status", "200")]
        ),
        1.0
    );

    assert_eq!(delta("orgauth_sessions_created_total", &[]), 1.0);
    assert_eq!(delta("orgauth_sessions_revoked_total", &[]), 1.0);
    assert_eq!(
        delta(
            "orgauth_sign_in_failures_total",
            &[("reason", "invalid_credentials")]
        ),
        1.0
    );
    assert_eq!(delta("orgauth_rate_limit_refusals_total", &[]), 1.0);
    // The sign-up's hash and the sign-in's check each waited for a worker once.
    assert_eq!(delta("orgauth_password_hash_wait_seconds_count", &[]), 2.0);
    assert_eq!(value(&after, "orgauth_password_hash_queue", &[]), 0.0);
    assert_eq!(
        value(&after, "orgauth_password_hash_refused_total", &[]),
        0.0
    );
    // The database pool: its limit (1 on SQLite, 10 on PostgreSQL) and its open connections,
    // idle or in use (a connection is handed back by a task of its own, and the maintenance
    // sweep may hold one: how many are in use at the scrape is not fixed).
    let max = match db.backend {
        Backend::Sqlite => 1.0,
        Backend::Postgres => 10.0,
    };
    assert_eq!(value(&after, "orgauth_db_pool_max_connections", &[]), max);
    let idle = value(&after, "orgauth_db_pool_connections", &[("state", "idle")]);
    let in_use = value(
        &after,
        "orgauth_db_pool_connections",
        &[("state", "in_use")],
    );
    assert!(sample(
        &after,
        "orgauth_db_pool_connections",
        &[("state", "in_use")]
    )
    .is_some());
    assert!(
        (1.0..=max).contains(&(idle + in_use)),
        "{idle} idle, {in_use} in use"
    );

    // The listener serves nothing else.
    let other = metrics.replace("/metrics", "/api/auth/ok");
    assert_eq!(reqwest::get(other).await.unwrap().status(), 404);
}

db_tests!(metrics_count_what_happened,);

/// Without ORGAUTH_METRICS_ADDR there is no metrics listener, and the API has no /metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_off_by_default() {
    migration::testing::run(Backend::Sqlite, |db| async move {
        let mut cmd = orgauth();
        cmd.env("DATABASE_URL", &db.url);
        let mut server = start(cmd);
        let r = reqwest::get(format!("{}/metrics", server.base))
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        let (status, lines) = server.terminate();
        assert!(status.success(), "{lines:?}");
        assert!(!lines.iter().any(|l| l.contains("metrics on")), "{lines:?}");
    })
    .await;
}

/// An invalid address stops the server with one line naming the setting.
#[test]
fn an_invalid_metrics_address_is_refused() {
    let out = super::run(
        orgauth()
            .env("DATABASE_URL", "sqlite::memory:")
            .env("ORGAUTH_METRICS_ADDR", "not-an-address"),
    );
    assert!(!out.status.success());
    let lines = super::stderr_lines(&out);
    assert!(
        lines.iter().any(|l| l.contains("--metrics-addr")),
        "{lines:?}"
    );
}

mod collector {
    //! A recording OTLP/HTTP collector: accepts `POST /v1/traces` (protobuf) and keeps what it
    //! decoded.

    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
    };
    use prost::Message;

    pub type Received = Arc<Mutex<Vec<ExportTraceServiceRequest>>>;

    /// Starts the collector; returns its base URL and what it receives.
    pub async fn start() -> (String, Received) {
        let received = Received::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let kept = received.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let kept = kept.clone();
                tokio::spawn(async move { serve(stream, kept).await });
            }
        });
        (base, received)
    }

    /// One HTTP/1.1 connection: requests with a Content-Length body, each answered 200.
    async fn serve(stream: tokio::net::TcpStream, kept: Received) {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
        let mut stream = BufReader::new(stream);
        loop {
            let mut request_line = String::new();
            if stream.read_line(&mut request_line).await.unwrap_or(0) == 0 {
                return;
            }
            let mut length = 0;
            loop {
                let mut header = String::new();
                stream.read_line(&mut header).await.unwrap();
                let header = header.trim_end();
                if header.is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().unwrap();
                    }
                }
            }
            let mut body = vec![0; length];
            stream.read_exact(&mut body).await.unwrap();
            assert!(
                request_line.starts_with("POST /v1/traces "),
                "{request_line}"
            );
            kept.lock()
                .unwrap()
                .push(ExportTraceServiceRequest::decode(body.as_slice()).unwrap());
            let answer = ExportTraceServiceResponse::default().encode_to_vec();
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\n\r\n",
                answer.len()
            );
            stream.get_mut().write_all(head.as_bytes()).await.unwrap();
            stream.get_mut().write_all(&answer).await.unwrap();
        }
    }
}

/// With OTEL_EXPORTER_OTLP_ENDPOINT set, each request is a server span named after its method
/// and route template, with `http.route` and `http.response.status_code`, under the configured
/// service name; what is still batched at SIGTERM is sent before the process exits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_traced_to_the_collector() {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
    use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

    let (collector, received) = collector::start().await;
    migration::testing::run(Backend::Sqlite, |db| async move {
        let mut cmd = orgauth();
        cmd.env("DATABASE_URL", &db.url)
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector)
            .env("OTEL_SERVICE_NAME", "orgauth-under-test");
        let server = start(cmd);
        let ok = reqwest::get(format!("{}/api/auth/ok", server.base))
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        let reset = reset_link(&server.base).await;
        let mut server = server;
        let (status, lines) = tokio::task::spawn_blocking(move || server.terminate())
            .await
            .unwrap();
        assert!(status.success(), "{lines:?}");

        let received = received.lock().unwrap();
        let mut spans = Vec::new();
        for export in received.iter() {
            for resource in &export.resource_spans {
                let service = resource
                    .resource
                    .as_ref()
                    .and_then(|r| r.attributes.iter().find(|a| a.key == "service.name"))
                    .and_then(|a| a.value.as_ref()?.value.clone());
                assert_eq!(service, Some(Any::StringValue("orgauth-under-test".into())));
                for scope in &resource.scope_spans {
                    spans.extend(scope.spans.iter().cloned());
                }
            }
        }
        let attribute = |span: &opentelemetry_proto::tonic::trace::v1::Span, key: &str| {
            span.attributes
                .iter()
                .find(|a| a.key == key)
                .and_then(|a| a.value.as_ref()?.value.clone())
        };
        let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
        let ok_span = spans
            .iter()
            .find(|s| s.name == "GET /api/auth/ok")
            .unwrap_or_else(|| panic!("no span for /ok among {names:?}"));
        assert_eq!(ok_span.kind, SpanKind::Server as i32);
        assert_eq!(
            attribute(ok_span, "http.route"),
            Some(Any::StringValue("/api/auth/ok".into()))
        );
        assert_eq!(
            attribute(ok_span, "http.response.status_code"),
            Some(Any::IntValue(200))
        );
        let reset_span = spans
            .iter()
            .find(|s| s.name == "GET /api/auth/reset-password/:token")
            .unwrap_or_else(|| panic!("no span for the reset link among {names:?}"));
        assert_eq!(
            attribute(reset_span, "http.response.status_code"),
            Some(Any::IntValue(i64::from(reset)))
        );
        // The token is in no span: not in a name, an attribute or an event.
        assert!(!format!("{:?}", *received).contains("secret-reset-token"));
    })
    .await;
}
