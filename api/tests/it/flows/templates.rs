//! Mails as delivered: multipart (plain text and HTML) from the templates, with the product's
//! name, and a template directory that replaces a built-in template by name.

use std::sync::Arc;

use mailparse::{parse_mail, MailHeaderMap, ParsedMail};
use migration::db_tests;
use migration::testing::TestDb;
use serde_json::json;
use service::mail::templates::Templates;

use crate::fixtures::{reset_link, Org, User};
use crate::harness::{expect_ok, TestServer, ORIGIN};

/// The plain-text and HTML parts of a delivered `multipart/alternative` mail, and its subject.
fn parts(raw: &str) -> (String, String, String) {
    let mail = parse_mail(raw.as_bytes()).unwrap();
    assert_eq!(mail.ctype.mimetype, "multipart/alternative", "{raw}");
    let body = |part: &ParsedMail| part.get_body().unwrap().replace("\r\n", "\n");
    let kinds: Vec<&str> = mail
        .subparts
        .iter()
        .map(|p| p.ctype.mimetype.as_str())
        .collect();
    assert_eq!(kinds, ["text/plain", "text/html"], "{raw}");
    (
        mail.headers.get_first_value("Subject").unwrap(),
        body(&mail.subparts[0]),
        body(&mail.subparts[1]),
    )
}

async fn mails_are_multipart_from_templates(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("invitation.txt.jinja"),
        "{% extends \"layout.txt.jinja\" %}{% block subject %}Join {{ organization }} on {{ app_name }}{% endblock %}{% block body %}{{ inviter_name }} invites you: {{ link }}{% endblock %}",
    )
    .unwrap();
    let templates = Templates::new("Acme Cloud", ORIGIN, Some(dir.path())).unwrap();
    let server = TestServer::start_with(&db, |c| c.mail = Arc::new(templates)).await;

    server
        .browser()
        .sign_up("ada@example.com", "password123")
        .await;
    expect_ok(
        server
            .browser()
            .post(
                "/request-password-reset",
                json!({"email": "ada@example.com", "redirectTo": "/reset"}),
            )
            .await,
    )
    .await;
    let delivered = server.mail.wait("ada@example.com", 1).await;
    let (subject, text, html) = parts(&delivered.raw);
    assert_eq!(subject, "Reset your Acme Cloud password");
    let link = reset_link(&delivered);
    assert!(text.contains(&format!("\n{link}\n")), "{text}");
    assert!(text.trim_end().ends_with("-- \nAcme Cloud"), "{text}");
    assert!(html.starts_with("<!doctype html>"), "{html}");
    assert!(html.contains("Acme Cloud"), "{html}");
    // The HTML part links to the same place (attributes are HTML-escaped).
    let escaped = link.replace('&', "&amp;").replace('/', "&#x2f;");
    assert!(html.contains(&format!("href=\"{escaped}\"")), "{html}");

    let org = Org::create(
        &server,
        User::sign_up(&server, "owner@example.com").await,
        "Acme <Labs>",
        "acme",
    )
    .await;
    org.invitation("bob@example.com", "member").await;
    let (subject, text, html) = parts(&server.mail.wait("bob@example.com", 1).await.raw);
    assert_eq!(subject, "Join Acme <Labs> on Acme Cloud");
    assert!(
        text.starts_with("Test invites you: http://localhost:3000/accept-invitation/"),
        "{text}"
    );
    // The HTML part is still the built-in one, with the organization's name escaped.
    assert!(
        html.contains("<strong>Acme &lt;Labs&gt;</strong>"),
        "{html}"
    );
}

db_tests!(mails_are_multipart_from_templates);
