//! The authorization-code flow. `social_start` stores the flow's state server-side (in the
//! `verification` table, under the SHA-256 of the `state` parameter, sealed, for ten minutes) and
//! returns the provider's URL; `social_callback` uses the state up (once, atomically), checks that
//! the browser presenting it is the one that started (the signed state cookie), trades the code,
//! and signs the user in, signs them up, or links the account. Every failure becomes an error
//! code for the `errorCallbackURL`.

use chrono::{DateTime, Duration, Utc};
use entity::{account, session, user};
use migration::constraints::ACCOUNT;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};

use super::crypto::Field;
use super::providers::{Authorize, Profile, Provider, Tokens};
use super::Failure;
use crate::clock::db_time;
use crate::credentials::normalize_email;
use crate::session::ClientInfo;
use crate::unproven::Keep;
use crate::verification::{self, Check, Purpose};
use crate::{token, Auth, Error, Result};

/// How long a started sign-in may take.
pub const STATE_LIFETIME: Duration = Duration::minutes(10);

/// The user an authorization links to (`link-social`), as the session showed them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LinkTarget {
    pub user_id: String,
    pub email: String,
    /// The session that started the link; the link is made only while it still exists, so a
    /// link started before the address's first proof (which ends every other session) cannot
    /// finish. (Empty in a state stored before it was recorded: such a link fails.)
    #[serde(default)]
    pub session_id: String,
}

pub struct StartRequest {
    pub provider: String,
    pub callback_url: Option<String>,
    pub error_callback_url: Option<String>,
    pub new_user_callback_url: Option<String>,
    /// Scopes besides the provider's configured ones.
    pub scopes: Vec<String>,
    pub login_hint: Option<String>,
    pub link: Option<LinkTarget>,
}

pub struct Started {
    /// Where to send the browser.
    pub url: String,
    /// The `state` parameter, to bind to the browser with a signed cookie.
    pub state: String,
}

/// What the server remembers about a started authorization.
#[derive(Serialize, Deserialize)]
struct FlowState {
    provider: String,
    code_verifier: String,
    nonce: String,
    callback_url: String,
    error_callback_url: Option<String>,
    new_user_callback_url: Option<String>,
    link: Option<LinkTarget>,
}

/// The query (or form) the provider sends the browser back with.
#[derive(Clone, Debug, Default)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

/// Where the callback sends the browser, and the session it opened (if any).
pub struct Landing {
    pub location: String,
    pub session: Option<(String, session::Model)>,
}

/// Why a callback failed; `code()` is what the `errorCallbackURL` receives as `?error=`.
#[derive(Debug)]
pub enum CallbackError {
    /// No state, an unknown, used or expired one: start again.
    StateInvalid,
    /// The state is not this browser's (no or another state cookie) or not this provider's.
    StateMismatch,
    /// The provider reported an error (`access_denied` when the user declined).
    Provider(String),
    NoCode,
    ProviderNotFound,
    Failure(Failure),
    EmailNotFound,
    /// An existing user has this address, but the provider does not vouch for it (or is not
    /// trusted to): signing in would hand that user's account to whoever controls the provider account.
    AccountNotLinked,
    /// The provider account is already linked to another user.
    AlreadyLinkedToOther,
    /// The admin plugin's ban (Better Auth redirects with `error=BANNED_USER`).
    Banned,
    /// `link-social` with a provider account whose address is not the user's.
    EmailMismatch,
    /// `link-social` whose session ended before the callback.
    UnableToLink,
    Internal,
}

