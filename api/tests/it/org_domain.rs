//! The order of checks every route keeps (Better Auth validates the body before it looks for the
//! session), the statuses the organization routes give one condition (the one table, and the
//! routes that answer otherwise), and the OpenAPI document's descriptions.

use migration::db_tests;
use migration::testing::TestDb;
use serde_json::{json, Value};

use crate::harness::{parts, Browser, TestServer};

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
        let (s, answer) = match method.as_str() {
            "post" => {
                parts(
                    anonymous
                        .http
                        .post(&url)
                        .json(&json!(["not", "an", "object"]))
                        .send()
                        .await
                        .unwrap(),
                )
                .await
            }
            _ => parts(anonymous.http.get(&url).send().await.unwrap()).await,
        };
        let expected = match (body, path.as_str()) {
            // Switched on by default; the routes exist.
            (true, _) => (400, "VALIDATION_ERROR"),
            // A required query parameter is missing.
            (false, "/api/auth/organization/get-invitation" | "/api/auth/delete-user/callback") => {
                (400, "VALIDATION_ERROR")
            }
            // account-info's selection, before the session as its body would be.
            (false, "/api/auth/account-info") => (400, "VALIDATION_ERROR"),
            (false, _) => (401, "UNAUTHORIZED"),
        };
        assert_eq!(
            (s, answer["code"].as_str().unwrap_or_default()),
            expected,
            "{method} {path}: {answer}"
        );
    }
}

/// A switched-off account deletion is not there: 404 before the session is looked at, 400 for a
/// malformed body before that.
async fn switched_off_deletion_answers_before_the_session(db: TestDb) {
    let server = TestServer::start_with(&db, |c| c.delete_user_enabled = false).await;
    let anonymous = server.browser();
    let (s, body) = parts(anonymous.post("/delete-user", json!({})).await).await;
    assert_eq!((s, body["code"].as_str()), (404, Some("NOT_FOUND")));
    let (s, _) = parts(anonymous.post("/delete-user", json!([1])).await).await;
    assert_eq!(s, 400);
    let r = anonymous.get("/delete-user/callback?token=t").await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
}

/// Signs `email` up and creates organization `slug`; returns the browser, the organization id
/// and its default team's id.
async fn owner_of(server: &TestServer, email: &str, slug: &str) -> (Browser, String, String) {
    let b = server.browser();
    b.sign_up(email, "password123").await;
    let (s, org) = parts(
        b.post("/organization/create", json!({"name": slug, "slug": slug}))
            .await,
    )
    .await;
    assert_eq!(s, 200, "{org}");
    let session = b.json("/get-session").await;
    let team = session["session"]["activeTeamId"]
        .as_str()
        .unwrap()
        .to_owned();
    (b, org["id"].as_str().unwrap().to_owned(), team)
}

/// "User is not a member of the organization" is one condition; Better Auth answers it with
/// 400, 401 or 403 depending on the route, and so does orgauth, route by route.
async fn a_non_member_is_answered_as_each_route_does(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (_, org, team) = owner_of(&server, "owner@example.com", "guarded").await;
    let (stranger, _, _) = owner_of(&server, "stranger@example.com", "theirs").await;
    let user_id = stranger.json("/get-session").await["user"]["id"].clone();
    let cases: &[(&str, Value, u16)] = &[
        (
            "/organization/update",
            json!({"organizationId": org, "data": {"name": "x"}}),
            400,
        ),
        ("/organization/delete", json!({"organizationId": org}), 400),
        (
            "/organization/add-team-member",
            json!({"organizationId": org, "teamId": team, "userId": user_id}),
            400,
        ),
        (
            "/organization/remove-team-member",
            json!({"organizationId": org, "teamId": team, "userId": user_id}),
            400,
        ),
        (
            "/organization/has-permission",
            json!({"organizationId": org, "permissions": {"member": ["delete"]}}),
            401,
        ),
        (
            "/organization/set-active",
            json!({"organizationId": org}),
            403,
        ),
    ];
    for (path, body, status) in cases {
        let (s, answer) = parts(stranger.post(path, body.clone()).await).await;
        assert_eq!(
            (s, answer["code"].as_str()),
            (*status, Some("USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION")),
            "{path}"
        );
    }
    let (s, answer) = parts(
        stranger
            .get(&format!(
                "/organization/get-organization?organizationId={org}"
            ))
            .await,
    )
    .await;
    assert_eq!(
        (s, answer["code"].as_str()),
        (403, Some("USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION"))
    );
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
