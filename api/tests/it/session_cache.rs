//! The session cache (PostgreSQL only): it serves sessions without a query, and whatever changes a
//! session or a user — through this server, another server, or SQL — stops being served: at once
//! through this server, within the notification's delivery elsewhere. A lost notification
//! connection, or a write whose fence goes unanswered, empties the cache until it is trusted
//! again; expiry is exact; it stays within bounds.
//!
//! "Without a query" is shown by deleting rows with triggers switched off
//! (`session_replication_role = replica`): nothing is notified, so only the cache can still
//! answer with the session.

use std::time::{Duration, Instant};

use migration::testing::{self, Backend, TestDb};
use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
use serde_json::{json, Value};
use service::session_cache::{CacheLimits, SessionCache};

use crate::harness::{parts, TestServer};

/// How long a change made elsewhere may take to reach a cache before a test fails: far above
/// the milliseconds it takes (bench/revocation.sh measures them), so only a change that never
/// arrives fails.
const DELIVERY: Duration = Duration::from_secs(5);

async fn cached_server(db: &TestDb, limits: CacheLimits) -> TestServer {
    let server = TestServer::start_with(db, |c| c.session_cache = Some(limits)).await;
    wait_until("the cache trusts itself", || async {
        cache(&server).is_trusted()
    })
    .await;
    server
}

fn cache(server: &TestServer) -> &SessionCache {
    server.auth.session_cache.as_ref().expect("the cache is on")
}

