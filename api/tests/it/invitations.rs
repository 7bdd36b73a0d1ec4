//! Invitations over HTTP with real SMTP delivery: invite, get, accept, reject, cancel, list, and
//! the rules that must hold under concurrency.

use chrono::Duration;
use entity::{invitation, member, team, team_member, user};
use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, Set,
};
use serde_json::{json, Value};

use crate::harness::{parts, Browser, TestServer};
use crate::smtp::MailSink;

async fn verify(server: &TestServer, email: &str) {
    let u = user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(&server.db)
        .await
        .unwrap()
        .unwrap();
    let mut u = u.into_active_model();
    u.email_verified = Set(true);
    u.update(&server.db).await.unwrap();
}

/// A signed-up, verified user.
async fn person(server: &TestServer, email: &str) -> Browser {
    let b = server.browser();
    b.sign_up(email, "password123").await;
    verify(server, email).await;
    b
}

async fn owner_with_org(server: &TestServer, slug: &str) -> (Browser, String) {
    let owner = person(server, &format!("owner-{slug}@example.com")).await;
    let (s, body) = parts(
        owner
            .post("/organization/create", json!({"name": slug, "slug": slug}))
            .await,
    )
    .await;
    assert_eq!(s, 200, "{body}");
    (owner, body["id"].as_str().unwrap().to_owned())
}

async fn invite(owner: &Browser, body: Value) -> (u16, Value) {
    parts(owner.post("/organization/invite-member", body).await).await
}

