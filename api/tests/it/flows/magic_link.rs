//! Magic-link sign-in (Better Auth's `magicLink()` plugin) with real SMTP delivery.

use chrono::Duration;
use entity::{account, session, user, verification};
use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::{json, Value};
use service::clock::Clock;

use crate::fixtures::{User, PASSWORD};
use crate::harness::{assert_error, assert_error_for, parts, Browser, TestServer, ORIGIN};
use crate::smtp::MailSink;

use super::local;

/// A browser that keeps cookies and does not follow redirects, to see where a link lands.
fn landing_browser(server: &TestServer) -> Browser {
    Browser {
        base: server.base.clone(),
        http: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

/// Asks for a link for `email` with `body`'s extra fields; asserts the contract's answer.
async fn ask(server: &TestServer, email: &str, extra: Value) {
    let mut body = json!({ "email": email });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let answer = parts(server.browser().post("/sign-in/magic-link", body).await).await;
    assert_eq!(answer, (200, json!({"status": true})), "{email}");
}

/// The link of the `n`-th mail to `email`, pointed at the test server.
async fn mailed_link(server: &TestServer, email: &str, n: usize) -> String {
    let mail = server.mail.wait(email, n).await;
    let raw = MailSink::link(&mail, &format!("{ORIGIN}/api/auth/magic-link/verify?"));
    local(server, &raw)
}

/// Follows `link` in `b`: status and `Location`.
async fn follow(b: &Browser, link: &str) -> (u16, String) {
    let r = b.http.get(link).send().await.unwrap();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (r.status().as_u16(), location)
}

async fn user_by_email(server: &TestServer, email: &str) -> Option<user::Model> {
    user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(&server.db)
        .await
        .unwrap()
}

async fn sessions_of(server: &TestServer, user_id: &str) -> u64 {
    session::Entity::find()
        .filter(session::Column::UserId.eq(user_id))
        .count(&server.db)
        .await
        .unwrap()
}

async fn magic_rows(server: &TestServer) -> Vec<verification::Model> {
    verification::Entity::find()
        .filter(verification::Column::Identifier.starts_with("magic-link:"))
        .all(&server.db)
        .await
        .unwrap()
}

/// A verified user follows a link: lands on the callback signed in, keeps their password, and the
/// secret was stored only as a digest.
async fn an_existing_user_signs_in_with_a_link(db: TestDb) {
    let server = TestServer::start(&db).await;
    let ada = User::verified(&server, "ada@example.com").await;
    ask(
        &server,
        "ADA@example.com",
        json!({"callbackURL": "/dashboard", "name": "Not Used"}),
    )
    .await;
    let mail = server.mail.wait("ada@example.com", 1).await;
    assert!(mail.text.contains("Sign in to orgauth"), "{}", mail.text);
    let link = mailed_link(&server, "ada@example.com", 1).await;
    assert!(link.contains("&callbackURL=%2Fdashboard"), "{link}");
    let token = link
        .split("token=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let rows = magic_rows(&server).await;
    assert_eq!(rows.len(), 1);
    assert!(!rows[0].identifier.contains(token) && !rows[0].value.contains(token));
    assert_eq!(
        serde_json::from_str::<Value>(&rows[0].value).unwrap(),
        json!({"type": "magic-link", "email": "ada@example.com", "name": "Not Used"})
    );

    let b = landing_browser(&server);
    let before = sessions_of(&server, &ada.id).await;
    let r = b.http.get(&link).send().await.unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "http://localhost:3000/dashboard");
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    assert!(crate::harness::set_cookies(&r)
        .iter()
        .any(|c| c.starts_with("better-auth.session_token=")));
    let current = b.json("/get-session").await;
    assert_eq!(current["user"]["id"], ada.id.as_str());
    assert_eq!(current["user"]["name"], "Test");
    assert_eq!(sessions_of(&server, &ada.id).await, before + 1);
    // A verified user keeps everything: the password and the other session.
    assert_eq!(
        ada.json("/get-session").await["user"]["id"],
        ada.id.as_str()
    );
    let password = server
        .browser()
        .post(
            "/sign-in/email",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(password.status(), 200);
    assert!(magic_rows(&server).await.is_empty(), "the link is used up");
}

/// An address without an account is signed up by its link, verified, with the name asked for,
/// and lands on `newUserCallbackURL`. Without `callbackURL` the answer is the session as JSON.
async fn a_link_signs_a_new_address_up(db: TestDb) {
    let server = TestServer::start(&db).await;
    ask(
        &server,
        "nia@example.com",
        json!({"name": "Nia", "callbackURL": "/home", "newUserCallbackURL": "/welcome"}),
    )
    .await;
    let link = mailed_link(&server, "nia@example.com", 1).await;
    assert!(link.contains("&newUserCallbackURL=%2Fwelcome"), "{link}");
    assert!(user_by_email(&server, "nia@example.com").await.is_none());
    let b = landing_browser(&server);
    assert_eq!(
        follow(&b, &link).await,
        (302, "http://localhost:3000/welcome".to_owned())
    );
    let nia = user_by_email(&server, "nia@example.com").await.unwrap();
    assert_eq!((nia.name.as_str(), nia.email_verified), ("Nia", true));
    let accounts = account::Entity::find()
        .filter(account::Column::UserId.eq(&nia.id))
        .count(&server.db)
        .await
        .unwrap();
    assert_eq!(
        accounts, 0,
        "Better Auth links no account to a magic-link user"
    );
    assert_eq!(b.json("/get-session").await["user"]["id"], nia.id.as_str());

    // The second time she is an existing user: `callbackURL`; without it, JSON.
    ask(&server, "nia@example.com", json!({})).await;
    let second = mailed_link(&server, "nia@example.com", 2).await;
    let token = second
        .split("token=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let b = landing_browser(&server);
    let r = b.get(&format!("/magic-link/verify?token={token}")).await;
    let (status, body) = parts(r).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["id"], nia.id.as_str());
    assert_eq!(body["user"]["emailVerified"], true);
    assert_eq!(body["session"]["userId"], nia.id.as_str());
    assert_eq!(body["token"], body["session"]["token"]);
    assert_eq!(b.json("/get-session").await["user"]["id"], nia.id.as_str());
}

/// A link works once; the second time it lands on the error callback, and signs nobody in.
async fn a_link_works_once(db: TestDb) {
    let server = TestServer::start(&db).await;
    let bo = User::verified(&server, "bo@example.com").await;
    ask(
        &server,
        "bo@example.com",
        json!({"callbackURL": "/in", "errorCallbackURL": "/sign-in?x=1"}),
    )
    .await;
    let link = mailed_link(&server, "bo@example.com", 1).await;
    let b = landing_browser(&server);
    assert_eq!(follow(&b, &link).await.0, 302);
    let sessions = sessions_of(&server, &bo.id).await;
    let again = landing_browser(&server);
    assert_eq!(
        follow(&again, &link).await,
        (
            302,
            "http://localhost:3000/sign-in?x=1&error=INVALID_TOKEN".to_owned()
        )
    );
    assert_eq!(again.json("/get-session").await, Value::Null);
    assert_eq!(sessions_of(&server, &bo.id).await, sessions);
}

/// A link works for 300 seconds; after that it signs nobody up or in, and is removed.
async fn a_link_expires(db: TestDb) {
    let server = TestServer::start(&db).await;
    ask(&server, "cy@example.com", json!({"callbackURL": "/in"})).await;
    let link = mailed_link(&server, "cy@example.com", 1).await;
    server.clock.advance(Duration::seconds(301));
    let b = landing_browser(&server);
    assert_eq!(
        follow(&b, &link).await,
        (
            302,
            "http://localhost:3000/in?error=INVALID_TOKEN".to_owned()
        )
    );
    assert!(user_by_email(&server, "cy@example.com").await.is_none());
    assert_eq!(b.json("/get-session").await, Value::Null);
    assert!(magic_rows(&server).await.is_empty());

    // Within its lifetime it works.
    ask(&server, "cy@example.com", json!({"callbackURL": "/in"})).await;
    let fresh = mailed_link(&server, "cy@example.com", 2).await;
    server.clock.advance(Duration::seconds(299));
    assert_eq!(
        follow(&b, &fresh).await,
        (302, "http://localhost:3000/in".to_owned())
    );
}

/// A newer link voids the older one; following the newer one signs in.
async fn a_newer_link_voids_the_older(db: TestDb) {
    let server = TestServer::start(&db).await;
    let di = User::verified(&server, "di@example.com").await;
    ask(&server, "di@example.com", json!({"callbackURL": "/in"})).await;
    let older = mailed_link(&server, "di@example.com", 1).await;
    ask(&server, "di@example.com", json!({"callbackURL": "/in"})).await;
    let newer = mailed_link(&server, "di@example.com", 2).await;
    assert_ne!(older, newer);
    assert_eq!(magic_rows(&server).await.len(), 1);
    let b = landing_browser(&server);
    assert_eq!(
        follow(&b, &older).await,
        (
            302,
            "http://localhost:3000/in?error=INVALID_TOKEN".to_owned()
        )
    );
    assert_eq!(b.json("/get-session").await, Value::Null);
    assert_eq!(
        follow(&b, &newer).await,
        (302, "http://localhost:3000/in".to_owned())
    );
    assert_eq!(b.json("/get-session").await["user"]["id"], di.id.as_str());
}

/// Callback URLs must be trusted, when a link is asked for and when it is followed; a refused
/// request mails nothing and leaves the link unused.
async fn untrusted_callbacks_are_refused(db: TestDb) {
    let server = TestServer::start(&db).await;
    User::verified(&server, "ed@example.com").await;
    for field in ["callbackURL", "newUserCallbackURL", "errorCallbackURL"] {
        let r = server
            .browser()
            .post(
                "/sign-in/magic-link",
                json!({"email": "ed@example.com", field: "https://evil.example/steal"}),
            )
            .await;
        let code = match field {
            "callbackURL" => "INVALID_CALLBACK_URL",
            "newUserCallbackURL" => "INVALID_NEW_USER_CALLBACK_URL",
            _ => "INVALID_ERROR_CALLBACK_URL",
        };
        assert_error_for(r, 403, code, field).await;
    }
    assert!(magic_rows(&server).await.is_empty());

    ask(&server, "ed@example.com", json!({"callbackURL": "/in"})).await;
    let link = mailed_link(&server, "ed@example.com", 1).await;
    let b = landing_browser(&server);
    for field in ["callbackURL", "newUserCallbackURL", "errorCallbackURL"] {
        let r = b
            .http
            .get(format!("{link}&{field}=https%3A%2F%2Fevil.example%2F"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{field}");
    }
    assert_eq!(b.json("/get-session").await, Value::Null);
    assert_eq!(
        follow(&b, &link).await,
        (302, "http://localhost:3000/in".to_owned()),
        "the refused requests left the link usable"
    );
}

/// With sign-up by magic link off, an address without an account gets the same answer and no
/// link; one with an account gets its link.
async fn with_sign_up_off_an_unknown_address_gets_the_same_answer(db: TestDb) {
    let server = TestServer::start_with(&db, |c| c.magic_link.disable_sign_up = true).await;
    User::verified(&server, "fay@example.com").await;
    ask(&server, "nobody@example.com", json!({})).await;
    ask(&server, "fay@example.com", json!({})).await;
    mailed_link(&server, "fay@example.com", 1).await;
    assert!(server.mail.to("nobody@example.com").is_empty());
    let rows = magic_rows(&server).await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0].value.contains("fay@example.com"));

    // A link written before sign-up was switched off (here: by hand) signs nobody up.
    verification::ActiveModel {
        identifier: Set("magic-link:LegacyTokenForNobody0123456789ABCDE".into()),
        value: Set(r#"{"type":"magic-link","email":"nobody@example.com"}"#.into()),
        expires_at: Set((server.clock.now() + Duration::seconds(300)).naive_utc()),
        created_at: Set(server.clock.now().naive_utc()),
        updated_at: Set(server.clock.now().naive_utc()),
        ..Default::default()
    }
    .insert(&server.db)
    .await
    .unwrap();
    let b = landing_browser(&server);
    assert_eq!(
        follow(
            &b,
            &server.url("/api/auth/magic-link/verify?token=LegacyTokenForNobody0123456789ABCDE&callbackURL=%2Fin")
        )
        .await,
        (
            302,
            "http://localhost:3000/in?error=new_user_signup_disabled".to_owned()
        )
    );
    assert!(user_by_email(&server, "nobody@example.com").await.is_none());
    let left: Vec<_> = magic_rows(&server).await;
    assert!(
        left.iter().all(|r| !r.value.contains("nobody@")),
        "used up, as Better Auth does"
    );
}

/// A link Better Auth mailed (its row: `magic-link:<token>`, plain) works here too.
async fn a_link_better_auth_mailed_works(db: TestDb) {
    let server = TestServer::start(&db).await;
    let gus = User::verified(&server, "gus@example.com").await;
    verification::ActiveModel {
        identifier: Set("magic-link:BetterAuthWroteThisToken0123456789ab".into()),
        value: Set(r#"{"type":"magic-link","email":"gus@example.com","name":"Gus"}"#.into()),
        expires_at: Set((server.clock.now() + Duration::seconds(300)).naive_utc()),
        created_at: Set(server.clock.now().naive_utc()),
        updated_at: Set(server.clock.now().naive_utc()),
        ..Default::default()
    }
    .insert(&server.db)
    .await
    .unwrap();
    let b = landing_browser(&server);
    let url =
        "/api/auth/magic-link/verify?token=BetterAuthWroteThisToken0123456789ab&callbackURL=%2F";
    assert_eq!(
        follow(&b, &server.url(url)).await,
        (302, "http://localhost:3000/".to_owned())
    );
    assert_eq!(b.json("/get-session").await["user"]["id"], gus.id.as_str());
    assert!(magic_rows(&server).await.is_empty());
}

/// Someone signed up with Hana's address before she proved it, set a password and holds a
/// session. Her link removes both, marks the address verified, and signs her in.
async fn a_link_revokes_what_predates_the_proof(db: TestDb) {
    let server = TestServer::start(&db).await;
    let squatter = User::sign_up(&server, "hana@example.com").await;
    assert_eq!(
        squatter.json("/get-session").await["user"]["id"],
        squatter.id.as_str()
    );
    ask(&server, "hana@example.com", json!({"callbackURL": "/in"})).await;
    let link = mailed_link(&server, "hana@example.com", 1).await;
    let hana = landing_browser(&server);
    assert_eq!(
        follow(&hana, &link).await,
        (302, "http://localhost:3000/in".to_owned())
    );
    let user = user_by_email(&server, "hana@example.com").await.unwrap();
    assert_eq!(user.id, squatter.id, "the account is hers now");
    assert!(user.email_verified);
    assert_eq!(squatter.json("/get-session").await, Value::Null);
    assert_eq!(sessions_of(&server, &user.id).await, 1, "only hers");
    let accounts = account::Entity::find()
        .filter(account::Column::UserId.eq(&user.id))
        .count(&server.db)
        .await
        .unwrap();
    assert_eq!(accounts, 0, "the squatter's password is gone");
    assert_error(
        server
            .browser()
            .post(
                "/sign-in/email",
                json!({"email": "hana@example.com", "password": PASSWORD}),
            )
            .await,
        401,
        "INVALID_EMAIL_OR_PASSWORD",
    )
    .await;
    assert_eq!(
        hana.json("/get-session").await["user"]["id"],
        user.id.as_str()
    );
}

/// Bad input is refused in the contract's shape and changes nothing.
async fn bad_input_is_refused_and_changes_nothing(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = server.browser();
    for (body, case) in [
        (json!({"email": "not-an-address"}), "not an address"),
        (json!({}), "no email"),
        (json!({"email": 5}), "email a number"),
        (
            json!({"email": "ivy@example.com", "name": ["x"]}),
            "name a list",
        ),
        (
            json!({"email": "ivy@example.com", "callbackURL": 5}),
            "callbackURL a number",
        ),
        (
            json!({"email": "ivy@example.com", "metadata": "x"}),
            "metadata not an object",
        ),
    ] {
        let (status, body) = parts(b.post("/sign-in/magic-link", body).await).await;
        assert_eq!(status, 400, "{case}: {body}");
        assert!(body["message"].is_string(), "{case}: {body}");
    }
    assert_error(
        b.post("/sign-in/magic-link", json!({"email": "not-an-address"}))
            .await,
        400,
        "VALIDATION_ERROR",
    )
    .await;
    let (status, body) = parts(b.get("/magic-link/verify").await).await;
    assert_eq!(status, 400, "no token: {body}");
    assert!(body["message"].is_string());
    // An unknown token, a digest-shaped one: the error landing.
    let landing = landing_browser(&server);
    for token in ["nope", &"a".repeat(64)] {
        assert_eq!(
            follow(
                &landing,
                &server.url(&format!("/api/auth/magic-link/verify?token={token}"))
            )
            .await,
            (302, "http://localhost:3000/?error=INVALID_TOKEN".to_owned())
        );
    }
    assert!(magic_rows(&server).await.is_empty());
    assert_eq!(user::Entity::find().count(&server.db).await.unwrap(), 0);
    assert_eq!(session::Entity::find().count(&server.db).await.unwrap(), 0);
}

/// Switched off, both routes are not found, before the body is read.
async fn switched_off_the_routes_are_not_found(db: TestDb) {
    let off = TestServer::start_with(&db, |c| c.magic_link.enabled = false).await;
    assert_error(
        off.browser()
            .post("/sign-in/magic-link", json!({"email": "ivy@example.com"}))
            .await,
        404,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        off.browser().get("/magic-link/verify?token=x").await,
        404,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        off.browser().post("/sign-in/magic-link", json!({})).await,
        404,
        "NOT_FOUND",
    )
    .await;
}

db_tests!(
    an_existing_user_signs_in_with_a_link,
    a_link_signs_a_new_address_up,
    a_link_works_once,
    a_link_expires,
    a_newer_link_voids_the_older,
    untrusted_callbacks_are_refused,
    with_sign_up_off_an_unknown_address_gets_the_same_answer,
    a_link_better_auth_mailed_works,
    a_link_revokes_what_predates_the_proof,
    bad_input_is_refused_and_changes_nothing,
    switched_off_the_routes_are_not_found,
);
