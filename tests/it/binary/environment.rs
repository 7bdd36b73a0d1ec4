//! The environment as a deployment writes it: a `.env` file, empty lines from a template, secrets
//! in files, `AUTH_SECRET`, booleans spelled any common way; and `--help` grouped by subject.

use std::path::Path;
use std::process::Command;

use super::{get_json, orgauth, run, start, stderr_lines, stdout_lines, Running};

const SECRET: &str = "a-secret-from-a-file-0123456789-0123456789";

/// Waits until `server` answers (its signal handler is in place), then stops it; returns the
/// lines it logged.
async fn answer_and_stop(mut server: Running) -> Vec<String> {
    assert_eq!(
        get_json(format!("{}/api/auth/ok", server.base)).await,
        serde_json::json!({"ok": true})
    );
    let (status, lines) = server.terminate();
    assert!(status.success(), "{lines:?}");
    lines
}

fn sqlite_url(dir: &Path, name: &str) -> String {
    format!("sqlite://{}?mode=rwc", dir.join(name).display())
}

/// Signs up through a server started from `cmd` and returns the session cookie's value.
async fn session_cookie(mut cmd: Command) -> String {
    cmd.env("BETTER_AUTH_TRUSTED_ORIGINS", "http://localhost:3000");
    let server = start(cmd);
    let r = reqwest::Client::new()
        .post(format!("{}/api/auth/sign-up/email", server.base))
        .header("origin", "http://localhost:3000")
        .json(
            &serde_json::json!({"name": "A", "email": "a@example.com", "password": "password123"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("better-auth.session_token="))
        .expect("a session cookie");
    answer_and_stop(server).await;
    cookie["better-auth.session_token=".len()..]
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

fn signed_with(cookie: &str, secret: &str) -> bool {
    api::cookies::verify(secret, cookie).is_some()
}

/// A `.env` in the working directory fills in what the environment lacks, the environment wins,
/// and an empty variable (`SMTP_URL=`, in either) counts as unset instead of stopping the server.
#[tokio::test]
async fn dot_env_fills_in_and_empty_means_unset() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        format!(
            "# a copied template\nSMTP_URL=\nBETTER_AUTH_URL=\nORGAUTH_LOG_FORMAT=json\nDATABASE_URL={}\n",
            sqlite_url(dir.path(), "from-dot-env.db")
        ),
    )
    .unwrap();
    let mut cmd = orgauth();
    cmd.current_dir(dir.path()).env("MAIL_FROM", "");
    let lines = answer_and_stop(start(cmd)).await;
    assert!(
        !lines.is_empty() && lines.iter().all(|l| l.starts_with('{')),
        "{lines:?}"
    );
    assert!(dir.path().join("from-dot-env.db").exists());

    let mut cmd = orgauth();
    cmd.current_dir(dir.path())
        .env("DATABASE_URL", sqlite_url(dir.path(), "from-env.db"))
        .env("ORGAUTH_LOG_FORMAT", "text")
        .env("SMTP_URL", "");
    let lines = answer_and_stop(start(cmd)).await;
    assert!(
        !lines.is_empty() && lines.iter().all(|l| !l.starts_with('{')),
        "{lines:?}"
    );
    assert!(dir.path().join("from-env.db").exists());
}

/// `BETTER_AUTH_SECRET_FILE` (a container secret, with its trailing newline) and `AUTH_SECRET`
/// each supply the secret that signs the session cookie.
#[tokio::test]
async fn the_secret_comes_from_a_file_or_auth_secret() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    let mut cmd = orgauth();
    cmd.env_remove("BETTER_AUTH_SECRET")
        .env("BETTER_AUTH_SECRET_FILE", &file)
        .env("DATABASE_URL", sqlite_url(dir.path(), "file.db"));
    assert!(signed_with(&session_cookie(cmd).await, SECRET));

    let mut cmd = orgauth();
    cmd.env_remove("BETTER_AUTH_SECRET")
        .env("AUTH_SECRET", SECRET)
        .env("DATABASE_URL", sqlite_url(dir.path(), "auth-secret.db"));
    assert!(signed_with(&session_cookie(cmd).await, SECRET));
}