impl CallbackError {
    pub fn code(&self) -> &str {
        match self {
            CallbackError::StateInvalid => "please_restart_the_process",
            CallbackError::StateMismatch => "state_mismatch",
            CallbackError::Provider(code) => code,
            CallbackError::NoCode => "no_code",
            CallbackError::ProviderNotFound => "oauth_provider_not_found",
            CallbackError::Failure(Failure::Unavailable) => "provider_unavailable",
            CallbackError::Failure(Failure::InvalidCode) => "invalid_code",
            CallbackError::Failure(Failure::InvalidIdToken) => "invalid_id_token",
            CallbackError::Failure(Failure::UserInfo) => "unable_to_get_user_info",
            CallbackError::EmailNotFound => "email_not_found",
            CallbackError::AccountNotLinked => "account_not_linked",
            CallbackError::AlreadyLinkedToOther => "account_already_linked_to_different_user",
            CallbackError::Banned => "BANNED_USER",
            CallbackError::EmailMismatch => "email_doesn't_match",
            CallbackError::UnableToLink => "unable_to_link_account",
            CallbackError::Internal => "internal_server_error",
        }
    }
}

impl From<Failure> for CallbackError {
    fn from(f: Failure) -> Self {
        CallbackError::Failure(f)
    }
}

impl From<sea_orm::DbErr> for CallbackError {
    fn from(e: sea_orm::DbErr) -> Self {
        tracing::error!(error = %e, "database error in the OAuth callback");
        CallbackError::Internal
    }
}

impl From<Error> for CallbackError {
    fn from(e: Error) -> Self {
        if let Error::BannedUser = e {
            return CallbackError::Banned;
        }
        tracing::error!(error = %e, "error in the OAuth callback");
        CallbackError::Internal
    }
}

/// A provider's error code, passed on only if it looks like one (no free text is reflected).
fn provider_error(raw: &str) -> String {
    let ok = !raw.is_empty()
        && raw.len() <= 64
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    if ok {
        raw.to_owned()
    } else {
        "oauth_error".to_owned()
    }
}

/// `url` with `?error=<code>` (or `&error=`) added.
pub fn with_error(url: &str, code: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}error={}", token::encode_uri_component(code))
}

/// The sealed token columns of an account for `tokens`; a refresh or ID token the provider did
/// not send this time is kept as it was.
pub(crate) fn token_columns(
    auth: &Auth,
    active: &mut account::ActiveModel,
    tokens: &Tokens,
    now: DateTime<Utc>,
) {
    let cipher = auth.social.cipher();
    active.access_token = Set(Some(cipher.seal(Field::AccessToken, &tokens.access_token)));
    active.access_token_expires_at = Set(tokens.access_token_expires_at.map(db_time));
    if let Some(refresh) = &tokens.refresh_token {
        active.refresh_token = Set(Some(cipher.seal(Field::RefreshToken, refresh)));
    }
    if let Some(id_token) = &tokens.id_token {
        active.id_token = Set(Some(cipher.seal(Field::IdToken, id_token)));
    }
    if !tokens.scopes.is_empty() {
        active.scope = Set(Some(tokens.scopes.join(",")));
    }
    active.updated_at = Set(db_time(now));
}

impl Auth {
    /// Starts an authorization with `req.provider`: stores its state and returns the provider's
    /// URL. The callback URLs were checked against the trusted origins by the API.
    pub async fn social_start(&self, req: StartRequest) -> Result<Started> {
        let provider = self
            .social
            .provider(&req.provider)
            .ok_or(Error::ProviderNotFound)?;
        // Before anything is stored: a provider that cannot be reached leaves no state behind.
        let redirect_uri = self.social.redirect_uri(&provider.cfg.id);
        provider
            .ready(&self.social_http(), &redirect_uri)
            .await
            .map_err(|_| Error::ProviderUnavailable)?;
        let flow = FlowState {
            provider: provider.cfg.id.clone(),
            // RFC 7636: 43 to 128 characters; 64 alphanumerics carry 381 bits.
            code_verifier: token::generate(64),
            nonce: token::generate(32),
            callback_url: req.callback_url.unwrap_or_else(|| "/".into()),
            error_callback_url: req.error_callback_url,
            new_user_callback_url: req.new_user_callback_url,
            link: req.link,
        };
        let sealed = self.social.cipher().seal(
            Field::FlowState,
            &serde_json::to_string(&flow).expect("the state serializes"),
        );
        let now = self.clock.now();
        let state = verification::issue(
            &self.db,
            Purpose::OAuthState,
            &sealed,
            now,
            STATE_LIFETIME,
            false,
        )
        .await?;
        let mut scopes = provider.cfg.scopes.clone();
        for s in req.scopes {
            if !scopes.contains(&s) {
                scopes.push(s);
            }
        }
        let url = provider
            .authorization_url(
                &self.social_http(),
                Authorize {
                    redirect_uri: &redirect_uri,
                    state: &state,
                    code_verifier: &flow.code_verifier,
                    nonce: &flow.nonce,
                    scopes: &scopes,
                    login_hint: req.login_hint.as_deref(),
                },
            )
            .await
            .map_err(|_| Error::ProviderUnavailable)?;
        Ok(Started { url, state })
    }

