use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use migration::db_tests;
use migration::testing::{Backend, TestDb};

fn orgauth() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orgauth"));
    for var in [
        "DATABASE_URL",
        "POSTGRES_URL",
        "HOST",
        "PORT",
        "RUST_LOG",
        "ORGAUTH_LOG_FORMAT",
        "ORGAUTH_AUTO_MIGRATE",
    ] {
        cmd.env_remove(var);
    }
    cmd.env(
        "BETTER_AUTH_SECRET",
        "binary-test-secret-0123456789-0123456789",
    );
    cmd.current_dir(std::env::temp_dir());
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().unwrap()
}

fn stdout_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn stderr_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A running server and the lines it logs.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    base: String,
}

fn start(mut cmd: Command) -> Running {
    let child = cmd
        .arg("--port")
        .arg("0")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = mpsc::channel();
    let mut running = Running {
        child,
        lines,
        base: String::new(),
    };
    let stderr = running.child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    loop {
        let line = running
            .lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the server logs its address");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let addr = rest
                .split_whitespace()
                .next()
                .unwrap()
                .trim_end_matches('"');
            assert!(
                line.contains(&format!("Swagger UI: http://{addr}/docs")),
                "{line}"
            );
            running.base = format!("http://{addr}");
            return running;
        }
    }
}

impl Running {
    /// Sends SIGTERM and waits for the exit; returns the status and the lines logged meanwhile.
    fn terminate(&mut self) -> (std::process::ExitStatus, Vec<String>) {
        let killed = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(killed.success());
        let status = self.child.wait().unwrap();
        // The reader thread ends at EOF, once the process has exited.
        (status, self.lines.iter().collect())
    }
}

/// A server left running by a failed test is killed, not leaked.
impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.child.kill().ok();
            self.child.wait().ok();
        }
    }
}

async fn get_json(url: String) -> serde_json::Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

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

/// The seed names its variable POSTGRES_URL; it is read when DATABASE_URL is absent. Logs can be JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_postgres_url_and_logs_json() {
    migration::testing::run(Backend::Postgres, |db| async move {
        let mut cmd = orgauth();
        cmd.env("POSTGRES_URL", &db.url)
            .env("ORGAUTH_LOG_FORMAT", "json");
        let mut server = start(cmd);
        assert_eq!(
            get_json(format!("{}/healthz", server.base)).await["status"],
            "ok"
        );
        let (status, lines) = server.terminate();
        assert!(status.success());
        let response = lines
            .iter()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("every log line is JSON"))
            .find(|v| v["fields"]["message"] == "response")
            .expect("a response was logged");
        assert_eq!(response["fields"]["status"], 200);
        assert_eq!(response["span"]["path"], "/healthz");
        assert!(response["span"]["request_id"].is_string());
    })
    .await;
}

