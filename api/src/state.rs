//! What every handler can reach.

use std::sync::Arc;

use crate::cookies::CookieSettings;

#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

pub struct Inner {
    pub auth: service::Auth,
    pub cookies: CookieSettings,
    /// `BETTER_AUTH_URL`: the public origin; links in e-mails are built from it, never from `Host`.
    pub base_url: String,
}

impl AppState {
    pub fn new(auth: service::Auth, base_url: String) -> Self {
        let cookies = CookieSettings {
            secure: base_url.starts_with("https://"),
            secret: auth.cfg.secret.clone(),
        };
        Self(Arc::new(Inner {
            auth,
            cookies,
            base_url,
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}