    /// Finishes an authorization at `/callback/<provider_id>`. Always lands somewhere: the
    /// callback URL on success, the error callback URL (or `<api>/error`) with `?error=` otherwise.
    pub async fn social_callback(
        &self,
        provider_id: &str,
        params: CallbackParams,
        state_cookie: Option<&str>,
        client: &ClientInfo,
    ) -> Landing {
        let default_error_url = format!("{}/error", self.cfg.api_base_url);
        let flow = match self.take_state(provider_id, &params, state_cookie).await {
            Ok(flow) => flow,
            Err(e) => {
                return Landing {
                    location: with_error(&default_error_url, e.code()),
                    session: None,
                }
            }
        };
        let error_url = flow.error_callback_url.clone().unwrap_or(default_error_url);
        match self.finish(&flow, params, client).await {
            Ok(landing) => landing,
            Err(e) => {
                tracing::info!(
                    provider = provider_id,
                    error = e.code(),
                    "social sign-in failed"
                );
                Landing {
                    location: with_error(&error_url, e.code()),
                    session: None,
                }
            }
        }
    }

    /// Uses the state up: it must exist, be unexpired, belong to this provider and to this
    /// browser. Used up even when the rest fails, so it can never be replayed.
    async fn take_state(
        &self,
        provider_id: &str,
        params: &CallbackParams,
        state_cookie: Option<&str>,
    ) -> std::result::Result<FlowState, CallbackError> {
        let state = params
            .state
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or(CallbackError::StateInvalid)?;
        let now = self.clock.now();
        let sealed = match verification::consume(&self.db, Purpose::OAuthState, state, now).await? {
            Check::Valid(value) => value,
            Check::Expired | Check::Unknown => return Err(CallbackError::StateInvalid),
        };
        let flow: FlowState = self
            .social
            .cipher()
            .open(Field::FlowState, &sealed)
            .and_then(|json| serde_json::from_str(&json).ok())
            .ok_or(CallbackError::StateInvalid)?;
        let same_browser = state_cookie
            .is_some_and(|c| subtle::ConstantTimeEq::ct_eq(c.as_bytes(), state.as_bytes()).into());
        if !same_browser || flow.provider != provider_id {
            return Err(CallbackError::StateMismatch);
        }
        Ok(flow)
    }

    async fn finish(
        &self,
        flow: &FlowState,
        params: CallbackParams,
        client: &ClientInfo,
    ) -> std::result::Result<Landing, CallbackError> {
        if let Some(error) = params.error.as_deref().filter(|e| !e.is_empty()) {
            return Err(CallbackError::Provider(provider_error(error)));
        }
        let code = params
            .code
            .filter(|c| !c.is_empty())
            .ok_or(CallbackError::NoCode)?;
        let provider = self
            .social
            .provider(&flow.provider)
            .ok_or(CallbackError::ProviderNotFound)?;
        let now = self.clock.now();
        let redirect_uri = self.social.redirect_uri(&provider.cfg.id);
        let (tokens, profile) = provider
            .exchange(
                &self.social_http(),
                &redirect_uri,
                &code,
                &flow.code_verifier,
                &flow.nonce,
                now,
            )
            .await?;
        let email = profile
            .email
            .as_deref()
            .and_then(normalize_email)
            .ok_or(CallbackError::EmailNotFound)?;
        if let Some(link) = &flow.link {
            self.link_account(link, provider, &profile, &email, &tokens)
                .await?;
            return Ok(Landing {
                location: flow.callback_url.clone(),
                session: None,
            });
        }
        let (session, is_new) = self
            .sign_in_social(provider, &profile, &email, &tokens, client)
            .await?;
        crate::audit::sign_in_succeeded(&session.1.user_id, &provider.cfg.id);
        let location = match (&flow.new_user_callback_url, is_new) {
            (Some(url), true) => url.clone(),
            _ => flow.callback_url.clone(),
        };
        Ok(Landing {
            location,
            session: Some(session),
        })
    }

