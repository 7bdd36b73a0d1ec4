//! Request bodies: malformed, missing, not an object, or setting server-managed fields.

use migration::db_tests;
use migration::testing::TestDb;
use serde_json::json;

use crate::fixtures::Org;
use crate::harness::{assert_error, parts, set_cookies, TestServer};

use super::{organization, post_raw, signed_in};

/// `update-session`: the body is checked before the session; with one, nothing can be set
/// (`No fields to update`), and the organization plugin's fields are `FIELD_NOT_ALLOWED`.
async fn update_session_sets_nothing_the_server_manages(db: TestDb) {
    let server = TestServer::start(&db).await;
    let anonymous = server.browser();
    let (s, body) = post_raw(&anonymous, "/update-session", "application/json", "[]").await;
    assert_eq!(
        (s, body),
        (
            400,
            json!({"message": "[body] Invalid input: expected record, received array", "code": "VALIDATION_ERROR"})
        )
    );
    assert_error(
        anonymous.post("/update-session", json!({})).await,
        401,
        "UNAUTHORIZED",
    )
    .await;

    let Org {
        owner: user,
        id: org,
        ..
    } = organization(&server, "update-session@example.com", "update-session").await;
    for body in [
        json!({}),
        json!({"unknown": 1}),
        json!({"activeOrganizationId": null}),
    ] {
        let (s, answer) = parts(user.post("/update-session", body.clone()).await).await;
        assert_eq!(
            (s, answer),
            (400, json!({"message": "No fields to update"})),
            "{body}"
        );
    }
    for field in ["activeOrganizationId", "activeTeamId"] {
        let (s, body) = parts(user.post("/update-session", json!({field: "other"})).await).await;
        assert_eq!(
            (s, body),
            (
                400,
                json!({"message": format!("{field} is not allowed to be set"), "code": "FIELD_NOT_ALLOWED"})
            )
        );
    }
    let session = user.json("/get-session").await;
    assert_eq!(session["session"]["activeOrganizationId"], org.as_str());
}

