//! Inviting, looking, accepting, rejecting and expiry, and isolation between invitees.

use chrono::Duration;
use entity::member;
use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};

use crate::fixtures::{accept, verify_email, Org, User};
use crate::harness::{assert_error, assert_error_for, expect_ok, parts, TestServer};
use crate::smtp::MailSink;

use super::{bob_invited, verified_owner};

/// The invitation is stored under the normalised address, pending, and mailed with its link.
async fn an_invitation_is_mailed(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (_, _, inv) = bob_invited(&server).await;
    assert_eq!(
        (
            inv["email"].as_str(),
            inv["role"].as_str(),
            inv["status"].as_str()
        ),
        (Some("bob@example.com"), Some("admin"), Some("pending"))
    );
    assert!(inv["teamId"].is_null());
    let id = inv["id"].as_str().unwrap();
    assert_eq!(
        id.len(),
        32,
        "invitation ids are 190-bit random capabilities"
    );
    let mail = server.mail.wait("bob@example.com", 1).await;
    assert_eq!(
        MailSink::link(&mail, "http://localhost:3000/accept-invitation/"),
        format!("http://localhost:3000/accept-invitation/{id}")
    );
}

/// Unverified: may not look or answer (on by default).
async fn an_unverified_invitee_may_not_look_or_answer(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (_, bob, inv) = bob_invited(&server).await;
    let id = inv["id"].as_str().unwrap();
    assert_error(
        bob.get(&format!("/organization/get-invitation?id={id}"))
            .await,
        403,
        "EMAIL_VERIFICATION_REQUIRED_FOR_INVITATION",
    )
    .await;
    assert_error(
        accept(&bob, &inv["id"]).await,
        403,
        "EMAIL_VERIFICATION_REQUIRED_BEFORE_ACCEPTING_OR_REJECTING_INVITATION",
    )
    .await;
}

/// A verified invitee sees the invitation, alone and among their own.
async fn the_invitee_sees_the_invitation(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (_, bob, inv) = bob_invited(&server).await;
    let id = inv["id"].as_str().unwrap();
    verify_email(&server, "bob@example.com").await;
    let details = bob
        .json(&format!("/organization/get-invitation?id={id}"))
        .await;
    assert_eq!(
        (
            details["organizationSlug"].as_str(),
            details["inviterEmail"].as_str()
        ),
        (Some("life"), Some("owner-life@example.com"))
    );
    let mine = bob.json("/organization/list-user-invitations").await;
    assert_eq!(
        (mine[0]["id"].as_str(), mine[0]["organizationName"].as_str()),
        (Some(id), Some("life"))
    );
}

async fn only_the_recipient_accepts(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (_, _, inv) = bob_invited(&server).await;
    let eve = User::verified(&server, "eve@example.com").await;
    assert_error(
        accept(&eve, &inv["id"]).await,
        403,
        "YOU_ARE_NOT_THE_RECIPIENT_OF_THE_INVITATION",
    )
    .await;
}

/// Accepting makes a member with the invited role and the organization active; an invitation is
/// accepted once.
async fn accepting_makes_a_member_once(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (o, bob, inv) = bob_invited(&server).await;
    verify_email(&server, "bob@example.com").await;
    let accepted = expect_ok(accept(&bob, &inv["id"]).await).await;
    assert_eq!(
        (
            accepted["invitation"]["status"].as_str(),
            accepted["member"]["role"].as_str()
        ),
        (Some("accepted"), Some("admin"))
    );
    assert_eq!(
        bob.json("/get-session").await["session"]["activeOrganizationId"],
        json!(o.id)
    );
    assert_error(accept(&bob, &inv["id"]).await, 400, "INVITATION_NOT_FOUND").await;
}

