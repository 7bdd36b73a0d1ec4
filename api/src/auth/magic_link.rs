//! Better Auth's magic-link plugin: `sign-in/magic-link` mails a link, `magic-link/verify`
//! follows it. Both answer 404 when magic links are off (as without the plugin).

use std::collections::HashMap;

use poem::{FromRequest, Request, RequestBody};
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use service::magic_link::LinkRequest;
use url::Url;

use super::dto::{Session, StatusTrue, User};
use super::{NoReferrer, NoSession, Tag, With};
use crate::error::{ApiError, Errors, JsonBody, NoBody};
use crate::outbox::Outbox;
use crate::state::AppState;
use crate::wire::{success, Body};

pub struct MagicLinkApi {
    pub state: AppState,
}

/// The magic-link routes exist only when magic links are on: 404 `NOT_FOUND` otherwise, before
/// the body is read.
pub struct MagicLinkEnabled;

impl<'a> FromRequest<'a> for MagicLinkEnabled {
    async fn from_request(req: &'a Request, _: &mut RequestBody) -> poem::Result<Self> {
        if !AppState::of(req).auth.cfg.magic_link.enabled {
            return Err(ApiError::from(service::Error::MagicLinkDisabled).into());
        }
        Ok(Self)
    }
}

/// `sign-in/magic-link`'s body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SignInMagicLinkBody {
    /// The address to mail the link to.
    pub email: String,
    /// The new user's name, when the link signs the address up.
    pub name: Option<String>,
    /// Where the link lands once signed in (default `/`); trusted origin or relative path.
    #[oai(rename = "callbackURL")]
    pub callback_url: Option<String>,
    /// Where the link lands when it signed the address up (default: `callbackURL`).
    #[oai(rename = "newUserCallbackURL")]
    pub new_user_callback_url: Option<String>,
    /// Where the link lands when it fails, with `?error=CODE` (default: `callbackURL`).
    #[oai(rename = "errorCallbackURL")]
    pub error_callback_url: Option<String>,
    /// Passed to Better Auth's `sendMagicLink`; accepted and not used.
    pub metadata: Option<HashMap<String, serde_json::Value>>,
}

/// `magic-link/verify` without `callbackURL`: the new session.
#[derive(Object, Debug)]
pub struct MagicLinkSession {
    /// The session's token (the cookie is set too).
    pub token: String,
    /// The signed-in user.
    pub user: User,
    /// The new session.
    pub session: Session,
}

success! {
    /// Always `{"status": true}`, whether or not the address has an account.
    pub MagicLinkMailed(StatusTrue)
}

/// Where a followed magic link lands.
#[derive(ApiResponse)]
pub enum MagicLinkLanding {
    /// Without `callbackURL`: signed in (cookie set); the token, user and session.
    #[oai(status = 200)]
    Json(Json<Box<MagicLinkSession>>),
    /// Signed in (cookie set): to `callbackURL`, or `newUserCallbackURL` for a new user. Failed:
    /// to `errorCallbackURL` (else `callbackURL`, else `/`) with `?error=INVALID_TOKEN` (unknown,
    /// used, superseded or expired link) or `?error=new_user_signup_disabled`.
    #[oai(status = 302)]
    Redirect(#[oai(header = "Location")] String),
}

/// `target` (default `/`) as Better Auth resolves it: `new URL(target, baseURL)`.
fn resolve(base: &str, target: Option<&str>) -> String {
    let target = target.filter(|t| !t.is_empty()).unwrap_or("/");
    Url::parse(base)
        .and_then(|b| b.join(target))
        .map(String::from)
        .unwrap_or_else(|_| target.to_owned())
}

/// `url` with its `error` query parameter set to `code` (`searchParams.set`).
fn with_error(url: &str, code: &str) -> String {
    let Ok(mut url) = Url::parse(url) else {
        return url.to_owned();
    };
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "error")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("error", code);
    url.into()
}

