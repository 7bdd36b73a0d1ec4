//! Social sign-in routes: starting an authorization (`sign-in/social`, `link-social`), the
//! provider's callback, and the linked account's tokens (`get-access-token`, `refresh-token`,
//! `account-info`). The rules live in `service::social`; here are the wire shapes, the state
//! cookie and the redirects.

use poem::http::header::{LOCATION, REFERRER_POLICY};
use poem::http::HeaderValue;
use poem::Request;
use std::collections::BTreeMap;

use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Form, Html, Json};
use poem_openapi::{ApiRequest, ApiResponse, Object, OpenApi};
use serde::Deserialize;
use service::social::flow::{CallbackParams, LinkTarget, StartRequest, STATE_LIFETIME};

use super::dto::Timestamp;
use super::{Caller, FreshCaller, NoSession, NoStore, Tag, With};
use crate::error::{ApiError, ApiResult, ErrorBody, Errors, JsonBody, NoBody};
use crate::outbox::Outbox;
use crate::state::AppState;
use crate::wire::{success, Body, JsonObject, Refined};

mod tokens;

use tokens::*;

pub struct SocialApi {
    pub state: AppState,
}

/// `sign-in/social`'s body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SignInSocialBody {
    /// The provider id: `github`, `google`, or a configured OpenID provider's id.
    pub provider: String,
    /// Where the browser lands after signing in (trusted origin or relative path; default `/`).
    #[oai(rename = "callbackURL")]
    pub callback_url: Option<String>,
    /// Where a newly created user lands instead of `callbackURL`.
    #[oai(rename = "newUserCallbackURL")]
    pub new_user_callback_url: Option<String>,
    /// Where failures land, with `?error=<code>` (default `/api/auth/error`).
    #[oai(rename = "errorCallbackURL")]
    pub error_callback_url: Option<String>,
    /// Answer `redirect: false` (the client navigates itself).
    pub disable_redirect: Option<bool>,
    /// Sign-in with a client-obtained ID token: not supported (400 `ID_TOKEN_NOT_SUPPORTED`).
    pub id_token: Option<IdToken>,
    /// Scopes besides the provider's configured ones.
    pub scopes: Option<Vec<String>>,
    /// Accepted for compatibility; sign-up is implicit.
    pub request_sign_up: Option<bool>,
    /// Passed to the provider as `login_hint`.
    pub login_hint: Option<String>,
    /// Accepted for compatibility; ignored.
    pub additional_params: Option<BTreeMap<String, String>>,
    /// Accepted for compatibility; ignored.
    pub additional_data: Option<JsonObject>,
}

/// `link-social`'s body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct LinkSocialBody {
    /// The provider id: `github`, `google`, or a configured OpenID provider's id.
    pub provider: String,
    /// Where the browser lands after linking (trusted origin or relative path; default `/`).
    #[oai(rename = "callbackURL")]
    pub callback_url: Option<String>,
    /// Where failures land, with `?error=<code>`.
    #[oai(rename = "errorCallbackURL")]
    pub error_callback_url: Option<String>,
    /// Answer `redirect: false` (the client navigates itself).
    pub disable_redirect: Option<bool>,
    /// Linking with a client-obtained ID token: not supported (400 `ID_TOKEN_NOT_SUPPORTED`).
    pub id_token: Option<IdToken>,
    /// Scopes besides the provider's configured ones.
    pub scopes: Option<Vec<String>>,
    /// Accepted for compatibility; ignored.
    pub request_sign_up: Option<bool>,
    /// Passed to the provider as `login_hint`.
    pub login_hint: Option<String>,
    /// Accepted for compatibility; ignored.
    pub additional_params: Option<BTreeMap<String, String>>,
    /// Accepted for compatibility; ignored.
    pub additional_data: Option<JsonObject>,
}

/// A client-obtained ID token, in Better Auth's shape; orgauth refuses it.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct IdToken {
    /// The ID token.
    pub token: String,
    /// The nonce it was requested with.
    pub nonce: Option<String>,
    /// An access token that came with it.
    pub access_token: Option<String>,
    /// A refresh token that came with it.
    pub refresh_token: Option<String>,
    /// When the access token expires (seconds since the epoch).
    pub expires_at: Option<f64>,
    /// The user as some providers (Apple) send it.
    pub user: Option<JsonObject>,
}