/// `sign-out` refuses a body that is not JSON (415) or not an object (400) before it touches the
/// session, which stays signed in; without a body it signs out.
async fn sign_out_refuses_a_malformed_body_first(db: TestDb) {
    let server = TestServer::start(&db).await;
    let user = server.browser();
    user.sign_up("sign-out@example.com", "password123").await;
    let (s, body) = post_raw(&user, "/sign-out", "text/plain", "x").await;
    assert_eq!(
        (s, body["code"].as_str()),
        (415, Some("UNSUPPORTED_MEDIA_TYPE"))
    );
    for (raw, kind) in [
        ("[]", "array"),
        ("\"x\"", "string"),
        ("1", "number"),
        ("null", "null"),
    ] {
        let (s, body) = post_raw(&user, "/sign-out", "application/json", raw).await;
        assert_eq!(
            (s, body),
            (
                400,
                json!({"message": format!("[body] Invalid input: expected object, received {kind}"), "code": "VALIDATION_ERROR"})
            ),
            "{raw}"
        );
    }
    let (s, _) = post_raw(&user, "/sign-out", "application/json", "{oops").await;
    assert_eq!(s, 400);
    assert!(
        signed_in(&user).await,
        "a refused sign-out leaves the session"
    );
    let r = user
        .http
        .post(format!("{}/api/auth/sign-out", user.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(set_cookies(&r)
        .iter()
        .any(|c| c.starts_with("better-auth.session_token=;")));
    assert!(!signed_in(&user).await);
}

/// `update-user` with a body that is not an object: zod's message for a record, as Better Auth.
async fn update_user_refuses_a_body_that_is_not_an_object(db: TestDb) {
    let server = TestServer::start(&db).await;
    let user = server.browser();
    user.sign_up("update-user@example.com", "password123").await;
    for (raw, kind) in [
        ("[]", "array"),
        ("\"x\"", "string"),
        ("1", "number"),
        ("null", "null"),
    ] {
        let (s, body) = post_raw(&user, "/update-user", "application/json", raw).await;
        assert_eq!(
            (s, body),
            (
                400,
                json!({"message": format!("[body] Invalid input: expected record, received {kind}"), "code": "VALIDATION_ERROR"})
            ),
            "{raw}"
        );
    }
    let (s, _) = parts(user.post("/update-user", json!({"name": "Renamed"})).await).await;
    assert_eq!(s, 200);
    assert_eq!(user.json("/get-session").await["user"]["name"], "Renamed");
}

/// A POST without a body (and without a content type) is an `undefined` body to Better Auth:
/// 400 `VALIDATION_ERROR` where a body is needed, not 415.
async fn a_missing_body_is_undefined_not_the_wrong_type(db: TestDb) {
    let server = TestServer::start(&db).await;
    let user = server.browser();
    user.sign_up("no-body@example.com", "password123").await;
    for (path, expected) in [
        ("/verify-password", "object"),
        ("/update-user", "record"),
        ("/update-session", "record"),
        ("/organization/create", "object"),
    ] {
        let r = user
            .http
            .post(format!("{}/api/auth{path}", user.base))
            .send()
            .await
            .unwrap();
        let (s, body) = parts(r).await;
        assert_eq!(
            (s, body),
            (
                400,
                json!({"message": format!("[body] Invalid input: expected {expected}, received undefined"), "code": "VALIDATION_ERROR"})
            ),
            "{path}"
        );
    }
    assert!(signed_in(&user).await);
}

/// A property of another JSON type than documented, or `null` where the document does not allow
/// it, is zod's 400 naming the property, as Better Auth answers, and nothing is written: poem-openapi
/// alone read `false` as the string `"false"` and `null` as the property left out.
async fn properties_of_the_wrong_type_are_refused(db: TestDb) {
    use sea_orm::{EntityTrait, PaginatorTrait};

    let server = TestServer::start(&db).await;
    let Org { owner, id: org, .. } = organization(&server, "strict@example.com", "strict").await;
    let teams_before = entity::team::Entity::find()
        .count(&server.db)
        .await
        .unwrap();
    let cases = [
        (
            "/organization/check-slug",
            json!({"slug": false}),
            "[body.slug] Invalid input: expected string, received boolean",
        ),
        (
            "/organization/create-team",
            json!({"name": 7, "organizationId": org}),
            "[body.name] Invalid input: expected string, received number",
        ),
        (
            "/organization/set-active",
            json!({"organizationId": org, "organizationSlug": null}),
            "[body.organizationSlug] Invalid input: expected string, received null",
        ),
        (
            "/sign-up/email",
            json!({"email": "strict-new@example.com", "password": "password123", "name": "N", "rememberMe": null}),
            "[body.rememberMe] Invalid input: expected boolean, received null",
        ),
        (
            "/organization/invite-member",
            json!({"email": "strict-invitee@example.com", "role": "member", "resend": "yes"}),
            "[body.resend] Invalid input: expected boolean, received string",
        ),
    ];
    for (path, body, message) in cases {
        let (s, answer) = parts(owner.post(path, body.clone()).await).await;
        assert_eq!(
            (s, answer),
            (400, json!({"message": message, "code": "VALIDATION_ERROR"})),
            "{path} {body}"
        );
    }
    let (s, answer) = post_raw(&owner, "/delete-user", "application/json", "null").await;
    assert_eq!(
        (s, answer),
        (
            400,
            json!({"message": "[body] Invalid input: expected object, received null", "code": "VALIDATION_ERROR"})
        )
    );
    // Nothing was written: no team, no user, no invitation, the owner still signed in.
    assert_eq!(
        entity::team::Entity::find()
            .count(&server.db)
            .await
            .unwrap(),
        teams_before
    );
    assert_eq!(
        entity::user::Entity::find()
            .count(&server.db)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        entity::invitation::Entity::find()
            .count(&server.db)
            .await
            .unwrap(),
        0
    );
    assert!(signed_in(&owner).await);
    // The documented types still pass.
    let (s, answer) = parts(
        owner
            .post("/organization/check-slug", json!({"slug": "free-slug"}))
            .await,
    )
    .await;
    assert_eq!((s, answer), (200, json!({"status": true})));
}

/// The admin plugin's user fields are not the core routes' to set: one that is set is Better
/// Auth's 400 `FIELD_NOT_ALLOWED` on `sign-up/email` and `update-user`, a falsy one is ignored.
async fn core_routes_refuse_the_admin_fields(db: TestDb) {
    use sea_orm::{EntityTrait, PaginatorTrait};

    let server = TestServer::start(&db).await;
    let user = server.browser();
    let sign_up = |extra: serde_json::Value| {
        let mut body =
            json!({"email": "fields@example.com", "password": "password123", "name": "F"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    for (extra, field) in [
        (json!({"role": "admin"}), "role"),
        (json!({"banned": true}), "banned"),
        (json!({"banReason": "x"}), "banReason"),
        (
            json!({"banExpires": "2030-01-01T00:00:00.000Z"}),
            "banExpires",
        ),
    ] {
        let (s, answer) = parts(user.post("/sign-up/email", sign_up(extra)).await).await;
        assert_eq!(
            (s, answer),
            (
                400,
                json!({"message": format!("{field} is not allowed to be set"), "code": "FIELD_NOT_ALLOWED"})
            )
        );
    }
    assert_eq!(
        entity::user::Entity::find()
            .count(&server.db)
            .await
            .unwrap(),
        0
    );
    let (s, _) = parts(
        user.post(
            "/sign-up/email",
            sign_up(json!({"banned": false, "role": null})),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200);
    let (s, answer) = parts(
        user.post("/update-user", json!({"name": "Other", "role": "admin"}))
            .await,
    )
    .await;
    assert_eq!(
        (s, answer),
        (
            400,
            json!({"message": "role is not allowed to be set", "code": "FIELD_NOT_ALLOWED"})
        )
    );
    let stored = entity::user::Entity::find()
        .one(&server.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.name.as_str(), stored.role.as_deref()),
        ("F", Some("user"))
    );
}

db_tests!(
    core_routes_refuse_the_admin_fields,
    properties_of_the_wrong_type_are_refused,
    a_missing_body_is_undefined_not_the_wrong_type,
    update_session_sets_nothing_the_server_manages,
    sign_out_refuses_a_malformed_body_first,
    update_user_refuses_a_body_that_is_not_an_object,
);
