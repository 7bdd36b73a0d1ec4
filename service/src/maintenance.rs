//! Housekeeping: expired sessions and one-time secrets are deleted when presented, and the rest by
//! a periodic sweep, so tables do not grow with rows nobody will use again. The sweep reads the
//! time from the service's clock, like every other rule.

use chrono::{DateTime, Utc};
use entity::{session, verification};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::clock::db_time;
use crate::{Auth, Result};

/// How often a server sweeps.
pub const SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(600);

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

/// One round of housekeeping: deletes what expired before the clock's now, and looks again whether
/// any Better Auth scrypt hash is left (failed sign-ins stop spending scrypt work once the last one
/// is upgraded). A failure is logged, not returned: the next round tries again. Answers what was
/// swept, if the sweep succeeded.
pub async fn sweep_once(auth: &Auth) -> Option<Swept> {
    let swept = match sweep(&auth.db, auth.clock.now()).await {
        Ok(swept) => {
            tracing::debug!(?swept, "expired rows swept");
            Some(swept)
        }
        Err(e) => {
            tracing::warn!(error = %e, "sweeping expired rows failed");
            None
        }
    };
    match crate::credentials::scrypt_hashes_present(&auth.db).await {
        Ok(present) => auth.hasher.set_scrypt_in_use(present),
        Err(e) => tracing::warn!(error = %e, "looking for scrypt hashes failed"),
    }
    swept
}

/// [`sweep_once`] at once and then every [`SWEEP_INTERVAL`], until the process stops.
pub async fn sweep_periodically(auth: Auth) {
    let mut every = tokio::time::interval(SWEEP_INTERVAL);
    loop {
        every.tick().await;
        sweep_once(&auth).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{Duration, TimeZone};
    use migration::testing::TestDb;
    use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set};

    use super::*;
    use crate::clock::ManualClock;
    use crate::config::{AuthConfig, Secret};

    /// The sweep deletes the sessions and one-time secrets that expired by the service's clock,
    /// not by the wall clock, and nothing else: rows that expire in 2030 stay while the clock
    /// stands before them, and go once it is moved past.
    async fn the_sweep_follows_the_service_clock(t: TestDb) {
        let db = t.migrated().await;
        let start = Utc.with_ymd_and_hms(2030, 6, 1, 12, 0, 0).unwrap();
        let clock = ManualClock::new(start);
        let auth = Auth::new(
            db.clone(),
            crate::password::Hasher::new(1, 1),
            AuthConfig::with_secret(Secret::new("maintenance-test-secret-0123456789abcdef")),
            Arc::new(clock.clone()),
            crate::mail::Mailer::Log { links: false },
        );
        let user = entity::user::ActiveModel {
            name: Set("S".into()),
            email: Set("s@example.com".into()),
            email_verified: Set(false),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap();
        for (token, expires_in) in [("soon", Duration::hours(1)), ("later", Duration::days(2))] {
            entity::session::ActiveModel {
                token: Set(token.into()),
                user_id: Set(user.id.clone()),
                expires_at: Set(db_time(start + expires_in)),
                ..Default::default()
            }
            .insert(&db)
            .await
            .unwrap();
            entity::verification::ActiveModel {
                identifier: Set(format!("x:{token}")),
                value: Set(user.id.clone()),
                expires_at: Set(db_time(start + expires_in)),
                ..Default::default()
            }
            .insert(&db)
            .await
            .unwrap();
        }
        assert_eq!(sweep_once(&auth).await, Some(Swept::default()));
        clock.advance(Duration::hours(2));
        let one = Swept {
            sessions: 1,
            verifications: 1,
        };
        assert_eq!(sweep_once(&auth).await, Some(one));
        assert_eq!(sweep_once(&auth).await, Some(Swept::default()));
        assert_eq!(session::Entity::find().count(&db).await.unwrap(), 1);
        assert_eq!(verification::Entity::find().count(&db).await.unwrap(), 1);
        assert_eq!(entity::user::Entity::find().count(&db).await.unwrap(), 1);
    }

    migration::db_tests!(the_sweep_follows_the_service_clock);
}