/// Where to send the browser to authorize at the provider.
#[derive(Object, Debug)]
pub struct RedirectUrl {
    /// The provider's authorization URL.
    pub url: String,
    /// `false` when `disableRedirect` was asked for.
    pub redirect: bool,
}

/// The provider's answer, as a query (GET) or a form (`response_mode=form_post`).
#[derive(Object, Deserialize, Debug, Default)]
pub struct CallbackForm {
    /// The authorization code.
    pub code: Option<String>,
    /// The state the flow was started with.
    pub state: Option<String>,
    /// The provider's error code, when it refused.
    pub error: Option<String>,
    /// The provider's description of the error (never shown).
    pub error_description: Option<String>,
    /// The issuer (RFC 9207), checked for OpenID providers.
    pub iss: Option<String>,
}

#[derive(ApiRequest)]
pub enum CallbackBody {
    Form(Form<CallbackForm>),
    Json(Body<CallbackForm>),
}

/// The provider's callback always redirects.
#[derive(ApiResponse)]
pub enum CallbackRedirect {
    /// To `callbackURL` (signed in; `newUserCallbackURL` for a new user), or to
    /// `errorCallbackURL?error=<code>`.
    #[oai(status = 302)]
    Found(#[oai(header = "Location")] String),
}

/// The form-post callback redirects to the GET callback.
#[derive(ApiResponse)]
pub enum FormPostRedirect {
    /// To `GET /api/auth/callback/{id}` with the posted fields as its query.
    #[oai(status = 302)]
    Found(#[oai(header = "Location")] String),
}

/// The default error callback: a page for people.
#[derive(ApiResponse)]
pub enum ErrorPage {
    /// A plain HTML page naming the error code.
    #[oai(status = 200)]
    Ok(Html<String>),
}

success! {
    /// The provider's authorization URL; also in `Location` unless `disableRedirect`.
    pub SocialSignInStarted(RedirectUrl)
}

success! {
    /// The provider's authorization URL; also in `Location` unless `disableRedirect`.
    pub LinkStarted(RedirectUrl) + session
}

success! {
    /// The access token (refreshed first if it had expired).
    pub AccessToken(AccessTokenResponse) + session
}

success! {
    /// The new tokens.
    pub RefreshedTokens(RefreshTokenResponse) + session
}

success! {
    /// The provider's user and answer, and which account was asked.
    pub ProviderAccountInfo(AccountInfo) + session
}

impl SocialApi {
    /// Stores the flow, binds it to this browser, and answers with the provider's URL.
    async fn start(
        &self,
        req: &Request,
        start: StartRequest,
        disable_redirect: bool,
    ) -> ApiResult<RedirectUrl> {
        let started = self.state.auth.social_start(start).await?;
        let outbox = Outbox::of(req);
        self.state
            .cookies
            .set_state(&outbox, &started.state, STATE_LIFETIME.num_seconds());
        if !disable_redirect {
            if let Ok(location) = HeaderValue::from_str(&started.url) {
                outbox.push(LOCATION, location);
            }
        }
        Ok(RedirectUrl {
            url: started.url,
            redirect: !disable_redirect,
        })
    }
}

#[OpenApi(prefix_path = "/api/auth")]
impl SocialApi {
    /// Sign in with a social provider
    ///
    /// Starts the authorization-code flow (PKCE, state, and for OpenID providers a nonce): answers
    /// the provider's URL to send the browser to, and sets a short-lived state cookie. Unknown
    /// provider: 404 `PROVIDER_NOT_FOUND`.
    #[oai(
        path = "/sign-in/social",
        method = "post",
        operation_id = "signInSocial",
        tag = "Tag::Authentication"
    )]
    async fn sign_in_social(
        &self,
        req: &Request,
        _auth: NoSession,
        body: Body<SignInSocialBody>,
    ) -> Result<SocialSignInStarted, Errors<JsonBody, 404>> {
        let body = body.0;
        if body.id_token.is_some() {
            return Err(service::Error::IdTokenNotSupported.into());
        }
        let start = StartRequest {
            provider: body.provider,
            callback_url: body.callback_url.filter(|u| !u.is_empty()),
            error_callback_url: body.error_callback_url.filter(|u| !u.is_empty()),
            new_user_callback_url: body.new_user_callback_url.filter(|u| !u.is_empty()),
            scopes: body.scopes.unwrap_or_default(),
            login_hint: body.login_hint,
            link: None,
        };
        Ok(self
            .start(req, start, body.disable_redirect.unwrap_or(false))
            .await?
            .into())
    }

