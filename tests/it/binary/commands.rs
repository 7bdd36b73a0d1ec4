//! The migrate, check-invariants, add-member and openapi commands.

use migration::db_tests;
use migration::testing::{Backend, TestDb};

use super::{orgauth, run, stderr_lines, stdout_lines};

/// `orgauth migrate up|status|down|fresh` drive the embedded migrator.
async fn migrate_commands_work(db: TestDb) {
    let url = db.url.clone();
    let ok = |args: &[&str]| {
        let out = run(orgauth()
            .args(args)
            .env("DATABASE_URL", &url)
            .env("RUST_LOG", "info"));
        assert!(out.status.success(), "{args:?}: {out:?}");
        stdout_lines(&out)
    };
    let conn = db.connect().await;
    let tables = || async {
        use sea_orm::ConnectionTrait;
        let sql = match db.backend {
            Backend::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('user', 'team_member')",
            Backend::Postgres => "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name IN ('user', 'team_member')",
        };
        let row = conn
            .query_one_raw(sea_orm::Statement::from_string(
                conn.get_database_backend(),
                sql,
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    };
    ok(&["migrate", "up", "-n", "1"]);
    assert_eq!(tables().await, 2);
    let status = ok(&["migrate", "status"]);
    assert!(
        status
            .iter()
            .any(|l| l == "m20250101_000002_unique_memberships  pending"),
        "{status:?}"
    );
    ok(&["migrate", "up"]);
    let all = <migration::Migrator as migration::MigratorTrait>::migrations()
        .len()
        .to_string();
    ok(&["migrate", "down", "-n", &all]);
    assert_eq!(tables().await, 0);
    ok(&["migrate", "fresh"]);
    assert_eq!(tables().await, 2);
}

/// On a database drizzle-kit made, `orgauth migrate up` adopts the tables, `migrate status` says
/// so, and `convert-session-tokens` converts Better Auth's plain tokens (idempotently).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_adopts_and_converts_through_the_binary() {
    migration::testing::run(Backend::Postgres, |db| async move {
        use sea_orm::ConnectionTrait;
        let conn = db.connect().await;
        conn.execute_unprepared(include_str!("../../../migration/tests/fixtures/drizzle-export.sql"))
            .await
            .unwrap();
        conn.execute_unprepared(
            "INSERT INTO \"user\" (id, name, email, updated_at) VALUES ('u1', 'A', 'a@example.com', now());
             INSERT INTO session (id, expires_at, token, updated_at, user_id)
             VALUES ('s1', now() + interval '1 day', 'cf0iChjinoTWDaiWThwc4XJjrr9VlyGt', now(), 'u1');",
        )
        .await
        .unwrap();
        let cmd = |args: &[&str]| {
            let out = run(orgauth().args(args).env("DATABASE_URL", &db.url));
            assert!(out.status.success(), "{args:?}: {out:?}");
            stdout_lines(&out)
        };
        cmd(&["migrate", "up"]);
        let status = cmd(&["migrate", "status"]);
        assert!(
            status[0].starts_with("m20250101_000001_seed_schema  adopted "),
            "{status:?}"
        );
        assert_eq!(status[1], "m20250101_000002_unique_memberships  applied");
        assert_eq!(
            cmd(&["convert-session-tokens"]),
            ["converted 1 plain session token(s) to digests"]
        );
        assert_eq!(
            cmd(&["convert-session-tokens"]),
            ["converted 0 plain session token(s) to digests"]
        );
    })
    .await;
}

/// `orgauth check-invariants`: silent with exit 0 on a sound store; each broken invariant on its own
/// line and exit 1 otherwise; plain session tokens are allowed in coexistence.
async fn check_invariants_command(db: TestDb) {
    let url = db.url.clone();
    let check = |coexistence: bool| {
        let mut cmd = orgauth();
        cmd.arg("check-invariants").env("DATABASE_URL", &url);
        if coexistence {
            cmd.env("ORGAUTH_COEXISTENCE", "true");
        }
        run(&mut cmd)
    };
    let conn = db.migrated().await;
    let out = check(false);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout_lines(&out), Vec::<String>::new());
    use sea_orm::ConnectionTrait;
    let t = "'2026-01-01 00:00:00'";
    conn.execute_unprepared(&format!(
        "INSERT INTO \"user\" (id, name, email, email_verified, created_at, updated_at) \
         VALUES ('u1', 'U', 'u1@example.com', false, {t}, {t}); \
         INSERT INTO account (id, account_id, provider_id, user_id, created_at, updated_at) \
         VALUES ('a1', 'gh-1', 'github', 'u1', {t}, {t}); \
         INSERT INTO session (id, expires_at, token, created_at, updated_at, user_id) \
         VALUES ('s1', {t}, 'plain-token', {t}, {t}, 'u1')"
    ))
    .await
    .unwrap();
    let out = check(false);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(stdout_lines(&out), ["plain_session_token: s1"]);
    assert!(
        check(true).status.success(),
        "coexistence stores plain tokens"
    );
}

/// `orgauth openapi` prints the document without touching a database.
#[test]
fn openapi_command_needs_no_database() {
    let out = run(orgauth()
        .arg("openapi")
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none"));
    assert!(out.status.success());
    let spec: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(spec["info"]["title"], "orgauth");
    assert!(spec["paths"]["/api/auth/ok"].is_object());
}

/// `orgauth add-member` adds an existing user to an organization by slug; mistakes are one line.
async fn add_member_command(db: TestDb) {
    use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
    let conn = db.migrated().await;
    let u = entity::user::ActiveModel {
        name: Set("Ops".into()),
        email: Set("ops@example.com".into()),
        email_verified: Set(true),
        ..Default::default()
    }
    .insert(&conn)
    .await
    .unwrap();
    let org = entity::organization::ActiveModel {
        name: Set("Acme".into()),
        slug: Set("acme".into()),
        ..Default::default()
    }
    .insert(&conn)
    .await
    .unwrap();
    let add = |email: &str| {
        run(orgauth()
            .args([
                "add-member",
                "--organization",
                "acme",
                "--email",
                email,
                "--role",
                "admin",
                "--role",
                "member",
            ])
            .env("DATABASE_URL", &db.url)
            .env("RUST_LOG", "off"))
    };
    let out = add("OPS@example.com");
    assert!(out.status.success(), "{out:?}");
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (printed["role"].as_str(), printed["organizationId"].as_str()),
        (Some("admin,member"), Some(org.id.as_str()))
    );
    let stored = entity::member::Entity::find()
        .filter(entity::member::Column::UserId.eq(&u.id))
        .one(&conn)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.role, "admin,member");
    let again = add("ops@example.com");
    assert_eq!(
        stderr_lines(&again),
        ["orgauth: error: User is already a member of this organization"]
    );
    let unknown = add("nobody@example.com");
    assert_eq!(stderr_lines(&unknown), ["orgauth: error: User not found"]);
}

db_tests!(
    migrate_commands_work,
    check_invariants_command,
    add_member_command,
);
