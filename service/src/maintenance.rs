//! Housekeeping: expired sessions and one-time secrets are deleted when presented, and the rest by
//! a periodic sweep, so tables do not grow with rows nobody will use again.

use chrono::{DateTime, Utc};
use entity::{session, verification};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::clock::db_time;
use crate::Result;

/// What a sweep removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub sessions: u64,
    pub verifications: u64,
}

/// Deletes every session and verification row that expired before `now`.
pub async fn sweep(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<Swept> {
    let now = db_time(now);
    let sessions = session::Entity::delete_many()
        .filter(session::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?
        .rows_affected;
    let verifications = verification::Entity::delete_many()
        .filter(verification::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?
        .rows_affected;
    Ok(Swept {
        sessions,
        verifications,
    })
}