    /// Link a social account to the caller
    ///
    /// Needs a fresh session. Starts the same flow as `sign-in/social`; at the callback the
    /// provider account is linked to the caller (its address must be the caller's).
    #[oai(
        path = "/link-social",
        method = "post",
        operation_id = "linkSocial",
        tag = "Tag::User"
    )]
    async fn link_social(
        &self,
        req: &Request,
        body: Body<LinkSocialBody>,
        caller: FreshCaller,
    ) -> Result<LinkStarted, Errors<JsonBody, 404>> {
        let body = body.0;
        if body.id_token.is_some() {
            return Err(service::Error::IdTokenNotSupported.into());
        }
        let start = StartRequest {
            provider: body.provider,
            callback_url: body.callback_url.filter(|u| !u.is_empty()),
            error_callback_url: body.error_callback_url.filter(|u| !u.is_empty()),
            new_user_callback_url: None,
            scopes: body.scopes.unwrap_or_default(),
            login_hint: body.login_hint,
            link: Some(LinkTarget {
                user_id: caller.user.id.clone(),
                email: caller.user.email.clone(),
                session_id: caller.session.id.clone(),
            }),
        };
        Ok(self
            .start(req, start, body.disable_redirect.unwrap_or(false))
            .await?
            .into())
    }

    /// The provider's callback
    ///
    /// Uses the state up, trades the code, and signs the user in (or up, or links the account);
    /// always redirects: to the callback URL, or to the error callback URL with `?error=<code>`.
    #[oai(
        path = "/callback/:id",
        method = "get",
        operation_id = "socialCallback",
        tag = "Tag::Authentication"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn callback(
        &self,
        req: &Request,
        _auth: NoSession,
        /// The provider id.
        id: Path<String>,
        /// The authorization code.
        code: Query<Option<String>>,
        /// The state the flow was started with.
        state: Query<Option<String>>,
        /// The provider's error code, when it refused.
        error: Query<Option<String>>,
        /// Logged by nobody and never reflected; accepted for compatibility.
        #[oai(name = "error_description")]
        _error_description: Query<Option<String>>,
    ) -> Result<CallbackRedirect, Errors<NoBody>> {
        let outbox = Outbox::of(req);
        outbox.push(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        outbox.no_store();
        let cookies = &self.state.cookies;
        let state_cookie = cookies.state(req.header(poem::http::header::COOKIE));
        let landing = self
            .state
            .auth
            .social_callback(
                &id,
                CallbackParams {
                    code: code.0,
                    state: state.0,
                    error: error.0,
                },
                state_cookie.as_deref(),
                &self.state.client_info(req),
            )
            .await;
        cookies.clear_state(&outbox);
        if let Some((token, _)) = landing.session {
            self.state.set_session_cookie(&outbox, &token, true);
        }
        Ok(CallbackRedirect::Found(landing.location))
    }

    /// The provider's callback, as a form post
    ///
    /// For providers using `response_mode=form_post`: redirects to the GET form of the same URL
    /// with the fields as its query, where the state cookie (SameSite=Lax) is sent along.
    #[oai(
        path = "/callback/:id",
        method = "post",
        operation_id = "socialCallbackPost",
        tag = "Tag::Authentication"
    )]
    async fn callback_post(
        &self,
        _auth: NoSession,
        /// The provider id.
        id: Path<String>,
        body: CallbackBody,
    ) -> Result<FormPostRedirect, Errors<JsonBody>> {
        let form = match body {
            CallbackBody::Form(f) => f.0,
            CallbackBody::Json(j) => j.0,
        };
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("code", &form.code),
            ("state", &form.state),
            ("error", &form.error),
            ("error_description", &form.error_description),
            ("iss", &form.iss),
        ] {
            if let Some(v) = value {
                query.append_pair(key, v);
            }
        }
        let id = service::token::encode_uri_component(&id);
        Ok(FormPostRedirect::Found(format!(
            "{}/callback/{id}?{}",
            self.state.auth.cfg.api_base_url,
            query.finish()
        )))
    }

    /// A linked account's access token
    ///
    /// Refreshed first (with the refresh token) when it has expired or is about to.
    #[oai(
        path = "/get-access-token",
        method = "post",
        operation_id = "getAccessToken",
        tag = "Tag::User"
    )]
    async fn get_access_token(
        &self,
        _no_store: With<NoStore>,
        body: Body<Refined<AccountBody, Selection>>,
        caller: Caller,
    ) -> Result<AccessToken, Errors<JsonBody, 404>> {
        let (user_id, selector) = selected(&caller, body.0 .0)?;
        let tokens = self.state.auth.access_token(&user_id, &selector).await?;
        Ok(access_token_response(tokens)?.into())
    }

    /// Refresh a linked account's tokens
    ///
    /// Trades the refresh token for new tokens now, whatever the access token's expiry.
    #[oai(
        path = "/refresh-token",
        method = "post",
        operation_id = "refreshToken",
        tag = "Tag::User"
    )]
    async fn refresh_token(
        &self,
        _no_store: With<NoStore>,
        body: Body<Refined<AccountBody, Selection>>,
        caller: Caller,
    ) -> Result<RefreshedTokens, Errors<JsonBody, 404>> {
        let (user_id, selector) = selected(&caller, body.0 .0)?;
        let t = self.state.auth.refresh_tokens(&user_id, &selector).await?;
        Ok(RefreshTokenResponse {
            access_token: t
                .access_token
                .ok_or(service::Error::FailedToRefreshAccessToken)?,
            refresh_token: t.refresh_token.into(),
            access_token_expires_at: t
                .account
                .access_token_expires_at
                .map(Timestamp::from)
                .into(),
            refresh_token_expires_at: t
                .account
                .refresh_token_expires_at
                .map(Timestamp::from)
                .into(),
            scope: t.account.scope.clone().into(),
            id_token: t.id_token.into(),
            provider_id: t.account.provider_id,
            account_id: t.account.account_id,
        }
        .into())
    }

    /// What the provider says about a linked account's user
    #[oai(
        path = "/account-info",
        method = "get",
        operation_id = "accountInfo",
        tag = "Tag::User"
    )]
    async fn account_info(
        &self,
        /// The account's row id or the provider's account id.
        #[oai(name = "accountId")]
        account_id: Query<Option<String>>,
        /// Earlier Better Auth versions' selector: the caller's account with this provider.
        #[oai(name = "providerId")]
        provider_id: Query<Option<String>>,
        _selection: QuerySelection,
        caller: Caller,
    ) -> Result<ProviderAccountInfo, Errors<NoBody, 404>> {
        let body = AccountBody {
            provider_id: provider_id.0,
            account_id: account_id.0,
            use_account_cookie: None,
            user_id: None,
        };
        let (user_id, selector) = selected(&caller, body)?;
        let (account, profile) = self
            .state
            .auth
            .account_info(&user_id, &selector)
            .await
            .map_err(|e| match e {
                // Better Auth words it so on this route only.
                service::Error::ProviderNotSupported(_) => {
                    ApiError::BadRequest(Json(ErrorBody::new(
                        "PROVIDER_NOT_CONFIGURED",
                        "Account is not associated with a configured social provider.",
                    )))
                }
                e => e.into(),
            })?;
        Ok(AccountInfo {
            user: ProviderUser {
                id: profile.id,
                name: profile.name.into(),
                email: profile.email.into(),
                image: profile.image.into(),
                email_verified: profile.email_verified,
            },
            data: JsonObject(profile.raw),
            account: AccountRef {
                id: account.id,
                provider_id: account.provider_id,
                account_id: account.account_id,
            },
        }
        .into())
    }

    /// Where failed sign-ins land by default
    ///
    /// A plain page naming the error code (the code is shown only if it is a plain identifier).
    #[oai(
        path = "/error",
        method = "get",
        operation_id = "errorPage",
        tag = "Tag::Authentication"
    )]
    async fn error_page(
        &self,
        _auth: NoSession,
        /// The error code to name.
        error: Query<Option<String>>,
    ) -> Result<ErrorPage, Errors<NoBody>> {
        let code = error
            .0
            .filter(|e| {
                e.len() <= 64
                    && e.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '\''))
            })
            .unwrap_or_else(|| "unknown_error".into())
            .replace('\'', "&#39;");
        Ok(ErrorPage::Ok(Html(format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sign-in failed</title></head>\
             <body><h1>Sign-in failed</h1><p>Error: <code>{code}</code></p></body></html>"
        ))))
    }
}
