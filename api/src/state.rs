//! What every handler can reach.

use std::sync::Arc;

use crate::client_ip::ClientIp;
use crate::cookies::CookieSettings;
use crate::origin::TrustedOrigins;
use crate::rate_limit::RateLimitConfig;

/// The HTTP-facing settings.
#[derive(Clone, Debug, Default)]
pub struct WebSettings {
    /// `BETTER_AUTH_URL`, without a trailing slash.
    pub base_url: String,
    /// `BETTER_AUTH_TRUSTED_ORIGINS`, besides the base URL's origin.
    pub trusted_origins: Vec<String>,
    /// `None` turns rate limiting off (`ORGAUTH_RATE_LIMIT=off`).
    pub rate_limit: Option<RateLimitConfig>,
    /// `ORGAUTH_CLIENT_IP_HEADER` and `ORGAUTH_TRUSTED_PROXIES`: how the client address is read.
    pub client_ip: ClientIp,
    /// `ORGAUTH_CORS`: CORS with credentials for the trusted origins on the auth routes.
    pub cors: bool,
    /// `ORGAUTH_COOKIE_PREFIX`; `None`: Better Auth's `better-auth`.
    pub cookie_prefix: Option<String>,
    /// The cookies' `Domain` when they are shared across subdomains.
    pub cookie_domain: Option<String>,
    /// `ORGAUTH_BASE_PATH`; `None`: Better Auth's `/api/auth`.
    pub base_path: Option<String>,
}

#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

pub struct Inner {
    pub auth: service::Auth,
    pub cookies: CookieSettings,
    /// `BETTER_AUTH_URL`: the public origin; links in e-mails are built from it, never from `Host`.
    pub base_url: String,
    pub trusted: Arc<TrustedOrigins>,
    pub rate_limit: Option<RateLimitConfig>,
    pub client_ip: ClientIp,
    pub cors: bool,
    /// Where the auth routes are served (`ORGAUTH_BASE_PATH`).
    pub base_path: String,
}

impl AppState {
    pub fn new(auth: service::Auth, web: WebSettings) -> Self {
        let secure = web.base_url.starts_with("https://");
        let cookies = CookieSettings {
            secure,
            secret: auth.cfg.secret.clone(),
            prefix: web
                .cookie_prefix
                .unwrap_or_else(|| crate::cookies::DEFAULT_PREFIX.to_owned()),
            domain: web.cookie_domain,
        };
        let trusted = Arc::new(TrustedOrigins::new(&web.base_url, &web.trusted_origins));
        Self(Arc::new(Inner {
            auth,
            cookies,
            base_url: web.base_url,
            trusted,
            rate_limit: web.rate_limit,
            client_ip: web.client_ip,
            cors: web.cors,
            base_path: web
                .base_path
                .unwrap_or_else(|| crate::base_path::DEFAULT.to_owned()),
        }))
    }
}

impl AppState {
    /// The state of the app serving `req`, which carries it as request data (see
    /// `server::app`).
    pub fn of(req: &poem::Request) -> &AppState {
        req.data::<AppState>()
            .expect("the app carries its state as request data")
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}