    /// Signs in the user the provider account is linked to; else links it to the user with the
    /// same (provider-verified) address; else creates a user. One transaction, session included.
    /// When the provider vouches for an address the user never proved, what predates the proof
    /// is revoked first ([`crate::unproven`]). Returns the session and whether the user is new.
    async fn sign_in_social(
        &self,
        provider: &Provider,
        profile: &Profile,
        email: &str,
        tokens: &Tokens,
        client: &ClientInfo,
    ) -> std::result::Result<((String, session::Model), bool), CallbackError> {
        let (cfg, now) = (&*self.cfg, self.clock.now());
        let vouches = provider.cfg.trust_email && profile.email_verified;
        let txn = self.db.begin().await?;
        let linked = find_account(&txn, &provider.cfg.id, &profile.id).await?;
        if let Some(acc) = linked {
            let user_id = acc.user_id.clone();
            let user = user::Entity::find_by_id(&user_id)
                .one(&txn)
                .await?
                .ok_or(Error::UserNotFound)?;
            let revoked = match vouches && !user.email_verified && user.email == email {
                true => {
                    let keep = Keep {
                        account: Some(&acc.id),
                        ..Keep::default()
                    };
                    crate::unproven::revoke_unproven_access(&txn, &user_id, keep, now).await?
                }
                false => None,
            };
            let mut active = acc.into_active_model();
            token_columns(self, &mut active, tokens, now);
            active.update(&txn).await?;
            let session = crate::session::create(&txn, cfg, &user_id, now, true, client).await?;
            txn.commit().await?;
            if let Some(revoked) = revoked {
                crate::audit::unproven_access_revoked(&user_id, revoked);
            }
            return Ok((session, false));
        }
        let existing = user::Entity::find()
            .filter(user::Column::Email.eq(email))
            .one(&txn)
            .await?;
        let (user_id, is_new, revoked) = match existing {
            Some(existing) => {
                if !vouches {
                    return Err(CallbackError::AccountNotLinked);
                }
                let revoked = crate::unproven::revoke_unproven_access(
                    &txn,
                    &existing.id,
                    Keep::default(),
                    now,
                )
                .await?;
                (existing.id, false, revoked)
            }
            None => {
                let created = user::ActiveModel {
                    id: Set(entity::behavior::new_id()),
                    name: Set(profile.name.clone().unwrap_or_default()),
                    email: Set(email.to_owned()),
                    email_verified: Set(vouches),
                    image: Set(profile.image.clone()),
                    created_at: Set(db_time(now)),
                    updated_at: Set(db_time(now)),
                    // The admin plugin's sign-up hook: new users get the default role.
                    role: Set(Some(cfg.admin.default_role.clone())),
                    banned: Set(Some(false)),
                    ban_reason: Set(None),
                    ban_expires: Set(None),
                }
                .insert(&txn)
                .await?;
                (created.id, true, None)
            }
        };
        self.insert_account(&txn, &user_id, provider, profile, tokens)
            .await?;
        let session = crate::session::create(&txn, cfg, &user_id, now, true, client).await?;
        txn.commit().await?;
        if let Some(revoked) = revoked {
            crate::audit::unproven_access_revoked(&user_id, revoked);
        }
        if !is_new {
            self.provider_linked(&user_id, email, provider, revoked, false);
        }
        Ok((session, is_new))
    }