/// Security events are one structured line each, with the user, the client address (from the
/// request's span) and no secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_events_are_structured_lines_without_secrets() {
    migration::testing::run(Backend::Sqlite, |db| async move {
        let mut cmd = orgauth();
        cmd.env("DATABASE_URL", &db.url)
            .env("ORGAUTH_LOG_FORMAT", "json")
            .env("ORGAUTH_RATE_LIMIT", "off")
            .env("BETTER_AUTH_TRUSTED_ORIGINS", "http://localhost:3000");
        let mut server = start(cmd);
        let http = reqwest::Client::builder().cookie_store(true).build().unwrap();
        let post = |path: &str, body: serde_json::Value| {
            http.post(format!("{}/api/auth{path}", server.base))
                .header("origin", "http://localhost:3000")
                .json(&body)
                .send()
        };
        let signed_up: serde_json::Value = post(
            "/sign-up/email",
            serde_json::json!({"name": "Log", "email": "log@example.com", "password": "first-secret-pw"}),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        let token = signed_up["token"].as_str().unwrap().to_owned();
        let r = post(
            "/change-password",
            serde_json::json!({"currentPassword": "first-secret-pw", "newPassword": "second-secret-pw"}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 200);
        // Sign-ins: a wrong password for the user and for an unknown address, then the right one.
        for (email, password, status) in [
            ("log@example.com", "third-secret-pw", 401),
            ("nobody@example.com", "third-secret-pw", 401),
            ("log@example.com", "second-secret-pw", 200),
        ] {
            let r = post("/sign-in/email", serde_json::json!({"email": email, "password": password}))
                .await
                .unwrap();
            assert_eq!(r.status(), status, "{email}");
        }
        let (status, lines) = server.terminate();
        assert!(status.success());
        for secret in ["first-secret-pw", "second-secret-pw", "third-secret-pw", token.as_str()] {
            assert!(
                !lines.iter().any(|l| l.contains(secret)),
                "a secret reached the log"
            );
        }
        let event = lines
            .iter()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON lines"))
            .find(|v| v["target"] == "orgauth::security" && v["fields"]["event"] == "password_changed")
            .expect("the password change is logged");
        assert_eq!(event["fields"]["user_id"], signed_up["user"]["id"]);
        assert_eq!(event["span"]["client_ip"], "127.0.0.1");
        assert!(event["span"]["request_id"].is_string());
        let security: Vec<serde_json::Value> = lines
            .iter()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v["target"] == "orgauth::security")
            .collect();
        let named = |name: &str| -> Vec<&serde_json::Value> {
            security.iter().filter(|v| v["fields"]["event"] == name).collect()
        };
        let failed = named("sign_in_failed");
        assert_eq!(failed.len(), 2, "{security:?}");
        assert_eq!(failed[0]["fields"]["user_id"], signed_up["user"]["id"]);
        assert!(failed[1]["fields"].get("user_id").is_none(), "no user for an unknown address");
        for line in &failed {
            assert_eq!(line["fields"]["reason"], "invalid_credentials");
            assert_eq!(line["span"]["client_ip"], "127.0.0.1");
        }
        let succeeded = named("sign_in_succeeded");
        assert_eq!(succeeded.len(), 1, "{security:?}");
        assert_eq!(succeeded[0]["fields"]["user_id"], signed_up["user"]["id"]);
        assert_eq!(succeeded[0]["fields"]["method"], "password");
        assert_eq!(succeeded[0]["span"]["client_ip"], "127.0.0.1");
        assert!(
            security.iter().all(|v| !v.to_string().contains("@example.com")),
            "no address in a security event"
        );
    })
    .await;
}

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
    ok(&["migrate", "down", "-n", "4"]);
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
        conn.execute_unprepared(include_str!("../../migration/tests/fixtures/drizzle-export.sql"))
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

db_tests!(
    serves_and_stops_on_sigterm,
    migrate_commands_work,
    check_invariants_command
);

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

/// A bad DATABASE_URL ends with one line on stderr and a non-zero exit, without echoing the URL.
#[test]
fn bad_database_url_is_one_line() {
    let out = run(orgauth().env("DATABASE_URL", "mysql://root:hunter2@localhost/app"));
    assert_eq!(out.status.code(), Some(1));
    let lines = stderr_lines(&out);
    assert_eq!(lines, ["orgauth: error: invalid DATABASE_URL: expected a URL starting with sqlite:, postgres:// or postgresql://"]);
}

/// A port in use ends with one line naming the address.
#[test]
fn port_in_use_is_one_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("x.db").display());
    let out = run(orgauth()
        .args(["--port", &port])
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "off"));
    assert_eq!(out.status.code(), Some(1));
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!(
            "orgauth: error: cannot listen on 127.0.0.1:{port}: "
        )),
        "{lines:?}"
    );
}

