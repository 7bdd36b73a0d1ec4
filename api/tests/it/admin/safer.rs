//! orgauth's rules beyond Better Auth (docs/compatibility.md, "Admin plugin"): ranks, the last
//! admin (under concurrency too), and bans that end every session on every route.

use entity::user;
use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};

use serde_json::json;
use service::clock::Clock;

use super::{admin, row, server, set_role, with_role};
use crate::fixtures::User;
use crate::harness::{assert_error, assert_error_for, expect_ok};

/// ZeroStarter's `set-role` hole: an admin cannot promote anyone (itself included) above admin,
/// nor change the role of another admin or the owner; the owner can.
async fn nobody_grants_above_their_rank(db: TestDb) {
    let server = server(&db).await;
    let owner = with_role(&server, "owner@example.com", "owner").await;
    let admin1 = with_role(&server, "admin1@example.com", "admin").await;
    let admin2 = with_role(&server, "admin2@example.com", "admin").await;
    let victim = User::sign_up(&server, "victim@example.com").await;
    for (target, role, code) in [
        (
            &victim.id,
            "owner",
            "YOU_CANNOT_GRANT_A_ROLE_ABOVE_YOUR_OWN",
        ),
        (
            &admin1.id,
            "owner",
            "YOU_CANNOT_GRANT_A_ROLE_ABOVE_YOUR_OWN",
        ),
        (
            &admin2.id,
            "user",
            "YOU_CANNOT_CHANGE_THE_ROLE_OF_AN_EQUAL_OR_HIGHER_ROLE",
        ),
        (
            &owner.id,
            "user",
            "YOU_CANNOT_CHANGE_THE_ROLE_OF_AN_EQUAL_OR_HIGHER_ROLE",
        ),
        (
            &admin1.id,
            "user",
            "YOU_CANNOT_CHANGE_THE_ROLE_OF_AN_EQUAL_OR_HIGHER_ROLE",
        ),
    ] {
        assert_error_for(
            admin(&admin1, "set-role", json!({"userId": target, "role": role})).await,
            403,
            code,
            format!("{target} -> {role}"),
        )
        .await;
    }
    // create-user and update-user are the same hole, closed the same way.
    assert_error(
        admin(&admin1, "create-user", json!({"email": "o2@example.com", "name": "o2", "password": "password-123", "role": "owner"})).await,
        403,
        "YOU_CANNOT_GRANT_A_ROLE_ABOVE_YOUR_OWN",
    )
    .await;
    assert_error(
        admin(
            &admin1,
            "update-user",
            json!({"userId": victim.id, "data": {"role": ["member", "owner"]}}),
        )
        .await,
        403,
        "YOU_CANNOT_GRANT_A_ROLE_ABOVE_YOUR_OWN",
    )
    .await;
    // Acting on a higher rank: not the owner's password, ban, sessions or account.
    for (route, body) in [
        (
            "set-user-password",
            json!({"userId": owner.id, "newPassword": "taken-over-123"}),
        ),
        ("ban-user", json!({"userId": owner.id})),
        ("revoke-user-sessions", json!({"userId": owner.id})),
        ("remove-user", json!({"userId": owner.id})),
        (
            "update-user",
            json!({"userId": owner.id, "data": {"email": "mine@example.com"}}),
        ),
        ("ban-user", json!({"userId": admin2.id})),
    ] {
        assert_error_for(
            admin(&admin1, route, body).await,
            403,
            "YOU_CANNOT_ACT_ON_A_HIGHER_ROLE",
            route,
        )
        .await;
    }
    let roles: Vec<_> = [&owner.id, &admin1.id, &admin2.id, &victim.id]
        .iter()
        .map(|id| id.to_string())
        .collect();
    let mut stored = Vec::new();
    for id in &roles {
        stored.push(row(&server, id).await.unwrap().role.unwrap());
    }
    assert_eq!(
        stored,
        ["owner", "admin", "admin", "user"],
        "nothing changed"
    );
    // Within their rank an admin still works: a member may be made an admin.
    let promoted = expect_ok(
        admin1
            .post(
                "/admin/set-role",
                json!({"userId": victim.id, "role": "admin"}),
            )
            .await,
    )
    .await;
    assert_eq!(promoted["user"]["role"], "admin");
    // The owner outranks admins.
    expect_ok(
        owner
            .post(
                "/admin/set-role",
                json!({"userId": admin2.id, "role": "member"}),
            )
            .await,
    )
    .await;
    expect_ok(
        owner
            .post("/admin/ban-user", json!({"userId": admin1.id}))
            .await,
    )
    .await;
}

