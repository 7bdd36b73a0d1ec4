//! Security guarantees that span flows: stale secrets, notices to the owner of an account,
//! organization state that must not outlive access, and the absolute session lifetime.

use chrono::Duration;
use entity::{invitation, team_member};
use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};

use crate::fixtures::{accept, reset_link, reset_token, reset_token_of, Org, User};
use crate::harness::{assert_error, expect_ok, parts, Browser, TestServer, ORIGIN};
use crate::smtp::{Delivered, MailSink};

/// `sam@example.com`, signed up, who asks for a password reset.
async fn sam_asks_for_a_reset(server: &TestServer) -> User {
    let sam = User::sign_up(server, "sam@example.com").await;
    let r = sam
        .post(
            "/request-password-reset",
            json!({"email": "sam@example.com"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    sam
}

/// A password change voids the reset links mailed before it and tells the owner.
async fn a_password_change_voids_earlier_reset_links(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = sam_asks_for_a_reset(&server).await;
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
    assert_error(
        b.post(
            "/reset-password",
            json!({"token": stale, "newPassword": "password789"}),
        )
        .await,
        400,
        "INVALID_TOKEN",
    )
    .await;
}

/// A reset that goes through is announced.
async fn a_completed_reset_is_announced(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = sam_asks_for_a_reset(&server).await;
    let token = reset_token(&server, "sam@example.com", 1).await;
    let r = b
        .post(
            "/reset-password",
            json!({"token": token, "newPassword": "password789"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let notice = server.mail.wait("sam@example.com", 2).await;
    assert!(notice.text.contains("was just reset"), "{}", notice.text);
    let r = server
        .browser()
        .post(
            "/sign-in/email",
            json!({"email": "sam@example.com", "password": "password789"}),
        )
        .await;
    assert_eq!(r.status(), 200);
}

/// A change of address: the old address hears of the request, then of the change.
async fn the_old_address_hears_of_a_change(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = User::sign_up(&server, "sam@example.com").await;
    let r = b
        .post("/change-email", json!({"newEmail": "sam2@example.com"}))
        .await;
    assert_eq!(r.status(), 200);
    let asked = server.mail.wait("sam@example.com", 1).await;
    assert!(
        asked.text.contains("asked to change") && asked.text.contains("sam2@example.com"),
        "{}",
        asked.text
    );
    let mail = server.mail.wait("sam2@example.com", 1).await;
    let url = verification_url(&server, &mail);
    let r = server.http.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let done = server.mail.wait("sam@example.com", 2).await;
    assert!(
        done.text.contains("was changed to sam2@example.com"),
        "{}",
        done.text
    );
}

/// The verification link of `mail`, pointed at the test server, answering JSON (no callback).
fn verification_url(server: &TestServer, mail: &Delivered) -> String {
    MailSink::link(mail, &format!("{ORIGIN}/api/auth/verify-email?token="))
        .replacen(ORIGIN, &server.base, 1)
        .replace("&callbackURL=%2F", "")
}

async fn status_of(server: &TestServer, id: &Value) -> String {
    invitation::Entity::find_by_id(id.as_str().unwrap())
        .one(&server.db)
        .await
        .unwrap()
        .unwrap()
        .status
}

/// "Org", whose owner invited boss@ as an owner, and an admin who invited guest@; invitees
/// accept without verifying. Returns the organization, the admin and the two invitations.
async fn org_with_invitations(db: &TestDb) -> (TestServer, Org, User, Value, Value) {
    let server = TestServer::start_with(db, |c| {
        c.org.require_email_verification_on_invitation = false
    })
    .await;
    let owner = User::sign_up(&server, "own@example.com").await;
    let o = Org::create(&server, owner, "Org", "org").await;
    let admin = User::sign_up(&server, "adm@example.com").await;
    o.add(&server, &admin, "admin").await;
    let (s, by_admin) = invite(&admin, &o, "guest@example.com", "member", false).await;
    assert_eq!(s, 200, "{by_admin}");
    let (s, owner_invite) = invite(&o.owner, &o, "boss@example.com", "owner", false).await;
    assert_eq!(s, 200, "{owner_invite}");
    (server, o, admin, by_admin, owner_invite)
}

async fn invite(b: &Browser, o: &Org, email: &str, role: &str, resend: bool) -> (u16, Value) {
    let body = json!({"email": email, "role": role, "organizationId": o.id, "resend": resend});
    parts(b.post("/organization/invite-member", body).await).await
}

/// An admin cannot renew an owner's invitation by re-sending it.
async fn an_admin_cannot_renew_an_owners_invitation(db: TestDb) {
    let (server, o, admin, _, owner_invite) = org_with_invitations(&db).await;
    assert_error(
        invite(&admin, &o, "boss@example.com", "member", true).await,
        403,
        "YOU_ARE_NOT_ALLOWED_TO_INVITE_USER_WITH_THIS_ROLE",
    )
    .await;
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
}

/// The admin is removed: what they sent is cancelled, what others sent stays.
async fn a_removed_members_invitations_are_cancelled(db: TestDb) {
    let (server, o, _, by_admin, owner_invite) = org_with_invitations(&db).await;
    let r = o
        .owner
        .post(
            "/organization/remove-member",
            json!({"memberIdOrEmail": "adm@example.com", "organizationId": o.id}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(status_of(&server, &by_admin["id"]).await, "canceled");
    assert_eq!(status_of(&server, &owner_invite["id"]).await, "pending");
}

/// cancel-invitation only cancels pending invitations: an accepted one stays accepted.
async fn an_accepted_invitation_is_not_cancelled(db: TestDb) {
    let (server, o, _, _, owner_invite) = org_with_invitations(&db).await;
    let boss = User::sign_up(&server, "boss@example.com").await;
    expect_ok(accept(&boss, &owner_invite["id"]).await).await;
    assert_error(
        o.owner
            .post(
                "/organization/cancel-invitation",
                json!({"invitationId": owner_invite["id"]}),
            )
            .await,
        400,
        "INVITATION_NOT_FOUND",
    )
    .await;
    assert_eq!(status_of(&server, &owner_invite["id"]).await, "accepted");
}

/// `remove-member` racing `add-team-member` for the same person never leaves a team member who
/// is not a member of the organization.
async fn removal_racing_team_addition(db: TestDb) {
    let server = TestServer::start(&db).await;
    let owner = User::sign_up(&server, "race-owner@example.com").await;
    let o = Org::create(&server, owner, "Race", "race").await;
    let team = expect_ok(
        o.owner
            .post("/organization/create-team", json!({"name": "T"}))
            .await,
    )
    .await;
    let team_id = team["id"].as_str().unwrap().to_owned();
    for i in 0..8 {
        let racer = User::sign_up(&server, &format!("racer{i}@example.com")).await;
        let member = o.add(&server, &racer, "member").await;
        let add = o.owner.post(
            "/organization/add-team-member",
            json!({"teamId": team_id, "userId": racer.id}),
        );
        let remove = o.owner.post(
            "/organization/remove-member",
            json!({"memberIdOrEmail": member, "organizationId": o.id}),
        );
        let (added, removed) = tokio::join!(add, remove);
        assert_eq!(removed.status(), 200);
        assert!(
            [200, 400].contains(&added.status().as_u16()),
            "{}",
            added.status()
        );
        let left = team_member::Entity::find()
            .filter(team_member::Column::UserId.eq(&racer.id))
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
    a_password_change_voids_earlier_reset_links,
    a_completed_reset_is_announced,
    the_old_address_hears_of_a_change,
    an_admin_cannot_renew_an_owners_invitation,
    a_removed_members_invitations_are_cancelled,
    an_accepted_invitation_is_not_cancelled,
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
    let change_link = verification_url(&server, &pending);

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
    let token = reset_token_of(&reset_link(&mail));
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
