//! Social sign-in: OAuth 2.0 / OpenID Connect providers (GitHub, Google, and generic OpenID
//! providers by discovery URL), the authorization-code flow that signs users in or links an
//! account to them, and the provider tokens kept (sealed) on `account` rows.
//!
//! - [`providers`]: each provider's protocol, through the `oauth2` / `openidconnect` crates.
//! - [`flow`]: starting an authorization and finishing it at the callback.
//! - [`tokens`]: `get-access-token`, `refresh-token` and `account-info`.
//! - [`crypto`]: the AEAD that seals provider tokens at rest.

pub mod crypto;
pub mod flow;
pub mod providers;
pub mod tokens;

use std::time::Duration;

use crate::config::{AuthConfig, Secret};
use crypto::TokenCipher;
use providers::Provider;

pub const GITHUB: &str = "github";
pub const GOOGLE: &str = "google";
pub const GOOGLE_DISCOVERY_URL: &str =
    "https://accounts.google.com/.well-known/openid-configuration";

/// One provider's settings.
#[derive(Clone, Debug)]
pub struct ProviderConfig {
    /// The id in URLs (`/callback/<id>`) and in `account.providerId`.
    pub id: String,
    pub kind: ProviderKind,
    pub client_id: String,
    pub client_secret: Secret,
    /// Scopes asked for on every sign-in (a request may add more).
    pub scopes: Vec<String>,
    /// Sign a provider user into an existing user with the same e-mail address (linking the
    /// account) when the provider says the address is verified. Off: such a sign-in is refused.
    pub trust_email: bool,
}

#[derive(Clone, Debug)]
pub enum ProviderKind {
    /// GitHub's OAuth app endpoints and REST API (overridable for tests and GitHub Enterprise).
    Github {
        authorize_url: String,
        token_url: String,
        api_url: String,
    },
    /// An OpenID Connect provider, found through its discovery document.
    Oidc { discovery_url: String },
}

impl ProviderConfig {
    /// How people know the provider: "GitHub", "Google", or its id.
    pub fn display_name(&self) -> &str {
        match self.id.as_str() {
            GITHUB => "GitHub",
            GOOGLE => "Google",
            other => other,
        }
    }

    pub fn github(client_id: &str, client_secret: &str) -> Self {
        Self {
            id: GITHUB.into(),
            kind: ProviderKind::Github {
                authorize_url: "https://github.com/login/oauth/authorize".into(),
                token_url: "https://github.com/login/oauth/access_token".into(),
                api_url: "https://api.github.com".into(),
            },
            client_id: client_id.into(),
            client_secret: Secret::new(client_secret),
            scopes: vec!["read:user".into(), "user:email".into()],
            trust_email: true,
        }
    }

    pub fn google(client_id: &str, client_secret: &str) -> Self {
        Self::oidc(GOOGLE, GOOGLE_DISCOVERY_URL, client_id, client_secret)
    }

    pub fn oidc(id: &str, discovery_url: &str, client_id: &str, client_secret: &str) -> Self {
        Self {
            id: id.into(),
            kind: ProviderKind::Oidc {
                discovery_url: discovery_url.into(),
            },
            client_id: client_id.into(),
            client_secret: Secret::new(client_secret),
            scopes: vec!["email".into(), "profile".into()],
            trust_email: true,
        }
    }
}

/// Why talking to a provider failed (each becomes an `?error=` code at the callback).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Discovery failed or the provider could not be reached.
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
        let http = reqwest::Client::builder()
            // Following redirects from a provider's endpoints could be turned against us (SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .expect("the HTTP client builds with rustls");
        Self {
            providers: cfg.social.iter().cloned().map(Provider::new).collect(),
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

    pub fn cipher(&self) -> &TokenCipher {
        &self.cipher
    }
}
