//! One-time secrets in the `verification` table: password reset, e-mail verification and change,
//! account deletion, social sign-in state. The row's `identifier` is `<purpose>:<SHA-256 of the
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
}

impl Purpose {
    fn prefix(self) -> &'static str {
        match self {
            Purpose::ResetPassword => "reset-password:",
            Purpose::VerifyEmail => "verify-email:",
            Purpose::DeleteAccount => "delete-account:",
            Purpose::OAuthState => "oauth-state:",
        }
    }
}

fn identifier(purpose: Purpose, secret: &str) -> String {
    format!("{}{}", purpose.prefix(), token::digest(secret))
}

/// Stores a new secret for `purpose` carrying `value`; returns the secret to send.
pub async fn issue(
    db: &impl ConnectionTrait,
    purpose: Purpose,
    value: &str,
    now: DateTime<Utc>,
    lifetime: Duration,
) -> Result<String> {
    let secret = token::generate(32);
    verification::ActiveModel {
        identifier: Set(identifier(purpose, &secret)),
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
        .filter(verification::Column::Identifier.eq(identifier(purpose, secret)))
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
        .filter(verification::Column::Identifier.eq(identifier(purpose, secret)))
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