/// Polls `done` until it holds, for at most [`DELIVERY`].
async fn wait_until<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !done().await {
        assert!(
            start.elapsed() < DELIVERY,
            "{what}: not within {DELIVERY:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Signs `email` up through `server`; its session token.
async fn sign_up(server: &TestServer, email: &str) -> String {
    let reply = server
        .http
        .post(server.url("/api/auth/sign-up/email"))
        .json(&json!({"name": "Ann", "email": email, "password": "password123"}))
        .send()
        .await
        .unwrap();
    let (status, body) = parts(reply).await;
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

/// `get-session` with the bearer `token`: its body (`null` without a session).
async fn session(server: &TestServer, token: &str) -> Value {
    let reply = server
        .http
        .get(server.url("/api/auth/get-session"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let (status, body) = parts(reply).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A POST with the bearer `token`: status and body.
async fn post(server: &TestServer, token: &str, path: &str, body: Value) -> (u16, Value) {
    let reply = server
        .http
        .post(server.url(path))
        .bearer_auth(token)
        .header("origin", crate::harness::ORIGIN)
        .json(&body)
        .send()
        .await
        .unwrap();
    parts(reply).await
}

/// Runs `sql` with the triggers off: nothing is notified.
async fn unnotified(server: &TestServer, sql: &str) {
    let txn = server.db.begin().await.unwrap();
    txn.execute_unprepared("SET LOCAL session_replication_role = replica")
        .await
        .unwrap();
    txn.execute_unprepared(sql).await.unwrap();
    txn.commit().await.unwrap();
}

async fn exec(server: &TestServer, sql: &str) {
    server.db.execute_unprepared(sql).await.unwrap();
}

/// A session is served from the cache (its row gone unnoticed, it still answers); a notification
/// from any writer ends that.
async fn a_cached_session_costs_no_query(db: TestDb) {
    let server = cached_server(&db, CacheLimits::default()).await;
    let token = sign_up(&server, "ann@example.com").await;
    assert_eq!(
        session(&server, &token).await["user"]["email"],
        "ann@example.com"
    );
    unnotified(&server, "DELETE FROM session").await;
    assert_eq!(
        session(&server, &token).await["user"]["email"],
        "ann@example.com",
        "served from the cache, without reading the (now empty) table"
    );
    exec(&server, "SELECT pg_notify('orgauth_cache', '*')").await;
    wait_until("a `*` notification empties the cache", || async {
        session(&server, &token).await.is_null()
    })
    .await;
}

/// What a request changes through this server, the next request to it sees: no stale copy
/// survives sign-out, revocation, a password change, a profile change or an active organization.
async fn changes_through_this_server_are_seen_at_once(db: TestDb) {
    let server = cached_server(&db, CacheLimits::default()).await;
    let token = sign_up(&server, "ann@example.com").await;
    session(&server, &token).await;

    let (status, _) = post(
        &server,
        &token,
        "/api/auth/update-user",
        json!({"name": "Anne"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(session(&server, &token).await["user"]["name"], "Anne");

    let (status, org) = post(
        &server,
        &token,
        "/api/auth/organization/create",
        json!({"name": "Acme", "slug": "acme"}),
    )
    .await;
    assert_eq!(status, 200, "{org}");
    assert_eq!(
        session(&server, &token).await["session"]["activeOrganizationId"],
        org["id"]
    );

    // A second session, cached, ended by a password change from the first.
    let (status, body) = post(
        &server,
        "",
        "/api/auth/sign-in/email",
        json!({"email": "ann@example.com", "password": "password123"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let second = body["token"].as_str().unwrap().to_owned();
    assert!(!session(&server, &second).await.is_null());
    let (status, body) = post(
        &server,
        &token,
        "/api/auth/change-password",
        json!({"currentPassword": "password123", "newPassword": "password456", "revokeOtherSessions": true}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        session(&server, &second).await.is_null(),
        "revoked by the password change"
    );
    let token = body["token"].as_str().unwrap().to_owned();
    assert_eq!(session(&server, &token).await["user"]["name"], "Anne");

    let (status, _) = post(&server, &token, "/api/auth/sign-out", json!({})).await;
    assert_eq!(status, 200);
    assert!(session(&server, &token).await.is_null(), "signed out");
}

/// After a fence, every change committed before it has been heard: the changed user is no
/// longer cached (checked on the cache itself, right after each change, fifty times).
async fn a_fence_waits_for_the_changes_committed_before_it(db: TestDb) {
    let server = cached_server(&db, CacheLimits::default()).await;
    let token = sign_up(&server, "ann@example.com").await;
    let forms = service::session::stored_forms(&server.auth.cfg, &token);
    for n in 0..50 {
        session(&server, &token).await;
        assert!(cache(&server).get(&forms).is_some(), "round {n}: cached");
        exec(&server, &format!(r#"UPDATE "user" SET name = 'Ann {n}'"#)).await;
        cache(&server).fence().await;
        assert!(
            cache(&server).get(&forms).is_none(),
            "round {n}: heard before the fence returned"
        );
    }
}

/// Changes by another writer — a second server, or SQL — reach the cache through the
/// notifications: a revocation, a profile change, a ban.
async fn changes_elsewhere_reach_the_cache(db: TestDb) {
    let a = cached_server(&db, CacheLimits::default()).await;
    let b = cached_server(&db, CacheLimits::default()).await;
    let ann = sign_up(&a, "ann@example.com").await;
    let bob = sign_up(&a, "bob@example.com").await;
    let cat = sign_up(&a, "cat@example.com").await;
    for token in [&ann, &bob, &cat] {
        assert!(!session(&b, token).await.is_null());
    }

    let (status, _) = post(&a, &ann, "/api/auth/revoke-session", json!({"token": ann})).await;
    assert_eq!(status, 200);
    wait_until("a revocation through A reaches B", || async {
        session(&b, &ann).await.is_null()
    })
    .await;

    exec(
        &b,
        r#"UPDATE "user" SET name = 'Robert' WHERE email = 'bob@example.com'"#,
    )
    .await;
    wait_until("a profile changed by SQL reaches B", || async {
        session(&b, &bob).await["user"]["name"] == "Robert"
    })
    .await;

    exec(
        &a,
        r#"UPDATE "user" SET banned = true WHERE email = 'cat@example.com'"#,
    )
    .await;
    wait_until("a ban set by SQL reaches B", || async {
        session(&b, &cat).await.is_null()
    })
    .await;
}

/// An expired session is never served, cached or not; a due renewal is written to the database.
async fn expiry_is_exact_and_renewal_writes_through(db: TestDb) {
    let server = cached_server(&db, CacheLimits::default()).await;
    let token = sign_up(&server, "ann@example.com").await;
    let stored = || async {
        let row = server
            .db
            .query_one_raw(Statement::from_string(
                server.db.get_database_backend(),
                "SELECT expires_at::text FROM session",
            ))
            .await
            .unwrap();
        row.map(|r| r.try_get_by_index::<String>(0).unwrap())
    };
    let before = stored().await.expect("a session row");
    session(&server, &token).await;

    server.clock.advance(chrono::Duration::days(2));
    let body = session(&server, &token).await;
    let after = stored().await.expect("still there");
    assert!(
        after > before,
        "the renewal reached the database: {before} → {after}"
    );
    assert_eq!(
        body["session"]["expiresAt"].as_str().unwrap()[..10],
        after[..10]
    );

    server.clock.advance(chrono::Duration::days(8));
    assert!(
        session(&server, &token).await.is_null(),
        "expired, though cached"
    );
    assert_eq!(stored().await, None, "and deleted");
}

/// A lost notification connection empties the cache: what changed meanwhile unheard is not
/// served. The cache listens again, and serves again, by itself.
async fn a_lost_notification_connection_empties_the_cache(db: TestDb) {
    let server = cached_server(&db, CacheLimits::default()).await;
    let token = sign_up(&server, "ann@example.com").await;
    session(&server, &token).await;
    unnotified(&server, "DELETE FROM session").await;
    assert!(!session(&server, &token).await.is_null(), "still cached");
    exec(
        &server,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .await;
    wait_until(
        "the cache stops serving what it may have missed",
        || async { session(&server, &token).await.is_null() },
    )
    .await;
    wait_until("the cache listens and trusts itself again", || async {
        cache(&server).is_trusted()
    })
    .await;
    let token = sign_up(&server, "bob@example.com").await;
    session(&server, &token).await;
    unnotified(&server, "DELETE FROM session").await;
    assert!(!session(&server, &token).await.is_null(), "cached again");
}

/// A write whose fence is not heard back in time (here: no connection to send it from) leaves
/// nothing cached: the cache is emptied, not only distrusted, so what the write changed cannot
/// be served once trust returns.
async fn a_fence_not_heard_back_in_time_empties_the_cache(db: TestDb) {
    let server = cached_server(&db, CacheLimits::default()).await;
    let token = sign_up(&server, "ann@example.com").await;
    session(&server, &token).await;
    unnotified(&server, "DELETE FROM session").await;
    assert!(!session(&server, &token).await.is_null(), "still cached");

    // Every connection of the server's pool but the listener's, held here.
    let pool = server.db.get_postgres_connection_pool();
    let mut held = Vec::new();
    while let Ok(Ok(conn)) = tokio::time::timeout(Duration::from_millis(300), pool.acquire()).await
    {
        held.push(conn);
    }
    assert!(!held.is_empty());
    let start = Instant::now();
    cache(&server).fence().await;
    assert!(start.elapsed() < DELIVERY, "the fence gave up");
    assert!(!cache(&server).is_trusted());
    assert_eq!(cache(&server).entry_count(), (0, 0), "emptied");
    drop(held);

    wait_until("the cache trusts itself again", || async {
        cache(&server).is_trusted()
    })
    .await;
    assert!(session(&server, &token).await.is_null(), "not served again");
}

/// `list-members`' total of a large organization comes from the cache (a member deleted
/// unnoticed still counts) and follows every join and leave: at once through this server,
/// within delivery by SQL.
async fn a_large_organization_s_member_count_is_kept_and_follows_changes(db: TestDb) {
    let server = cached_server(&db, CacheLimits::default()).await;
    let owner = sign_up(&server, "owner@example.com").await;
    let (status, org) = post(
        &server,
        &owner,
        "/api/auth/organization/create",
        json!({"name": "Big", "slug": "big"}),
    )
    .await;
    assert_eq!(status, 200, "{org}");
    let org_id = org["id"].as_str().unwrap().to_owned();
    exec(
        &server,
        &format!(
            r#"INSERT INTO "user" (id, name, email, email_verified, created_at, updated_at)
            SELECT 'm' || g, 'M', 'm' || g || '@example.com', true, now(), now()
            FROM generate_series(1, 150) g;
            INSERT INTO member (id, organization_id, user_id, role, created_at)
            SELECT 'mem' || g, '{org_id}', 'm' || g, 'member', now() + g * interval '1 second'
            FROM generate_series(1, 150) g"#
        ),
    )
    .await;
    let total = || async {
        let reply = server
            .http
            .get(server.url(&format!(
                "/api/auth/organization/list-members?organizationId={org_id}&limit=10"
            )))
            .bearer_auth(&owner)
            .send()
            .await
            .unwrap();
        let (status, body) = parts(reply).await;
        assert_eq!(status, 200, "{body}");
        body["total"].as_u64().unwrap()
    };
    wait_until("the inserted members are counted", || async {
        total().await == 151
    })
    .await;

    unnotified(&server, "DELETE FROM member WHERE id = 'mem150'").await;
    assert_eq!(total().await, 151, "the count is the cached one");

    exec(&server, "DELETE FROM member WHERE id = 'mem149'").await;
    wait_until("a member removed by SQL is no longer counted", || async {
        total().await == 149
    })
    .await;

    let (status, body) = post(
        &server,
        &owner,
        "/api/auth/organization/remove-member",
        json!({"memberIdOrEmail": "m1@example.com", "organizationId": org_id}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(total().await, 148, "a removal through this server, at once");
}

/// The cache keeps no more entries, and no more bytes, than it is given.
async fn the_cache_stays_within_its_bounds(db: TestDb) {
    let server = cached_server(
        &db,
        CacheLimits {
            max_entries: 5,
            max_bytes: 1 << 20,
        },
    )
    .await;
    for n in 0..20 {
        let token = sign_up(&server, &format!("u{n}@example.com")).await;
        session(&server, &token).await;
    }
    let (sessions, users) = cache(&server).entry_count();
    assert!(sessions > 0 && sessions <= 5, "{sessions} sessions");
    assert!(users > 0 && users <= 5, "{users} users");

    // With its overhead a cached session weighs about 800 bytes and a user about 650: 2 KiB
    // each holds two or three, never 20.
    let small = cached_server(
        &db,
        CacheLimits {
            max_entries: 1000,
            max_bytes: 4096,
        },
    )
    .await;
    for n in 20..40 {
        let token = sign_up(&small, &format!("u{n}@example.com")).await;
        session(&small, &token).await;
    }
    let (sessions, users) = cache(&small).entry_count();
    assert!(sessions <= 3, "{sessions} sessions in 2 KiB");
    assert!(users <= 3, "{users} users in 2 KiB");
}

macro_rules! postgres_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::testing::run(super::Backend::Postgres, super::$name).await
            }
        }
    )*};
}

postgres_tests!(
    a_cached_session_costs_no_query,
    changes_through_this_server_are_seen_at_once,
    a_fence_waits_for_the_changes_committed_before_it,
    changes_elsewhere_reach_the_cache,
    expiry_is_exact_and_renewal_writes_through,
    a_lost_notification_connection_empties_the_cache,
    a_fence_not_heard_back_in_time_empties_the_cache,
    the_cache_stays_within_its_bounds,
    a_large_organization_s_member_count_is_kept_and_follows_changes,
);
