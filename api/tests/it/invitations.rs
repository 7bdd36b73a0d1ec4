//! Invitations over HTTP with real SMTP delivery: invite, get, accept, reject, cancel, list, and
//! the rules that must hold under concurrency.

use chrono::Duration;
use entity::{invitation, member, team_member};
use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};

use crate::fixtures::{accept, verify_email, Org, User};
use crate::harness::{assert_error, assert_error_for, expect_ok, parts, TestServer};
use crate::smtp::MailSink;

/// `owner-{slug}@example.com`, verified, creates the organization `slug`.
async fn verified_owner(server: &TestServer, slug: &str) -> Org {
    let owner = User::verified(server, &format!("owner-{slug}@example.com")).await;
    Org::create(server, owner, slug, slug).await
}

/// The organization "life", Bob (signed up, not verified) and his invitation as an admin,
/// addressed to `Bob@Example.com`.
async fn bob_invited(server: &TestServer) -> (Org, User, Value) {
    let o = verified_owner(server, "life").await;
    let bob = User::sign_up(server, "bob@example.com").await;
    let inv = expect_ok(
        o.invite(json!({"email": "Bob@Example.com", "role": "admin"}))
            .await,
    )
    .await;
    (o, bob, inv)
}

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

/// 20 concurrent accepts of one invitation: one membership.
async fn one_invitation_one_membership(db: TestDb) {
    let server = TestServer::start(&db).await;
    let o = verified_owner(&server, "once").await;
    let dave = User::verified(&server, "dave@example.com").await;
    let (_, inv) = o
        .invite(json!({"email": "dave@example.com", "role": "member"}))
        .await;
    let attempts: Vec<_> = (0..20)
        .map(|_| {
            let (dave, id) = (dave.browser.clone(), inv["id"].clone());
            tokio::spawn(async move { accept(&dave, &id).await.0 })
        })
        .collect();
    let mut ok = 0;
    for a in attempts {
        let status = a.await.unwrap();
        assert!(status == 200 || status == 400, "{status}");
        ok += usize::from(status == 200);
    }
    assert_eq!(ok, 1);
    assert_eq!(
        member::Entity::find()
            .filter(member::Column::OrganizationId.eq(&o.id))
            .count(&server.db)
            .await
            .unwrap(),
        2
    );
    let stored = invitation::Entity::find_by_id(inv["id"].as_str().unwrap())
        .one(&server.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, "accepted");
}

/// Parallel accepts of different invitations never push the organization past its limit.
async fn the_membership_limit_holds(db: TestDb) {
    let server = TestServer::start_with(&db, |c| c.org.membership_limit = 3).await;
    let o = verified_owner(&server, "limited").await;
    let mut invitees = Vec::new();
    for i in 0..6 {
        let email = format!("p{i}@example.com");
        let b = User::verified(&server, &email).await;
        let (s, inv) = o.invite(json!({"email": email, "role": "member"})).await;
        assert_eq!(s, 200);
        invitees.push((b, inv["id"].clone()));
    }
    let attempts: Vec<_> = invitees
        .iter()
        .map(|(b, id)| {
            let (b, id) = (b.browser.clone(), id.clone());
            tokio::spawn(async move { accept(&b, &id).await })
        })
        .collect();
    let mut refused = 0;
    for a in attempts {
        let (s, body) = a.await.unwrap();
        if s != 200 {
            assert_error((s, body), 403, "ORGANIZATION_MEMBERSHIP_LIMIT_REACHED").await;
            refused += 1;
        }
    }
    assert_eq!(refused, 4);
    assert_eq!(
        member::Entity::find()
            .filter(member::Column::OrganizationId.eq(&o.id))
            .count(&server.db)
            .await
            .unwrap(),
        3
    );
}

