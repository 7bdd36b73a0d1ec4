//! Request and response bodies of the core auth routes, in the contract's shapes (camelCase,
//! dates as `YYYY-MM-DDTHH:mm:ss.sssZ`, absent optional values as `null`).

use chrono::NaiveDateTime;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::Object;

/// A stored UTC time in the contract's date format.
pub fn date(t: NaiveDateTime) -> String {
    t.and_utc().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A user as the contract shows one.
#[derive(Object, Debug, Clone)]
#[oai(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub name: String,
    pub email: String,
    pub email_verified: bool,
    pub image: Option<String>,
    /// `YYYY-MM-DDTHH:mm:ss.sssZ`
    pub created_at: String,
    /// `YYYY-MM-DDTHH:mm:ss.sssZ`
    pub updated_at: String,
}

impl From<&entity::user::Model> for User {
    fn from(u: &entity::user::Model) -> Self {
        Self {
            id: u.id.clone(),
            name: u.name.clone(),
            email: u.email.clone(),
            email_verified: u.email_verified,
            image: u.image.clone(),
            created_at: date(u.created_at),
            updated_at: date(u.updated_at),
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
    pub expires_at: String,
    pub created_at: String,
    pub updated_at: String,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub active_organization_id: Option<String>,
    pub active_team_id: Option<String>,
}

impl Session {
    pub fn new(s: &entity::session::Model, token: String) -> Self {
        Self {
            id: s.id.clone(),
            token,
            user_id: s.user_id.clone(),
            expires_at: date(s.expires_at),
            created_at: date(s.created_at),
            updated_at: date(s.updated_at),
            ip_address: s.ip_address.clone(),
            user_agent: s.user_agent.clone(),
            active_organization_id: s.active_organization_id.clone(),
            active_team_id: s.active_team_id.clone(),
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
    pub token: Option<String>,
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
    pub created_at: String,
    pub updated_at: String,
    pub scopes: Vec<String>,
}

impl From<&entity::account::Model> for Account {
    fn from(a: &entity::account::Model) -> Self {
        Self {
            id: a.id.clone(),
            provider_id: a.provider_id.clone(),
            account_id: a.account_id.clone(),
            user_id: a.user_id.clone(),
            created_at: date(a.created_at),
            updated_at: date(a.updated_at),
            scopes: a
                .scope
                .as_deref()
                .map(|s| {
                    s.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
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
    pub user: Option<User>,
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
