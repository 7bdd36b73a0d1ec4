//! OpenID Connect discovery documents (with the provider's JWKS), cached per provider so that a
//! provider that is down or slow costs sign-ins as little as possible:
//!
//! - a document older than its time to live ([`TTL`] by default) is still used while a background task fetches the next one,
//!   and kept when that fetch fails (the provider's keys rarely change within hours);
//! - only a provider with no document yet is fetched from within a request, one request at a
//!   time; once that has failed, requests fail at once while a background fetch retries (every
//!   [`RETRY_AFTER_FAILURE`] at most) instead of each waiting for the provider's timeout;
//! - [`Cache::warm`] fetches at start-up, so the first sign-in does not wait either.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openidconnect::core::{CoreClient, CoreProviderMetadata};
use openidconnect::{
    ClientId, ClientSecret, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, RedirectUrl,
};

use super::{Failure, ProviderConfig, ProviderKind};

/// How long a document is used before a background refresh is started (the default of
/// `AuthConfig::discovery_ttl`).
pub const TTL: Duration = Duration::from_secs(3600);
/// After a failed fetch, how long before the provider is asked again.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);

pub(super) type OidcClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// A provider's endpoints and keys, as its discovery document gave them.
pub(super) struct Discovered {
    pub client: OidcClient,
    pub userinfo: Option<String>,
}

#[derive(Default)]
struct State {
    doc: Option<(Instant, Arc<Discovered>)>,
    failed_at: Option<Instant>,
    refreshing: bool,
}

impl State {
    fn recently_failed(&self) -> bool {
        self.failed_at
            .is_some_and(|at| at.elapsed() < RETRY_AFTER_FAILURE)
    }
}

/// One provider's cached document.
#[derive(Clone)]
pub struct Cache {
    ttl: Duration,
    state: Arc<Mutex<State>>,
    /// Held by the one request fetching a first document.
    fetching: Arc<tokio::sync::Mutex<()>>,
}

impl Cache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            state: Arc::default(),
            fetching: Arc::default(),
        }
    }

    /// The provider's document: the cached one if any (refreshed in the background when old),
    /// else fetched now.
    pub(super) async fn get(
        &self,
        cfg: &ProviderConfig,
        http: &reqwest::Client,
        redirect_uri: &str,
    ) -> Result<Arc<Discovered>, Failure> {
        if let Some(found) = self.cached(cfg, http, redirect_uri) {
            return found;
        }
        let _one_at_a_time = self.fetching.lock().await;
        if let Some(found) = self.cached(cfg, http, redirect_uri) {
            return found;
        }
        self.fetch_and_store(cfg, http, redirect_uri).await
    }

    /// What the cache can answer without waiting: a document (starting a refresh if it is old),
    /// a failure (starting a retry if due), or nothing (the caller fetches).
    fn cached(
        &self,
        cfg: &ProviderConfig,
        http: &reqwest::Client,
        redirect_uri: &str,
    ) -> Option<Result<Arc<Discovered>, Failure>> {
        let mut state = self
            .state
            .lock()
            .expect("the discovery cache's lock is never poisoned");
        if let Some((fetched, doc)) = &state.doc {
            let doc = doc.clone();
            if fetched.elapsed() >= self.ttl && !state.refreshing && !state.recently_failed() {
                state.refreshing = true;
                let (cache, cfg, http) = (self.clone(), cfg.clone(), http.clone());
                let redirect_uri = redirect_uri.to_owned();
                tokio::spawn(async move {
                    let _ = cache.fetch_and_store(&cfg, &http, &redirect_uri).await;
                });
            }
            return Some(Ok(doc));
        }
        // Once a fetch has failed, requests no longer wait on the provider: they fail at once
        // while a background fetch retries (every RETRY_AFTER_FAILURE at most).
        state.failed_at?;
        if !state.refreshing && !state.recently_failed() {
            state.refreshing = true;
            let (cache, cfg, http) = (self.clone(), cfg.clone(), http.clone());
            let redirect_uri = redirect_uri.to_owned();
            tokio::spawn(async move {
                let _ = cache.fetch_and_store(&cfg, &http, &redirect_uri).await;
            });
        }
        Some(Err(Failure::Unavailable))
    }

    async fn fetch_and_store(
        &self,
        cfg: &ProviderConfig,
        http: &reqwest::Client,
        redirect_uri: &str,
    ) -> Result<Arc<Discovered>, Failure> {
        let fetched = fetch(cfg, http, redirect_uri).await;
        let mut state = self
            .state
            .lock()
            .expect("the discovery cache's lock is never poisoned");
        state.refreshing = false;
        match fetched {
            Ok(doc) => {
                state.doc = Some((Instant::now(), doc.clone()));
                state.failed_at = None;
                Ok(doc)
            }
            Err(failure) => {
                state.failed_at = Some(Instant::now());
                Err(failure)
            }
        }
    }

    /// Fetches the first document in the background (at start-up).
    pub fn warm(&self, cfg: &ProviderConfig, http: &reqwest::Client, redirect_uri: &str) {
        let (cache, cfg, http) = (self.clone(), cfg.clone(), http.clone());
        let redirect_uri = redirect_uri.to_owned();
        tokio::spawn(async move {
            let _ = cache.get(&cfg, &http, &redirect_uri).await;
        });
    }

    /// The document may be out of date (an ID token signed with a key it lacks): the next use
    /// refreshes it in the background.
    pub(super) fn mark_stale(&self) {
        let mut state = self
            .state
            .lock()
            .expect("the discovery cache's lock is never poisoned");
        if let Some((fetched, _)) = state.doc.as_mut() {
            *fetched = Instant::now().checked_sub(self.ttl).unwrap_or(*fetched);
        }
    }
}

/// The discovery document and JWKS, from the provider.
async fn fetch(
    cfg: &ProviderConfig,
    http: &reqwest::Client,
    redirect_uri: &str,
) -> Result<Arc<Discovered>, Failure> {
    let ProviderKind::Oidc { discovery_url, .. } = &cfg.kind else {
        unreachable!("only called for OpenID Connect providers");
    };
    let issuer = discovery_url
        .trim_end_matches('/')
        .trim_end_matches("/.well-known/openid-configuration");
    let issuer = IssuerUrl::new(issuer.to_owned()).map_err(|_| Failure::Unavailable)?;
    let metadata = CoreProviderMetadata::discover_async(issuer, http)
        .await
        .map_err(|e| {
            tracing::warn!(provider = %cfg.id, error = %e, "OpenID discovery failed");
            Failure::Unavailable
        })?;
    let userinfo = metadata.userinfo_endpoint().map(|u| u.as_str().to_owned());
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(cfg.client_id.clone()),
        Some(ClientSecret::new(cfg.client_secret.expose().to_owned())),
    )
    .set_redirect_uri(RedirectUrl::new(redirect_uri.to_owned()).map_err(|_| Failure::Unavailable)?);
    Ok(Arc::new(Discovered { client, userinfo }))
}