/// An invitation naming one team places the new member in it and makes it the active team.
async fn invitations_with_a_team(db: TestDb) {
    let server = TestServer::start(&db).await;
    let o = verified_owner(&server, "teams").await;
    let erin = User::verified(&server, "erin@example.com").await;
    let (s, inv) = o
        .invite(json!({"email": "erin@example.com", "role": "member", "teamId": o.default_team}))
        .await;
    assert_eq!(
        (s, inv["teamId"].as_str()),
        (200, Some(o.default_team.as_str()))
    );
    let (s, _) = accept(&erin, &inv["id"]).await;
    assert_eq!(s, 200);
    let placed = team_member::Entity::find()
        .filter(team_member::Column::UserId.eq(&erin.id))
        .all(&server.db)
        .await
        .unwrap();
    assert_eq!(
        placed.iter().map(|t| t.team_id.clone()).collect::<Vec<_>>(),
        vec![o.default_team.clone()]
    );
    assert_eq!(
        erin.json("/get-session").await["session"]["activeTeamId"],
        json!(o.default_team)
    );
    assert_error(
        o.invite(json!({"email": "f@example.com", "role": "member", "teamId": "a,b"}))
            .await,
        400,
        "INVALID_TEAM_ID",
    )
    .await;
}

/// A server with the configurable limits and switches set: one organization per user, two
/// pending invitations per organization, cancel-on-re-invite, and accepting without
/// verification; and an organization there.
async fn with_switches(db: &TestDb) -> (TestServer, Org) {
    let server = TestServer::start_with(db, |c| {
        c.org.organization_limit = Some(1);
        c.org.invitation_limit = 2;
        c.org.cancel_pending_invitations_on_re_invite = true;
        c.org.require_email_verification_on_invitation = false;
    })
    .await;
    let o = verified_owner(&server, "switches").await;
    (server, o)
}

async fn the_organization_limit(db: TestDb) {
    let (_server, o) = with_switches(&db).await;
    assert_error(
        o.owner
            .post(
                "/organization/create",
                json!({"name": "Two", "slug": "two"}),
            )
            .await,
        403,
        "YOU_HAVE_REACHED_THE_MAXIMUM_NUMBER_OF_ORGANIZATIONS",
    )
    .await;
}

/// A re-invite cancels the pending invitation; canceled ones do not count against the limit of
/// pending invitations.
async fn re_invites_and_the_invitation_limit(db: TestDb) {
    let (server, o) = with_switches(&db).await;
    let (_, first) = o
        .invite(json!({"email": "u1@example.com", "role": "member"}))
        .await;
    let (s, second) = o
        .invite(json!({"email": "u1@example.com", "role": "admin"}))
        .await;
    assert_eq!(
        (s, second["role"].as_str()),
        (200, Some("admin")),
        "re-invite replaces the pending one"
    );
    let old = invitation::Entity::find_by_id(first["id"].as_str().unwrap())
        .one(&server.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.status, "canceled");
    o.invite(json!({"email": "u2@example.com", "role": "member"}))
        .await;
    assert_error(
        o.invite(json!({"email": "u3@example.com", "role": "member"}))
            .await,
        403,
        "INVITATION_LIMIT_REACHED",
    )
    .await;
}

/// Verification not required: an unverified recipient may accept.
async fn accepting_unverified_when_switched_off(db: TestDb) {
    let (server, o) = with_switches(&db).await;
    let inv = o.invitation("u1@example.com", "admin").await;
    let unverified = User::sign_up(&server, "u1@example.com").await;
    let (s, accepted) = accept(&unverified, &inv["id"]).await;
    assert_eq!(
        (s, accepted["member"]["organizationId"].as_str()),
        (200, Some(o.id.as_str()))
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
    inviting_twice_and_resending,
    who_may_invite,
    owner_invitations_are_shown_to_owners_only,
    invitations_are_isolated,
    rejecting_an_invitation,
    an_invitation_expires_after_48_hours,
    one_invitation_one_membership,
    the_membership_limit_holds,
    invitations_with_a_team,
    the_organization_limit,
    re_invites_and_the_invitation_limit,
    accepting_unverified_when_switched_off,
);
