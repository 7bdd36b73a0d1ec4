//! A request id on every request, one log line per response, without secrets, and the
//! request's count and duration in the metrics (see [`service::metrics`]).
//!
//! poem's own `Tracing` middleware logs the full URI; ours logs the path only, with the token of
//! `/reset-password/:token` masked, because query strings and that path carry one-time tokens.
//! The request's span is also what OpenTelemetry exports (when configured): named after the
//! method and route template, with `http.route` and `http.response.status_code`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use tracing::Instrument;

use crate::client_ip::ClientIp;
use crate::route_template::{method_label, RouteTemplates};

pub const REQUEST_ID: &str = "x-request-id";

/// Whether spans are exported to a collector (set once at start-up): only then do request spans
/// carry OpenTelemetry's span name and kind, which would otherwise clutter every log line.
static EXPORTED: AtomicBool = AtomicBool::new(false);

/// Request spans get OpenTelemetry's name (`<METHOD> <route>`) and kind (server) from now on.
pub fn spans_exported() {
    EXPORTED.store(true, Ordering::Relaxed);
}

pub struct RequestLog {
    /// How the client address is read.
    pub client_ip: ClientIp,
    /// The routes, for the span's and the metrics' route label.
    pub routes: Arc<RouteTemplates>,
}

impl<E: Endpoint> Middleware<E> for RequestLog {
    type Output = RequestLogEndpoint<E>;

    fn transform(&self, next: E) -> Self::Output {
        RequestLogEndpoint {
            next,
            client_ip: self.client_ip.clone(),
            routes: self.routes.clone(),
        }
    }
}

pub struct RequestLogEndpoint<E> {
    next: E,
    client_ip: ClientIp,
    routes: Arc<RouteTemplates>,
}

/// An incoming id is kept when it is short and plain (so a proxy's id follows the request);
/// anything else is replaced by a fresh UUIDv7.
fn request_id(req: &Request) -> String {
    req.header(REQUEST_ID)
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// The path as it may be logged: one-time tokens carried in the path are masked, under any base
/// path (`ORGAUTH_BASE_PATH`).
pub fn loggable_path(path: &str) -> String {
    const TOKEN_IN_PATH: &[&str] = &["/reset-password/"];
    for marker in TOKEN_IN_PATH {
        if let Some(at) = path.find(marker) {
            let end = at + marker.len();
            if end < path.len() {
                return format!("{}:token", &path[..end]);
            }
        }
    }
    path.to_owned()
}

impl<E: Endpoint> Endpoint for RequestLogEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let id = request_id(&req);
        let client = self
            .client_ip
            .of(&req)
            .map(|ip| ip.to_string())
            .unwrap_or_default();
        let method = method_label(req.method());
        let route = self.routes.of(req.uri().path());
        let span = tracing::info_span!(
            "request",
            request_id = %id,
            client_ip = %client,
            method = %req.method(),
            path = %loggable_path(req.uri().path()),
            "http.route" = route,
            "http.response.status_code" = tracing::field::Empty,
            "otel.name" = tracing::field::Empty,
            "otel.kind" = tracing::field::Empty,
        );
        if EXPORTED.load(Ordering::Relaxed) {
            span.record("otel.name", format!("{method} {route}"));
            span.record("otel.kind", "server");
        }
        let recorded = span.clone();
        async move {
            let started = Instant::now();
            let mut response = self.next.get_response(req).await.into_response();
            let status = response.status().as_u16();
            let elapsed = started.elapsed();
            tracing::info!(status, elapsed_us = elapsed.as_micros() as u64, "response");
            // As i64: OpenTelemetry has no unsigned integers (a u16 would be exported as text).
            recorded.record("http.response.status_code", i64::from(status));
            let metrics = service::metrics::get();
            let status_code = response.status();
            let labels = [method, route, status_code.as_str()];
            metrics.http_requests.with_label_values(&labels).inc();
            metrics
                .http_duration
                .with_label_values(&labels)
                .observe(elapsed.as_secs_f64());
            if let Ok(value) = HeaderValue::from_str(&id) {
                response.headers_mut().insert(REQUEST_ID, value);
            }
            Ok(response)
        }
        .instrument(span)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::loggable_path;

    #[test]
    fn masks_tokens_in_paths() {
        assert_eq!(
            loggable_path("/api/auth/reset-password/abc123"),
            "/api/auth/reset-password/:token"
        );
        assert_eq!(
            loggable_path("/custom/auth/reset-password/abc123"),
            "/custom/auth/reset-password/:token"
        );
        assert_eq!(
            loggable_path("/api/auth/get-session"),
            "/api/auth/get-session"
        );
    }
}
