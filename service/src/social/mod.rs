//! Social sign-in: OAuth 2.0 / OpenID Connect providers (GitHub, Google, and generic OpenID
//! providers by discovery URL), the authorization-code flow that signs users in or links an
//! account to them, and the provider tokens kept (sealed) on `account` rows.
//!
//! - [`providers`]: each provider's protocol, through the `oauth2` / `openidconnect` crates.
//! - [`discovery`]: OpenID discovery documents, cached and refreshed in the background.
//! - [`flow`]: starting an authorization and finishing it at the callback.
//! - [`tokens`]: `get-access-token`, `refresh-token` and `account-info`.
//! - [`crypto`]: the AEAD that seals provider tokens at rest.

pub mod crypto;
pub mod discovery;
pub mod flow;
pub mod providers;
pub mod tokens;

use std::time::Duration;

use crate::config::AuthConfig;
use crypto::TokenCipher;
use providers::Provider;

/// Which providers there are is configuration ([`crate::config::social`]); the types are named
/// here too, beside the flow they drive.
pub use crate::config::social::{ProviderConfig, ProviderKind};

/// The longest wait for a provider's TCP (and TLS) connection, within the total timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why talking to a provider failed (each becomes an `?error=` code at the callback).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Discovery failed, or the provider could not be reached or did not answer in time.
    Unavailable,
    /// The provider did not trade the code (or refresh token) for tokens.
    InvalidCode,
    /// No ID token, or one that failed validation (signature, issuer, audience, expiry, nonce).
    InvalidIdToken,
    /// The provider's user API did not answer with a user.
    UserInfo,
}

/// The configured providers, the HTTP client that talks to them, and the token cipher.
pub struct Social {
    providers: Vec<Provider>,
    http: reqwest::Client,
    cipher: TokenCipher,
    callback_base: String,
}

impl Social {
    pub fn new(cfg: &AuthConfig) -> Self {
        // Bounded, so a provider that is down or stalls fails the sign-in instead of holding it.
        let total = cfg.provider_timeout.max(Duration::from_millis(100));
        let http = reqwest::Client::builder()
            // Following redirects from a provider's endpoints could be turned against us (SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(total.min(CONNECT_TIMEOUT))
            .timeout(total)
            .build()
            .expect("the HTTP client builds with rustls");
        Self {
            providers: cfg
                .social
                .iter()
                .map(|p| Provider::new(p.clone(), cfg.discovery_ttl))
                .collect(),
            http,
            cipher: match cfg.coexistence {
                false => TokenCipher::new(cfg.secret.expose()),
                true => TokenCipher::new(cfg.secret.expose()).storing_plain(),
            },
            callback_base: format!("{}/callback/", cfg.api_base_url),
        }
    }

    pub fn provider(&self, id: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.cfg.id == id)
    }

    /// The redirect URI registered with the provider: `<BETTER_AUTH_URL>/api/auth/callback/<id>`.
    pub fn redirect_uri(&self, id: &str) -> String {
        format!("{}{id}", self.callback_base)
    }

    /// Fetches the OpenID providers' discovery documents in the background (at start-up).
    pub fn warm(&self) {
        for p in &self.providers {
            p.warm(&self.http, &self.redirect_uri(&p.cfg.id));
        }
    }

    pub fn cipher(&self) -> &TokenCipher {
        &self.cipher
    }
}
