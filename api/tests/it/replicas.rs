//! Several servers on one database: rate limits shared through the database or through Redis
//! (a redis-server this test starts on a free port, never the machine's), the database counting
//! while Redis is down, and memory limits still per process.

use std::process::Stdio;

use api::rate_limit::{RateLimitConfig, Storage};
use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;
use service::config::Secret;

use crate::harness::{parts, TestServer};

/// Servers that read the client address from `x-forwarded-for`, so one test can be many clients.
async fn servers(db: &TestDb, n: usize, storage: Storage) -> Vec<TestServer> {
    let mut out = Vec::new();
    for _ in 0..n {
        let cfg = RateLimitConfig {
            storage: storage.clone(),
            ..Default::default()
        };
        out.push(TestServer::start_rate_limited(db, cfg, Some("x-forwarded-for")).await);
    }
    out
}

/// A sign-in attempt from `client` through `server`: its status.
async fn sign_in(server: &TestServer, client: &str) -> u16 {
    let reply = server
        .http
        .post(server.url("/api/auth/sign-in/email"))
        .header("x-forwarded-for", client)
        .json(&json!({"email": "nobody@example.com", "password": "password123"}))
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    if status == 429 {
        assert_eq!(reply.headers()["x-retry-after"], "10");
        assert_eq!(
            parts(reply).await.1,
            json!({"message": "Too many requests. Please try again later."})
        );
    }
    status
}

/// Windows in the `rate_limit` table for `client`.
async fn rows_for(server: &TestServer, client: &str) -> i64 {
    let sql = format!(
        "SELECT count(*) FROM rate_limit WHERE key LIKE '{}|%'",
        client.replace('\'', "")
    );
    count(server, sql).await
}

/// The count a `SELECT count(*) …` answers on the server's database.
async fn count(server: &TestServer, sql: String) -> i64 {
    let db = &server.db;
    db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap()
}

/// Three servers on one database: the 4th sign-in attempt of a client is refused whichever server
/// it reaches, and other clients keep their own budget.
async fn a_sign_in_limit_holds_across_servers_on_one_database(db: TestDb) {
    let servers = servers(&db, 3, Storage::Database).await;
    for server in &servers {
        assert_eq!(sign_in(server, "198.51.100.7").await, 401);
    }
    for server in &servers {
        assert_eq!(sign_in(server, "198.51.100.7").await, 429);
    }
    assert_eq!(sign_in(&servers[1], "198.51.100.8").await, 401);
    assert_eq!(rows_for(&servers[0], "198.51.100.7").await, 1);
    // The window runs out by the servers' clock.
    for server in &servers {
        server.clock.advance(chrono::Duration::seconds(10));
    }
    assert_eq!(sign_in(&servers[2], "198.51.100.7").await, 401);
}

/// In memory (the default), each server counts on its own.
async fn memory_limits_are_per_process(db: TestDb) {
    let servers = servers(&db, 2, Storage::Memory).await;
    for _ in 0..3 {
        assert_eq!(sign_in(&servers[0], "198.51.100.9").await, 401);
    }
    assert_eq!(sign_in(&servers[0], "198.51.100.9").await, 429);
    assert_eq!(sign_in(&servers[1], "198.51.100.9").await, 401);
    assert_eq!(rows_for(&servers[0], "198.51.100.9").await, 0);
}

/// A redis-server of the test's own, on a free port, in a temporary directory.
struct OwnRedis {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<tokio::process::Child>,
}

impl OwnRedis {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = Self {
            port,
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        redis.restart().await;
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    async fn restart(&mut self) {
        let child = tokio::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .current_dir(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server (apt-get install redis-server)");
        self.child = Some(child);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start on port {}", self.port);
    }

    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
    }
}

/// Through Redis: the limit holds across servers and nothing is written to the database. Redis
/// killed mid-run: the database counts (still limited, never open) until Redis is back, and then
/// Redis counts again.
async fn limits_are_shared_through_redis_and_hold_while_it_is_down(db: TestDb) {
    let mut redis = OwnRedis::start().await;
    let servers = servers(&db, 2, Storage::Redis(Secret::new(redis.url()))).await;
    let (a, b) = (&servers[0], &servers[1]);
    assert_eq!(sign_in(a, "203.0.113.1").await, 401);
    assert_eq!(sign_in(b, "203.0.113.1").await, 401);
    assert_eq!(sign_in(a, "203.0.113.1").await, 401);
    assert_eq!(sign_in(b, "203.0.113.1").await, 429);
    assert_eq!(rows_for(a, "203.0.113.1").await, 0, "counted in Redis");

    redis.kill().await;
    assert_eq!(sign_in(a, "203.0.113.2").await, 401);
    assert_eq!(sign_in(b, "203.0.113.2").await, 401);
    assert_eq!(sign_in(a, "203.0.113.2").await, 401);
    assert_eq!(sign_in(b, "203.0.113.2").await, 429);
    assert_eq!(
        rows_for(a, "203.0.113.2").await,
        1,
        "counted in the database"
    );

    redis.restart().await;
    // Each server tries Redis again after its backoff; until then the database counts.
    let mut back = false;
    for i in 0..100 {
        let client = format!("203.0.113.{}", 100 + i);
        for server in &servers {
            sign_in(server, &client).await;
        }
        if rows_for(a, &client).await == 0 {
            back = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(back, "the servers went back to Redis");
    for server in [a, b, a] {
        assert_eq!(sign_in(server, "203.0.113.3").await, 401);
    }
    assert_eq!(sign_in(b, "203.0.113.3").await, 429);
    assert_eq!(
        rows_for(a, "203.0.113.3").await,
        0,
        "counted in Redis again"
    );
}

/// Neither Redis nor the database can count (Redis down, the table gone): the request is
/// answered 503 in the contract's shape and reaches no route, never let through uncounted.
async fn a_request_nothing_can_count_is_refused(db: TestDb) {
    let mut redis = OwnRedis::start().await;
    let servers = servers(&db, 1, Storage::Redis(Secret::new(redis.url()))).await;
    let server = &servers[0];
    redis.kill().await;
    server
        .db
        .execute_unprepared("DROP TABLE rate_limit")
        .await
        .unwrap();
    let reply = server
        .http
        .post(server.url("/api/auth/sign-up/email"))
        .header("x-forwarded-for", "203.0.113.50")
        .json(&json!({"email": "new@example.com", "password": "password123", "name": "New"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 503);
    assert_eq!(reply.headers()["retry-after"], "5");
    assert_eq!(
        parts(reply).await.1,
        json!({"message": "The database is unavailable", "code": "SERVICE_UNAVAILABLE"})
    );
    let users = count(server, r#"SELECT count(*) FROM "user""#.to_owned()).await;
    assert_eq!(users, 0, "the sign-up did not run");
}

db_tests!(
    a_request_nothing_can_count_is_refused,
    a_sign_in_limit_holds_across_servers_on_one_database,
    memory_limits_are_per_process,
    limits_are_shared_through_redis_and_hold_while_it_is_down
);
