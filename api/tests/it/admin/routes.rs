//! Each route's answer in Better Auth's shape, its permission (403 with the route's code, before
//! any lookup), and its bad input (a 400 in the contract's shape, nothing changed).

use entity::{account, session};
use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

use super::{admin, admin_get, row, server, with_role};
use crate::fixtures::User;
use crate::harness::{assert_error, expect_ok, parts};

async fn sessions_of(server: &crate::harness::TestServer, id: &str) -> u64 {
    session::Entity::find()
        .filter(session::Column::UserId.eq(id))
        .count(&server.db)
        .await
        .unwrap()
}

/// Sign-up writes the default role; every user object carries the admin fields.
async fn users_carry_the_admin_fields(db: TestDb) {
    let server = server(&db).await;
    let plain = User::sign_up(&server, "plain@example.com").await;
    let me = plain.json("/get-session").await;
    assert_eq!(me["user"]["role"], "user");
    assert_eq!(me["user"]["banned"], false);
    assert_eq!(me["user"]["banReason"], json!(null));
    assert_eq!(me["user"]["banExpires"], json!(null));
    assert_eq!(me["session"]["impersonatedBy"], json!(null));
}

async fn create_user_and_read_it_back(db: TestDb) {
    let server = server(&db).await;
    let boss = with_role(&server, "boss@example.com", "admin").await;
    let body = expect_ok(
        boss.post(
            "/admin/create-user",
            json!({"email": "Created1@Example.com", "password": "password-123", "name": "Created One"}),
        )
        .await,
    )
    .await;
    let user = &body["user"];
    assert_eq!(
        (&user["email"], &user["role"], &user["banned"]),
        (
            &json!("created1@example.com"),
            &json!("user"),
            &json!(false)
        )
    );
    let id = user["id"].as_str().unwrap();
    // The password works.
    let b = server.browser();
    expect_ok(
        b.post(
            "/sign-in/email",
            json!({"email": "created1@example.com", "password": "password-123"}),
        )
        .await,
    )
    .await;
    // get-user answers the user unwrapped.
    let got = expect_ok(boss.get(&format!("/admin/get-user?id={id}")).await).await;
    assert_eq!(
        (&got["id"], &got["name"]),
        (&json!(id), &json!("Created One"))
    );
    // Several roles are stored comma-joined.
    let two = expect_ok(
        boss.post(
            "/admin/create-user",
            json!({"email": "two@example.com", "name": "Two", "password": "password-123", "role": ["member", "admin"]}),
        )
        .await,
    )
    .await;
    assert_eq!(two["user"]["role"], "member,admin");
    let two_id = two["user"]["id"].as_str().unwrap();
    assert_eq!(
        account::Entity::find()
            .filter(account::Column::UserId.eq(two_id))
            .count(&server.db)
            .await
            .unwrap(),
        1,
        "a password account"
    );
    // A taken address (any case) is Better Auth's 400.
    assert_error(
        admin(
            &boss,
            "create-user",
            json!({"email": "CREATED1@example.com", "name": "x", "password": "password-123"}),
        )
        .await,
        400,
        "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL",
    )
    .await;
    // Bad input: nothing created.
    let before = entity::user::Entity::find()
        .count(&server.db)
        .await
        .unwrap();
    for (body, code) in [
        (
            json!({"email": "not-an-email", "name": "x", "password": "password-123"}),
            "INVALID_EMAIL",
        ),
        (
            json!({"email": "a@example.com", "name": "x", "password": "password-123", "role": "superuser"}),
            "YOU_ARE_NOT_ALLOWED_TO_SET_NON_EXISTENT_VALUE",
        ),
        (
            json!({"email": "a@example.com", "name": "x", "password": "password-123", "data": {"role": 5}}),
            "INVALID_ROLE_TYPE",
        ),
        (
            json!({"email": "a@example.com", "name": "x", "password": "a"}),
            "PASSWORD_TOO_SHORT",
        ),
        (
            json!({"email": "a@example.com", "name": "x", "password": "password-123", "data": {"id": "chosenId"}}),
            "VALIDATION_ERROR",
        ),
        (
            json!({"email": "a@example.com", "name": "x", "password": "password-123", "data": {"createdAt": "2000-01-01T00:00:00.000Z"}}),
            "VALIDATION_ERROR",
        ),
        (
            json!({"email": "a@example.com", "name": "x", "password": "password-123", "role": "constructor"}),
            "YOU_ARE_NOT_ALLOWED_TO_SET_NON_EXISTENT_VALUE",
        ),
        (json!({"email": "a@example.com"}), "VALIDATION_ERROR"),
        (
            json!({"email": "a@example.com", "name": "no password"}),
            "VALIDATION_ERROR",
        ),
    ] {
        let (status, reply) = admin(&boss, "create-user", body.clone()).await;
        assert_eq!(
            (status, reply["code"].as_str()),
            (400, Some(code)),
            "{body} {reply}"
        );
    }
    assert_eq!(
        entity::user::Entity::find()
            .count(&server.db)
            .await
            .unwrap(),
        before
    );
}