async fn the_invitation_lifecycle(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (owner, org) = owner_with_org(&server, "life").await;
    let bob = server.browser();
    bob.sign_up("bob@example.com", "password123").await;
    let (s, inv) = invite(&owner, json!({"email": "Bob@Example.com", "role": "admin"})).await;
    assert_eq!(s, 200, "{inv}");
    assert_eq!(
        (
            inv["email"].as_str(),
            inv["role"].as_str(),
            inv["status"].as_str()
        ),
        (Some("bob@example.com"), Some("admin"), Some("pending"))
    );
    assert!(inv["teamId"].is_null());
    let id = inv["id"].as_str().unwrap().to_owned();
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

    // Unverified: may not look or answer (on by default).
    let (s, body) = parts(
        bob.get(&format!("/organization/get-invitation?id={id}"))
            .await,
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (403, Some("EMAIL_VERIFICATION_REQUIRED_FOR_INVITATION"))
    );
    let (s, body) = parts(
        bob.post(
            "/organization/accept-invitation",
            json!({"invitationId": id}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (
            403,
            Some("EMAIL_VERIFICATION_REQUIRED_BEFORE_ACCEPTING_OR_REJECTING_INVITATION")
        )
    );
    verify(&server, "bob@example.com").await;
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
        (Some(id.as_str()), Some("life"))
    );

    let eve = person(&server, "eve@example.com").await;
    let (s, body) = parts(
        eve.post(
            "/organization/accept-invitation",
            json!({"invitationId": id}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (403, Some("YOU_ARE_NOT_THE_RECIPIENT_OF_THE_INVITATION"))
    );

    let (s, accepted) = parts(
        bob.post(
            "/organization/accept-invitation",
            json!({"invitationId": id}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "{accepted}");
    assert_eq!(
        (
            accepted["invitation"]["status"].as_str(),
            accepted["member"]["role"].as_str()
        ),
        (Some("accepted"), Some("admin"))
    );
    assert_eq!(
        bob.json("/get-session").await["session"]["activeOrganizationId"],
        json!(org)
    );
    let (s, body) = parts(
        bob.post(
            "/organization/accept-invitation",
            json!({"invitationId": id}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (400, Some("INVITATION_NOT_FOUND"))
    );
    // Now an admin: sees the organization's invitations; a plain member does not.
    let (s, body) = invite(
        &owner,
        json!({"email": "bob@example.com", "role": "member"}),
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (400, Some("USER_IS_ALREADY_A_MEMBER_OF_THIS_ORGANIZATION"))
    );
    let listed = bob.get("/organization/list-invitations").await;
    assert_eq!(listed.headers()["x-total-count"], "1");
    assert_eq!(parts(listed).await.1.as_array().unwrap().len(), 1);
}

async fn rules_for_inviting(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (owner, org) = owner_with_org(&server, "rules").await;
    let (s, body) = invite(
        &owner,
        json!({"email": "x@example.com", "role": "superuser"}),
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str(), body["message"].as_str()),
        (
            400,
            Some("ROLE_NOT_FOUND"),
            Some("ROLE_NOT_FOUND: superuser")
        )
    );
    let (s, body) = invite(&owner, json!({"email": "not-an-email", "role": "member"})).await;
    assert_eq!((s, body["code"].as_str()), (400, Some("INVALID_EMAIL")));
    let (s, first) = invite(
        &owner,
        json!({"email": "x@example.com", "role": ["member", "admin"]}),
    )
    .await;
    assert_eq!((s, first["role"].as_str()), (200, Some("member,admin")));
    let (s, body) = invite(&owner, json!({"email": "x@example.com", "role": "member"})).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (400, Some("USER_IS_ALREADY_INVITED_TO_THIS_ORGANIZATION"))
    );
    server.clock.advance(Duration::hours(1));
    let (s, resent) = invite(
        &owner,
        json!({"email": "x@example.com", "role": "owner", "resend": true}),
    )
    .await;
    assert_eq!(
        (s, &resent["id"], resent["role"].as_str()),
        (200, &first["id"], Some("member,admin")),
        "resend keeps roles"
    );
    assert_ne!(resent["expiresAt"], first["expiresAt"]);
    server.mail.wait("x@example.com", 2).await;

    // An admin may invite, but not owners; a member may not invite at all.
    let admin = person(&server, "adm@example.com").await;
    let member_b = person(&server, "mem@example.com").await;
    for (email, role) in [("adm@example.com", "admin"), ("mem@example.com", "member")] {
        let uid = user::Entity::find()
            .filter(user::Column::Email.eq(email))
            .one(&server.db)
            .await
            .unwrap()
            .unwrap()
            .id;
        member::ActiveModel {
            organization_id: Set(org.clone()),
            user_id: Set(uid),
            role: Set(role.into()),
            ..Default::default()
        }
        .insert(&server.db)
        .await
        .unwrap();
    }
    let (s, body) = parts(
        admin
            .post(
                "/organization/invite-member",
                json!({"organizationId": org, "email": "o@example.com", "role": "owner"}),
            )
            .await,
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (
            403,
            Some("YOU_ARE_NOT_ALLOWED_TO_INVITE_USER_WITH_THIS_ROLE")
        )
    );
    assert_eq!(
        parts(
            admin
                .post(
                    "/organization/invite-member",
                    json!({"organizationId": org, "email": "a2@example.com", "role": "admin"})
                )
                .await
        )
        .await
        .0,
        200
    );
    let (s, body) = parts(
        member_b
            .post(
                "/organization/invite-member",
                json!({"organizationId": org, "email": "m2@example.com", "role": "member"}),
            )
            .await,
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (
            403,
            Some("YOU_ARE_NOT_ALLOWED_TO_INVITE_USERS_TO_THIS_ORGANIZATION")
        )
    );
    let (s, body) = parts(
        member_b
            .get(&format!(
                "/organization/list-invitations?organizationId={org}"
            ))
            .await,
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (403, Some("YOU_ARE_NOT_ALLOWED_TO_LIST_INVITATIONS"))
    );
    let (s, body) = parts(
        member_b
            .post(
                "/organization/cancel-invitation",
                json!({"invitationId": first["id"]}),
            )
            .await,
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (403, Some("YOU_ARE_NOT_ALLOWED_TO_CANCEL_THIS_INVITATION"))
    );
    // Invitations for owners are shown to owners only.
    invite(
        &owner,
        json!({"email": "future-owner@example.com", "role": "owner"}),
    )
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
    let owner_view = owner.get("/organization/list-invitations").await;
    assert_eq!(owner_view.headers()["x-total-count"], "3");
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

async fn expiry_rejection_and_isolation(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (owner_a, org_a) = owner_with_org(&server, "alpha").await;
    let (owner_b, _org_b) = owner_with_org(&server, "bravo").await;
    let carol = person(&server, "carol@example.com").await;
    let (_, expiring) = invite(
        &owner_a,
        json!({"email": "carol@example.com", "role": "member"}),
    )
    .await;
    let (_, from_b) = invite(
        &owner_b,
        json!({"email": "carol@example.com", "role": "member"}),
    )
    .await;
    // Another organization's owner can neither cancel A's invitation nor invite into A.
    let (s, body) = parts(
        owner_b
            .post(
                "/organization/cancel-invitation",
                json!({"invitationId": expiring["id"]}),
            )
            .await,
    )
    .await;
    assert_eq!((s, body["code"].as_str()), (400, Some("MEMBER_NOT_FOUND")));
    let (s, body) = invite(
        &owner_b,
        json!({"organizationId": org_a, "email": "z@example.com", "role": "member"}),
    )
    .await;
    assert_eq!((s, body["code"].as_str()), (400, Some("MEMBER_NOT_FOUND")));
    let b_team = team::Entity::find()
        .filter(team::Column::OrganizationId.ne(&org_a))
        .one(&server.db)
        .await
        .unwrap()
        .unwrap();
    let (s, body) = invite(
        &owner_a,
        json!({"email": "t@example.com", "role": "member", "teamId": b_team.id}),
    )
    .await;
    assert_eq!((s, body["code"].as_str()), (400, Some("TEAM_NOT_FOUND")));

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
    server
        .clock
        .advance(Duration::hours(48) + Duration::seconds(1));
    let (s, body) = parts(
        carol
            .post(
                "/organization/accept-invitation",
                json!({"invitationId": expiring["id"]}),
            )
            .await,
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (400, Some("INVITATION_NOT_FOUND")),
        "expired after 48 hours"
    );
    assert_eq!(
        member::Entity::find()
            .filter(member::Column::OrganizationId.eq(&org_a))
            .count(&server.db)
            .await
            .unwrap(),
        1
    );
}

/// 20 concurrent accepts of one invitation: one membership.
async fn one_invitation_one_membership(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (owner, org) = owner_with_org(&server, "once").await;
    let dave = person(&server, "dave@example.com").await;
    let (_, inv) = invite(
        &owner,
        json!({"email": "dave@example.com", "role": "member"}),
    )
    .await;
    let attempts: Vec<_> = (0..20)
        .map(|_| {
            let http = dave.http.clone();
            let url = format!("{}/api/auth/organization/accept-invitation", server.base);
            let body = json!({"invitationId": inv["id"]});
            tokio::spawn(async move {
                http.post(url)
                    .header("origin", crate::harness::ORIGIN)
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
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
            .filter(member::Column::OrganizationId.eq(&org))
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
    let (owner, org) = owner_with_org(&server, "limited").await;
    let mut invitees = Vec::new();
    for i in 0..6 {
        let email = format!("p{i}@example.com");
        let b = person(&server, &email).await;
        let (s, inv) = invite(&owner, json!({"email": email, "role": "member"})).await;
        assert_eq!(s, 200);
        invitees.push((b, inv["id"].as_str().unwrap().to_owned()));
    }
    let attempts: Vec<_> = invitees
        .iter()
        .map(|(b, id)| {
            let http = b.http.clone();
            let url = format!("{}/api/auth/organization/accept-invitation", server.base);
            let body = json!({"invitationId": id});
            tokio::spawn(async move {
                let r = http
                    .post(url)
                    .header("origin", crate::harness::ORIGIN)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                (r.status().as_u16(), r.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let mut refused = 0;
    for a in attempts {
        let (s, body) = a.await.unwrap();
        if s != 200 {
            assert_eq!(
                (s, body["code"].as_str()),
                (403, Some("ORGANIZATION_MEMBERSHIP_LIMIT_REACHED"))
            );
            refused += 1;
        }
    }
    assert_eq!(refused, 4);
    assert_eq!(
        member::Entity::find()
            .filter(member::Column::OrganizationId.eq(&org))
            .count(&server.db)
            .await
            .unwrap(),
        3
    );
}

/// An invitation naming one team places the new member in it and makes it the active team.
async fn invitations_with_a_team(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (owner, org) = owner_with_org(&server, "teams").await;
    let default_team = team::Entity::find()
        .filter(team::Column::OrganizationId.eq(&org))
        .one(&server.db)
        .await
        .unwrap()
        .unwrap();
    let erin = person(&server, "erin@example.com").await;
    let (s, inv) = invite(
        &owner,
        json!({"email": "erin@example.com", "role": "member", "teamId": default_team.id}),
    )
    .await;
    assert_eq!(
        (s, inv["teamId"].as_str()),
        (200, Some(default_team.id.as_str()))
    );
    let (s, _) = parts(
        erin.post(
            "/organization/accept-invitation",
            json!({"invitationId": inv["id"]}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200);
    let erin_id = erin.json("/get-session").await["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let placed = team_member::Entity::find()
        .filter(team_member::Column::UserId.eq(&erin_id))
        .all(&server.db)
        .await
        .unwrap();
    assert_eq!(
        placed.iter().map(|t| t.team_id.clone()).collect::<Vec<_>>(),
        vec![default_team.id.clone()]
    );
    assert_eq!(
        erin.json("/get-session").await["session"]["activeTeamId"],
        json!(default_team.id)
    );
    let (s, body) = invite(
        &owner,
        json!({"email": "f@example.com", "role": "member", "teamId": "a,b"}),
    )
    .await;
    assert_eq!((s, body["code"].as_str()), (400, Some("INVALID_TEAM_ID")));
}

/// The configurable limits and switches: organization limit, invitation limit,
/// cancel-on-re-invite, and accepting without verification when that is switched off.
async fn limits_and_switches(db: TestDb) {
    let server = TestServer::start_with(&db, |c| {
        c.org.organization_limit = Some(1);
        c.org.invitation_limit = 2;
        c.org.cancel_pending_invitations_on_re_invite = true;
        c.org.require_email_verification_on_invitation = false;
    })
    .await;
    let (owner, org) = owner_with_org(&server, "switches").await;
    let (s, body) = parts(
        owner
            .post(
                "/organization/create",
                json!({"name": "Two", "slug": "two"}),
            )
            .await,
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (
            403,
            Some("YOU_HAVE_REACHED_THE_MAXIMUM_NUMBER_OF_ORGANIZATIONS")
        )
    );

    let (_, first) = invite(&owner, json!({"email": "u1@example.com", "role": "member"})).await;
    let (s, second) = invite(&owner, json!({"email": "u1@example.com", "role": "admin"})).await;
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
    invite(&owner, json!({"email": "u2@example.com", "role": "member"})).await;
    let (s, body) = invite(&owner, json!({"email": "u3@example.com", "role": "member"})).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (403, Some("INVITATION_LIMIT_REACHED"))
    );

    // Verification not required: an unverified recipient may accept.
    let unverified = server.browser();
    unverified.sign_up("u1@example.com", "password123").await;
    let (s, accepted) = parts(
        unverified
            .post(
                "/organization/accept-invitation",
                json!({"invitationId": second["id"]}),
            )
            .await,
    )
    .await;
    assert_eq!(
        (s, accepted["member"]["organizationId"].as_str()),
        (200, Some(org.as_str()))
    );
}

db_tests!(
    the_invitation_lifecycle,
    rules_for_inviting,
    expiry_rejection_and_isolation,
    one_invitation_one_membership,
    the_membership_limit_holds,
    invitations_with_a_team,
    limits_and_switches,
);
