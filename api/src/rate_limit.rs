//! Better Auth's rate limiter (contract §5), on by default: a fixed window per client address and
//! path, 100 requests per 10 s, with stricter rules for sign-in, sign-up and password and e-mail
//! flows. It runs before routing, so unknown paths count too. Counters live in this process; a
//! deployment of several replicas gets per-replica limits.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use poem::http::StatusCode;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use service::clock::Clock;

use crate::client_ip::client_ip;

#[derive(Clone, Debug)]
pub struct RateLimitConfig {
    pub window: Duration,
    pub max: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            window: Duration::seconds(10),
            max: 100,
        }
    }
}

/// The window and maximum for a path relative to `/api/auth`.
fn rule(cfg: &RateLimitConfig, path: &str) -> (Duration, u32) {
    if ["/sign-in", "/sign-up", "/change-password", "/change-email"]
        .iter()
        .any(|p| path.starts_with(p))
    {
        (Duration::seconds(10), 3)
    } else if path == "/request-password-reset"
        || path == "/send-verification-email"
        || path.starts_with("/forget-password")
    {
        (Duration::seconds(60), 3)
    } else {
        (cfg.window, cfg.max)
    }
}

struct Window {
    count: u32,
    started: DateTime<Utc>,
}

/// The limiter; with no configuration it lets everything through.
pub struct RateLimit {
    cfg: Option<RateLimitConfig>,
    client_ip_header: Option<String>,
    clock: Arc<dyn Clock>,
    windows: Arc<Mutex<HashMap<String, Window>>>,
}

impl RateLimit {
    pub fn new(
        cfg: Option<RateLimitConfig>,
        client_ip_header: Option<String>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            cfg,
            client_ip_header,
            clock,
            windows: Arc::default(),
        }
    }
}

/// IPv4 as is; IPv6 by its /64, since one client usually holds a whole /64.
fn bucket_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

impl<E: Endpoint> Middleware<E> for RateLimit {
    type Output = RateLimitEndpoint<E>;

    fn transform(&self, next: E) -> Self::Output {
        RateLimitEndpoint {
            next,
            cfg: self.cfg.clone(),
            client_ip_header: self.client_ip_header.clone(),
            clock: self.clock.clone(),
            windows: self.windows.clone(),
        }
    }
}

pub struct RateLimitEndpoint<E> {
    next: E,
    cfg: Option<RateLimitConfig>,
    client_ip_header: Option<String>,
    clock: Arc<dyn Clock>,
    windows: Arc<Mutex<HashMap<String, Window>>>,
}

impl<E> RateLimitEndpoint<E> {
    /// Counts the request; `Some(seconds)` to wait when it is over the limit.
    fn hit(&self, cfg: &RateLimitConfig, key: String, window: Duration, max: u32) -> Option<i64> {
        let now = self.clock.now();
        let mut windows = self.windows.lock().expect("rate-limit table");
        if windows.len() > 100_000 {
            let longest = Duration::seconds(60).max(cfg.window);
            windows.retain(|_, w| now - w.started < longest);
        }
        let entry = windows.entry(key).or_insert(Window {
            count: 0,
            started: now,
        });
        if now - entry.started >= window {
            *entry = Window {
                count: 0,
                started: now,
            };
        }
        if entry.count >= max {
            let left = entry.started + window - now;
            return Some((left.num_milliseconds() + 999) / 1000);
        }
        entry.count += 1;
        None
    }
}

impl<E: Endpoint> Endpoint for RateLimitEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let limited = self
            .cfg
            .as_ref()
            .zip(req.uri().path().strip_prefix("/api/auth"));
        if let Some((cfg, path)) = limited {
            let (window, max) = rule(cfg, path);
            let client = client_ip(&req, self.client_ip_header.as_deref()).map(bucket_ip);
            let key = format!("{}|{path}", client.as_deref().unwrap_or("no-trusted-ip"));
            if let Some(retry_after) = self.hit(cfg, key, window, max) {
                return Ok(Response::builder()
                    .status(StatusCode::TOO_MANY_REQUESTS)
                    .header("X-Retry-After", retry_after.to_string())
                    .content_type("application/json")
                    .body(r#"{"message":"Too many requests. Please try again later."}"#));
            }
        }
        Ok(self.next.get_response(req).await.into_response())
    }
}
