//! Request and response bodies of the core auth routes, in the contract's shapes (camelCase,
//! dates as `YYYY-MM-DDTHH:mm:ss.sssZ`, absent optional values as `null`), and their success
//! responses.

use std::borrow::Cow;

use chrono::NaiveDateTime;
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{MaybeUndefined, ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
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

crate::wire::lean_string!(Timestamp);

impl ToJSON for Timestamp {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

/// A user as the contract shows one.
#[derive(Object, Debug, Clone)]
#[oai(rename_all = "camelCase")]
pub struct User {
    /// The user's id.
    pub id: String,
    /// Their display name.
    pub name: String,
    /// Their e-mail address (lower case).
    pub email: String,
    /// Whether they proved the address.
    pub email_verified: bool,
    /// A URL of their picture, or null.
    pub image: Nullable<String>,
    /// `YYYY-MM-DDTHH:mm:ss.sssZ`
    pub created_at: Timestamp,
    /// `YYYY-MM-DDTHH:mm:ss.sssZ`
    pub updated_at: Timestamp,
    /// The admin plugin's roles of the user, comma-joined (null: the default role).
    pub role: Nullable<String>,
    /// Whether the user is banned (the admin plugin).
    pub banned: Nullable<bool>,
    /// Why, when banned.
    pub ban_reason: Nullable<String>,
    /// When the ban ends (null: never, or not banned).
    pub ban_expires: Nullable<Timestamp>,
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
            role: u.role.clone().into(),
            banned: u.banned.into(),
            ban_reason: u.ban_reason.clone().into(),
            ban_expires: u.ban_expires.map(Timestamp::from).into(),
        }
    }
}

/// A session as the contract shows one. `token` is the caller's own token for the caller's
/// session; for other sessions it is a handle that `revoke-session` accepts and nothing else does.
#[derive(Object, Debug, Clone)]
#[oai(rename_all = "camelCase")]
pub struct Session {
    /// The session's id.
    pub id: String,
    /// The caller's token for the caller's session; for the others, a handle for `revoke-session`.
    pub token: String,
    /// Whose session it is.
    pub user_id: String,
    /// When it ends unless renewed.
    pub expires_at: Timestamp,
    /// When it was opened (sign-in).
    pub created_at: Timestamp,
    /// When it was last renewed.
    pub updated_at: Timestamp,
    /// The client's address when it was opened, or null.
    pub ip_address: Nullable<String>,
    /// The client's user agent when it was opened, or null.
    pub user_agent: Nullable<String>,
    /// The session's active organization, or null.
    pub active_organization_id: Nullable<String>,
    /// The session's active team (of its active organization), or null.
    pub active_team_id: Nullable<String>,
    /// Who is impersonating the user through this session (the admin plugin), or null.
    pub impersonated_by: Nullable<String>,
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
            impersonated_by: s.impersonated_by.clone().into(),
        }
    }
}

/// A live session with its user.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SessionAndUser {
    /// The session.
    pub session: Session,
    /// Its user.
    pub user: User,
}

// get-session's answer is written without a JSON tree (`wire::Lean`): it is the most frequent
// request of all. Keys sorted, as poem-openapi's `ToJSON` writes them (checked in the tests).
crate::wire::lean_object!(User, |u| {
    "banExpires": &u.ban_expires,
    "banReason": &u.ban_reason,
    "banned": &u.banned,
    "createdAt": &u.created_at,
    "email": &u.email,
    "emailVerified": &u.email_verified,
    "id": &u.id,
    "image": &u.image,
    "name": &u.name,
    "role": &u.role,
    "updatedAt": &u.updated_at,
});

crate::wire::lean_object!(Session, |s| {
    "activeOrganizationId": &s.active_organization_id,
    "activeTeamId": &s.active_team_id,
    "createdAt": &s.created_at,
    "expiresAt": &s.expires_at,
    "id": &s.id,
    "impersonatedBy": &s.impersonated_by,
    "ipAddress": &s.ip_address,
    "token": &s.token,
    "updatedAt": &s.updated_at,
    "userAgent": &s.user_agent,
    "userId": &s.user_id,
});

crate::wire::lean_object!(SessionAndUser, |a| {
    "session": &a.session,
    "user": &a.user,
});

/// `sign-up/email`'s body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SignUpBody {
    /// Display name; may be empty.
    pub name: String,
    /// Trimmed and lower-cased before use.
    pub email: String,
    /// 8 to 128 characters; no composition rules.
    pub password: String,
    /// A URL of the user's picture.
    pub image: Option<String>,
    /// Where the e-mail verification link lands (trusted origin or relative path).
    #[oai(rename = "callbackURL")]
    pub callback_url: Option<String>,
    /// `false`: the session ends with the browser session (and lasts at most one day).
    pub remember_me: Option<bool>,
    #[oai(flatten)]
    pub admin: AdminFields,
}

