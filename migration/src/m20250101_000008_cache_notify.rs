//! Beyond the seed, PostgreSQL only: triggers that tell every replica's session cache what
//! changed. An update or deletion of `session` rows sends `s<token>`, of `user` rows `u<id>`,
//! and a member added or removed `m<organization id>` (the cache keeps member counts), on the
//! channel [`CHANNEL`]; a statement touching more than [`PER_ROW`] rows, or a `TRUNCATE`, sends
//! `*` (drop everything). PostgreSQL delivers a notification only when its transaction commits,
//! and whoever writes (orgauth, Better Auth beside it, a hand-written statement), so a cache
//! listening there never misses a committed change. A new session or user sends nothing: it was
//! in no cache. See `docs/schema.md` and the session cache in `docs/performance.md`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20250101_000008_cache_notify"
    }
}

/// The channel the triggers notify and the session cache listens on.
pub const CHANNEL: &str = "orgauth_cache";

/// Rows one statement names one by one at most; beyond, one `*` is cheaper for everyone.
const PER_ROW: u32 = 1000;

/// Per table: the trigger function's name, the table, the key a notification names, its prefix,
/// and the events that notify with the rows each names (old or new).
type Table = (
    &'static str,
    &'static str,
    &'static str,
    char,
    [(&'static str, &'static str); 2],
);
const TABLES: [Table; 3] = [
    ("orgauth_cache_session", "session", "token", 's', CHANGED),
    ("orgauth_cache_user", "user", "id", 'u', CHANGED),
    (
        "orgauth_cache_member",
        "member",
        "organization_id",
        'm',
        JOINED_OR_LEFT,
    ),
];
/// A row that was cached changed or went.
const CHANGED: [(&str, &str); 2] = [("UPDATE", "OLD"), ("DELETE", "OLD")];
/// An organization's member count changed.
const JOINED_OR_LEFT: [(&str, &str); 2] = [("INSERT", "NEW"), ("DELETE", "OLD")];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for (function, table, key, prefix, events) in TABLES {
            db.execute_unprepared(&format!(
                r#"CREATE FUNCTION "{function}"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE k text;
BEGIN
  IF (SELECT count(*) FROM changed_rows) > {PER_ROW} THEN
    PERFORM pg_notify('{CHANNEL}', '*');
    RETURN NULL;
  END IF;
  FOR k IN SELECT DISTINCT "{key}" FROM changed_rows LOOP
    PERFORM pg_notify('{CHANNEL}', '{prefix}' || k);
  END LOOP;
  RETURN NULL;
END $$"#
            ))
            .await?;
            for (event, rows) in events {
                db.execute_unprepared(&format!(
                    r#"CREATE TRIGGER "{function}_{name}" AFTER {event} ON "{table}"
REFERENCING {rows} TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION "{function}"()"#,
                    name = event.to_lowercase()
                ))
                .await?;
            }
            db.execute_unprepared(&format!(
                r#"CREATE FUNCTION "{function}_all"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('{CHANNEL}', '*'); RETURN NULL; END $$;
CREATE TRIGGER "{function}_truncate" AFTER TRUNCATE ON "{table}"
FOR EACH STATEMENT EXECUTE FUNCTION "{function}_all"()"#
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for (function, ..) in TABLES {
            // Dropping the functions drops their triggers.
            db.execute_unprepared(&format!(
                r#"DROP FUNCTION IF EXISTS "{function}"() CASCADE;
DROP FUNCTION IF EXISTS "{function}_all"() CASCADE"#
            ))
            .await?;
        }
        Ok(())
    }
}
