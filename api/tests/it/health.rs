use migration::db_tests;
use migration::testing::TestDb;
use serde_json::{json, Value};

use crate::harness::TestServer;

async fn ok_healthz_and_readyz_answer(db: TestDb) {
    let server = TestServer::start(&db).await;
    let ok = server.get("/api/auth/ok").await;
    assert_eq!(ok.status(), 200);
    assert!(ok.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    assert_eq!(ok.json::<Value>().await.unwrap(), json!({"ok": true}));
    let live = server.get("/healthz").await;
    assert_eq!(
        (live.status().as_u16(), live.json::<Value>().await.unwrap()),
        (200, json!({"status": "ok"}))
    );
    let ready = server.get("/readyz").await;
    assert_eq!(
        (
            ready.status().as_u16(),
            ready.json::<Value>().await.unwrap()
        ),
        (200, json!({"status": "ok"}))
    );
}

/// When the database stops answering, readiness says so in the contract's error shape while
/// liveness stays green.
async fn readyz_is_503_without_the_database(db: TestDb) {
    let server = TestServer::start(&db).await;
    server.db.close_by_ref().await.unwrap();
    let ready = server.get("/readyz").await;
    assert_eq!(ready.status(), 503);
    assert_eq!(
        ready.json::<Value>().await.unwrap(),
        json!({"message": "The database is unavailable", "code": "DATABASE_UNAVAILABLE"})
    );
    assert_eq!(server.get("/healthz").await.status(), 200);
}

/// As the contract's router: unknown paths, wrong methods and trailing slashes are a 404 with an
/// empty body.
async fn unknown_routes_are_empty_404s(db: TestDb) {
    let server = TestServer::start(&db).await;
    for response in [
        server.get("/api/auth/nope").await,
        server.get("/api/auth/ok/").await,
        server
            .http
            .post(server.url("/api/auth/ok"))
            .send()
            .await
            .unwrap(),
        server
            .http
            .delete(server.url("/readyz"))
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(response.status(), 404);
        assert_eq!(response.bytes().await.unwrap().len(), 0);
    }
}

/// Every response carries a request id; a plain incoming one is kept, anything else replaced.
async fn every_response_has_a_request_id(db: TestDb) {
    let server = TestServer::start(&db).await;
    let fresh = server.get("/healthz").await;
    let id = fresh.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 7);
    let other = server.get("/healthz").await;
    assert_ne!(other.headers()["x-request-id"], id.as_str());

    let kept = server
        .http
        .get(server.url("/healthz"))
        .header("x-request-id", "edge-42.a_b")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "edge-42.a_b");
    let replaced = server
        .http
        .get(server.url("/healthz"))
        .header("x-request-id", "bad id\twith spaces")
        .send()
        .await
        .unwrap();
    assert_ne!(replaced.headers()["x-request-id"], "bad id\twith spaces");
    let not_found = server.get("/nope").await;
    assert!(not_found.headers().contains_key("x-request-id"));
}

/// Swagger UI is served at /docs and the OpenAPI document at /openapi.json, describing the routes.
async fn docs_and_openapi_are_served(db: TestDb) {
    let server = TestServer::start(&db).await;
    let docs = server.get("/docs").await;
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger-ui"));
    let spec: Value = server.get("/openapi.json").await.json().await.unwrap();
    assert_eq!(spec["openapi"], "3.0.0");
    for (path, id) in [
        ("/api/auth/ok", "ok"),
        ("/healthz", "healthz"),
        ("/readyz", "readyz"),
    ] {
        assert_eq!(spec["paths"][path]["get"]["operationId"], id, "{path}");
    }
    assert!(spec["paths"]["/readyz"]["get"]["responses"]["503"].is_object());
    // Every operation is documented for client generation: an id, a summary, a tag, and for the
    // auth routes their error responses and the session security schemes.
    let mut ids = std::collections::BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(ids.insert(id.to_owned()), "duplicate operationId {id}");
            assert!(op["summary"].is_string(), "{id} has no summary");
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{id} has no tag"
            );
            if path.starts_with("/api/auth/") && path != "/api/auth/ok" {
                assert!(
                    op["responses"]["400"].is_object() && op["responses"]["401"].is_object(),
                    "{id} documents no errors"
                );
            }
        }
    }
    assert!(ids.contains("signInEmail") && ids.contains("resetPassword"));
    let schemes = spec["components"]["securitySchemes"].as_object().unwrap();
    assert_eq!(schemes.len(), 2, "{schemes:?}");
    let get_session = &spec["paths"]["/api/auth/get-session"]["get"];
    assert!(
        get_session["security"]
            .as_array()
            .is_some_and(|s| s.len() >= 2),
        "{get_session}"
    );
    assert_eq!(
        spec,
        serde_json::from_str::<Value>(&api::server::openapi_json()).unwrap()
    );
}

/// Better Auth's `openAPI()` plugin paths: the Scalar reference page, self-contained (Scalar is
/// inlined, no `<script src>`), embedding the same document as `/openapi.json`, which is also at
/// `/api/auth/open-api/generate-schema`.
async fn the_api_reference_is_served_where_better_auth_serves_it(db: TestDb) {
    let server = TestServer::start(&db).await;
    let spec: Value = server.get("/openapi.json").await.json().await.unwrap();
    let generated = server.get("/api/auth/open-api/generate-schema").await;
    assert_eq!(generated.status(), 200);
    assert_eq!(generated.json::<Value>().await.unwrap(), spec);
    let page = server.get("/api/auth/reference").await;
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(html.contains("<title>Scalar API Reference</title>"));
    assert!(html.contains("withDefaultFonts: false"));
    assert!(
        !html.contains("<script src"),
        "nothing loaded from elsewhere"
    );
    let start = html.find(r#"type="application/json""#).unwrap();
    let start = start + html[start..].find('>').unwrap() + 1;
    let end = start + html[start..].find("</script>").unwrap();
    let embedded: Value = serde_json::from_str(html[start..end].trim()).unwrap();
    assert_eq!(embedded, spec);
}

db_tests!(
    ok_healthz_and_readyz_answer,
    readyz_is_503_without_the_database,
    unknown_routes_are_empty_404s,
    every_response_has_a_request_id,
    docs_and_openapi_are_served,
    the_api_reference_is_served_where_better_auth_serves_it,
);