/// A user with the fixed id `id` (an `adminUserIds` entry) and role `user`, signed in through a
/// bearer token.
async fn root(server: &TestServer, email: &str, id: &str) -> User {
    let now = service::clock::db_time(server.clock.now());
    user::ActiveModel {
        id: Set(id.to_owned()),
        name: Set("root".into()),
        email: Set(email.to_owned()),
        email_verified: Set(true),
        image: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        role: Set(Some("user".into())),
        banned: Set(Some(false)),
        ban_reason: Set(None),
        ban_expires: Set(None),
    }
    .insert(&server.db)
    .await
    .unwrap();
    entity::account::ActiveModel {
        account_id: Set(id.to_owned()),
        provider_id: Set("credential".into()),
        user_id: Set(id.to_owned()),
        password: Set(Some(crate::BETTER_AUTH_SCRYPT.into())),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&server.db)
    .await
    .unwrap();
    let cfg = service::config::AuthConfig::with_secret(service::config::Secret::new(
        crate::harness::SECRET,
    ));
    let (token, _) = service::session::create(
        &server.db,
        &cfg,
        id,
        server.clock.now(),
        true,
        &Default::default(),
    )
    .await
    .unwrap();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("origin", crate::harness::ORIGIN.parse().unwrap());
    headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
    let browser = crate::harness::Browser {
        base: server.base.clone(),
        http: reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .unwrap(),
    };
    User {
        browser,
        id: id.to_owned(),
    }
}

const ROOT_A: &str = "rootAdminUserIdsEntryA000000000";
const ROOT_B: &str = "rootAdminUserIdsEntryB000000000";

async fn roots_server(db: &TestDb) -> TestServer {
    TestServer::start_with(db, |cfg| {
        super::zero_starter(cfg);
        cfg.admin.admin_user_ids = vec![ROOT_A.into(), ROOT_B.into()];
    })
    .await
}

/// The last holder of an admin role is never demoted, banned or removed, not even by an
/// `adminUserIds` user (who outranks everyone but holds no admin role).
async fn the_last_admin_stays(db: TestDb) {
    let server = roots_server(&db).await;
    let owner = with_role(&server, "owner@example.com", "owner").await;
    let root = root(&server, "root@example.com", ROOT_A).await;
    for (route, body, code) in [
        (
            "set-role",
            json!({"userId": owner.id, "role": "user"}),
            "THE_LAST_ADMIN_CANNOT_BE_DEMOTED",
        ),
        (
            "update-user",
            json!({"userId": owner.id, "data": {"role": "member"}}),
            "THE_LAST_ADMIN_CANNOT_BE_DEMOTED",
        ),
        (
            "ban-user",
            json!({"userId": owner.id}),
            "THE_LAST_ADMIN_CANNOT_BE_BANNED",
        ),
        (
            "update-user",
            json!({"userId": owner.id, "data": {"banned": true}}),
            "THE_LAST_ADMIN_CANNOT_BE_BANNED",
        ),
        (
            "remove-user",
            json!({"userId": owner.id}),
            "THE_LAST_ADMIN_CANNOT_BE_REMOVED",
        ),
    ] {
        assert_error_for(admin(&root, route, body).await, 400, code, route).await;
    }
    let o = row(&server, &owner.id).await.unwrap();
    assert_eq!((o.role.as_deref(), o.banned), (Some("owner"), Some(false)));
    // With a second admin, one of them may go; an admin role kept is no demotion.
    let admin2 = with_role(&server, "admin2@example.com", "admin").await;
    expect_ok(
        root.post(
            "/admin/set-role",
            json!({"userId": owner.id, "role": ["member", "admin"]}),
        )
        .await,
    )
    .await;
    expect_ok(
        root.post(
            "/admin/set-role",
            json!({"userId": admin2.id, "role": "user"}),
        )
        .await,
    )
    .await;
    set_role(&server, &admin2.id, "admin").await;
    expect_ok(
        root.post("/admin/ban-user", json!({"userId": admin2.id}))
            .await,
    )
    .await;
    // A banned admin does not count: the owner is the last one again.
    assert_error(
        admin(&root, "remove-user", json!({"userId": owner.id})).await,
        400,
        "THE_LAST_ADMIN_CANNOT_BE_REMOVED",
    )
    .await;
}

