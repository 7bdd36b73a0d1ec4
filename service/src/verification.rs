//! One-time secrets in the `verification` table: password reset, e-mail verification and change,
//! account deletion, social sign-in state, magic links. The row's `identifier` is `<purpose>:<SHA-256 of the
//! secret>`, so the secret itself is never stored; `value` says what the secret is for.

use chrono::{DateTime, Duration, Utc};
use entity::verification;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::clock::db_time;
use crate::token;
use crate::Result;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    ResetPassword,
    VerifyEmail,
    DeleteAccount,
    /// A started social sign-in (`state` parameter); the value is the sealed flow state.
    OAuthState,
    /// A magic link; the value is Better Auth's record (`{"type":"magic-link","email":…}`).
    MagicLink,
}

impl Purpose {
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            Purpose::ResetPassword => "reset-password:",
            Purpose::VerifyEmail => "verify-email:",
            Purpose::DeleteAccount => "delete-account:",
            Purpose::OAuthState => "oauth-state:",
            Purpose::MagicLink => "magic-link:",
        }
    }

    /// How Better Auth names a row of this purpose (the secret itself after the prefix), where
    /// the two servers share the purpose.
    fn better_auth_prefix(self) -> Option<&'static str> {
        match self {
            Purpose::ResetPassword => Some("reset-password:"),
            Purpose::DeleteAccount => Some("delete-account-"),
            Purpose::MagicLink => Some("magic-link:"),
            Purpose::VerifyEmail | Purpose::OAuthState => None,
        }
    }
}

fn identifier(purpose: Purpose, secret: &str) -> String {
    format!("{}{}", purpose.prefix(), token::digest(secret))
}

/// The identifiers a row for `secret` may have: orgauth's, and Better Auth's where it has one (a
/// link Better Auth mailed, or one written in coexistence). A secret shaped like a digest is never
/// looked up as itself, so identifiers read from the database open nothing.
fn identifiers(purpose: Purpose, secret: &str) -> Vec<String> {
    let mut ids = vec![identifier(purpose, secret)];
    if let (Some(prefix), false) = (purpose.better_auth_prefix(), token::is_digest(secret)) {
        ids.push(format!("{prefix}{secret}"));
    }
    ids
}

/// Stores a new secret for `purpose` carrying `value`; returns the secret to send. With
/// `better_auth_format` (coexistence), a purpose Better Auth shares is stored its way, so either
/// server accepts the link.
pub async fn issue(
    db: &impl ConnectionTrait,
    purpose: Purpose,
    value: &str,
    now: DateTime<Utc>,
    lifetime: Duration,
    better_auth_format: bool,
) -> Result<String> {
    let secret = token::generate(32);
    let identifier = match purpose.better_auth_prefix() {
        Some(prefix) if better_auth_format => format!("{prefix}{secret}"),
        _ => identifier(purpose, &secret),
    };
    verification::ActiveModel {
        identifier: Set(identifier),
        value: Set(value.to_owned()),
        expires_at: Set(db_time(now + lifetime)),
        created_at: Set(db_time(now)),
        updated_at: Set(db_time(now)),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(secret)
}

/// What a presented secret turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Check {
    Valid(String),
    Expired,
    Unknown,
}

/// Looks a secret up without using it.
pub async fn peek(
    db: &impl ConnectionTrait,
    purpose: Purpose,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<Check> {
    let row = verification::Entity::find()
        .filter(verification::Column::Identifier.is_in(identifiers(purpose, secret)))
        .one(db)
        .await?;
    Ok(match row {
        None => Check::Unknown,
        Some(r) if r.expires_at <= db_time(now) => Check::Expired,
        Some(r) => Check::Valid(r.value),
    })
}

/// Uses a secret up: of any number of concurrent callers, exactly one gets `Valid` (the one whose
/// `DELETE` removed the row). Run it inside the transaction that acts on the secret, so a failure
/// after it leaves the secret usable.
pub async fn consume(
    db: &impl ConnectionTrait,
    purpose: Purpose,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<Check> {
    let check = peek(db, purpose, secret, now).await?;
    let deleted = verification::Entity::delete_many()
        .filter(verification::Column::Identifier.is_in(identifiers(purpose, secret)))
        .exec(db)
        .await?
        .rows_affected;
    Ok(match check {
        Check::Valid(_) if deleted == 0 => Check::Unknown,
        other => other,
    })
}

/// Removes every outstanding secret of `purpose` whose value is `value` (e.g. all reset tokens of
/// a user once one of them was used).
pub async fn revoke_all(db: &impl ConnectionTrait, purpose: Purpose, value: &str) -> Result<()> {
    verification::Entity::delete_many()
        .filter(verification::Column::Identifier.starts_with(purpose.prefix()))
        .filter(verification::Column::Value.eq(value))
        .exec(db)
        .await?;
    Ok(())
}
