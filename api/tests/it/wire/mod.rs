//! Answers that follow Better Auth 1.7.25 where orgauth used to differ (issue 17).

use serde_json::Value;

use crate::fixtures::{Org, User};
use crate::harness::{parts, Browser, TestServer};

mod accounts;
mod bodies;
mod cookies;
mod organization;
mod redirects;
mod verify_password;

/// `email` signs up and creates the organization `slug`.
async fn organization(server: &TestServer, email: &str, slug: &str) -> Org {
    Org::create(server, User::sign_up(server, email).await, slug, slug).await
}

/// A POST with a raw body and content type, with the browser's cookies and Origin.
async fn post_raw(b: &Browser, path: &str, content_type: &str, body: &str) -> (u16, Value) {
    parts(
        b.http
            .post(format!("{}/api/auth{path}", b.base))
            .header("content-type", content_type)
            .body(body.to_owned())
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn signed_in(b: &Browser) -> bool {
    !b.json("/get-session").await.is_null()
}
