//! Text holding NUL (U+0000), which PostgreSQL cannot store, is refused with 400 wherever it comes
//! in — a JSON string, a form field, the query string, the path — and nothing is written. It once
//! answered 500 on PostgreSQL (found by the generated-input run, docs/reliability.md).

use entity::user;
use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{json, Value};

use crate::fixtures::{Org, User};
use crate::harness::{assert_error, parts, TestServer};

const NUL: &str = "Text may not contain the NUL character (U+0000)";

async fn refused(r: reqwest::Response) {
    let (s, body) = parts(r).await;
    assert_eq!(
        (s, body),
        (400, json!({"message": NUL, "code": "VALIDATION_ERROR"}))
    );
}

async fn nul_is_refused_everywhere_and_changes_nothing(db: TestDb) {
    let server = TestServer::start(&db).await;
    let anonymous = server.browser();
    for body in [
        json!({"name": "a\u{0}b", "email": "nul@example.com", "password": "password123"}),
        json!({"name": "a", "email": "nul\u{0}@example.com", "password": "password123"}),
        json!({"name": "a", "email": "nul@example.com", "password": "pass\u{0}word123"}),
        json!({"name": "a", "email": "nul@example.com", "password": "password123", "image\u{0}": 1}),
    ] {
        refused(anonymous.post("/sign-up/email", body).await).await;
    }
    assert_eq!(user::Entity::find().count(&server.db).await.unwrap(), 0);

    let Org { owner, id, .. } = Org::create(
        &server,
        User::sign_up(&server, "owner@example.com").await,
        "Acme",
        "acme",
    )
    .await;
    refused(owner.post("/update-user", json!({"name": "x\u{0}"})).await).await;
    let session: Value = owner.json("/get-session").await;
    assert_eq!(session["user"]["name"], "Test");
    refused(
        owner
            .get(&format!(
                "/organization/get-full-organization?organizationId={id}%00"
            ))
            .await,
    )
    .await;
    refused(
        owner
            .get("/organization/list-members?organizationId=a%00b")
            .await,
    )
    .await;
    // The same text with the escape itself escaped is the six characters `\u0000`, not NUL.
    let r = owner
        .http
        .post(format!("{}/api/auth/update-user", owner.base))
        .header("content-type", "application/json")
        .body(r#"{"name":"x\\u0000"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let session: Value = owner.json("/get-session").await;
    assert_eq!(session["user"]["name"], "x\\u0000");

    refused(anonymous.get("/callback/git%00hub?code=a&state=b").await).await;
    let r = anonymous
        .http
        .post(format!("{}/api/auth/callback/github", anonymous.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("code=a%00&state=b")
        .send()
        .await
        .unwrap();
    refused(r).await;
    // An ordinary refusal still reads as before.
    assert_error(
        anonymous
            .post("/sign-up/email", json!({"email": "x"}))
            .await,
        400,
        "VALIDATION_ERROR",
    )
    .await;
}

db_tests!(nul_is_refused_everywhere_and_changes_nothing);
