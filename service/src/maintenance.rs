//! Housekeeping: expired sessions and one-time secrets are deleted when presented, and the rest by
//! a periodic sweep, so tables do not grow with rows nobody will use again. The sweep reads the
//! time from the service's clock, like every other rule. With several replicas on one database
//! the sweep runs once per interval in all: each replica looks every tenth of the interval, and
//! the one whose conditional update of the shared `orgauth:sweep` row succeeds sweeps.

use chrono::{DateTime, Utc};
use entity::{session, verification};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::clock::db_time;
use crate::{Auth, Result};

/// How often the replicas on one database sweep, together.
pub const SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(600);

/// How often each replica looks whether the sweep is due: a sweep starts at most this late.
pub const SWEEP_CHECK: std::time::Duration = std::time::Duration::from_secs(60);

/// What a sweep removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub sessions: u64,
    pub verifications: u64,
    /// Rate-limit windows (`rate_limit` rows) that ran out.
    pub rate_limits: u64,
}

/// Deletes every session and verification row that expired before `now`, and the rate-limit
/// windows that started more than `rate_limit_keep` (the longest window) before it.
pub async fn sweep(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    rate_limit_keep: chrono::Duration,
) -> Result<Swept> {
    let windows_before = (now - rate_limit_keep).timestamp_millis();
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
    // A database not yet migrated to the table still gets the rest swept.
    let rate_limits = crate::rate_limit::sweep_db(db, windows_before)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "sweeping rate-limit windows failed");
            0
        });
    Ok(Swept {
        sessions,
        verifications,
        rate_limits,
    })
}

/// Claims the sweep of the interval that ends at `now` for this replica: true for exactly one
/// replica per `interval`, whichever looks first. One statement, on both databases: the shared
/// row is created, or moved to `now` only when its last claim is at least `interval` old.
pub async fn claim_sweep(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    interval: chrono::Duration,
) -> std::result::Result<bool, sea_orm::DbErr> {
    let b = db.get_database_backend();
    let p = |n| crate::rate_limit::placeholder(b, n);
    let sql = format!(
        "INSERT INTO rate_limit (id, key, count, last_request) VALUES ({}, {}, 0, {})
         ON CONFLICT (key) DO UPDATE SET last_request = excluded.last_request
         WHERE rate_limit.last_request <= {}",
        p(1),
        p(2),
        p(3),
        p(4)
    );
    let now_ms = now.timestamp_millis();
    let claimed = db
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            b,
            sql,
            [
                entity::behavior::new_id().into(),
                crate::rate_limit::SWEEP_KEY.into(),
                now_ms.into(),
                (now_ms - interval.num_milliseconds()).into(),
            ],
        ))
        .await?
        .rows_affected();
    Ok(claimed == 1)
}