/// The only two admins are demoted at the same moment by two callers: exactly one demotion
/// wins, and one admin remains. Several rounds, so an interleaving without the lock would show.
async fn concurrent_demotions_leave_an_admin(db: TestDb) {
    let server = roots_server(&db).await;
    let a = root(&server, "root-a@example.com", ROOT_A).await;
    let b = root(&server, "root-b@example.com", ROOT_B).await;
    let x = with_role(&server, "x@example.com", "owner").await;
    let y = with_role(&server, "y@example.com", "admin").await;
    for round in 0..6 {
        set_role(&server, &x.id, "owner").await;
        set_role(&server, &y.id, "admin").await;
        let (rx, ry) = tokio::join!(
            admin(&a, "set-role", json!({"userId": x.id, "role": "user"})),
            admin(&b, "set-role", json!({"userId": y.id, "role": "member"})),
        );
        let mut statuses = [rx.0, ry.0];
        statuses.sort();
        assert_eq!(statuses, [200, 400], "round {round}: {rx:?} {ry:?}");
        let refused = if rx.0 == 400 { &rx.1 } else { &ry.1 };
        assert_eq!(refused["code"], "THE_LAST_ADMIN_CANNOT_BE_DEMOTED");
        let admins = [
            row(&server, &x.id).await.unwrap().role,
            row(&server, &y.id).await.unwrap().role,
        ]
        .iter()
        .filter(|r| matches!(r.as_deref(), Some("owner" | "admin")))
        .count();
        assert_eq!(admins, 1, "round {round}");
    }
}

/// A ban set any way (here by SQL, as another tool would) ends the user's sessions on every
/// route: at once without the session cache, once its notification is heard with it (`settle`).
async fn a_ban_ends_every_session_on_every_route(db: TestDb) {
    let server = server(&db).await;
    let target = User::sign_up(&server, "target@example.com").await;
    expect_ok(target.get("/get-session").await).await;
    let row = user::Entity::find_by_id(&target.id)
        .one(&server.db)
        .await
        .unwrap()
        .unwrap();
    let mut row = row.into_active_model();
    row.banned = Set(Some(true));
    row.update(&server.db).await.unwrap();
    server.settle().await;
    assert_eq!(target.json("/get-session").await, json!(null));
    for path in ["/list-sessions", "/organization/list", "/list-accounts"] {
        let r = target.get(path).await;
        assert_eq!(r.status(), 401, "{path}");
    }
    let (status, _) = admin(
        &target,
        "has-permission",
        json!({"permissions": {"user": ["list"]}}),
    )
    .await;
    assert_eq!(status, 401);
}

db_tests!(
    nobody_grants_above_their_rank,
    the_last_admin_stays,
    concurrent_demotions_leave_an_admin,
    a_ban_ends_every_session_on_every_route,
);

use crate::harness::TestServer;
