//! Columns a Better Auth deployment's database may carry beyond the seed's schema, which Better
//! Auth maintains and which carry meaning: the organization plugin 1.7's `team.member_count` and
//! `team_member.membership_key`. They are looked for once, at start ([`discover`]); where they
//! exist orgauth keeps them true, where they do not nothing is written and no request pays for
//! them. The admin plugin's ban columns (`user.banned`, `user.ban_expires`, `user.ban_reason`)
//! always exist (migration 5 adds them where missing): [`check_ban`] and [`not_banned_sql`]
//! apply them.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
use sha2::{Digest, Sha256};

use crate::clock::db_time;
use crate::{Error, Result};

/// Which of Better Auth's optional columns this database has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BetterAuthColumns {
    /// `team.member_count`: kept equal to the team's `team_member` rows.
    pub team_member_count: bool,
    /// `team_member.membership_key`: filled in Better Auth's format on insert.
    pub membership_key: bool,
}

/// Reads the catalog for the columns above.
pub async fn discover(db: &impl ConnectionTrait) -> Result<BetterAuthColumns> {
    let backend = db.get_database_backend();
    let has = |table: &'static str, column: &'static str| async move {
        let sql = match backend {
            DbBackend::Postgres => {
                "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() \
                 AND table_name = $1 AND column_name = $2"
            }
            _ => "SELECT 1 FROM pragma_table_info(?) WHERE name = ?",
        };
        let stmt = Statement::from_sql_and_values(backend, sql, [table.into(), column.into()]);
        Ok::<_, Error>(db.query_one_raw(stmt).await?.is_some())
    };
    Ok(BetterAuthColumns {
        team_member_count: has("team", "member_count").await?,
        membership_key: has("team_member", "membership_key").await?,
    })
}

/// Better Auth's `membershipKey`: base64url without padding of SHA-256 of
/// `JSON.stringify([teamId, userId])`.
pub fn membership_key(team_id: &str, user_id: &str) -> String {
    use base64::Engine;
    let json = serde_json::to_string(&[team_id, user_id]).expect("strings serialise");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(json.as_bytes()))
}

fn stmt(db: &impl ConnectionTrait, pg: &str, values: Vec<Value>) -> Statement {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => pg.to_owned(),
        // `$n` placeholders become SQLite's numbered ones.
        _ => pg.replace('$', "?"),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

impl BetterAuthColumns {
    /// After a `team_member` row was inserted, in its transaction: its membership key and its
    /// team's count, where those columns exist.
    pub async fn team_member_added(
        &self,
        db: &impl ConnectionTrait,
        row: &entity::team_member::Model,
    ) -> Result<()> {
        if self.membership_key {
            db.execute_raw(stmt(
                db,
                "UPDATE team_member SET membership_key = $1 WHERE id = $2",
                vec![
                    membership_key(&row.team_id, &row.user_id).into(),
                    row.id.clone().into(),
                ],
            ))
            .await?;
        }
        self.sync_team_counts(db, std::slice::from_ref(&row.team_id))
            .await
    }

    /// Sets `member_count` of `team_ids` to their number of `team_member` rows, where the column
    /// exists. Run in the transaction that changed the rows: the teams are locked first, so the
    /// count is read after any concurrent change to the same team has committed.
    pub async fn sync_team_counts(
        &self,
        db: &impl ConnectionTrait,
        team_ids: &[String],
    ) -> Result<()> {
        if !self.team_member_count || team_ids.is_empty() {
            return Ok(());
        }
        let mut ids = team_ids.to_vec();
        ids.sort();
        ids.dedup();
        let list = (1..=ids.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let values: Vec<Value> = ids.iter().map(|i| i.clone().into()).collect();
        if db.get_database_backend() == DbBackend::Postgres {
            db.query_all_raw(stmt(
                db,
                &format!("SELECT id FROM team WHERE id IN ({list}) ORDER BY id FOR UPDATE"),
                values.clone(),
            ))
            .await?;
        }
        db.execute_raw(stmt(
            db,
            &format!(
                "UPDATE team SET member_count = (SELECT COUNT(*) FROM team_member \
                 WHERE team_member.team_id = team.id) WHERE id IN ({list})"
            ),
            values,
        ))
        .await?;
        Ok(())
    }

    /// The teams `user_id` belongs to: to sync after a deletion that cascades to their rows.
    pub async fn teams_of(&self, db: &impl ConnectionTrait, user_id: &str) -> Result<Vec<String>> {
        if !self.team_member_count {
            return Ok(Vec::new());
        }
        let rows = db
            .query_all_raw(stmt(
                db,
                "SELECT DISTINCT team_id FROM team_member WHERE user_id = $1",
                vec![user_id.into()],
            ))
            .await?;
        rows.iter()
            .map(|r| Ok(r.try_get_by_index::<String>(0)?))
            .collect()
    }
}

/// Refuses a banned user a new session, as Better Auth's admin plugin does when a session is
/// created; a ban whose expiry has passed is lifted instead (Better Auth clears all three
/// columns).
pub async fn check_ban(db: &impl ConnectionTrait, user_id: &str, now: DateTime<Utc>) -> Result<()> {
    let Some(row) = db
        .query_one_raw(stmt(
            db,
            "SELECT banned, ban_expires FROM \"user\" WHERE id = $1",
            vec![user_id.into()],
        ))
        .await?
    else {
        return Ok(());
    };
    let banned = row.try_get_by_index::<Option<bool>>(0)?.unwrap_or(false);
    if !banned {
        return Ok(());
    }
    let expires = row.try_get_by_index::<Option<chrono::NaiveDateTime>>(1)?;
    match expires {
        Some(expires) if expires <= db_time(now) => {
            db.execute_raw(stmt(
                db,
                "UPDATE \"user\" SET banned = $1, ban_reason = NULL, ban_expires = NULL, \
                 updated_at = $2 WHERE id = $3",
                vec![false.into(), db_time(now).into(), user_id.into()],
            ))
            .await?;
            Ok(())
        }
        _ => Err(Error::BannedUser),
    }
}

/// Whether `user` is not banned at `now`: [`not_banned_sql`], for a user read earlier (the
/// session cache's).
pub fn not_banned(user: &entity::user::Model, now: chrono::NaiveDateTime) -> bool {
    user.banned != Some(true) || user.ban_expires.is_some_and(|expires| expires <= now)
}

/// A condition on `"user"` that holds for users who are not banned now, for the session lookup: a banned user's sessions stop working at once (Better Auth only
/// deletes them when it bans through its API).
pub fn not_banned_sql(backend: DbBackend) -> String {
    let now = match backend {
        DbBackend::Postgres => "(now() AT TIME ZONE 'UTC')",
        _ => "strftime('%Y-%m-%d %H:%M:%f', 'now')",
    };
    format!(
        "(\"user\".banned IS NULL OR \"user\".banned = {false_} OR \
             (\"user\".ban_expires IS NOT NULL AND \"user\".ban_expires <= {now}))",
        false_ = match backend {
            DbBackend::Postgres => "false",
            _ => "0",
        }
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn membership_key_matches_better_auth() {
        // Node: createHash("sha256").update(JSON.stringify(["t1","u1"])).digest("base64url"),
        // Better Auth 1.7.25's formula (the contract's own example elides its ids).
        assert_eq!(
            super::membership_key("t1", "u1"),
            "zvgff7WeYkeF-_knMfCIgYKEgYHUMdUsDbvpoKRzSsY"
        );
    }
}