    /// Links the provider account to the user who started `link-social`, while the session that
    /// started it lasts. When the provider vouches for an address the user never proved, what
    /// predates the proof is revoked first, except what the caller holds: the proof came to the
    /// browser holding that session, so the session and the password it came from are the
    /// owner's. Other sessions, other provider accounts and pending links go.
    async fn link_account(
        &self,
        link: &LinkTarget,
        provider: &Provider,
        profile: &Profile,
        email: &str,
        tokens: &Tokens,
    ) -> std::result::Result<(), CallbackError> {
        let now = self.clock.now();
        let txn = self.db.begin().await?;
        let live = session::Entity::find_by_id(&link.session_id)
            .filter(session::Column::UserId.eq(&link.user_id))
            .filter(session::Column::ExpiresAt.gt(db_time(now)))
            .one(&txn)
            .await?;
        if live.is_none() {
            return Err(CallbackError::UnableToLink);
        }
        match find_account(&txn, &provider.cfg.id, &profile.id).await? {
            Some(acc) if acc.user_id != link.user_id => Err(CallbackError::AlreadyLinkedToOther),
            Some(acc) => {
                let mut active = acc.into_active_model();
                token_columns(self, &mut active, tokens, now);
                active.update(&txn).await?;
                txn.commit().await?;
                Ok(())
            }
            None => {
                if email != link.email.to_lowercase() {
                    return Err(CallbackError::EmailMismatch);
                }
                let revoked = match provider.cfg.trust_email && profile.email_verified {
                    true => {
                        let keep = Keep {
                            session: Some(&link.session_id),
                            password: true,
                            ..Keep::default()
                        };
                        crate::unproven::revoke_unproven_access(&txn, &link.user_id, keep, now)
                            .await?
                    }
                    false => None,
                };
                self.insert_account(&txn, &link.user_id, provider, profile, tokens)
                    .await?;
                txn.commit().await?;
                if let Some(revoked) = revoked {
                    crate::audit::unproven_access_revoked(&link.user_id, revoked);
                }
                self.provider_linked(&link.user_id, email, provider, revoked, true);
                Ok(())
            }
        }
    }

    /// A provider account was linked to an existing user (`linking`: through `link-social`):
    /// they are told by mail (a sign-in method they did not add is someone else's way in).
    fn provider_linked(
        &self,
        user_id: &str,
        email: &str,
        provider: &Provider,
        revoked: Option<crate::unproven::Revoked>,
        linking: bool,
    ) {
        crate::audit::provider_linked(user_id, &provider.cfg.id);
        let name = provider.cfg.display_name();
        let revoked = match revoked {
            Some(_) if linking => "linking",
            Some(_) => "sign-in",
            None => "",
        };
        self.mailer.send(self.cfg.mail.render(
            crate::mail::templates::Kind::ProviderLinked,
            email,
            minijinja::context! { provider => name, revoked },
        ));
    }

    /// A new account row; the unique `(providerId, accountId)` index decides a race.
    async fn insert_account(
        &self,
        db: &impl ConnectionTrait,
        user_id: &str,
        provider: &Provider,
        profile: &Profile,
        tokens: &Tokens,
    ) -> std::result::Result<(), CallbackError> {
        let now = self.clock.now();
        let mut active = account::ActiveModel {
            account_id: Set(profile.id.clone()),
            provider_id: Set(provider.cfg.id.clone()),
            user_id: Set(user_id.to_owned()),
            created_at: Set(db_time(now)),
            ..Default::default()
        };
        token_columns(self, &mut active, tokens, now);
        match active.insert(db).await {
            Ok(_) => Ok(()),
            Err(e) if crate::error::violated(&e) == Some(&ACCOUNT) => {
                Err(CallbackError::AlreadyLinkedToOther)
            }
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) fn social_http(&self) -> reqwest::Client {
        self.social.http.clone()
    }
}

async fn find_account(
    db: &impl ConnectionTrait,
    provider_id: &str,
    account_id: &str,
) -> Result<Option<account::Model>> {
    Ok(account::Entity::find()
        .filter(account::Column::ProviderId.eq(provider_id))
        .filter(account::Column::AccountId.eq(account_id))
        .one(db)
        .await?)
}
