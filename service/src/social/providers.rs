//! The providers' protocols: GitHub (OAuth 2.0 and its REST API) and OpenID Connect (Google and
//! any provider with a discovery document). The `oauth2` and `openidconnect` crates do the
//! protocol work: PKCE, the code exchange, and the ID token's signature (JWKS), issuer, audience,
//! expiry and nonce.

use std::time::Duration;

use chrono::{DateTime, Utc};
use oauth2::basic::BasicClient;
use oauth2::AuthType;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreTokenResponse};
use openidconnect::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    EndpointState, IssuerUrl, JsonWebKeySet, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use serde::Deserialize;
use serde_json::Value;

use super::discovery::Cache;
use super::{Failure, ProviderConfig, ProviderKind};

const USER_AGENT: &str = "orgauth";

type GithubClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// What a provider says about its user.
#[derive(Clone, Debug)]
pub struct Profile {
    /// The provider's stable id for the user (`sub`, GitHub's numeric id): `account.accountId`.
    pub id: String,
    pub email: Option<String>,
    /// Whether the provider vouches for the address (`email_verified`, GitHub's `verified`).
    pub email_verified: bool,
    pub name: Option<String>,
    pub image: Option<String>,
    /// The provider's own answer, for `account-info`.
    pub raw: Value,
}

/// Tokens from a code exchange or a refresh.
#[derive(Clone)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub access_token_expires_at: Option<DateTime<Utc>>,
    pub scopes: Vec<String>,
}

/// The parameters of one authorization request.
pub struct Authorize<'a> {
    pub redirect_uri: &'a str,
    pub state: &'a str,
    pub code_verifier: &'a str,
    pub nonce: &'a str,
    pub scopes: &'a [String],
    pub login_hint: Option<&'a str>,
}

/// One configured provider, with its cached discovery document.
pub struct Provider {
    pub cfg: ProviderConfig,
    discovery: Cache,
}

/// A failed token request: the provider unreachable (or too slow) is not a refused code.
fn token_failure<RE: std::error::Error, T: oauth2::ErrorResponse>(
    provider: &str,
    e: &RequestTokenError<RE, T>,
) -> Failure {
    tracing::warn!(provider, error = %e, "code exchange failed");
    match e {
        RequestTokenError::Request(_) => Failure::Unavailable,
        _ => Failure::InvalidCode,
    }
}

/// The authorization URL of an OpenID provider, whichever endpoints its client knows besides.
fn oidc_authorize_url<DA, IU, RU, TU, UU>(
    client: &CoreClient<EndpointSet, DA, IU, RU, TU, UU>,
    a: &Authorize<'_>,
    challenge: PkceCodeChallenge,
) -> openidconnect::url::Url
where
    DA: EndpointState,
    IU: EndpointState,
    RU: EndpointState,
    TU: EndpointState,
    UU: EndpointState,
{
    let (state, nonce) = (a.state.to_owned(), a.nonce.to_owned());
    let mut req = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            move || CsrfToken::new(state),
            move || Nonce::new(nonce),
        )
        .add_scopes(a.scopes.iter().map(|s| Scope::new(s.clone())))
        .set_pkce_challenge(challenge);
    if let Some(hint) = a.login_hint {
        req = req.add_extra_param("login_hint", hint.to_owned());
    }
    req.url().0
}

fn github_client(cfg: &ProviderConfig, redirect_uri: &str) -> Result<GithubClient, Failure> {
    let ProviderKind::Github {
        authorize_url,
        token_url,
        ..
    } = &cfg.kind
    else {
        unreachable!("only called for GitHub");
    };
    Ok(BasicClient::new(ClientId::new(cfg.client_id.clone()))
        .set_client_secret(ClientSecret::new(cfg.client_secret.expose().to_owned()))
        .set_auth_uri(AuthUrl::new(authorize_url.clone()).map_err(|_| Failure::Unavailable)?)
        .set_token_uri(TokenUrl::new(token_url.clone()).map_err(|_| Failure::Unavailable)?)
        .set_redirect_uri(
            RedirectUrl::new(redirect_uri.to_owned()).map_err(|_| Failure::Unavailable)?,
        )
        // GitHub wants the client credentials in the form body.
        .set_auth_type(AuthType::RequestBody))
}

