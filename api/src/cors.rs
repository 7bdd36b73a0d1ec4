//! CORS for a web app on another origin than the API (`https://app.example.com` calling
//! `https://auth.example.com/api/auth/…` with `credentials: "include"`), on the auth routes only.
//!
//! Better Auth leaves CORS to the framework around it; a Better Auth deployment on another origin
//! configures its framework's CORS with the same origins as `trustedOrigins` and credentials on
//! (the reference server in bench/ does so with Hono's `cors`). orgauth does the same from
//! `BETTER_AUTH_TRUSTED_ORIGINS` (`ORGAUTH_CORS=off` leaves it to a proxy):
//!
//! - a request whose `Origin` is trusted gets `Access-Control-Allow-Origin: <that origin>` and
//!   `Access-Control-Allow-Credentials: true`; its preflight (`OPTIONS` with
//!   `Access-Control-Request-Method`) is answered 204 here, before rate limits and routing;
//! - any other origin gets no CORS header at all (its preflight goes on to routing as any
//!   `OPTIONS` does), so the browser keeps the answer from the page;
//! - every answer on the auth routes carries `Vary: Origin`, since it depends on it.

use std::sync::Arc;

use poem::http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use poem::http::{HeaderMap, HeaderValue, Method, StatusCode};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};

use crate::origin::TrustedOrigins;

/// How long a browser may keep a preflight's answer, in seconds (the reference server's).
const MAX_AGE: &str = "600";
/// The methods the auth routes use.
const METHODS: &str = "GET, POST, OPTIONS";
/// Allowed when a preflight names no headers: what the official client sends.
const HEADERS: &str = "content-type, authorization";

pub struct Cors(pub Arc<TrustedOrigins>);

impl<E: Endpoint> Middleware<E> for Cors {
    type Output = CorsEndpoint<E>;

    fn transform(&self, next: E) -> Self::Output {
        CorsEndpoint {
            next,
            trusted: self.0.clone(),
        }
    }
}

pub struct CorsEndpoint<E> {
    next: E,
    trusted: Arc<TrustedOrigins>,
}

/// The paths CORS applies to: Better Auth's routes.
fn is_auth_route(path: &str) -> bool {
    path == "/api/auth" || path.starts_with("/api/auth/")
}

impl<E: Endpoint> Endpoint for CorsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        if !is_auth_route(req.uri().path()) {
            return Ok(self.next.get_response(req).await.into_response());
        }
        let origin = req
            .header(ORIGIN)
            .filter(|o| self.trusted.trusts_url(o))
            .and_then(|o| HeaderValue::from_str(o).ok());
        let is_preflight =
            req.method() == Method::OPTIONS && req.header(ACCESS_CONTROL_REQUEST_METHOD).is_some();
        let mut response = match (&origin, is_preflight) {
            (Some(_), true) => {
                let headers = req
                    .headers()
                    .get(ACCESS_CONTROL_REQUEST_HEADERS)
                    .cloned()
                    .unwrap_or(HeaderValue::from_static(HEADERS));
                Response::builder()
                    .status(StatusCode::NO_CONTENT)
                    .header(ACCESS_CONTROL_ALLOW_METHODS, METHODS)
                    .header(ACCESS_CONTROL_ALLOW_HEADERS, headers)
                    .header(ACCESS_CONTROL_MAX_AGE, MAX_AGE)
                    .finish()
            }
            _ => self.next.get_response(req).await.into_response(),
        };
        let headers = response.headers_mut();
        add_vary(headers, is_preflight);
        if let Some(origin) = origin {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
            if !headers.contains_key(ACCESS_CONTROL_EXPOSE_HEADERS) {
                // The bearer token a renewed or new session sends (see `cookies::set_session`).
                headers.insert(
                    ACCESS_CONTROL_EXPOSE_HEADERS,
                    HeaderValue::from_static("set-auth-token"),
                );
            }
        }
        Ok(response)
    }
}

/// `Vary` gains what the answer depended on, beside whatever it already names.
fn add_vary(headers: &mut HeaderMap, preflight: bool) {
    let names: &[&str] = if preflight {
        &[
            "origin",
            "access-control-request-method",
            "access-control-request-headers",
        ]
    } else {
        &["origin"]
    };
    let present: Vec<String> = headers
        .get_all(VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_ascii_lowercase())
        .collect();
    for name in names {
        if !present.iter().any(|p| p == name || p == "*") {
            headers.append(VARY, HeaderValue::from_static(name));
        }
    }
}
