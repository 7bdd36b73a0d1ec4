//! `orgauth healthcheck`, the container image's HEALTHCHECK: 0 when /readyz answers 200.

use std::io::{Read, Write};
use std::net::TcpListener;

use migration::db_tests;
use migration::testing::TestDb;

use super::{orgauth, run, start, stderr_lines};

/// The port of a running server's base URL (`http://127.0.0.1:PORT`).
fn port_of(base: &str) -> String {
    base.rsplit(':').next().unwrap().to_owned()
}

/// Against a serving server the check passes, found by PORT from the environment as in the
/// image, also when HOST is the unspecified address the image listens on; once the server has
/// stopped it fails with one line naming the address.
async fn passes_while_serving_and_fails_after(db: TestDb) {
    let mut cmd = orgauth();
    cmd.env("DATABASE_URL", &db.url);
    let mut server = start(cmd);
    let port = port_of(&server.base);
    for host in ["127.0.0.1", "0.0.0.0"] {
        let out = run(orgauth()
            .arg("healthcheck")
            .env("HOST", host)
            .env("PORT", &port));
        assert!(out.status.success(), "HOST={host}: {out:?}");
        assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    }
    let (status, _) = server.terminate();
    assert!(status.success());
    let out = run(orgauth().args(["healthcheck", "--port", &port]));
    assert_eq!(out.status.code(), Some(1));
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!(
            "orgauth: error: cannot connect to 127.0.0.1:{port}: "
        )),
        "{lines:?}"
    );
}

db_tests!(passes_while_serving_and_fails_after,);

/// Serves one connection with `answer` after reading the request head; returns the port and the
/// request it read.
fn answer_once(answer: &'static str) -> (String, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let served = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        let mut chunk = [0u8; 512];
        while !request.ends_with(b"\r\n\r\n") {
            let n = conn.read(&mut chunk).unwrap();
            assert!(n > 0, "the request head ends with an empty line");
            request.extend_from_slice(&chunk[..n]);
        }
        conn.write_all(answer.as_bytes()).unwrap();
        String::from_utf8(request).unwrap()
    });
    (port, served)
}

/// A server whose database is down answers /readyz 503: the check fails and says so.
#[test]
fn fails_when_readyz_is_not_200() {
    let (port, served) =
        answer_once("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n");
    let out = run(orgauth().args(["healthcheck", "--port", &port]));
    let request = served.join().unwrap();
    assert!(request.starts_with("GET /readyz HTTP/1.1\r\n"), "{request}");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_lines(&out),
        [format!(
            "orgauth: error: http://127.0.0.1:{port}/readyz answered 503"
        )]
    );
}

/// Something on the port that does not speak HTTP is not a healthy server.
#[test]
fn fails_when_the_answer_is_not_http() {
    let (port, served) = answer_once("SSH-2.0-OpenSSH_9.2\r\n");
    let out = run(orgauth().args(["healthcheck", "--port", &port]));
    served.join().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_lines(&out),
        [format!(
            "orgauth: error: no HTTP answer from 127.0.0.1:{port}: not an HTTP status line"
        )]
    );
}
