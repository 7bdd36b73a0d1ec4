//! Security guarantees that span flows: stale secrets, notices to the owner of an account,
//! organization state that must not outlive access, and the absolute session lifetime.

use chrono::Duration;
use entity::{invitation, member, team_member};
use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::{json, Value};

use crate::harness::{parts, Browser, TestServer, ORIGIN};
use crate::smtp::MailSink;

/// The token of the `n`-th reset mail to `email`.
async fn reset_token(server: &TestServer, email: &str, n: usize) -> String {
    let mail = server.mail.wait(email, n).await;
    let link = MailSink::link(&mail, &format!("{ORIGIN}/api/auth/reset-password/"));
    link.split("/reset-password/")
        .nth(1)
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned()
}

/// A password change voids the reset links mailed before it and tells the owner; a completed
/// reset tells the owner; a change of address tells the old address when asked and when done.
async fn notices_and_stale_reset_links(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = server.browser();
    b.sign_up("sam@example.com", "password123").await;
    let r = b
        .post(
            "/request-password-reset",
            json!({"email": "sam@example.com"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let stale = reset_token(&server, "sam@example.com", 1).await;
    let r = b
        .post(
            "/change-password",
            json!({"currentPassword": "password123", "newPassword": "password456"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let notice = server.mail.wait("sam@example.com", 2).await;
    assert!(notice.text.contains("was just changed"), "{}", notice.text);
    let (s, body) = parts(
        b.post(
            "/reset-password",
            json!({"token": stale, "newPassword": "password789"}),
        )
        .await,
    )
    .await;
    assert_eq!((s, body["code"].as_str()), (400, Some("INVALID_TOKEN")));

    // A reset that goes through is announced.
    b.post(
        "/request-password-reset",
        json!({"email": "sam@example.com"}),
    )
    .await;
    let token = reset_token(&server, "sam@example.com", 3).await;
    let r = b
        .post(
            "/reset-password",
            json!({"token": token, "newPassword": "password789"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let notice = server.mail.wait("sam@example.com", 4).await;
    assert!(notice.text.contains("was just reset"), "{}", notice.text);

    // A change of address: the old address hears of the request, then of the change.
    let b = server.browser();
    let r = b
        .post(
            "/sign-in/email",
            json!({"email": "sam@example.com", "password": "password789"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = b
        .post("/change-email", json!({"newEmail": "sam2@example.com"}))
        .await;
    assert_eq!(r.status(), 200);
    let asked = server.mail.wait("sam@example.com", 5).await;
    assert!(
        asked.text.contains("asked to change") && asked.text.contains("sam2@example.com"),
        "{}",
        asked.text
    );
    let mail = server.mail.wait("sam2@example.com", 1).await;
    let link = MailSink::link(&mail, &format!("{ORIGIN}/api/auth/verify-email?token="));
    let url = link
        .replacen(ORIGIN, &server.base, 1)
        .replace("&callbackURL=%2F", "");
    let r = server.http.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let done = server.mail.wait("sam@example.com", 6).await;
    assert!(
        done.text.contains("was changed to sam2@example.com"),
        "{}",
        done.text
    );
}

/// A signed-up user, returning their browser and id.
async fn person(server: &TestServer, email: &str) -> (Browser, String) {
    let b = server.browser();
    let id = b.sign_up(email, "password123").await["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (b, id)
}

async fn join(server: &TestServer, org: &str, user_id: &str, role: &str) -> member::Model {
    member::ActiveModel {
        organization_id: Set(org.to_owned()),
        user_id: Set(user_id.to_owned()),
        role: Set(role.into()),
        ..Default::default()
    }
    .insert(&server.db)
    .await
    .unwrap()
}

async fn status_of(server: &TestServer, id: &Value) -> String {
    invitation::Entity::find_by_id(id.as_str().unwrap())
        .one(&server.db)
        .await
        .unwrap()
        .unwrap()
        .status
}

/// A removed member's pending invitations are cancelled; cancel-invitation only cancels pending
/// invitations; an admin cannot renew an owner's invitation by re-sending it.
async fn organization_state_follows_access(db: TestDb) {
    let server = TestServer::start_with(&db, |c| {
        c.org.require_email_verification_on_invitation = false
    })
    .await;
    let (owner, _) = person(&server, "own@example.com").await;
    let (_, org) = parts(
        owner
            .post(
                "/organization/create",
                json!({"name": "Org", "slug": "org"}),
            )
            .await,
    )
    .await;
    let org_id = org["id"].as_str().unwrap().to_owned();
    let (admin, admin_id) = person(&server, "adm@example.com").await;
    join(&server, &org_id, &admin_id, "admin").await;
    let invite = |b: &Browser, email: &str, role: &str, resend: bool| {
        let body =
            json!({"email": email, "role": role, "organizationId": org_id, "resend": resend});
        let b = b.clone();
        async move { parts(b.post("/organization/invite-member", body).await).await }
    };
    let (s, by_admin) = invite(&admin, "guest@example.com", "member", false).await;
    assert_eq!(s, 200, "{by_admin}");
    let (s, owner_invite) = invite(&owner, "boss@example.com", "owner", false).await;
    assert_eq!(s, 200, "{owner_invite}");
    let (s, body) = invite(&admin, "boss@example.com", "member", true).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (
            403,
            Some("YOU_ARE_NOT_ALLOWED_TO_INVITE_USER_WITH_THIS_ROLE")
        ),
        "{body}"
    );
    let before = invitation::Entity::find_by_id(owner_invite["id"].as_str().unwrap())
        .one(&server.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        crate::harness_date(before.expires_at),
        owner_invite["expiresAt"].as_str().unwrap(),
        "the refused re-send did not extend it"
    );

    // The admin is removed: what they sent is cancelled.
    let r = owner
        .post(
            "/organization/remove-member",
            json!({"memberIdOrEmail": "adm@example.com", "organizationId": org_id}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(status_of(&server, &by_admin["id"]).await, "canceled");
    assert_eq!(status_of(&server, &owner_invite["id"]).await, "pending");

    // An accepted invitation stays accepted.
    let (boss, _) = person(&server, "boss@example.com").await;
    let r = boss
        .post(
            "/organization/accept-invitation",
            json!({"invitationId": owner_invite["id"]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let (s, body) = parts(
        owner
            .post(
                "/organization/cancel-invitation",
                json!({"invitationId": owner_invite["id"]}),
            )
            .await,
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (400, Some("INVITATION_NOT_FOUND"))
    );
    assert_eq!(status_of(&server, &owner_invite["id"]).await, "accepted");
}

/// `remove-member` racing `add-team-member` for the same person never leaves a team member who
/// is not a member of the organization.
async fn removal_racing_team_addition(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (owner, _) = person(&server, "race-owner@example.com").await;
    let (_, org) = parts(
        owner
            .post(
                "/organization/create",
                json!({"name": "Race", "slug": "race"}),
            )
            .await,
    )
    .await;
    let org_id = org["id"].as_str().unwrap().to_owned();
    let (_, team) = parts(
        owner
            .post("/organization/create-team", json!({"name": "T"}))
            .await,
    )
    .await;
    let team_id = team["id"].as_str().unwrap().to_owned();
    for i in 0..8 {
        let (_, uid) = person(&server, &format!("racer{i}@example.com")).await;
        let m = join(&server, &org_id, &uid, "member").await;
        let add = owner.post(
            "/organization/add-team-member",
            json!({"teamId": team_id, "userId": uid}),
        );
        let remove = owner.post(
            "/organization/remove-member",
            json!({"memberIdOrEmail": m.id, "organizationId": org_id}),
        );
        let (added, removed) = tokio::join!(add, remove);
        assert_eq!(removed.status(), 200);
        assert!(
            [200, 400].contains(&added.status().as_u16()),
            "{}",
            added.status()
        );
        let left = team_member::Entity::find()
            .filter(team_member::Column::UserId.eq(&uid))
            .count(&server.db)
            .await
            .unwrap();
        assert_eq!(left, 0, "round {i}: a removed member stayed in the team");
    }
}

/// The sliding refresh stops at the absolute lifetime, counted from sign-in.
async fn sessions_end_at_their_absolute_lifetime(db: TestDb) {
    let server = TestServer::start_with(&db, |c| {
        c.session_absolute_lifetime = Duration::days(10);
    })
    .await;
    let b = server.browser();
    b.sign_up("old@example.com", "password123").await;
    // Used every two days, the session is renewed each time, but never past day 10.
    for _ in 0..4 {
        server.clock.advance(Duration::days(2));
        assert_eq!(
            b.json("/get-session").await["user"]["email"],
            "old@example.com"
        );
    }
    let expires = b.json("/get-session").await["session"]["expiresAt"].clone();
    server.clock.advance(Duration::days(1));
    assert_eq!(
        b.json("/get-session").await["session"]["expiresAt"],
        expires,
        "no renewal past the absolute lifetime"
    );
    server
        .clock
        .advance(Duration::days(1) + Duration::seconds(1));
    assert!(b.json("/get-session").await.is_null(), "ended at day 10");
}

db_tests!(
    notices_and_stale_reset_links,
    organization_state_follows_access,
    removal_racing_team_addition,
    sessions_end_at_their_absolute_lifetime,
);

/// A pre-registrant's change of address does not survive the owner's password reset: following
/// the reset link proves the address, and what was set up before goes, as on a provider's proof.
async fn a_reset_takes_back_a_pre_registered_account(db: TestDb) {
    let server = TestServer::start(&db).await;
    let intruder = server.browser();
    intruder
        .sign_up("victim@example.com", "intruder-pw-1")
        .await;
    let r = intruder
        .post("/change-email", json!({"newEmail": "intruder@example.com"}))
        .await;
    assert_eq!(r.status(), 200);
    let pending = server.mail.wait("intruder@example.com", 1).await;
    let change_link = MailSink::link(&pending, &format!("{ORIGIN}/api/auth/verify-email?token="))
        .replacen(ORIGIN, &server.base, 1)
        .replace("&callbackURL=%2F", "");

    // The owner of the address resets the password through the mailed link.
    let owner = server.browser();
    owner
        .post(
            "/request-password-reset",
            json!({"email": "victim@example.com"}),
        )
        .await;
    // Two mails to the address by now, in either order: the change notice and the reset link.
    server.mail.wait("victim@example.com", 2).await;
    let mail = server
        .mail
        .to("victim@example.com")
        .into_iter()
        .find(|m| m.text.contains("/reset-password/"))
        .expect("the reset mail");
    let link = MailSink::link(&mail, &format!("{ORIGIN}/api/auth/reset-password/"));
    let token = link
        .split("/reset-password/")
        .nth(1)
        .unwrap()
        .split('?')
        .next()
        .unwrap();
    let r = owner
        .post(
            "/reset-password",
            json!({"token": token, "newPassword": "owner-pw-1"}),
        )
        .await;
    assert_eq!(r.status(), 200);

    // The intruder's session, password and pending change of address are gone.
    assert!(intruder.json("/get-session").await.is_null());
    let r = server.http.get(&change_link).send().await.unwrap();
    assert_ne!(r.status(), 200, "the pending change of address was voided");
    let signed_in = owner
        .post(
            "/sign-in/email",
            json!({"email": "victim@example.com", "password": "owner-pw-1"}),
        )
        .await;
    assert_eq!(signed_in.status(), 200);
    let session = owner.json("/get-session").await;
    assert_eq!(session["user"]["email"], "victim@example.com");
    assert_eq!(
        session["user"]["emailVerified"], true,
        "the reset proved the address"
    );
}

db_tests!(a_reset_takes_back_a_pre_registered_account);
