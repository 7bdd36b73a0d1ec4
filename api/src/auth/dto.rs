//! Request and response bodies of the core auth routes, in the contract's shapes (camelCase,
//! dates as `YYYY-MM-DDTHH:mm:ss.sssZ`, absent optional values as `null`), and their success
//! responses.

use std::borrow::Cow;

use chrono::NaiveDateTime;
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{
    Any, MaybeUndefined, ParseError, ParseFromJSON, ParseResult, ToJSON, Type,
};
use poem_openapi::Object;
use serde_json::Value;

use crate::wire::{success, Nullable};

/// A stored UTC time in the contract's date format.
pub fn date(t: NaiveDateTime) -> String {
    // Not `format(...)`: parsing a strftime pattern per date showed up in profiles.
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A stored time as the contract sends it ([`date`]), documented as `format: date-time`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timestamp(pub String);

impl From<NaiveDateTime> for Timestamp {
    fn from(t: NaiveDateTime) -> Self {
        Self(date(t))
    }
}

impl Type for Timestamp {
    const IS_REQUIRED: bool = true;

    type RawValueType = String;

    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        "string_date-time".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "date-time")))
    }

    fn as_raw_value(&self) -> Option<&String> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a String> + 'a> {
        Box::new(std::iter::once(&self.0))
    }
}

impl ParseFromJSON for Timestamp {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        String::parse_from_json(value)
            .map(Self)
            .map_err(ParseError::propagate)
    }
}

impl ToJSON for Timestamp {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

/// A user as the contract shows one.
#[derive(Object, Debug, Clone)]
#[oai(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub name: String,
    pub email: String,
    pub email_verified: bool,
    pub image: Nullable<String>,
    /// `YYYY-MM-DDTHH:mm:ss.sssZ`
    pub created_at: Timestamp,
    /// `YYYY-MM-DDTHH:mm:ss.sssZ`
    pub updated_at: Timestamp,
}

impl From<&entity::user::Model> for User {
    fn from(u: &entity::user::Model) -> Self {
        Self {
            id: u.id.clone(),
            name: u.name.clone(),
            email: u.email.clone(),
            email_verified: u.email_verified,
            image: u.image.clone().into(),
            created_at: u.created_at.into(),
            updated_at: u.updated_at.into(),
        }
    }
}

/// A session as the contract shows one. `token` is the caller's own token for the caller's
/// session; for other sessions it is a handle that `revoke-session` accepts and nothing else does.
#[derive(Object, Debug, Clone)]
#[oai(rename_all = "camelCase")]
pub struct Session {
    pub id: String,
    pub token: String,
    pub user_id: String,
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub ip_address: Nullable<String>,
    pub user_agent: Nullable<String>,
    pub active_organization_id: Nullable<String>,
    pub active_team_id: Nullable<String>,
}

