//! Routes that go through the mailbox: password reset, e-mail verification and change, account
//! deletion.

use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use service::deletion::Deletion;
use service::email::Verified;

use super::dto::*;
use super::{
    Caller, DeletionEnabled, FreshCaller, NoReferrer, NoSession, OptionalSession, Tag, With,
};
use crate::error::{ApiError, ErrorBody, Errors, JsonBody, NoBody};
use crate::outbox::Outbox;
use crate::state::AppState;
use crate::wire::{Body, Checked, Nullable};

pub struct FlowsApi {
    pub state: AppState,
}

/// A mailed link's answer: JSON, or a redirect to the caller's `callbackURL`.
#[derive(ApiResponse)]
pub enum JsonOrRedirect<T: poem_openapi::types::ToJSON + Send + Sync> {
    /// Without `callbackURL`: the outcome.
    #[oai(status = 200)]
    Json(Json<T>),
    /// With `callbackURL`: to it (`verify-email` adds `?error=CODE` when the token is bad).
    #[oai(status = 302)]
    Redirect(#[oai(header = "Location")] String),
}

/// The mailed reset link always redirects.
#[derive(ApiResponse)]
pub enum ResetLinkRedirect {
    /// To `callbackURL?token=…` when the token is usable, else to
    /// `callbackURL?error=INVALID_TOKEN`.
    #[oai(status = 302)]
    Redirect(#[oai(header = "Location")] String),
}

/// `url` with one more query parameter.
fn with_param(url: &str, key: &str, value: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!(
        "{url}{sep}{key}={}",
        service::token::encode_uri_component(value)
    )
}

#[OpenApi(prefix_path = "/api/auth")]
impl FlowsApi {
    /// Mail a password-reset link
    ///
    /// Same answer whether or not the address has an account; the mail goes only to a real one.
    #[oai(
        path = "/request-password-reset",
        method = "post",
        operation_id = "requestPasswordReset",
        tag = "Tag::Authentication"
    )]
    async fn request_password_reset(
        &self,
        _auth: NoSession,
        body: Body<RequestPasswordResetBody>,
    ) -> Result<ResetMailed, Errors<JsonBody>> {
        self.state
            .auth
            .request_password_reset(&body.email, body.redirect_to.as_deref())
            .await?;
        Ok(StatusMessage {
            status: true,
            message: "If this email exists in our system, check your email for the reset link"
                .into(),
        }
        .into())
    }