/// An unreachable database ends with one line, not a panic.
#[test]
fn unreachable_database_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/missing-dir/x.db", dir.path().display());
    let out = run(orgauth().env("DATABASE_URL", url).env("RUST_LOG", "off"));
    assert_eq!(out.status.code(), Some(1));
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("orgauth: error: cannot connect to the database: "),
        "{lines:?}"
    );
}

/// After sign-up, sign-in and authenticated requests at the most verbose log level, the log holds
/// neither the password nor any session token or cookie signature.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_the_log() {
    migration::testing::run(Backend::Sqlite, |db| async move {
        let mut cmd = orgauth();
        cmd.env("DATABASE_URL", &db.url).env("RUST_LOG", "trace").env("ORGAUTH_RATE_LIMIT", "off");
        let mut server = start(cmd);
        let http = reqwest::Client::new();
        let password = "Marker-Passw0rd-7731";
        let signed_up: serde_json::Value = http
            .post(format!("{}/api/auth/sign-up/email", server.base))
            .json(&serde_json::json!({"name": "Log", "email": "log@example.com", "password": password}))
            .send().await.unwrap().json().await.unwrap();
        let signed_in = http
            .post(format!("{}/api/auth/sign-in/email", server.base))
            .json(&serde_json::json!({"email": "log@example.com", "password": password}))
            .send().await.unwrap();
        let auth_token = signed_in.headers()["set-auth-token"].to_str().unwrap().to_owned();
        let cookie = signed_in.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
        let me: serde_json::Value = http.get(format!("{}/api/auth/get-session", server.base)).bearer_auth(&auth_token).send().await.unwrap().json().await.unwrap();
        assert_eq!(me["user"]["email"], "log@example.com");
        let wrong = "Wrong-Marker-Passw0rd-9914";
        for email in ["log@example.com", "nobody@example.com"] {
            let refused = http
                .post(format!("{}/api/auth/sign-in/email", server.base))
                .json(&serde_json::json!({"email": email, "password": wrong}))
                .send().await.unwrap();
            assert_eq!(refused.status(), 401);
        }
        let (status, lines) = server.terminate();
        assert!(status.success());
        let log = lines.join("\n");
        assert!(log.contains("/api/auth/sign-in/email"), "the requests were logged");
        assert!(!log.contains(wrong), "a wrong password is a secret too");
        let token = signed_up["token"].as_str().unwrap();
        let (session_token, signature) = auth_token.split_once('.').unwrap();
        for secret in [password, &password[..8], token, session_token, signature, cookie.split_once('=').unwrap().1] {
            assert!(!log.contains(secret), "the log contains a secret: {secret}");
        }
    })
    .await;
}

/// Malformed organization settings stop the start with one line.
#[test]
fn bad_roles_setting_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("r.db").display());
    let out = run(orgauth()
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "off")
        .env("ORGAUTH_ROLES", "{not json"));
    assert_eq!(out.status.code(), Some(1));
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("orgauth: error: ORGAUTH_ROLES is not a JSON object"),
        "{lines:?}"
    );
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

db_tests!(add_member_command);

/// The server's resident memory, from `/proc/<pid>/status`.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/<pid>/status")
}