/// A setting given twice, or from a file that cannot be read, stops the server with one line.
#[test]
fn secret_file_mistakes_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    std::fs::write(&file, SECRET).unwrap();
    let out = run(orgauth().env("BETTER_AUTH_SECRET_FILE", &file));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_lines(&out),
        ["orgauth: error: set BETTER_AUTH_SECRET or BETTER_AUTH_SECRET_FILE, not both"]
    );
    let missing = dir.path().join("missing");
    let out = run(orgauth()
        .env_remove("BETTER_AUTH_SECRET")
        .env("BETTER_AUTH_SECRET_FILE", &missing));
    assert_eq!(out.status.code(), Some(1));
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!(
            "orgauth: error: cannot read BETTER_AUTH_SECRET_FILE ({}): ",
            missing.display()
        )),
        "{lines:?}"
    );
}

/// A `.env` that does not parse stops the server with one line that names the variable and not
/// its value, which may be a secret.
#[test]
fn a_broken_dot_env_is_one_line_without_the_value() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "PORT=3000\nBETTER_AUTH_SECRET=\"hunter2-unterminated\n",
    )
    .unwrap();
    let out = run(orgauth().current_dir(dir.path()));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_lines(&out),
        ["orgauth: error: cannot read .env: the line of BETTER_AUTH_SECRET does not parse (its value is not shown)"]
    );
}

/// Booleans read `no`, `off`, `0` and `false` in any case as false: on a new database the server
/// does not migrate (and stops, since it cannot read the schema); `on` migrates and serves.
#[tokio::test]
async fn booleans_take_every_spelling() {
    let dir = tempfile::tempdir().unwrap();
    let status = |url: &str| {
        stdout_lines(&run(orgauth()
            .args(["migrate", "status"])
            .env("DATABASE_URL", url)))
    };
    for (i, off) in ["no", "off", "0", "FALSE"].iter().enumerate() {
        let url = sqlite_url(dir.path(), &format!("b{i}.db"));
        let out = run(orgauth()
            .env("DATABASE_URL", &url)
            .env("ORGAUTH_AUTO_MIGRATE", off)
            .env("RUST_LOG", "off"));
        assert_eq!(out.status.code(), Some(1), "{off}: {out:?}");
        let status = status(&url);
        assert!(
            !status.is_empty() && status.iter().all(|l| l.ends_with("pending")),
            "{off}: {status:?}"
        );
    }
    let url = sqlite_url(dir.path(), "on.db");
    let mut cmd = orgauth();
    cmd.env("DATABASE_URL", &url)
        .env("ORGAUTH_AUTO_MIGRATE", "on")
        .env("ORGAUTH_RATE_LIMIT", "yes");
    answer_and_stop(start(cmd)).await;
    assert!(status(&url).iter().all(|l| l.ends_with("applied")));
    let out = run(orgauth().env("ORGAUTH_AUTO_MIGRATE", "maybe"));
    assert_eq!(out.status.code(), Some(2));
}

/// `--help` groups the options under headings; `migrate` lists only the database and log
/// options, `serve` the server's; a server option before a command is refused.
#[test]
fn help_is_grouped_by_subject() {
    let help = stdout_lines(&run(orgauth().arg("--help"))).join("\n");
    for heading in [
        "Database:",
        "Logging:",
        "Server:",
        "Authentication and organizations:",
        "Social sign-in:",
    ] {
        assert!(help.contains(heading), "{heading} in {help}");
    }
    let migrate = stdout_lines(&run(orgauth().args(["migrate", "--help"]))).join("\n");
    assert!(migrate.contains("--database-url"), "{migrate}");
    for serve_only in ["--port", "--secret", "--smtp-url", "--github-client-id"] {
        assert!(!migrate.contains(serve_only), "{serve_only} in {migrate}");
    }
    let serve = stdout_lines(&run(orgauth().args(["serve", "--help"]))).join("\n");
    assert!(
        serve.contains("--port") && serve.contains("--secret"),
        "{serve}"
    );
    let out = run(orgauth().args(["--port", "1", "migrate", "status"]));
    assert_eq!(out.status.code(), Some(2));
}

/// `.env.example` names every variable the command line reads.
#[test]
fn env_example_lists_every_setting() {
    let example = include_str!("../../../.env.example");
    let names = api::cli::env_names();
    assert!(names.len() > 50, "{names:?}");
    for name in names {
        assert!(
            example.lines().any(|l| l == format!("# {name}=")),
            "{name} is missing from .env.example"
        );
    }
}