/// A member is not invited again; having joined as an admin, they see the organization's
/// invitations.
async fn a_member_is_not_invited_again(db: TestDb) {
    let server = TestServer::start(&db).await;
    let o = verified_owner(&server, "life").await;
    let (bob, _) = o.accepted(&server, "bob@example.com", "admin").await;
    assert_error(
        o.invite(json!({"email": "bob@example.com", "role": "member"}))
            .await,
        400,
        "USER_IS_ALREADY_A_MEMBER_OF_THIS_ORGANIZATION",
    )
    .await;
    let listed = bob.get("/organization/list-invitations").await;
    assert_eq!(listed.headers()["x-total-count"], "1");
    assert_eq!(parts(listed).await.1.as_array().unwrap().len(), 1);
}

async fn an_invitation_needs_a_known_role_and_an_email(db: TestDb) {
    let server = TestServer::start(&db).await;
    let o = verified_owner(&server, "rules").await;
    let (s, body) = o
        .invite(json!({"email": "x@example.com", "role": "superuser"}))
        .await;
    assert_eq!(
        (s, body["code"].as_str(), body["message"].as_str()),
        (
            400,
            Some("ROLE_NOT_FOUND"),
            Some("ROLE_NOT_FOUND: superuser")
        )
    );
    assert_error(
        o.invite(json!({"email": "not-an-email", "role": "member"}))
            .await,
        400,
        "INVALID_EMAIL",
    )
    .await;
}

/// alpha and bravo, each of whose owners invited carol (verified). Returns alpha, bravo, carol
/// and the two invitations.
async fn carol_invited_twice(server: &TestServer) -> (Org, Org, User, Value, Value) {
    let a = verified_owner(server, "alpha").await;
    let b = verified_owner(server, "bravo").await;
    let carol = User::verified(server, "carol@example.com").await;
    let (_, from_a) = a
        .invite(json!({"email": "carol@example.com", "role": "member"}))
        .await;
    let (_, from_b) = b
        .invite(json!({"email": "carol@example.com", "role": "member"}))
        .await;
    (a, b, carol, from_a, from_b)
}

/// Another organization's owner can neither cancel A's invitation nor invite into A, nor invite
/// into one of its teams.
async fn invitations_are_isolated(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (a, b, _, from_a, _) = carol_invited_twice(&server).await;
    assert_error(
        b.owner
            .post(
                "/organization/cancel-invitation",
                json!({"invitationId": from_a["id"]}),
            )
            .await,
        400,
        "MEMBER_NOT_FOUND",
    )
    .await;
    assert_error(
        b.invite(json!({"organizationId": a.id, "email": "z@example.com", "role": "member"}))
            .await,
        400,
        "MEMBER_NOT_FOUND",
    )
    .await;
    assert_error(
        a.invite(json!({"email": "t@example.com", "role": "member", "teamId": b.default_team}))
            .await,
        400,
        "TEAM_NOT_FOUND",
    )
    .await;
}

async fn rejecting_an_invitation(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (_, _, carol, _, from_b) = carol_invited_twice(&server).await;
    let (s, rejected) = parts(
        carol
            .post(
                "/organization/reject-invitation",
                json!({"invitationId": from_b["id"]}),
            )
            .await,
    )
    .await;
    assert_eq!(
        (
            s,
            rejected["invitation"]["status"].as_str(),
            &rejected["member"]
        ),
        (200, Some("rejected"), &Value::Null)
    );
}

async fn an_invitation_expires_after_48_hours(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (a, _, carol, from_a, _) = carol_invited_twice(&server).await;
    server
        .clock
        .advance(Duration::hours(48) + Duration::seconds(1));
    assert_error_for(
        accept(&carol, &from_a["id"]).await,
        400,
        "INVITATION_NOT_FOUND",
        "expired after 48 hours",
    )
    .await;
    assert_eq!(
        member::Entity::find()
            .filter(member::Column::OrganizationId.eq(&a.id))
            .count(&server.db)
            .await
            .unwrap(),
        1
    );
}

db_tests!(
    an_invitation_is_mailed,
    an_unverified_invitee_may_not_look_or_answer,
    the_invitee_sees_the_invitation,
    only_the_recipient_accepts,
    accepting_makes_a_member_once,
    a_member_is_not_invited_again,
    an_invitation_needs_a_known_role_and_an_email,
    invitations_are_isolated,
    rejecting_an_invitation,
    an_invitation_expires_after_48_hours,
);
