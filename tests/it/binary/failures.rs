//! Start-up failures are one line.

use super::{orgauth, run, stderr_lines};

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

/// A trusted proxy that is neither an address nor a CIDR network stops the start with one line
/// naming the setting and the item.
#[test]
fn bad_trusted_proxies_setting_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("p.db").display());
    let out = run(orgauth()
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "off")
        .env("ORGAUTH_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/33"));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_lines(&out),
        ["orgauth: error: ORGAUTH_TRUSTED_PROXIES: `10.0.0.0/33` is not an IP address or CIDR network (e.g. 10.0.0.0/8, 192.0.2.7, ::1)"]
    );
}

/// Shared cookies for a domain the public URL is not in, or a cookie prefix a cookie name cannot
/// hold, stop the start with one line naming the setting.
#[test]
fn bad_cookie_settings_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display());
    let out = run(orgauth()
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "off")
        .env("BETTER_AUTH_URL", "http://auth.example.com")
        .env("ORGAUTH_CROSS_SUB_DOMAIN_COOKIES", "true")
        .env("ORGAUTH_CROSS_SUB_DOMAIN_COOKIES_DOMAIN", "example.org"));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_lines(&out),
        ["orgauth: error: ORGAUTH_CROSS_SUB_DOMAIN_COOKIES_DOMAIN: `example.org` must be a domain name that BETTER_AUTH_URL's host (`auth.example.com`) is in or under"]
    );
    let out = run(orgauth()
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "off")
        .env("ORGAUTH_COOKIE_PREFIX", "my app"));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_lines(&out),
        ["orgauth: error: ORGAUTH_COOKIE_PREFIX: `my app` must be letters, digits, `-`, `_` or `.`"]
    );
}

/// A base path Better Auth's router could not match, or one that differs from BETTER_AUTH_URL's
/// path, stops the start with one line naming the setting.
#[test]
fn bad_base_path_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("b.db").display());
    let out = run(orgauth()
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "off")
        .env("ORGAUTH_BASE_PATH", "/auth/"));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_lines(&out),
        ["orgauth: error: ORGAUTH_BASE_PATH: `/auth/` must be a path such as /api/auth: `/` then segments of letters, digits, `-`, `_`, `.` and `~`, without a trailing `/`, `//`, `.` or `..` segments or a query"]
    );
    let out = run(orgauth()
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "off")
        .env("BETTER_AUTH_URL", "http://localhost:3000/identity")
        .env("ORGAUTH_BASE_PATH", "/auth"));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_lines(&out),
        ["orgauth: error: ORGAUTH_BASE_PATH: `/auth` differs from BETTER_AUTH_URL's path `/identity`, which Better Auth serves the routes under; set one of them"]
    );
}