/// Without the permission: the route's 403 code, before the target is looked up; without a
/// session: 401.
async fn permissions_come_first(db: TestDb) {
    let server = server(&db).await;
    let plain = User::sign_up(&server, "plain@example.com").await;
    for (route, body, code) in [
        (
            "create-user",
            json!({"email": "x@example.com", "name": "x"}),
            "YOU_ARE_NOT_ALLOWED_TO_CREATE_USERS",
        ),
        (
            "update-user",
            json!({"userId": "nobody", "data": {"name": "x"}}),
            "YOU_ARE_NOT_ALLOWED_TO_UPDATE_USERS",
        ),
        (
            "set-role",
            json!({"userId": "nobody", "role": "admin"}),
            "YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE",
        ),
        (
            "set-user-password",
            json!({"userId": "nobody", "newPassword": "password-1"}),
            "YOU_ARE_NOT_ALLOWED_TO_SET_USERS_PASSWORD",
        ),
        (
            "ban-user",
            json!({"userId": "nobody"}),
            "YOU_ARE_NOT_ALLOWED_TO_BAN_USERS",
        ),
        (
            "unban-user",
            json!({"userId": "nobody"}),
            "YOU_ARE_NOT_ALLOWED_TO_BAN_USERS",
        ),
        (
            "list-user-sessions",
            json!({"userId": "nobody"}),
            "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS_SESSIONS",
        ),
        (
            "revoke-user-session",
            json!({"sessionToken": "nope"}),
            "YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS",
        ),
        (
            "revoke-user-sessions",
            json!({"userId": "nobody"}),
            "YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS",
        ),
        (
            "remove-user",
            json!({"userId": "nobody"}),
            "YOU_ARE_NOT_ALLOWED_TO_DELETE_USERS",
        ),
        (
            "impersonate-user",
            json!({"userId": "nobody"}),
            "YOU_ARE_NOT_ALLOWED_TO_IMPERSONATE_USERS",
        ),
    ] {
        let (status, body) = admin(&plain, route, body).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some(code)),
            "{route} {body}"
        );
    }
    assert_error(
        admin_get(&plain, "list-users").await,
        403,
        "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS",
    )
    .await;
    assert_error(
        admin_get(&plain, "get-user?id=nobody").await,
        403,
        "YOU_ARE_NOT_ALLOWED_TO_GET_USER",
    )
    .await;
    let anonymous = server.browser();
    let (status, _) = admin(&anonymous, "ban-user", json!({"userId": plain.id})).await;
    assert_eq!(status, 401);
    // Bad input is refused before the session is looked at.
    assert_error(
        admin(&anonymous, "set-role", json!({"role": "user"})).await,
        400,
        "VALIDATION_ERROR",
    )
    .await;
}

