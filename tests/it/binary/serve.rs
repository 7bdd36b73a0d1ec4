//! Serving and stopping on a signal.

use migration::db_tests;
use migration::testing::TestDb;

use super::{get_json, orgauth, run, start, stdout_lines};

/// `orgauth` with no command serves on the configured database, migrates it first, answers, and
/// stops cleanly on SIGTERM.
async fn serves_and_stops_on_sigterm(db: TestDb) {
    let mut cmd = orgauth();
    cmd.env("DATABASE_URL", &db.url);
    let mut server = start(cmd);
    assert_eq!(
        get_json(format!("{}/api/auth/ok", server.base)).await,
        serde_json::json!({"ok": true})
    );
    assert_eq!(
        get_json(format!("{}/readyz", server.base)).await["status"],
        "ok"
    );
    let (status, lines) = server.terminate();
    assert!(status.success(), "exit status {status}");
    assert!(
        lines.iter().any(|l| l.contains("orgauth stopped")),
        "{lines:?}"
    );
    // The schema was migrated at start.
    let applied = run(orgauth()
        .args(["migrate", "status"])
        .env("DATABASE_URL", &db.url));
    assert!(
        stdout_lines(&applied)
            .iter()
            .any(|l| l.contains("m20250101_000002_unique_memberships") && l.ends_with("applied")),
        "{applied:?}"
    );
}

db_tests!(serves_and_stops_on_sigterm,);