impl Session {
    pub fn new(s: &entity::session::Model, token: String) -> Self {
        Self {
            id: s.id.clone(),
            token,
            user_id: s.user_id.clone(),
            expires_at: s.expires_at.into(),
            created_at: s.created_at.into(),
            updated_at: s.updated_at.into(),
            ip_address: s.ip_address.clone().into(),
            user_agent: s.user_agent.clone().into(),
            active_organization_id: s.active_organization_id.clone().into(),
            active_team_id: s.active_team_id.clone().into(),
        }
    }
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SessionAndUser {
    pub session: Session,
    pub user: User,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SignUpBody {
    /// Display name; may be empty.
    pub name: String,
    /// Trimmed and lower-cased before use.
    pub email: String,
    /// 8 to 128 characters; no composition rules.
    pub password: String,
    pub image: Option<String>,
    #[oai(rename = "callbackURL")]
    pub callback_url: Option<String>,
    /// `false`: the session ends with the browser session (and lasts at most one day).
    pub remember_me: Option<bool>,
}

/// `token` is null when sign-up does not sign in (e-mail verification required).
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct TokenAndUser {
    pub token: Nullable<String>,
    pub user: User,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SignInBody {
    pub email: String,
    pub password: String,
    #[oai(rename = "callbackURL")]
    pub callback_url: Option<String>,
    /// Default true.
    pub remember_me: Option<bool>,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SignInResponse {
    /// True when a `callbackURL` was given; the client then navigates to `url`.
    pub redirect: bool,
    pub token: String,
    #[oai(skip_serializing_if_is_none)]
    pub url: Option<String>,
    pub user: User,
}

#[derive(Object, Debug)]
pub struct Success {
    pub success: bool,
}

#[derive(Object, Debug)]
pub struct StatusTrue {
    pub status: bool,
}

/// `sign-out`'s optional body. Its fields only matter to an OpenID provider's logout, which
/// orgauth does not do; they are read so that a malformed body is refused as Better Auth does.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SignOutBody {
    /// Where to go after the provider's logout (not used).
    #[oai(rename = "callbackURL")]
    pub callback_url: Option<String>,
    /// Return the provider's logout URL instead of redirecting (not used).
    pub disable_redirect: Option<bool>,
    /// State for the provider's logout (not used).
    pub state: Option<String>,
}

/// `verify-password`'s body.
#[derive(Object, Debug)]
pub struct VerifyPasswordBody {
    /// The signed-in user's password.
    pub password: String,
}

/// `update-session`'s body: additional session fields only. This deployment defines none, and the
/// organization plugin's two are managed by the server.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct UpdateSessionBody {
    /// Refused when set (`FIELD_NOT_ALLOWED`): `organization/set-active` sets it.
    pub active_organization_id: Option<Any<Value>>,
    /// Refused when set (`FIELD_NOT_ALLOWED`): `organization/set-active-team` sets it.
    pub active_team_id: Option<Any<Value>>,
}

/// The session after `update-session`.
#[derive(Object, Debug)]
pub struct SessionOnly {
    pub session: Session,
}

#[derive(Object, Debug)]
pub struct RevokeSessionBody {
    /// A session token, or a handle from `list-sessions`.
    pub token: String,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct UpdateUserBody {
    pub name: Option<String>,
    /// A URL, or null to remove the image.
    #[oai(nullable)]
    pub image: MaybeUndefined<String>,
    /// Refused: the email changes through `change-email`.
    pub email: Option<String>,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct ChangePasswordBody {
    pub new_password: String,
    pub current_password: String,
    /// End every session of the user and open a new one for this client.
    pub revoke_other_sessions: Option<bool>,
}

/// A linked account, without its secrets.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct Account {
    pub id: String,
    pub provider_id: String,
    pub account_id: String,
    pub user_id: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub scopes: Vec<String>,
}

impl From<&entity::account::Model> for Account {
    fn from(a: &entity::account::Model) -> Self {
        Self {
            id: a.id.clone(),
            provider_id: a.provider_id.clone(),
            account_id: a.account_id.clone(),
            user_id: a.user_id.clone(),
            created_at: a.created_at.into(),
            updated_at: a.updated_at.into(),
            scopes: scopes(a.scope.as_deref()),
        }
    }
}

/// The stored, comma-separated `scope` as a list.
pub fn scopes(scope: Option<&str>) -> Vec<String> {
    scope
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        // Not `s.is_empty()`: for a `&&str` that is poem-openapi's `Type::is_empty`, false for
        // every string.
        .filter(|s| !str::is_empty(s))
        .map(str::to_owned)
        .collect()
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct RequestPasswordResetBody {
    pub email: String,
    /// Where the mailed link finally lands (with `?token=`); must be trusted.
    pub redirect_to: Option<String>,
}

#[derive(Object, Debug)]
pub struct StatusMessage {
    pub status: bool,
    pub message: String,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct ResetPasswordBody {
    pub new_password: String,
    /// The token from the mailed link (or give it as `?token=`).
    pub token: Option<String>,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SendVerificationEmailBody {
    pub email: String,
    #[oai(rename = "callbackURL")]
    pub callback_url: Option<String>,
}

/// `user` is null for a plain verification and the updated user after an e-mail change.
#[derive(Object, Debug)]
pub struct VerifyEmailResponse {
    pub status: bool,
    pub user: Nullable<User>,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct ChangeEmailBody {
    pub new_email: String,
    #[oai(rename = "callbackURL")]
    pub callback_url: Option<String>,
}

#[derive(Object, Debug, Default)]
#[oai(rename_all = "camelCase")]
pub struct DeleteUserBody {
    pub password: Option<String>,
    pub token: Option<String>,
    #[oai(rename = "callbackURL")]
    pub callback_url: Option<String>,
}

#[derive(Object, Debug)]
pub struct SuccessMessage {
    pub success: bool,
    pub message: String,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct UnlinkAccountBody {
    /// The account's row id (`id` in `list-accounts`), despite the name.
    pub account_id: String,
}

success! {
    /// The new user, and the session's `token` (cookie set); `token` is null, and there is no
    /// session, when the email must be verified first.
    pub SignedUp(TokenAndUser) + session
}

success! {
    /// Signed in: the session's token (cookie set) and the user.
    pub SignedIn(SignInResponse) + session
}

success! {
    /// Always `{"success": true}`; the session cookies are cleared.
    pub SignedOut(Success)
}

success! {
    /// The session and its user, or `null` without a live session.
    pub CurrentSession(Nullable<SessionAndUser>) + session
}

success! {
    /// The session with its new fields.
    pub SessionUpdated(SessionOnly) + session
}

success! {
    /// The caller's live sessions.
    pub Sessions(Vec<Session>) + session
}

success! {
    /// Done; always `{"status": true}`.
    pub Done(StatusTrue) + session
}

success! {
    /// The user; with `revokeOtherSessions`, the new session's `token` (cookie set), else null.
    pub PasswordChanged(TokenAndUser) + session
}

success! {
    /// The caller's linked accounts.
    pub Accounts(Vec<Account>) + session
}

success! {
    /// Always this answer, whether or not the address has an account.
    pub ResetMailed(StatusMessage)
}

success! {
    /// The password is changed and every session of the user has ended.
    pub PasswordReset(StatusTrue)
}

success! {
    /// `User deleted` (cookies cleared), or `Verification email sent` when the deletion waits for
    /// the mailed link.
    pub UserDeletion(SuccessMessage) + session
}

#[cfg(test)]
mod tests {
    use super::{date, scopes};
    use chrono::Timelike;

    #[test]
    fn scopes_leave_out_empty_parts() {
        assert_eq!(scopes(None), Vec::<String>::new());
        assert_eq!(
            scopes(Some("read:user, ,user:email")),
            ["read:user", "user:email"]
        );
    }

    #[test]
    fn dates_have_milliseconds_and_z() {
        let t = chrono::NaiveDate::from_ymd_opt(2026, 1, 2)
            .unwrap()
            .and_hms_milli_opt(3, 4, 5, 60)
            .unwrap();
        assert_eq!(date(t), "2026-01-02T03:04:05.060Z");
        assert_eq!(
            date(t.with_nanosecond(0).unwrap()),
            "2026-01-02T03:04:05.000Z"
        );
    }
}