fn scopes_of(granted: Option<&Vec<Scope>>, requested: &[String]) -> Vec<String> {
    match granted {
        Some(s) => s
            .iter()
            .flat_map(|s| s.as_str().split([',', ' ']))
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        None => requested.to_vec(),
    }
}

fn expiry(now: DateTime<Utc>, expires_in: Option<Duration>) -> Option<DateTime<Utc>> {
    expires_in.and_then(|d| chrono::Duration::from_std(d).ok().map(|d| now + d))
}

fn oidc_tokens(resp: &CoreTokenResponse, now: DateTime<Utc>, requested: &[String]) -> Tokens {
    Tokens {
        access_token: resp.access_token().secret().clone(),
        refresh_token: resp.refresh_token().map(|t| t.secret().clone()),
        id_token: resp.id_token().map(|t| t.to_string()),
        access_token_expires_at: expiry(now, resp.expires_in()),
        scopes: scopes_of(resp.scopes(), requested),
    }
}

impl Provider {
    pub fn new(cfg: ProviderConfig, discovery_ttl: Duration) -> Self {
        Self {
            cfg,
            discovery: Cache::new(discovery_ttl),
        }
    }

    /// Whether a sign-in can start: an OpenID provider without a published authorization
    /// endpoint needs its discovery document (cached, or fetched now).
    pub async fn ready(&self, http: &reqwest::Client, redirect_uri: &str) -> Result<(), Failure> {
        match &self.cfg.kind {
            ProviderKind::Oidc {
                authorize_url: None,
                ..
            } => self.discover(http, redirect_uri).await.map(drop),
            _ => Ok(()),
        }
    }

    /// Fetches the discovery document in the background, so the first sign-in need not wait.
    pub fn warm(&self, http: &reqwest::Client, redirect_uri: &str) {
        if let ProviderKind::Oidc { .. } = self.cfg.kind {
            self.discovery.warm(&self.cfg, http, redirect_uri);
        }
    }

    async fn discover(
        &self,
        http: &reqwest::Client,
        redirect_uri: &str,
    ) -> Result<std::sync::Arc<super::discovery::Discovered>, Failure> {
        self.discovery.get(&self.cfg, http, redirect_uri).await
    }

