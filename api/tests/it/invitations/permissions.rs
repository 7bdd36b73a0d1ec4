//! Who may invite whom, re-inviting and resending.

use chrono::Duration;
use migration::db_tests;
use migration::testing::TestDb;
use serde_json::{json, Value};

use crate::fixtures::{Org, User};
use crate::harness::{assert_error, expect_ok, parts, TestServer};

use super::verified_owner;

/// The organization "rules", its pending invitation of x@ as member and admin, and two more
/// members, verified: an admin and a plain member.
struct Rules {
    o: Org,
    first: Value,
    admin: User,
    member: User,
}

async fn rules(server: &TestServer) -> Rules {
    let o = verified_owner(server, "rules").await;
    let (s, first) = o
        .invite(json!({"email": "x@example.com", "role": ["member", "admin"]}))
        .await;
    assert_eq!((s, first["role"].as_str()), (200, Some("member,admin")));
    let admin = User::verified(server, "adm@example.com").await;
    let member = User::verified(server, "mem@example.com").await;
    o.add(server, &admin, "admin").await;
    o.add(server, &member, "member").await;
    Rules {
        o,
        first,
        admin,
        member,
    }
}

/// `admin` invites a2@ as an admin into `org`.
async fn admin_invites_an_admin(admin: &User, org: &str) -> (u16, Value) {
    let body = json!({"organizationId": org, "email": "a2@example.com", "role": "admin"});
    parts(admin.post("/organization/invite-member", body).await).await
}

/// A pending invitation is not sent twice; a re-send renews it with its roles and mails again.
async fn inviting_twice_and_resending(db: TestDb) {
    let server = TestServer::start(&db).await;
    let Rules { o, first, .. } = rules(&server).await;
    assert_error(
        o.invite(json!({"email": "x@example.com", "role": "member"}))
            .await,
        400,
        "USER_IS_ALREADY_INVITED_TO_THIS_ORGANIZATION",
    )
    .await;
    server.clock.advance(Duration::hours(1));
    let (s, resent) = o
        .invite(json!({"email": "x@example.com", "role": "owner", "resend": true}))
        .await;
    assert_eq!(
        (s, &resent["id"], resent["role"].as_str()),
        (200, &first["id"], Some("member,admin")),
        "resend keeps roles"
    );
    assert_ne!(resent["expiresAt"], first["expiresAt"]);
    server.mail.wait("x@example.com", 2).await;
}

/// An admin may invite, but not owners; a member may not invite, list or cancel at all.
async fn who_may_invite(db: TestDb) {
    let server = TestServer::start(&db).await;
    let Rules {
        o,
        first,
        admin,
        member,
    } = rules(&server).await;
    let org = &o.id;
    assert_error(
        admin
            .post(
                "/organization/invite-member",
                json!({"organizationId": org, "email": "o@example.com", "role": "owner"}),
            )
            .await,
        403,
        "YOU_ARE_NOT_ALLOWED_TO_INVITE_USER_WITH_THIS_ROLE",
    )
    .await;
    assert_eq!(admin_invites_an_admin(&admin, org).await.0, 200);
    assert_error(
        member
            .post(
                "/organization/invite-member",
                json!({"organizationId": org, "email": "m2@example.com", "role": "member"}),
            )
            .await,
        403,
        "YOU_ARE_NOT_ALLOWED_TO_INVITE_USERS_TO_THIS_ORGANIZATION",
    )
    .await;
    assert_error(
        member
            .get(&format!(
                "/organization/list-invitations?organizationId={org}"
            ))
            .await,
        403,
        "YOU_ARE_NOT_ALLOWED_TO_LIST_INVITATIONS",
    )
    .await;
    assert_error(
        member
            .post(
                "/organization/cancel-invitation",
                json!({"invitationId": first["id"]}),
            )
            .await,
        403,
        "YOU_ARE_NOT_ALLOWED_TO_CANCEL_THIS_INVITATION",
    )
    .await;
    let (s, canceled) = parts(
        admin
            .post(
                "/organization/cancel-invitation",
                json!({"invitationId": first["id"]}),
            )
            .await,
    )
    .await;
    assert_eq!((s, canceled["status"].as_str()), (200, Some("canceled")));
}

/// Invitations for owners are shown to owners only.
async fn owner_invitations_are_shown_to_owners_only(db: TestDb) {
    let server = TestServer::start(&db).await;
    let Rules { o, admin, .. } = rules(&server).await;
    let org = &o.id;
    expect_ok(admin_invites_an_admin(&admin, org).await).await;
    o.invite(json!({"email": "future-owner@example.com", "role": "owner"}))
        .await;
    let admin_view = admin
        .get(&format!(
            "/organization/list-invitations?organizationId={org}&limit=1"
        ))
        .await;
    assert_eq!(
        admin_view.headers()["x-total-count"],
        "2",
        "the admin's total excludes the owner invitation"
    );
    assert_eq!(
        parts(admin_view).await.1.as_array().unwrap().len(),
        1,
        "limit=1"
    );
    let owner_view = o.owner.get("/organization/list-invitations").await;
    assert_eq!(owner_view.headers()["x-total-count"], "3");
}

db_tests!(
    inviting_twice_and_resending,
    who_may_invite,
    owner_invitations_are_shown_to_owners_only,
);