/// The admin plugin's user fields, which only its routes set: a core route given one that is set
/// refuses it with `FIELD_NOT_ALLOWED`, as Better Auth does (a `null`, `false`, `0` or `""` is
/// ignored).
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct AdminFields {
    /// Refused when set (`FIELD_NOT_ALLOWED`): the admin plugin's `set-role` sets it.
    pub role: Option<Refused>,
    /// Refused when set (`FIELD_NOT_ALLOWED`): the admin plugin's `ban-user` sets it.
    pub banned: Option<Refused<bool>>,
    /// Refused when set (`FIELD_NOT_ALLOWED`).
    pub ban_reason: Option<Refused>,
    /// Refused when set (`FIELD_NOT_ALLOWED`).
    pub ban_expires: Option<Refused>,
}

impl AdminFields {
    /// The first field that is set, in Better Auth's order, refused.
    pub fn refuse(&self) -> Result<(), service::Error> {
        let fields = [
            ("role", self.role.as_ref().map(|v| &v.0)),
            ("banned", self.banned.as_ref().map(|v| &v.0)),
            ("banReason", self.ban_reason.as_ref().map(|v| &v.0)),
            ("banExpires", self.ban_expires.as_ref().map(|v| &v.0)),
        ];
        match fields
            .into_iter()
            .find(|(_, v)| v.is_some_and(crate::wire::is_truthy))
        {
            Some((name, _)) => Err(service::Error::FieldNotAllowed(name)),
            None => Ok(()),
        }
    }
}

/// `token` is null when sign-up does not sign in (e-mail verification required).
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct TokenAndUser {
    /// The new session's token, or null when there is none.
    pub token: Nullable<String>,
    /// The user.
    pub user: User,
}

/// `sign-in/email`'s body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SignInBody {
    /// The account's e-mail address.
    pub email: String,
    /// Its password.
    pub password: String,
    /// Where the client goes after signing in (trusted origin or relative path).
    #[oai(rename = "callbackURL")]
    pub callback_url: Option<String>,
    /// Default true.
    pub remember_me: Option<bool>,
}

/// A password sign-in's answer.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SignInResponse {
    /// True when a `callbackURL` was given; the client then navigates to `url`.
    pub redirect: bool,
    /// The new session's token (also set as the cookie).
    pub token: String,
    /// `callbackURL`, when given.
    #[oai(skip_serializing_if_is_none)]
    pub url: Option<String>,
    /// The signed-in user.
    pub user: User,
}

/// `{"success": true}`.
#[derive(Object, Debug)]
pub struct Success {
    /// Always true.
    pub success: bool,
}

/// `{"status": true}`: done.
#[derive(Object, Debug)]
pub struct StatusTrue {
    /// Always true.
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
    pub active_organization_id: Option<Refused>,
    /// Refused when set (`FIELD_NOT_ALLOWED`): `organization/set-active-team` sets it.
    pub active_team_id: Option<Refused>,
}

/// A field clients may not set: documented as the `T` it holds (nullable), read as any JSON value,
/// since Better Auth refuses any value that is set (not `null`, `false`, `0` or `""`) with
/// `FIELD_NOT_ALLOWED` rather than a type error (a value of another JSON type than `T` is
/// refused as one, by `wire::Body`).
#[derive(Clone)]
pub struct Refused<T = String>(pub Value, std::marker::PhantomData<T>);

impl<T> std::fmt::Debug for Refused<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<T: Type> Type for Refused<T> {
    const IS_REQUIRED: bool = true;

    type RawValueType = Value;

    type RawElementValueType = Value;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    /// `T`'s schema, nullable.
    fn schema_ref() -> MetaSchemaRef {
        match T::schema_ref() {
            MetaSchemaRef::Inline(schema) => MetaSchemaRef::Inline(Box::new(MetaSchema {
                nullable: true,
                ..*schema
            })),
            reference => reference,
        }
    }

    fn as_raw_value(&self) -> Option<&Value> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Value> + 'a> {
        Box::new(std::iter::once(&self.0))
    }
}

impl<T: Type> ParseFromJSON for Refused<T> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        Ok(Self(value.unwrap_or_default(), std::marker::PhantomData))
    }
}

impl<T: Type> ToJSON for Refused<T> {
    fn to_json(&self) -> Option<Value> {
        Some(self.0.clone())
    }
}

/// The session after `update-session`.
#[derive(Object, Debug)]
pub struct SessionOnly {
    /// The session.
    pub session: Session,
}

/// `revoke-session`'s body.
#[derive(Object, Debug)]
pub struct RevokeSessionBody {
    /// A session token, or a handle from `list-sessions`.
    pub token: String,
}

/// `update-user`'s body: the fields to change; unknown keys are ignored.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct UpdateUserBody {
    /// A new display name.
    pub name: Option<String>,
    /// A URL, or null to remove the image.
    #[oai(nullable)]
    pub image: MaybeUndefined<String>,
    /// Refused: the email changes through `change-email`.
    pub email: Option<String>,
    #[oai(flatten)]
    pub admin: AdminFields,
}

