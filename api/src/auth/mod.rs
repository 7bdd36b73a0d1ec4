//! Better Auth's core routes: email and password, sessions, profile; the mail flows, social
//! sign-in and magic links in their modules.

mod caller;
pub mod dto;
pub mod flows;
pub mod magic_link;
mod session;
pub mod social;

pub use caller::{Caller, DeletionEnabled, FreshCaller, NoReferrer, NoStore, With};

use poem::http::header::LOCATION;
use poem::http::HeaderValue;
use poem::{Request, RequestBody};
use poem_openapi::auth::{ApiKey, Bearer};
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions, OpenApi, SecurityScheme, Tags,
};
use service::credentials::{NewUser, PasswordChange, ProfileUpdate};

use crate::error::{ApiError, ApiResult, ErrorBody, Errors, JsonBody, NoBody};
use crate::outbox::Outbox;
use crate::state::AppState;
use crate::wire::{is_truthy, Body, Nullable, OptionalJson, Record};
use dto::*;

#[derive(Tags)]
pub enum Tag {
    /// Sign-up, sign-in and sign-out, with email and password or a social provider.
    Authentication,
    /// The caller's sessions.
    Sessions,
    /// The caller's profile and linked accounts.
    User,
}

/// The signed session cookie (`better-auth.session_token`, `__Secure-` prefixed on https).
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "better-auth.session_token",
    key_in = "cookie"
)]
pub struct SessionCookie(#[allow(dead_code)] ApiKey);

/// `Authorization: Bearer <token>.<signature>` (the `set-auth-token` value) or the raw token.
#[derive(SecurityScheme)]
#[oai(ty = "bearer")]
pub struct SessionBearer(#[allow(dead_code)] Bearer);

/// How a session is presented, for the routes that also work without one (`{}` among the
/// alternatives).
#[derive(SecurityScheme)]
pub enum OptionalSession {
    Cookie(SessionCookie),
    Bearer(SessionBearer),
    #[oai(fallback)]
    Anonymous,
}

/// Documents a route that takes no session: `security: [{}]`, the one alternative needing no
/// credentials (poem-openapi leaves out an empty `security: []`).
pub struct NoSession;

impl<'a> ApiExtractor<'a> for NoSession {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();
    type ParamRawType = ();

    fn has_security_fallback() -> bool {
        true
    }

    async fn from_request(
        _: &'a Request,
        _: &mut RequestBody,
        _: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        Ok(Self)
    }
}

pub struct AuthApi {
    pub state: AppState,
}

#[OpenApi(prefix_path = "/api/auth")]
impl AuthApi {
    /// Sign up with email and password
    ///
    /// Creates the user, their password account and, unless e-mail verification is required or
    /// auto sign-in is off, a session (cookie set, token returned). A taken email answers 422.
    #[oai(
        path = "/sign-up/email",
        method = "post",
        operation_id = "signUpEmail",
        tag = "Tag::Authentication"
    )]
    async fn sign_up(
        &self,
        req: &Request,
        _auth: NoSession,
        body: Body<SignUpBody>,
    ) -> Result<SignedUp, Errors<JsonBody, 422>> {
        Outbox::of(req).no_store();
        let body = body.0;
        body.admin.refuse()?;
        let remember = body.remember_me.unwrap_or(true);
        let input = NewUser {
            name: body.name,
            email: body.email,
            password: body.password,
            image: body.image,
        };
        let signed = self
            .state
            .auth
            .sign_up(
                input,
                remember,
                body.callback_url.as_deref(),
                &self.state.client_info(req),
            )
            .await?;
        let token = signed.session.map(|(token, _)| {
            self.state
                .set_session_cookie(&Outbox::of(req), &token, remember);
            token
        });
        Ok(TokenAndUser {
            token: token.into(),
            user: User::from(&signed.user),
        }
        .into())
    }

    /// Sign in with email and password
    ///
    /// An unknown email and a wrong password get the same 401. With `callbackURL`, the answer says
    /// `redirect: true` and carries `Location` (status stays 200).
    #[oai(
        path = "/sign-in/email",
        method = "post",
        operation_id = "signInEmail",
        tag = "Tag::Authentication"
    )]
    async fn sign_in(
        &self,
        req: &Request,
        _auth: NoSession,
        body: Body<SignInBody>,
    ) -> Result<SignedIn, Errors<JsonBody>> {
        Outbox::of(req).no_store();
        let body = body.0;
        let remember = body.remember_me.unwrap_or(true);
        let signed = self
            .state
            .auth
            .sign_in(
                &body.email,
                &body.password,
                remember,
                &self.state.client_info(req),
            )
            .await?;
        let (token, _) = signed.session.expect("sign-in always opens a session");
        let outbox = Outbox::of(req);
        self.state.set_session_cookie(&outbox, &token, remember);
        if let Some(url) = body
            .callback_url
            .as_deref()
            .and_then(|u| HeaderValue::from_str(u).ok())
        {
            outbox.push(LOCATION, url);
        }
        Ok(SignInResponse {
            redirect: body.callback_url.is_some(),
            token,
            url: body.callback_url,
            user: User::from(&signed.user),
        }
        .into())
    }

    /// Sign out
    ///
    /// Ends the presented session (if any) and clears the cookies. Works without a session. The
    /// body may be left out; one that is there must be a JSON object (checked first, so a
    /// malformed request signs nobody out).
    #[oai(
        path = "/sign-out",
        method = "post",
        operation_id = "signOut",
        tag = "Tag::Authentication"
    )]
    async fn sign_out(
        &self,
        req: &Request,
        _auth: OptionalSession,
        _body: OptionalJson<SignOutBody>,
    ) -> Result<SignedOut, Errors<JsonBody>> {
        if let Some(token) = self.state.presented_token(req) {
            self.state.auth.sign_out(&token).await?;
        }
        self.state.cookies.clear(&Outbox::of(req));
        Ok(Success { success: true }.into())
    }

    /// The current session
    ///
    /// `null` when there is none. Renews the session when it is due (sliding expiry).
    #[oai(
        path = "/get-session",
        method = "get",
        operation_id = "getSession",
        tag = "Tag::Sessions"
    )]
    async fn get_session(
        &self,
        req: &Request,
        _auth: OptionalSession,
        /// Any non-empty value (even `false`, as Better Auth reads it) skips the renewal.
        #[oai(name = "disableRefresh")]
        disable_refresh: Query<Option<String>>,
        /// Accepted for compatibility; orgauth has no cookie cache.
        #[oai(name = "disableCookieCache")]
        _disable_cookie_cache: Query<Option<String>>,
    ) -> Result<CurrentSession, Errors<NoBody>> {
        Outbox::of(req).no_store();
        let may_refresh = disable_refresh.0.is_none_or(|v| v.is_empty());
        let current = self.state.resolve(req, may_refresh).await?;
        Ok(Nullable(current.map(|c| SessionAndUser {
            session: Session::new(&c.session, c.token.clone()),
            user: User::from(&c.user),
        }))
        .into())
    }

    /// Not available: POST is only for deferred session refresh, which orgauth does not use
    #[oai(
        path = "/get-session",
        method = "post",
        operation_id = "getSessionPost",
        tag = "Tag::Sessions",
        hidden
    )]
    async fn get_session_post(&self) -> ApiResult<Json<Success>> {
        Err(ApiError::MethodNotAllowed(Json(ErrorBody::new(
            "METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED",
            "POST method requires deferSessionRefresh to be enabled in session config",
        ))))
    }

    /// The caller's live sessions
    ///
    /// Needs a fresh session. The caller's own session shows its token; the others show a handle
    /// that `revoke-session` accepts (with `ORGAUTH_SESSION_TOKENS=plain`, their tokens).
    #[oai(
        path = "/list-sessions",
        method = "get",
        operation_id = "listSessions",
        tag = "Tag::Sessions"
    )]
    async fn list_sessions(
        &self,
        _no_store: With<NoStore>,
        caller: FreshCaller,
    ) -> Result<Sessions, Errors<NoBody>> {
        let sessions = self.state.auth.list_sessions(&caller).await?;
        Ok(sessions
            .into_iter()
            .map(|(s, token)| Session::new(&s, token))
            .collect::<Vec<_>>()
            .into())
    }

    /// Revoke one of the caller's sessions
    ///
    /// By token or by a handle from `list-sessions`. Always `{"status":true}`; another user's
    /// session is never touched.
    #[oai(
        path = "/revoke-session",
        method = "post",
        operation_id = "revokeSession",
        tag = "Tag::Sessions"
    )]
    async fn revoke_session(
        &self,
        req: &Request,
        body: Body<RevokeSessionBody>,
        caller: Caller,
    ) -> Result<Done, Errors<JsonBody>> {
        let revoked = self.state.auth.revoke_session(&caller, &body.token).await?;
        if revoked.as_deref() == Some(caller.session.id.as_str()) {
            self.state.cookies.clear(&Outbox::of(req));
        }
        Ok(StatusTrue { status: true }.into())
    }

    /// Revoke all of the caller's sessions, this one included
    #[oai(
        path = "/revoke-sessions",
        method = "post",
        operation_id = "revokeSessions",
        tag = "Tag::Sessions"
    )]
    async fn revoke_sessions(&self, req: &Request, caller: Caller) -> Result<Done, Errors<NoBody>> {
        self.state.auth.revoke_sessions(&caller, false).await?;
        self.state.cookies.clear(&Outbox::of(req));
        Ok(StatusTrue { status: true }.into())
    }

    /// Revoke all of the caller's sessions except this one
    #[oai(
        path = "/revoke-other-sessions",
        method = "post",
        operation_id = "revokeOtherSessions",
        tag = "Tag::Sessions"
    )]
    async fn revoke_other_sessions(&self, caller: Caller) -> Result<Done, Errors<NoBody>> {
        self.state.auth.revoke_sessions(&caller, true).await?;
        Ok(StatusTrue { status: true }.into())
    }

    /// Update the caller's name or image
    ///
    /// `email` is refused (it has its own flow); unknown keys are ignored.
    #[oai(
        path = "/update-user",
        method = "post",
        operation_id = "updateUser",
        tag = "Tag::User"
    )]
    async fn update_user(
        &self,
        req: &Request,
        body: Body<Record<UpdateUserBody>>,
        caller: Caller,
    ) -> Result<Done, Errors<JsonBody>> {
        let body = body.0 .0;
        body.admin.refuse()?;
        if body.email.is_some() {
            return Err(service::Error::EmailCanNotBeUpdated.into());
        }
        let image = match body.image {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(v) => Some(Some(v)),
        };
        self.state
            .auth
            .update_profile(
                &caller.user,
                ProfileUpdate {
                    name: body.name,
                    image,
                },
            )
            .await?;
        self.state.resend_session_cookie(req, &caller);
        Ok(StatusTrue { status: true }.into())
    }

    /// Update the current session's additional fields
    ///
    /// Only fields a deployment adds to sessions may be set, and orgauth adds none: the answer is
    /// 400 `No fields to update`, or `FIELD_NOT_ALLOWED` for `activeOrganizationId` and
    /// `activeTeamId`, which `organization/set-active` and `set-active-team` manage. The body is
    /// checked before the session, as Better Auth does.
    #[oai(
        path = "/update-session",
        method = "post",
        operation_id = "updateSession",
        tag = "Tag::Sessions"
    )]
    async fn update_session(
        &self,
        body: Body<Record<UpdateSessionBody>>,
        _caller: Caller,
    ) -> Result<SessionUpdated, Errors<JsonBody>> {
        let body = body.0 .0;
        let set = |field: &Option<Refused>| field.as_ref().is_some_and(|v| is_truthy(&v.0));
        if set(&body.active_organization_id) {
            return Err(service::Error::FieldNotAllowed("activeOrganizationId").into());
        }
        if set(&body.active_team_id) {
            return Err(service::Error::FieldNotAllowed("activeTeamId").into());
        }
        Err(service::Error::NoFieldsToUpdate.into())
    }

    /// Check the caller's password
    ///
    /// `{"status":true}` when `password` is the signed-in user's; 400 `INVALID_PASSWORD` when it
    /// is not or the user has no password. A guess like a sign-in: counted per account and rate
    /// limited as sign-in is.
    #[oai(
        path = "/verify-password",
        method = "post",
        operation_id = "verifyPassword",
        tag = "Tag::User"
    )]
    async fn verify_password(
        &self,
        body: Body<VerifyPasswordBody>,
        caller: Caller,
    ) -> Result<Done, Errors<JsonBody>> {
        self.state
            .auth
            .verify_password(&caller, &body.password)
            .await?;
        Ok(StatusTrue { status: true }.into())
    }

    /// Change the caller's password
    ///
    /// Checks the current password. With `revokeOtherSessions`, every session ends and a new one
    /// is opened for this client (its token returned, cookie set).
    #[oai(
        path = "/change-password",
        method = "post",
        operation_id = "changePassword",
        tag = "Tag::User"
    )]
    async fn change_password(
        &self,
        req: &Request,
        body: Body<ChangePasswordBody>,
        caller: Caller,
    ) -> Result<PasswordChanged, Errors<JsonBody>> {
        let body = body.0;
        let change = PasswordChange {
            current_password: &body.current_password,
            new_password: &body.new_password,
            revoke_other_sessions: body.revoke_other_sessions.unwrap_or(false),
        };
        let new_session = self
            .state
            .auth
            .change_password(&caller, change, &self.state.client_info(req))
            .await?;
        let token = new_session.map(|(token, _)| {
            self.state
                .set_session_cookie(&Outbox::of(req), &token, true);
            token
        });
        Ok(TokenAndUser {
            token: token.into(),
            user: User::from(&caller.user),
        }
        .into())
    }

    /// The caller's linked accounts
    ///
    /// Password and OAuth accounts, without passwords or tokens; `scopes` split from `scope`.
    #[oai(
        path = "/list-accounts",
        method = "get",
        operation_id = "listAccounts",
        tag = "Tag::User"
    )]
    async fn list_accounts(&self, caller: Caller) -> Result<Accounts, Errors<NoBody>> {
        let accounts = self.state.auth.accounts_of(&caller).await?;
        Ok(accounts
            .iter()
            .map(Account::from)
            .collect::<Vec<_>>()
            .into())
    }

    /// Unlink one of the caller's accounts
    ///
    /// Needs a fresh session. `accountId` is the account's row id. The last account cannot go.
    #[oai(
        path = "/unlink-account",
        method = "post",
        operation_id = "unlinkAccount",
        tag = "Tag::User"
    )]
    async fn unlink_account(
        &self,
        body: Body<UnlinkAccountBody>,
        caller: FreshCaller,
    ) -> Result<Done, Errors<JsonBody>> {
        self.state
            .auth
            .unlink_account(&caller, &body.account_id)
            .await?;
        Ok(StatusTrue { status: true }.into())
    }
}