#[OpenApi(prefix_path = "/api/auth")]
impl MagicLinkApi {
    /// Mail a magic link
    ///
    /// Same answer, in the same time, whether or not the address has an account. The link works
    /// once, for `ORGAUTH_MAGIC_LINK_EXPIRES_IN` seconds (300), and a newer link voids it.
    #[oai(
        path = "/sign-in/magic-link",
        method = "post",
        operation_id = "signInWithMagicLink",
        tag = "Tag::Authentication"
    )]
    async fn sign_in_magic_link(
        &self,
        _enabled: MagicLinkEnabled,
        _auth: NoSession,
        body: Body<SignInMagicLinkBody>,
    ) -> Result<MagicLinkMailed, Errors<JsonBody, 404>> {
        let body = body.0;
        self.state
            .auth
            .request_magic_link(LinkRequest {
                email: &body.email,
                name: body.name.as_deref(),
                callback_url: body.callback_url.as_deref(),
                new_user_callback_url: body.new_user_callback_url.as_deref(),
                error_callback_url: body.error_callback_url.as_deref(),
            })
            .await?;
        Ok(StatusTrue { status: true }.into())
    }

    /// The mailed magic link
    ///
    /// Uses the link up and signs its address in (up, the first time, unless that is off); on an
    /// address never verified, first removes the user's other accounts and sessions. Redirects
    /// to the callback URL with the session cookie, or answers the session as JSON without
    /// `callbackURL`; a failure redirects with `?error=CODE`.
    #[oai(
        path = "/magic-link/verify",
        method = "get",
        operation_id = "verifyMagicLink",
        tag = "Tag::Authentication"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn verify_magic_link(
        &self,
        req: &Request,
        _enabled: MagicLinkEnabled,
        _auth: NoSession,
        /// The token from the mailed link.
        token: Query<String>,
        /// Where to land once signed in; without it the answer is JSON.
        #[oai(name = "callbackURL")]
        callback_url: Query<Option<String>>,
        /// Where to land when the link signed the address up (default: `callbackURL`).
        #[oai(name = "newUserCallbackURL")]
        new_user_callback_url: Query<Option<String>>,
        /// Where to land on failure, with `?error=CODE` (default: `callbackURL`).
        #[oai(name = "errorCallbackURL")]
        error_callback_url: Query<Option<String>>,
        _no_referrer: With<NoReferrer>,
    ) -> Result<MagicLinkLanding, Errors<NoBody, 404>> {
        let outbox = Outbox::of(req);
        outbox.no_store();
        let base = &self.state.auth.cfg.api_base_url;
        let given = callback_url.0.filter(|c| !c.is_empty());
        let callback = resolve(base, given.as_deref());
        let on_error = resolve(base, error_callback_url.0.as_deref().or(Some(&callback)));
        let signed = match self
            .state
            .auth
            .verify_magic_link(&token, &self.state.client_info(req))
            .await
        {
            Ok(signed) => signed,
            Err(
                e @ (service::Error::InvalidToken
                | service::Error::MagicLinkSignUpDisabled
                | service::Error::UserNotFound),
            ) => {
                let code = match e {
                    service::Error::UserNotFound => "user_not_found",
                    other => other.code().unwrap_or("INVALID_TOKEN"),
                };
                return Ok(MagicLinkLanding::Redirect(with_error(&on_error, code)));
            }
            Err(e) => return Err(e.into()),
        };
        self.state.set_session_cookie(&outbox, &signed.token, true);
        if given.is_none() {
            return Ok(MagicLinkLanding::Json(Json(Box::new(MagicLinkSession {
                user: User::from(&signed.user),
                session: Session::new(&signed.session, signed.token.clone()),
                token: signed.token,
            }))));
        }
        Ok(MagicLinkLanding::Redirect(match signed.is_new_user {
            true => resolve(base, new_user_callback_url.0.as_deref().or(Some(&callback))),
            false => callback,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::{resolve, with_error};

    #[test]
    fn targets_resolve_as_better_auth_resolves_them() {
        let base = "http://localhost:3000/api/auth";
        assert_eq!(resolve(base, None), "http://localhost:3000/");
        assert_eq!(resolve(base, Some("")), "http://localhost:3000/");
        assert_eq!(
            resolve(base, Some("/dashboard?tab=1")),
            "http://localhost:3000/dashboard?tab=1"
        );
        assert_eq!(
            resolve(base, Some("https://app.example.com/welcome")),
            "https://app.example.com/welcome"
        );
        assert_eq!(
            with_error("http://localhost:3000/in?error=old&x=a+b", "INVALID_TOKEN"),
            "http://localhost:3000/in?x=a+b&error=INVALID_TOKEN"
        );
    }
}