/// `change-password`'s body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct ChangePasswordBody {
    /// The new password: 8 to 128 characters.
    pub new_password: String,
    /// The current password.
    pub current_password: String,
    /// End every session of the user and open a new one for this client.
    pub revoke_other_sessions: Option<bool>,
}

/// A linked account, without its secrets.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct Account {
    /// The account's row id (what `unlink-account` takes).
    pub id: String,
    /// `credential` for the password, else the social provider's id.
    pub provider_id: String,
    /// The provider's id for the user (the user id for `credential`).
    pub account_id: String,
    /// Whose account it is.
    pub user_id: String,
    /// When it was linked.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// The scopes granted by the provider.
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

/// `request-password-reset`'s body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct RequestPasswordResetBody {
    /// The account's e-mail address.
    pub email: String,
    /// Where the mailed link finally lands (with `?token=`); must be trusted.
    pub redirect_to: Option<String>,
}

/// A confirmation with a message for people.
#[derive(Object, Debug)]
pub struct StatusMessage {
    /// Always true.
    pub status: bool,
    /// What happened, for people.
    pub message: String,
}

/// `reset-password`'s body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct ResetPasswordBody {
    /// The new password: 8 to 128 characters.
    pub new_password: String,
    /// The token from the mailed link (or give it as `?token=`).
    pub token: Option<String>,
}

/// `send-verification-email`'s body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SendVerificationEmailBody {
    /// The address to verify (the session's own, with a session).
    pub email: String,
    /// Where the link lands (trusted origin or relative path).
    #[oai(rename = "callbackURL")]
    pub callback_url: Option<String>,
}

/// `user` is null for a plain verification and the updated user after an e-mail change.
#[derive(Object, Debug)]
pub struct VerifyEmailResponse {
    /// Always true.
    pub status: bool,
    /// The updated user after an e-mail change, else null.
    pub user: Nullable<User>,
}

/// `change-email`'s body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct ChangeEmailBody {
    /// The new address.
    pub new_email: String,
    /// Where the confirmation link lands (trusted origin or relative path).
    #[oai(rename = "callbackURL")]
    pub callback_url: Option<String>,
}

/// `delete-user`'s body: a password, a mailed token, or neither (a fresh session).
#[derive(Object, Debug, Default)]
#[oai(rename_all = "camelCase")]
pub struct DeleteUserBody {
    /// The user's password, checked.
    pub password: Option<String>,
    /// The token of a mailed deletion link.
    pub token: Option<String>,
    /// Where the mailed deletion link lands.
    #[oai(rename = "callbackURL")]
    pub callback_url: Option<String>,
}

/// A confirmation with a message for people.
#[derive(Object, Debug)]
pub struct SuccessMessage {
    /// Always true.
    pub success: bool,
    /// What happened, for people.
    pub message: String,
}

/// `unlink-account`'s body.
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
    pub CurrentSession(Nullable<SessionAndUser>) + session + lean
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
    use super::{date, scopes, Session, SessionAndUser, Timestamp, User};
    use crate::wire::{same_as_to_json, Nullable};
    use chrono::Timelike;

    fn answer(optional: Option<&str>, banned: Option<bool>) -> SessionAndUser {
        let text = |s: &str| optional.map(|o| format!("{s} {o}")).into();
        let at = |s: &str| Timestamp(s.to_owned());
        SessionAndUser {
            session: Session {
                id: "s1".into(),
                token: "tok.sig".into(),
                user_id: "u1".into(),
                expires_at: at("2026-12-10T07:00:00.123Z"),
                created_at: at("2026-12-03T07:00:00.123Z"),
                updated_at: at("2026-12-03T07:00:00.124Z"),
                ip_address: text("127.0.0.1"),
                user_agent: text("Mozilla/5.0 \"quoted\""),
                active_organization_id: text("org"),
                active_team_id: text("team"),
                impersonated_by: text("admin"),
            },
            user: User {
                id: "u1".into(),
                name: "Zoë \"Z\" O'Brien\n\t\u{1}\u{1F600}\\".into(),
                email: "zoe@example.com".into(),
                email_verified: banned.is_some(),
                image: text("https://example.com/a.png"),
                created_at: at("2026-12-01T00:00:00.000Z"),
                updated_at: at("2026-12-02T00:00:00.000Z"),
                role: text("admin,user"),
                banned: banned.into(),
                ban_reason: text("spam"),
                ban_expires: optional.map(|_| at("2027-01-01T00:00:00.000Z")).into(),
            },
        }
    }

    #[test]
    fn get_session_writes_what_to_json_writes() {
        for (optional, banned) in [
            (None, None),
            (Some("x"), Some(true)),
            (Some(""), Some(false)),
        ] {
            assert!(same_as_to_json(&Nullable(Some(answer(optional, banned)))));
        }
        assert!(same_as_to_json(&Nullable::<SessionAndUser>(None)));
    }

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
