//! The first proof of an address. Sign-up does not require verification (by default), so anyone
//! can sign up with someone else's address and set up ways in: a password, provider accounts
//! linked while the address was unproven, sessions, a pending reset or address change. When a
//! provider that vouches for the address links to (or signs into) such a user, everything that
//! predates the proof goes, in the transaction of the link, before the address is marked
//! verified: the rightful owner gets the account, the pre-registrant keeps nothing. Better Auth
//! 1.7.25 does the same in its magic-link plugin (`revokeUnprovenAccountAccess`).

use chrono::{DateTime, Utc};
use entity::{account, session, user, verification};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QuerySelect, Set,
};

use crate::clock::db_time;
use crate::{Error, Result};

/// What a first proof leaves in place: what the proof itself came through.
#[derive(Clone, Copy, Debug, Default)]
pub struct Keep<'a> {
    /// The proving provider account, when it is already linked.
    pub account: Option<&'a str>,
    /// The session of the browser that brought the proof (`link-social`).
    pub session: Option<&'a str>,
    /// The password account (`link-social`: its session came from it, and the same browser
    /// proved the address, so it is the owner's).
    pub password: bool,
}

/// What a first proof took away.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Revoked {
    /// Password and provider accounts removed.
    pub accounts: u64,
    pub sessions: u64,
}

/// Run inside the transaction that links the proving account (or signs in with it), before the
/// link. If `user_id`'s address is not yet verified: removes every account and every session of
/// the user but what `keep` names, and every pending reset, deletion, verification and
/// address-change secret, then marks the address verified. `None` when the address was already
/// verified: nothing is touched. The user row is locked first, so two proofs at once revoke
/// once, and a password sign-in racing this one finds its account gone (see `sign_in`).
pub(crate) async fn revoke_unproven_access(
    db: &impl ConnectionTrait,
    user_id: &str,
    keep: Keep<'_>,
    now: DateTime<Utc>,
) -> Result<Option<Revoked>> {
    let user = user::Entity::find_by_id(user_id)
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or(Error::UserNotFound)?;
    if user.email_verified {
        return Ok(None);
    }
    // Accounts first, then sessions: a sign-in that committed its session while holding the
    // account row is seen by the session delete that follows.
    let mut accounts = account::Entity::delete_many().filter(account::Column::UserId.eq(user_id));
    if let Some(kept) = keep.account {
        accounts = accounts.filter(account::Column::Id.ne(kept));
    }
    if keep.password {
        accounts = accounts.filter(account::Column::ProviderId.ne(crate::credentials::CREDENTIAL));
    }
    let accounts = accounts.exec(db).await?.rows_affected;
    let mut sessions = session::Entity::delete_many().filter(session::Column::UserId.eq(user_id));
    if let Some(kept) = keep.session {
        sessions = sessions.filter(session::Column::Id.ne(kept));
    }
    let sessions = sessions.exec(db).await?.rows_affected;
    // Reset and deletion secrets carry the user id; verification and address-change ones a
    // claim that starts with it.
    verification::Entity::delete_many()
        .filter(
            Condition::any()
                .add(verification::Column::Value.eq(user_id))
                .add(verification::Column::Value.starts_with(crate::email::claim_prefix(user_id))),
        )
        .exec(db)
        .await?;
    let mut active = user.into_active_model();
    active.email_verified = Set(true);
    active.updated_at = Set(db_time(now));
    active.update(db).await?;
    Ok(Some(Revoked { accounts, sessions }))
}