/// One round of housekeeping: deletes what expired before the clock's now, and looks again whether
/// any Better Auth scrypt hash is left (failed sign-ins stop spending scrypt work once the last one
/// is upgraded). A failure is logged, not returned: the next round tries again. Answers what was
/// swept, if the sweep succeeded.
pub async fn sweep_once(auth: &Auth, rate_limit_keep: chrono::Duration) -> Option<Swept> {
    let swept = match sweep(&auth.db, auth.clock.now(), rate_limit_keep).await {
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

/// [`sweep_once`] when this replica claims the sweep ([`claim_sweep`]); `None` when another
/// replica has swept within the interval. When the claim cannot be made (a database not
/// migrated to the `rate_limit` table), this replica sweeps on its own every interval, as a
/// single server would, counting from `own_last`.
pub async fn sweep_if_due(
    auth: &Auth,
    rate_limit_keep: chrono::Duration,
    own_last: &mut Option<DateTime<Utc>>,
) -> Option<Swept> {
    let now = auth.clock.now();
    let interval = chrono::Duration::from_std(SWEEP_INTERVAL).expect("a short interval");
    let due = match claim_sweep(&auth.db, now, interval).await {
        Ok(claimed) => claimed,
        Err(e) => {
            tracing::warn!(error = %e, "claiming the periodic sweep failed; sweeping alone");
            own_last.is_none_or(|last| now - last >= interval)
        }
    };
    if !due {
        return None;
    }
    *own_last = Some(now);
    sweep_once(auth, rate_limit_keep).await
}

/// [`sweep_if_due`] at once and then every [`SWEEP_CHECK`], until the process stops.
pub async fn sweep_periodically(auth: Auth, rate_limit_keep: chrono::Duration) {
    let mut every = tokio::time::interval(SWEEP_CHECK);
    let mut own_last = None;
    loop {
        every.tick().await;
        sweep_if_due(&auth, rate_limit_keep, &mut own_last).await;
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
        let keep = Duration::minutes(1);
        assert_eq!(sweep_once(&auth, keep).await, Some(Swept::default()));
        clock.advance(Duration::hours(2));
        let one = Swept {
            sessions: 1,
            verifications: 1,
            rate_limits: 0,
        };
        assert_eq!(sweep_once(&auth, keep).await, Some(one));
        assert_eq!(sweep_once(&auth, keep).await, Some(Swept::default()));
        assert_eq!(session::Entity::find().count(&db).await.unwrap(), 1);
        assert_eq!(verification::Entity::find().count(&db).await.unwrap(), 1);
        assert_eq!(entity::user::Entity::find().count(&db).await.unwrap(), 1);
    }

    /// Three replicas on one database, each looking every [`SWEEP_CHECK`] at offset moments over
    /// two simulated hours: the sweep runs once per [`SWEEP_INTERVAL`] in all, not once per
    /// replica, and it deletes the rate-limit windows that ran out.
    async fn one_sweep_per_interval_across_replicas(t: TestDb) {
        let db = t.migrated().await;
        let start = Utc.with_ymd_and_hms(2030, 6, 1, 12, 0, 0).unwrap();
        let clock = ManualClock::new(start);
        let replicas: Vec<Auth> = (0..3)
            .map(|_| {
                Auth::new(
                    db.clone(),
                    crate::password::Hasher::new(1, 1),
                    AuthConfig::with_secret(Secret::new(
                        "maintenance-test-secret-0123456789abcdef",
                    )),
                    Arc::new(clock.clone()),
                    crate::mail::Mailer::Log { links: false },
                )
            })
            .collect();
        let old = start.timestamp_millis() - 120_000;
        crate::rate_limit::hit_db(&db, "192.0.2.1|/sign-in/email", 10_000, 3, old)
            .await
            .unwrap();
        let keep = Duration::minutes(1);
        let check = Duration::from_std(SWEEP_CHECK).unwrap();
        let mut own_last = vec![None; replicas.len()];
        let mut sweeps = Vec::new();
        let mut rate_limits = 0;
        // Every replica checks once per SWEEP_CHECK, a third of it apart from the next one.
        for step in 0..(2 * 60 * 60 / SWEEP_CHECK.as_secs()) {
            for (i, auth) in replicas.iter().enumerate() {
                if let Some(swept) = sweep_if_due(auth, keep, &mut own_last[i]).await {
                    sweeps.push((step, i));
                    rate_limits += swept.rate_limits;
                }
                clock.advance(check / 3);
            }
        }
        let per_interval = SWEEP_INTERVAL.as_secs() / SWEEP_CHECK.as_secs();
        assert_eq!(sweeps.len() as u64, 2 * 60 * 60 / SWEEP_INTERVAL.as_secs());
        assert!(
            sweeps.windows(2).all(|w| w[1].0 - w[0].0 == per_interval),
            "{sweeps:?}"
        );
        assert_eq!(rate_limits, 1);
    }

    migration::db_tests!(
        the_sweep_follows_the_service_clock,
        one_sweep_per_interval_across_replicas
    );
}