    /// The mailed reset link
    ///
    /// Redirects to `callbackURL?token=…` when the token is usable, else `callbackURL?error=INVALID_TOKEN`.
    /// Does not use the token up.
    #[oai(
        path = "/reset-password/:token",
        method = "get",
        operation_id = "resetPasswordCallback",
        tag = "Tag::Authentication"
    )]
    async fn reset_password_callback(
        &self,
        _auth: NoSession,
        /// The token from the mailed link.
        token: Path<String>,
        /// Where the link lands: with `?token=` when the token is usable, else `?error=INVALID_TOKEN`.
        #[oai(name = "callbackURL")]
        callback_url: Query<Checked<String>>,
        _no_referrer: With<NoReferrer>,
    ) -> Result<ResetLinkRedirect, Errors<NoBody>> {
        let Some(callback) = callback_url.0 .0.filter(|c| !c.is_empty()) else {
            return Err(ApiError::invalid(
                "query.callbackURL",
                "Invalid input: expected string, received undefined",
            )
            .into());
        };
        let location = if self.state.auth.reset_token_is_valid(&token).await? {
            with_param(&callback, "token", &token)
        } else {
            with_param(&callback, "error", "INVALID_TOKEN")
        };
        Ok(ResetLinkRedirect::Redirect(location))
    }

    /// Set a new password with a reset token
    ///
    /// The token works once; every session of the user ends.
    #[oai(
        path = "/reset-password",
        method = "post",
        operation_id = "resetPassword",
        tag = "Tag::Authentication"
    )]
    async fn reset_password(
        &self,
        _auth: NoSession,
        body: Body<ResetPasswordBody>,
        /// The token, when the body has none.
        token: Query<Option<String>>,
    ) -> Result<PasswordReset, Errors<JsonBody>> {
        let Some(token) = body.token.clone().or(token.0).filter(|t| !t.is_empty()) else {
            return Err(service::Error::InvalidToken.into());
        };
        self.state
            .auth
            .reset_password(&token, &body.new_password)
            .await?;
        Ok(StatusTrue { status: true }.into())
    }

    /// Mail an e-mail verification link
    ///
    /// With a session: for the session's own, unverified address. Without: always success.
    #[oai(
        path = "/send-verification-email",
        method = "post",
        operation_id = "sendVerificationEmail",
        tag = "Tag::User"
    )]
    async fn send_verification_email(
        &self,
        req: &Request,
        _auth: OptionalSession,
        body: Body<SendVerificationEmailBody>,
    ) -> Result<Done, Errors<JsonBody>> {
        let current = self.state.resolve(req, true).await?;
        self.state
            .auth
            .send_verification_email(current.as_ref(), &body.email, body.callback_url.as_deref())
            .await?;
        Ok(StatusTrue { status: true }.into())
    }

    /// The mailed verification link
    ///
    /// Verifies the address (or completes an e-mail change). With `callbackURL`, redirects there
    /// (with `?error=CODE` on failure); without, answers JSON (401 on a bad token).
    #[oai(
        path = "/verify-email",
        method = "get",
        operation_id = "verifyEmail",
        tag = "Tag::User"
    )]
    async fn verify_email(
        &self,
        _auth: NoSession,
        /// The token from the mailed link.
        token: Query<String>,
        /// Where to redirect afterwards (with `?error=CODE` on failure).
        #[oai(name = "callbackURL")]
        callback_url: Query<Option<String>>,
        _no_referrer: With<NoReferrer>,
    ) -> Result<JsonOrRedirect<VerifyEmailResponse>, Errors<NoBody>> {
        let callback = callback_url.0.filter(|c| !c.is_empty());
        match self.state.auth.verify_email(&token).await {
            Ok(outcome) => {
                let user = match outcome {
                    Verified::Email => None,
                    Verified::Changed(user) => Some(User::from(&user)),
                };
                Ok(match callback {
                    Some(cb) => JsonOrRedirect::Redirect(cb),
                    None => JsonOrRedirect::Json(Json(VerifyEmailResponse {
                        status: true,
                        user: Nullable(user),
                    })),
                })
            }
            Err(
                e @ (service::Error::InvalidToken
                | service::Error::TokenExpired
                | service::Error::UserNotFound),
            ) => match callback {
                Some(cb) => Ok(JsonOrRedirect::Redirect(with_param(
                    &cb,
                    "error",
                    e.code().unwrap_or("INVALID_TOKEN"),
                ))),
                None => Err(ApiError::Unauthorized(Json(ErrorBody::new(
                    e.code().unwrap_or("INVALID_TOKEN"),
                    &e.to_string(),
                )))
                .into()),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// Change the caller's e-mail address
    ///
    /// Needs a fresh session. Mails a confirmation link to the new address; the address changes
    /// when it is followed. A taken address answers success and changes nothing.
    #[oai(
        path = "/change-email",
        method = "post",
        operation_id = "changeEmail",
        tag = "Tag::User"
    )]
    async fn change_email(
        &self,
        body: Body<ChangeEmailBody>,
        caller: FreshCaller,
    ) -> Result<Done, Errors<JsonBody>> {
        self.state
            .auth
            .change_email(&caller, &body.new_email, body.callback_url.as_deref())
            .await?;
        Ok(StatusTrue { status: true }.into())
    }

    /// Delete the caller's account
    ///
    /// With `password` (checked), with a mailed `token`, or from a fresh session; or, when
    /// confirmation by mail is configured, mails a link and deletes nothing yet.
    #[oai(
        path = "/delete-user",
        method = "post",
        operation_id = "deleteUser",
        tag = "Tag::User"
    )]
    async fn delete_user(
        &self,
        req: &Request,
        body: Body<Option<DeleteUserBody>>,
        _enabled: DeletionEnabled,
        caller: Caller,
    ) -> Result<UserDeletion, Errors<JsonBody, 404>> {
        let body = body.0.unwrap_or_default();
        let outcome = self
            .state
            .auth
            .delete_user(
                &caller,
                body.password.as_deref(),
                body.token.as_deref(),
                body.callback_url.as_deref(),
            )
            .await?;
        let message = match outcome {
            Deletion::Deleted => {
                self.state.cookies.clear(&Outbox::of(req));
                "User deleted"
            }
            Deletion::VerificationSent => "Verification email sent",
        };
        Ok(SuccessMessage {
            success: true,
            message: message.into(),
        }
        .into())
    }

    /// The mailed account-deletion link
    ///
    /// Deletes the caller's account when the token is theirs (the link must be opened where its
    /// owner is signed in); redirects to `callbackURL` when given.
    #[oai(
        path = "/delete-user/callback",
        method = "get",
        operation_id = "deleteUserCallback",
        tag = "Tag::User"
    )]
    async fn delete_user_callback(
        &self,
        req: &Request,
        /// The token from the mailed link.
        token: Query<String>,
        /// Where to redirect afterwards.
        #[oai(name = "callbackURL")]
        callback_url: Query<Option<String>>,
        _no_referrer: With<NoReferrer>,
        _enabled: DeletionEnabled,
        caller: Caller,
    ) -> Result<JsonOrRedirect<SuccessMessage>, Errors<NoBody, 404>> {
        self.state
            .auth
            .delete_user_with_token(&token, &caller.user.id)
            .await
            .map_err(|e| match e {
                e @ (service::Error::InvalidToken | service::Error::TokenExpired) => {
                    let code = e.code().unwrap_or("INVALID_TOKEN");
                    ApiError::NotFound(Json(ErrorBody::new(code, &e.to_string())))
                }
                other => other.into(),
            })?;
        self.state.cookies.clear(&Outbox::of(req));
        Ok(match callback_url.0.filter(|c| !c.is_empty()) {
            Some(cb) => JsonOrRedirect::Redirect(cb),
            None => JsonOrRedirect::Json(Json(SuccessMessage {
                success: true,
                message: "User deleted".into(),
            })),
        })
    }
}