async fn list_users_searches_filters_sorts_and_pages(db: TestDb) {
    let server = server(&db).await;
    let boss = with_role(&server, "boss@example.com", "admin").await;
    for i in 0..5 {
        User::sign_up(&server, &format!("u{i}@example.com")).await;
    }
    with_role(&server, "second@example.com", "member,admin").await;
    let all = expect_ok(boss.get("/admin/list-users").await).await;
    assert_eq!(all["total"], 7);
    assert_eq!(all["users"].as_array().unwrap().len(), 7);
    assert!(all.get("limit").is_none());
    let page = expect_ok(boss.get("/admin/list-users?limit=2&offset=2").await).await;
    assert_eq!(
        (&page["total"], &page["limit"], &page["offset"]),
        (&json!(7), &json!(2), &json!(2))
    );
    let emails: Vec<&str> = page["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        ["u1@example.com", "u2@example.com"],
        "oldest first by default"
    );
    let found = expect_ok(
        boss.get("/admin/list-users?searchValue=U3&searchField=email")
            .await,
    )
    .await;
    assert_eq!(
        (&found["total"], &found["users"][0]["email"]),
        (&json!(1), &json!("u3@example.com"))
    );
    // `%` is not a wildcard.
    let none = expect_ok(boss.get("/admin/list-users?searchValue=%25").await).await;
    assert_eq!(none["total"], 0);
    let admins = expect_ok(
        boss.get("/admin/list-users?filterField=role&filterOperator=in&filterValue=admin&filterValue=member,admin")
            .await,
    )
    .await;
    assert_eq!(admins["total"], 2);
    let contains = expect_ok(
        boss.get("/admin/list-users?filterField=role&filterOperator=contains&filterValue=admin")
            .await,
    )
    .await;
    assert_eq!(contains["total"], 2);
    let sorted = expect_ok(
        boss.get("/admin/list-users?sortBy=email&sortDirection=desc&limit=1")
            .await,
    )
    .await;
    assert_eq!(sorted["users"][0]["email"], "u4@example.com");
    let not_banned = expect_ok(
        boss.get("/admin/list-users?filterField=banned&filterValue=false")
            .await,
    )
    .await;
    assert_eq!(not_banned["total"], 7);
    for query in [
        "sortBy=nope",
        "filterField=password&filterValue=x",
        "filterField=banned&filterValue=maybe",
        "filterField=role&filterOperator=eq&filterValue=a&filterValue=b",
        "searchField=role&searchValue=admin",
        "limit=-1",
    ] {
        let (status, body) = admin_get(&boss, &format!("list-users?{query}")).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("VALIDATION_ERROR")),
            "{query} {body}"
        );
    }
}