/// Sends `count` GET requests, each to its own unknown path, over 16 keep-alive connections
/// (HTTP/1.1, pipelined 32 deep, from plain threads, so that the client's own work stays small);
/// returns how many got each status.
fn flood_distinct_paths(base: &str, count: usize) -> BTreeMap<u16, usize> {
    const CONNECTIONS: usize = 16;
    const DEPTH: usize = 32;
    let addr = base.trim_start_matches("http://").to_owned();
    let threads: Vec<_> = (0..CONNECTIONS)
        .map(|i| {
            let addr = addr.clone();
            let share = count / CONNECTIONS + usize::from(i < count % CONNECTIONS);
            std::thread::spawn(move || {
                let mut conn = std::net::TcpStream::connect(&addr).unwrap();
                conn.set_nodelay(true).unwrap();
                let mut statuses = BTreeMap::new();
                let mut buf = Vec::new();
                let mut left = share;
                while left > 0 {
                    let batch = left.min(DEPTH);
                    let mut requests = String::new();
                    for _ in 0..batch {
                        requests.push_str(&format!(
                            "GET /api/auth/x/{}/{} HTTP/1.1\r\nHost: {addr}\r\n\r\n",
                            uuid::Uuid::new_v4(),
                            uuid::Uuid::new_v4()
                        ));
                    }
                    conn.write_all(requests.as_bytes()).unwrap();
                    for _ in 0..batch {
                        let status = read_response(&mut conn, &mut buf);
                        *statuses.entry(status).or_insert(0) += 1;
                    }
                    left -= batch;
                }
                statuses
            })
        })
        .collect();
    let mut all = BTreeMap::new();
    for t in threads {
        for (status, n) in t.join().unwrap() {
            *all.entry(status).or_insert(0) += n;
        }
    }
    all
}

/// Reads one HTTP/1.1 response with a `content-length` from `conn` (`buf` keeps what was read past
/// it); returns its status.
fn read_response(conn: &mut std::net::TcpStream, buf: &mut Vec<u8>) -> u16 {
    let mut chunk = [0u8; 16 * 1024];
    let mut read_more = |buf: &mut Vec<u8>| {
        let n = conn.read(&mut chunk).unwrap();
        assert!(n > 0, "the server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    };
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end])
                .unwrap()
                .to_ascii_lowercase();
            let status = head[9..12].parse().unwrap();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .unwrap_or_else(|| panic!("a content-length: {head}"));
            let total = end + 4 + length;
            while buf.len() < total {
                read_more(buf);
            }
            buf.drain(..total);
            return status;
        }
        read_more(buf);
    }
}

/// With rate limiting on, a flood of requests from one client to distinct unknown paths leaves the
/// server's memory where it was after warm-up, and `/api/auth/ok` still answers at once: unknown
/// paths share one bucket, and the limiter's table stays small. `ORGAUTH_TEST_FLOOD_REQUESTS`
/// sets the number of requests (default 200,000).
#[test]
fn a_flood_of_distinct_paths_leaves_memory_flat() {
    let count: usize = std::env::var("ORGAUTH_TEST_FLOOD_REQUESTS")
        .ok()
        .map(|v| v.parse().expect("ORGAUTH_TEST_FLOOD_REQUESTS is a number"))
        .unwrap_or(200_000);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("f.db").display());
    let mut cmd = orgauth();
    cmd.env("DATABASE_URL", url)
        .env("ORGAUTH_RATE_LIMIT", "on")
        // One line per request would only measure the log.
        .env("RUST_LOG", "info,api::request_log=warn");
    let server = start(cmd);
    let pid = server.child.id();

    flood_distinct_paths(&server.base, 5_000);
    let before = rss_kib(pid);
    let started = std::time::Instant::now();
    let flood = flood_distinct_paths(&server.base, count);
    let took = started.elapsed();
    let after = rss_kib(pid);
    eprintln!("{count} requests in {took:?}: {flood:?}; RSS {before} KiB -> {after} KiB");
    assert_eq!(
        flood.get(&429).copied().unwrap_or(0) + flood.get(&404).copied().unwrap_or(0),
        count,
        "only 404 and 429: {flood:?}"
    );
    assert!(
        after <= before + 20 * 1024,
        "RSS grew from {before} KiB to {after} KiB over {count} requests"
    );
    // Every unknown path counts against one budget.
    assert!(
        flood.get(&429).copied().unwrap_or(0) > count / 2,
        "{flood:?}"
    );

    let started = std::time::Instant::now();
    let addr = server.base.trim_start_matches("http://");
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    write!(conn, "GET /api/auth/ok HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut conn, &mut Vec::new()), 200);
    assert!(started.elapsed() < Duration::from_secs(1));
}