    /// The provider's authorization URL for this request (PKCE S256, state, and for OpenID
    /// Connect a nonce).
    pub async fn authorization_url(
        &self,
        http: &reqwest::Client,
        a: Authorize<'_>,
    ) -> Result<String, Failure> {
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
            a.code_verifier.to_owned(),
        ));
        let url = match &self.cfg.kind {
            ProviderKind::Github { .. } => {
                let state = a.state.to_owned();
                let scopes = a.scopes.iter().map(|s| Scope::new(s.clone()));
                let client = github_client(&self.cfg, a.redirect_uri)?;
                let mut req = client
                    .authorize_url(move || CsrfToken::new(state))
                    .add_scopes(scopes)
                    .set_pkce_challenge(challenge);
                if let Some(hint) = a.login_hint {
                    req = req.add_extra_param("login", hint.to_owned());
                }
                req.url().0
            }
            // A published authorization endpoint (Google's) needs no discovery to start.
            ProviderKind::Oidc {
                authorize_url: Some(authorize_url),
                ..
            } => {
                let client = CoreClient::new(
                    ClientId::new(self.cfg.client_id.clone()),
                    IssuerUrl::new(authorize_url.clone()).map_err(|_| Failure::Unavailable)?,
                    JsonWebKeySet::new(Vec::new()),
                )
                .set_auth_uri(
                    AuthUrl::new(authorize_url.clone()).map_err(|_| Failure::Unavailable)?,
                )
                .set_redirect_uri(
                    RedirectUrl::new(a.redirect_uri.to_owned())
                        .map_err(|_| Failure::Unavailable)?,
                );
                oidc_authorize_url(&client, &a, challenge)
            }
            ProviderKind::Oidc { .. } => {
                let d = self.discover(http, a.redirect_uri).await?;
                oidc_authorize_url(&d.client, &a, challenge)
            }
        };
        Ok(url.to_string())
    }

    /// Trades the code for tokens and finds out who the user is. For OpenID Connect the ID token
    /// must be valid: signed by a key of the provider's JWKS, issued by it, for us, unexpired, and
    /// carrying the nonce of this authorization.
    pub async fn exchange(
        &self,
        http: &reqwest::Client,
        redirect_uri: &str,
        code: &str,
        code_verifier: &str,
        nonce: &str,
        now: DateTime<Utc>,
    ) -> Result<(Tokens, Profile), Failure> {
        let code = AuthorizationCode::new(code.to_owned());
        let verifier = PkceCodeVerifier::new(code_verifier.to_owned());
        match &self.cfg.kind {
            ProviderKind::Github { .. } => {
                let resp = github_client(&self.cfg, redirect_uri)?
                    .exchange_code(code)
                    .set_pkce_verifier(verifier)
                    .request_async(http)
                    .await
                    .map_err(|e| token_failure(&self.cfg.id, &e))?;
                let tokens = Tokens {
                    access_token: resp.access_token().secret().clone(),
                    refresh_token: resp.refresh_token().map(|t| t.secret().clone()),
                    id_token: None,
                    access_token_expires_at: expiry(now, resp.expires_in()),
                    scopes: scopes_of(resp.scopes(), &self.cfg.scopes),
                };
                let profile = self
                    .user_info(http, redirect_uri, &tokens.access_token)
                    .await?;
                Ok((tokens, profile))
            }
            ProviderKind::Oidc { .. } => {
                let d = self.discover(http, redirect_uri).await?;
                let resp = d
                    .client
                    .exchange_code(code)
                    .map_err(|_| Failure::Unavailable)?
                    .set_pkce_verifier(verifier)
                    .request_async(http)
                    .await
                    .map_err(|e| token_failure(&self.cfg.id, &e))?;
                let id_token = resp.id_token().ok_or(Failure::InvalidIdToken)?;
                let verifier = d.client.id_token_verifier().set_time_fn(move || now);
                let claims = id_token
                    .claims(&verifier, &Nonce::new(nonce.to_owned()))
                    .map_err(|e| {
                        tracing::warn!(provider = %self.cfg.id, error = %e, "ID token rejected");
                        // Perhaps signed with a key newer than the cached JWKS.
                        self.discovery.mark_stale();
                        Failure::InvalidIdToken
                    })?;
                let profile = Profile {
                    id: claims.subject().as_str().to_owned(),
                    email: claims.email().map(|e| e.as_str().to_owned()),
                    email_verified: claims.email_verified().unwrap_or(false),
                    name: claims
                        .name()
                        .and_then(|n| n.get(None))
                        .map(|n| n.as_str().to_owned()),
                    image: claims
                        .picture()
                        .and_then(|p| p.get(None))
                        .map(|p| p.as_str().to_owned()),
                    raw: serde_json::to_value(claims).unwrap_or(Value::Null),
                };
                Ok((oidc_tokens(&resp, now, &self.cfg.scopes), profile))
            }
        }
    }

    /// New tokens for a refresh token.
    pub async fn refresh(
        &self,
        http: &reqwest::Client,
        redirect_uri: &str,
        refresh_token: &str,
        now: DateTime<Utc>,
    ) -> Result<Tokens, Failure> {
        let token = RefreshToken::new(refresh_token.to_owned());
        let failed = |e: &dyn std::fmt::Display| {
            tracing::warn!(provider = %self.cfg.id, error = %e, "token refresh failed");
            Failure::InvalidCode
        };
        match &self.cfg.kind {
            ProviderKind::Github { .. } => {
                let resp = github_client(&self.cfg, redirect_uri)?
                    .exchange_refresh_token(&token)
                    .request_async(http)
                    .await
                    .map_err(|e| failed(&e))?;
                Ok(Tokens {
                    access_token: resp.access_token().secret().clone(),
                    refresh_token: resp.refresh_token().map(|t| t.secret().clone()),
                    id_token: None,
                    access_token_expires_at: expiry(now, resp.expires_in()),
                    scopes: scopes_of(resp.scopes(), &self.cfg.scopes),
                })
            }
            ProviderKind::Oidc { .. } => {
                let d = self.discover(http, redirect_uri).await?;
                let resp = d
                    .client
                    .exchange_refresh_token(&token)
                    .map_err(|_| Failure::Unavailable)?
                    .request_async(http)
                    .await
                    .map_err(|e| failed(&e))?;
                Ok(oidc_tokens(&resp, now, &self.cfg.scopes))
            }
        }
    }

    /// Who the access token belongs to, from the provider's API (GitHub's `/user` and
    /// `/user/emails`, an OpenID provider's userinfo endpoint).
    pub async fn user_info(
        &self,
        http: &reqwest::Client,
        redirect_uri: &str,
        access_token: &str,
    ) -> Result<Profile, Failure> {
        match &self.cfg.kind {
            ProviderKind::Github { api_url, .. } => {
                let user: Value = get_json(http, &format!("{api_url}/user"), access_token).await?;
                let emails: Vec<GithubEmail> =
                    get_json(http, &format!("{api_url}/user/emails"), access_token)
                        .await
                        .unwrap_or_default();
                // The primary address, else the public one; verified only if GitHub says so.
                let public = user["email"].as_str().map(str::to_owned);
                let chosen = emails
                    .iter()
                    .find(|e| e.primary)
                    .or_else(|| emails.iter().find(|e| Some(&e.email) == public.as_ref()));
                let (email, verified) = match chosen {
                    Some(e) => (Some(e.email.clone()), e.verified),
                    None => (public, false),
                };
                let id = match &user["id"] {
                    Value::Number(n) => n.to_string(),
                    Value::String(s) => s.clone(),
                    _ => return Err(Failure::UserInfo),
                };
                Ok(Profile {
                    id,
                    email,
                    email_verified: verified,
                    name: user["name"]
                        .as_str()
                        .or_else(|| user["login"].as_str())
                        .map(str::to_owned),
                    image: user["avatar_url"].as_str().map(str::to_owned),
                    raw: user,
                })
            }
            ProviderKind::Oidc { .. } => {
                let d = self.discover(http, redirect_uri).await?;
                let url = d.userinfo.as_deref().ok_or(Failure::UserInfo)?;
                let raw: Value = get_json(http, url, access_token).await?;
                let id = raw["sub"].as_str().ok_or(Failure::UserInfo)?.to_owned();
                Ok(Profile {
                    id,
                    email: raw["email"].as_str().map(str::to_owned),
                    email_verified: raw["email_verified"].as_bool().unwrap_or(false),
                    name: raw["name"].as_str().map(str::to_owned),
                    image: raw["picture"].as_str().map(str::to_owned),
                    raw,
                })
            }
        }
    }
}

#[derive(Deserialize)]
struct GithubEmail {
    email: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    verified: bool,
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    access_token: &str,
) -> Result<T, Failure> {
    let resp = http
        .get(url)
        .bearer_auth(access_token)
        .header(reqwest::header::USER_AGENT, USER_AGENT)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| {
            tracing::warn!(error = %e.without_url(), "provider API unreachable");
            Failure::Unavailable
        })?;
    if !resp.status().is_success() {
        tracing::warn!(status = %resp.status(), "provider API refused");
        return Err(Failure::UserInfo);
    }
    resp.json().await.map_err(|_| Failure::UserInfo)
}
