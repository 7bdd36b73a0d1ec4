//! The order of checks every route keeps (Better Auth validates the body before it looks for the
//! session), the statuses the organization routes give one condition (the one table, and the
//! routes that answer otherwise), and the OpenAPI document's descriptions.

use migration::db_tests;
use migration::testing::TestDb;
use serde_json::{json, Value};

use crate::fixtures::{Org, User};
use crate::harness::{assert_error, assert_error_for, TestServer};

/// The operations that need a session (their security has no `{}` alternative), by method and
/// path, with whether they read a body.
fn session_routes(spec: &Value) -> Vec<(String, String, bool)> {
    let mut routes = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let security = op["security"].as_array().cloned().unwrap_or_default();
            let needs_session = !security.is_empty()
                && security
                    .iter()
                    .all(|s| s.as_object().is_some_and(|s| !s.is_empty()));
            if needs_session {
                let body = op.get("requestBody").is_some();
                routes.push((method.clone(), path.clone(), body));
            }
        }
    }
    routes
}

/// Without a session, a route that reads a body refuses a malformed one first (400), as
/// better-call validates before its session middleware; every route then answers 401.
async fn malformed_bodies_are_refused_before_the_session(db: TestDb) {
    let server = TestServer::start(&db).await;
    let spec: Value = server.get("/openapi.json").await.json().await.unwrap();
    let anonymous = server.browser();
    let routes = session_routes(&spec);
    assert!(routes.len() > 40, "{routes:?}");
    for (method, path, body) in routes {
        let url = format!("{}{}", anonymous.base, path.replace("{id}", "x"));
        let answer = match method.as_str() {
            "post" => anonymous
                .http
                .post(&url)
                .json(&json!(["not", "an", "object"])),
            _ => anonymous.http.get(&url),
        }
        .send()
        .await
        .unwrap();
        let (status, code) = match (body, path.as_str()) {
            (true, _) => (400, "VALIDATION_ERROR"),
            // A required query parameter is missing.
            (false, "/api/auth/organization/get-invitation" | "/api/auth/delete-user/callback") => {
                (400, "VALIDATION_ERROR")
            }
            // account-info's selection, before the session as its body would be.
            (false, "/api/auth/account-info") => (400, "VALIDATION_ERROR"),
            (false, _) => (401, "UNAUTHORIZED"),
        };
        assert_error_for(answer, status, code, format!("{method} {path}")).await;
    }
}

/// A switched-off account deletion is not there: 404 before the session is looked at, 400 for a
/// malformed body before that.
async fn switched_off_deletion_answers_before_the_session(db: TestDb) {
    let server = TestServer::start_with(&db, |c| c.delete_user_enabled = false).await;
    let anonymous = server.browser();
    assert_error(
        anonymous.post("/delete-user", json!({})).await,
        404,
        "NOT_FOUND",
    )
    .await;
    let malformed = anonymous.post("/delete-user", json!([1])).await;
    assert_error(malformed, 400, "VALIDATION_ERROR").await;
    let r = anonymous.get("/delete-user/callback?token=t").await;
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    assert_error(r, 404, "NOT_FOUND").await;
}

/// "User is not a member of the organization" is one condition; Better Auth answers it with
/// 400, 401 or 403 depending on the route, and so does orgauth, route by route.
async fn a_non_member_is_answered_as_each_route_does(db: TestDb) {
    let server = TestServer::start(&db).await;
    let org = Org::new(&server, "guarded").await;
    let stranger = User::sign_up(&server, "stranger@example.com").await;
    let (id, team, user) = (&org.id, &org.default_team, &stranger.id);
    let cases: &[(&str, Value, u16)] = &[
        (
            "/organization/update",
            json!({"organizationId": id, "data": {"name": "x"}}),
            400,
        ),
        ("/organization/delete", json!({"organizationId": id}), 400),
        (
            "/organization/add-team-member",
            json!({"organizationId": id, "teamId": team, "userId": user}),
            400,
        ),
        (
            "/organization/remove-team-member",
            json!({"organizationId": id, "teamId": team, "userId": user}),
            400,
        ),
        (
            "/organization/has-permission",
            json!({"organizationId": id, "permissions": {"member": ["delete"]}}),
            401,
        ),
        (
            "/organization/set-active",
            json!({"organizationId": id}),
            403,
        ),
    ];
    let code = "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION";
    for (path, body, status) in cases {
        assert_error_for(stranger.post(path, body.clone()).await, *status, code, path).await;
    }
    let read = stranger
        .get(&format!(
            "/organization/get-organization?organizationId={id}"
        ))
        .await;
    assert_error(read, 403, code).await;
}

/// The document describes every schema, property and parameter, and tags each organization
/// operation with its group (one tag, declared with a description).
async fn the_document_describes_everything(db: TestDb) {
    let server = TestServer::start(&db).await;
    let spec: Value = server.get("/openapi.json").await.json().await.unwrap();
    let declared: Vec<&str> = spec["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["description"].is_string())
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for p in op["parameters"].as_array().into_iter().flatten() {
                assert!(
                    p["description"].is_string(),
                    "{method} {path} {}",
                    p["name"]
                );
            }
            let tags: Vec<&str> = op["tags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap())
                .collect();
            assert!(
                tags.len() == 1 && declared.contains(&tags[0]),
                "{method} {path}: {tags:?}"
            );
            if path.starts_with("/api/auth/organization/") {
                let groups = ["Organizations", "Members", "Invitations", "Teams"];
                assert!(groups.contains(&tags[0]), "{method} {path}: {tags:?}");
            }
        }
    }
    for (name, schema) in spec["components"]["schemas"].as_object().unwrap() {
        assert!(schema["description"].is_string(), "schema {name}");
        for (property, p) in schema["properties"].as_object().into_iter().flatten() {
            assert!(p["description"].is_string(), "{name}.{property}");
        }
    }
}

db_tests!(
    malformed_bodies_are_refused_before_the_session,
    switched_off_deletion_answers_before_the_session,
    a_non_member_is_answered_as_each_route_does,
    the_document_describes_everything,
);