async fn update_user_writes_fields_with_their_permissions(db: TestDb) {
    let server = server(&db).await;
    let boss = with_role(&server, "boss@example.com", "admin").await;
    let target = User::sign_up(&server, "target@example.com").await;
    let updated = expect_ok(
        boss.post(
            "/admin/update-user",
            json!({"userId": target.id, "data": {"name": "Target Renamed"}}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (&updated["name"], &updated["id"]),
        (&json!("Target Renamed"), &json!(target.id))
    );
    for (data, status, code) in [
        (json!({}), 400, "NO_DATA_TO_UPDATE"),
        (
            json!({"password": "password-123"}),
            400,
            "PASSWORD_CANNOT_BE_UPDATED_VIA_UPDATE_USER",
        ),
        (json!({"id": "other"}), 400, "USER_ID_CANNOT_BE_UPDATED"),
        (json!({"role": [5]}), 400, "INVALID_ROLE_TYPE"),
        (
            json!({"email": "boss@example.com"}),
            400,
            "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL",
        ),
        (json!({"banned": "yes"}), 400, "VALIDATION_ERROR"),
        (
            json!({"createdAt": "2000-01-01T00:00:00.000Z"}),
            400,
            "VALIDATION_ERROR",
        ),
    ] {
        let (s, body) = admin(
            &boss,
            "update-user",
            json!({"userId": target.id, "data": data.clone()}),
        )
        .await;
        assert_eq!(
            (s, body["code"].as_str()),
            (status, Some(code)),
            "{data} {body}"
        );
    }
    assert_error(
        admin(
            &boss,
            "update-user",
            json!({"userId": boss.id, "data": {"banned": true}}),
        )
        .await,
        400,
        "YOU_CANNOT_BAN_YOURSELF",
    )
    .await;
    assert_error(
        admin(
            &boss,
            "update-user",
            json!({"userId": "nobody", "data": {"name": "x"}}),
        )
        .await,
        404,
        "USER_NOT_FOUND",
    )
    .await;
    let t = row(&server, &target.id).await.unwrap();
    assert_eq!(
        (t.name.as_str(), t.email.as_str()),
        ("Target Renamed", "target@example.com")
    );
    // A ban through update-user ends the sessions too.
    assert_eq!(sessions_of(&server, &target.id).await, 1);
    expect_ok(
        boss.post(
            "/admin/update-user",
            json!({"userId": target.id, "data": {"banned": true}}),
        )
        .await,
    )
    .await;
    assert_eq!(sessions_of(&server, &target.id).await, 0);
}

async fn set_password_ban_unban_and_remove(db: TestDb) {
    let server = server(&db).await;
    let boss = with_role(&server, "boss@example.com", "admin").await;
    let target = User::sign_up(&server, "target@example.com").await;
    assert_error(
        admin(
            &boss,
            "set-user-password",
            json!({"userId": "nobody", "newPassword": "short"}),
        )
        .await,
        400,
        "PASSWORD_TOO_SHORT",
    )
    .await;
    assert_eq!(
        expect_ok(
            boss.post(
                "/admin/set-user-password",
                json!({"userId": target.id, "newPassword": "new-password-1"})
            )
            .await
        )
        .await,
        json!({"status": true})
    );
    expect_ok(
        server
            .browser()
            .post(
                "/sign-in/email",
                json!({"email": "target@example.com", "password": "new-password-1"}),
            )
            .await,
    )
    .await;
    assert_eq!(sessions_of(&server, &target.id).await, 2);
    let banned = expect_ok(
        boss.post(
            "/admin/ban-user",
            json!({"userId": target.id, "banReason": "spamming", "banExpiresIn": 3600}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (&banned["user"]["banned"], &banned["user"]["banReason"]),
        (&json!(true), &json!("spamming"))
    );
    assert!(banned["user"]["banExpires"].is_string());
    assert_eq!(
        sessions_of(&server, &target.id).await,
        0,
        "a ban ends every session"
    );
    let (status, body) = parts(
        server
            .browser()
            .post(
                "/sign-in/email",
                json!({"email": "target@example.com", "password": "new-password-1"}),
            )
            .await,
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("BANNED_USER")));
    // Default reason; bad expiry refused, nothing changed.
    assert_error(
        admin(
            &boss,
            "ban-user",
            json!({"userId": target.id, "banExpiresIn": 0}),
        )
        .await,
        400,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(
        row(&server, &target.id)
            .await
            .unwrap()
            .ban_reason
            .as_deref(),
        Some("spamming")
    );
    let again = expect_ok(
        boss.post("/admin/ban-user", json!({"userId": target.id}))
            .await,
    )
    .await;
    assert_eq!(
        (&again["user"]["banReason"], &again["user"]["banExpires"]),
        (&json!("No reason"), &json!(null))
    );
    let lifted = expect_ok(
        boss.post("/admin/unban-user", json!({"userId": target.id}))
            .await,
    )
    .await;
    assert_eq!(
        (&lifted["user"]["banned"], &lifted["user"]["banReason"]),
        (&json!(false), &json!(null))
    );
    expect_ok(
        server
            .browser()
            .post(
                "/sign-in/email",
                json!({"email": "target@example.com", "password": "new-password-1"}),
            )
            .await,
    )
    .await;
    // Sessions: listed, one revoked by its handle, then all.
    let listed = expect_ok(
        boss.post("/admin/list-user-sessions", json!({"userId": target.id}))
            .await,
    )
    .await;
    let sessions = listed["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["impersonatedBy"], json!(null));
    let handle = sessions[0]["token"].as_str().unwrap();
    assert_eq!(
        expect_ok(
            boss.post(
                "/admin/revoke-user-session",
                json!({"sessionToken": handle})
            )
            .await
        )
        .await,
        json!({"success": true})
    );
    assert_eq!(sessions_of(&server, &target.id).await, 0);
    assert_eq!(
        expect_ok(
            boss.post(
                "/admin/revoke-user-session",
                json!({"sessionToken": "nope"})
            )
            .await
        )
        .await,
        json!({"success": true})
    );
    target
        .post(
            "/sign-in/email",
            json!({"email": "target@example.com", "password": "new-password-1"}),
        )
        .await;
    expect_ok(
        boss.post("/admin/revoke-user-sessions", json!({"userId": target.id}))
            .await,
    )
    .await;
    assert_eq!(sessions_of(&server, &target.id).await, 0);
    // Remove: not oneself, not an unknown user, not an id of another shape.
    assert_error(
        admin(&boss, "remove-user", json!({"userId": boss.id})).await,
        400,
        "YOU_CANNOT_REMOVE_YOURSELF",
    )
    .await;
    assert_error(
        admin(&boss, "remove-user", json!({"userId": "nobody"})).await,
        404,
        "USER_NOT_FOUND",
    )
    .await;
    assert_error(
        admin(&boss, "remove-user", json!({"userId": "../etc/passwd"})).await,
        400,
        "VALIDATION_ERROR",
    )
    .await;
    assert_error(
        admin(&boss, "ban-user", json!({"userId": boss.id})).await,
        400,
        "YOU_CANNOT_BAN_YOURSELF",
    )
    .await;
    assert_eq!(
        expect_ok(
            boss.post("/admin/remove-user", json!({"userId": target.id}))
                .await
        )
        .await,
        json!({"success": true})
    );
    assert!(row(&server, &target.id).await.is_none());
}

async fn has_permission_judges_the_caller(db: TestDb) {
    let server = TestServer::start_with(&db, |cfg| {
        super::zero_starter(cfg);
        cfg.admin.admin_user_ids = vec!["rootAdminUserIdsEntry00000000000".into()];
    })
    .await;
    let boss = with_role(&server, "boss@example.com", "admin").await;
    let member = with_role(&server, "member@example.com", "member").await;
    let ask = |b: &crate::fixtures::User, body: serde_json::Value| {
        let b = b.browser.clone();
        async move { admin(&b, "has-permission", body).await }
    };
    assert_eq!(
        ask(
            &boss,
            json!({"permissions": {"user": ["list"], "session": ["revoke"]}})
        )
        .await,
        (200, json!({"error": null, "success": true}))
    );
    assert_eq!(
        ask(
            &boss,
            json!({"permissions": {"user": ["impersonate-admins"]}})
        )
        .await
        .1["success"],
        false
    );
    assert_eq!(
        ask(&member, json!({"permissions": {"user": ["list"]}}))
            .await
            .1["success"],
        true
    );
    assert_eq!(
        ask(
            &member,
            json!({"permissions": {"user": ["ban"]}, "role": "owner"})
        )
        .await
        .1["success"],
        false,
        "the body's role is ignored"
    );
    let (status, body) = ask(&boss, json!({"permission": {"user": ["list"]}})).await;
    assert_eq!(
        (status, &body),
        (
            400,
            &json!({"message": "invalid permission check. no permission(s) were passed."})
        )
    );
    assert_error(
        ask(&boss, json!({"permission": {}, "permissions": {}})).await,
        400,
        "VALIDATION_ERROR",
    )
    .await;
}

db_tests!(
    users_carry_the_admin_fields,
    create_user_and_read_it_back,
    permissions_come_first,
    list_users_searches_filters_sorts_and_pages,
    update_user_writes_fields_with_their_permissions,
    set_password_ban_unban_and_remove,
    has_permission_judges_the_caller,
);

use crate::harness::TestServer;
