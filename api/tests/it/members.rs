//! Member routes over HTTP: reading roles, listing, has-permission, leave, remove-member and
//! update-member-role, with the owner rules under concurrency.

use entity::{member, session, team_member};
use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, Set,
};
use serde_json::{json, Value};

use crate::fixtures::{Member, Org, User};
use crate::harness::{assert_error, assert_error_for, parts, Browser, TestServer};

async fn owners(server: &TestServer, org: &str) -> usize {
    member::Entity::find()
        .filter(member::Column::OrganizationId.eq(org))
        .all(&server.db)
        .await
        .unwrap()
        .iter()
        .filter(|m| m.role.split(',').any(|r| r == "owner"))
        .count()
}

/// The organization the reading tests look at: its owner, an admin, a member who is also an
/// admin, and three plain members (six members).
async fn reading_org(server: &TestServer) -> (Org, Member, Member) {
    let o = Org::new(server, "reading").await;
    let admin = o.join(server, "admin@example.com", "admin").await;
    let both = o.join(server, "both@example.com", "member,admin").await;
    for i in 0..3 {
        o.join(server, &format!("m{i}@example.com"), "member").await;
    }
    (o, admin, both)
}

/// `has-permission` as `b` asks it.
async fn has_permission(b: &Browser, body: Value) -> (u16, Value) {
    parts(b.post("/organization/has-permission", body).await).await
}

async fn reading_the_active_member_and_roles(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (o, admin, both) = reading_org(&server).await;
    let me = o.owner.json("/organization/get-active-member").await;
    assert_eq!(
        (me["role"].as_str(), me["user"]["email"].as_str()),
        (Some("owner"), Some("owner-reading@example.com"))
    );
    assert_eq!(
        both.json("/organization/get-active-member-role").await,
        json!({"role": "member,admin"})
    );
    let owner_id = me["userId"].as_str().unwrap();
    assert_eq!(
        admin
            .json(&format!(
                "/organization/get-active-member-role?userId={owner_id}"
            ))
            .await,
        json!({"role": "owner"})
    );
}

async fn listing_members_pages_sorts_and_filters(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (_, admin, _) = reading_org(&server).await;
    let page = admin
        .json("/organization/list-members?limit=2&offset=0")
        .await;
    assert_eq!(
        (page["members"].as_array().unwrap().len(), &page["total"]),
        (2, &json!(6))
    );
    let rest = admin
        .json("/organization/list-members?limit=10&offset=2")
        .await;
    assert_eq!(rest["members"].as_array().unwrap().len(), 4);
    let ids = |page: &Value| -> Vec<Value> {
        page["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].clone())
            .collect()
    };
    let oldest_first = ids(&admin.json("/organization/list-members").await);
    let mut newest_first = ids(&admin
        .json("/organization/list-members?sortBy=createdAt&sortDirection=desc")
        .await);
    newest_first.reverse();
    assert_eq!((oldest_first.len(), &oldest_first), (6, &newest_first));
    assert_eq!(
        ids(&page),
        oldest_first[..2].to_vec(),
        "pages follow the same order"
    );
    let admins = admin
        .json("/organization/list-members?filterField=role&filterValue=admin")
        .await;
    assert_eq!(admins["total"], 2, "{admins}");
    let sorted = admin
        .json("/organization/list-members?sortBy=role&sortDirection=desc")
        .await;
    assert_eq!(sorted["members"][0]["role"], "owner");
    assert_error(
        admin
            .get("/organization/list-members?filterField=email&filterValue=x")
            .await,
        400,
        "VALIDATION_ERROR",
    )
    .await;
}

async fn has_permission_answers_by_role(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (o, admin, both) = reading_org(&server).await;
    assert_eq!(
        has_permission(&admin, json!({"permissions": {"invitation": ["create"]}})).await,
        (200, json!({"error": null, "success": true}))
    );
    assert_eq!(
        has_permission(&admin, json!({"permissions": {"organization": ["delete"]}}))
            .await
            .1["success"],
        false
    );
    assert_eq!(
        has_permission(
            &o.owner,
            json!({"permissions": {"organization": ["delete"], "member": ["delete"]}})
        )
        .await
        .1["success"],
        true
    );
    assert_eq!(
        has_permission(
            &both,
            json!({"permissions": {"organization": ["update"], "ac": ["read"]}})
        )
        .await
        .1["success"],
        true
    );
    assert_eq!(
        has_permission(
            &o.owner,
            json!({"permission": {"organization": ["delete"]}})
        )
        .await
        .1["success"],
        false,
        "the deprecated key never grants"
    );
    assert_eq!(
        has_permission(&o.owner, json!({"permission": {}, "permissions": {}}))
            .await
            .0,
        400
    );
}

async fn outsiders_read_no_members(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (o, _, _) = reading_org(&server).await;
    let outsider = User::sign_up(&server, "out@example.com").await;
    assert_error(
        has_permission(
            &outsider,
            json!({"organizationId": o.id, "permissions": {"ac": ["read"]}}),
        )
        .await,
        401,
        "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION",
    )
    .await;
    assert_error(
        outsider
            .get(&format!(
                "/organization/list-members?organizationId={}",
                o.id
            ))
            .await,
        403,
        "YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION",
    )
    .await;
    assert_error(
        outsider.get("/organization/get-active-member").await,
        400,
        "NO_ACTIVE_ORGANIZATION",
    )
    .await;
}

/// Each role against each member action, as a table.
async fn the_permission_matrix(db: TestDb) {
    let server = TestServer::start(&db).await;
    // (actor role, action, expected status, expected code)
    let table: &[(&str, &str, u16, &str)] = &[
        (
            "member",
            "remove",
            401,
            "YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_MEMBER",
        ),
        ("admin", "remove", 200, ""),
        ("owner", "remove", 200, ""),
        (
            "member",
            "make-admin",
            403,
            "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER",
        ),
        ("admin", "make-admin", 200, ""),
        ("owner", "make-admin", 200, ""),
        (
            "member",
            "make-owner",
            403,
            "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER",
        ),
        (
            "admin",
            "make-owner",
            403,
            "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER",
        ),
        ("owner", "make-owner", 200, ""),
        (
            "admin",
            "demote-owner",
            403,
            "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER",
        ),
        (
            "admin",
            "remove-owner",
            400,
            "YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER",
        ),
    ];
    for (i, (role, action, status, code)) in table.iter().enumerate() {
        let o = Org::new(&server, &format!("matrix-{i}")).await;
        let actor = o
            .join(&server, &format!("actor{i}@example.com"), role)
            .await;
        let target = o
            .join(&server, &format!("target{i}@example.com"), "member")
            .await
            .id;
        let actor = if *role == "owner" { &o.owner } else { &actor };
        let (path, body) = match *action {
            "remove" => (
                "/organization/remove-member",
                json!({"memberIdOrEmail": target}),
            ),
            "make-admin" => (
                "/organization/update-member-role",
                json!({"memberId": target, "role": "admin"}),
            ),
            "make-owner" => (
                "/organization/update-member-role",
                json!({"memberId": target, "role": ["owner"]}),
            ),
            "demote-owner" => (
                "/organization/update-member-role",
                json!({"memberId": o.owner_member, "role": "member"}),
            ),
            "remove-owner" => (
                "/organization/remove-member",
                json!({"memberIdOrEmail": o.owner_member}),
            ),
            _ => unreachable!(),
        };
        let (s, body) = parts(actor.post(path, body).await).await;
        assert_eq!(s, *status, "{role} {action}: {body}");
        if !code.is_empty() {
            assert_eq!(body["code"], *code, "{role} {action}");
        }
    }
}

/// An unknown role is named in the error.
async fn an_unknown_role_is_refused(db: TestDb) {
    let server = TestServer::start(&db).await;
    assert_eq!(
        parts(
            Org::new(&server, "roles")
                .await
                .owner
                .post(
                    "/organization/update-member-role",
                    json!({"memberId": "x", "role": "superuser"})
                )
                .await
        )
        .await,
        (
            400,
            json!({"message": "ROLE_NOT_FOUND: superuser", "code": "ROLE_NOT_FOUND"})
        )
    );
}

/// The only owner can neither leave, step down nor be removed.
async fn the_last_owner_stays(db: TestDb) {
    let server = TestServer::start(&db).await;
    let o = Org::new(&server, "last").await;
    let me = o.owner.json("/organization/get-active-member").await;
    assert_error(
        o.owner
            .post("/organization/leave", json!({"organizationId": o.id}))
            .await,
        400,
        "YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER",
    )
    .await;
    assert_error(
        o.owner
            .post(
                "/organization/update-member-role",
                json!({"memberId": me["id"], "role": "admin"}),
            )
            .await,
        400,
        "YOU_CANNOT_LEAVE_THE_ORGANIZATION_WITHOUT_AN_OWNER",
    )
    .await;
    assert_error(
        o.owner
            .post(
                "/organization/remove-member",
                json!({"memberIdOrEmail": "owner-last@example.com"}),
            )
            .await,
        400,
        "YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER",
    )
    .await;
}

/// With a second owner, one of the two may leave.
async fn one_of_two_owners_may_leave(db: TestDb) {
    let server = TestServer::start(&db).await;
    let o = Org::new(&server, "last").await;
    let second = o.join(&server, "second@example.com", "owner").await;
    let (s, left) = parts(
        second
            .post("/organization/leave", json!({"organizationId": o.id}))
            .await,
    )
    .await;
    assert_eq!(
        (s, left["user"]["email"].as_str()),
        (200, Some("second@example.com"))
    );
    assert_eq!(owners(&server, &o.id).await, 1);
}

/// Two owners demoting each other at the same time, many times over: an owner always remains.
async fn owner_races_keep_an_owner(db: TestDb) {
    let server = TestServer::start(&db).await;
    let o = Org::new(&server, "race").await;
    let second = o.join(&server, "second@example.com", "owner").await;
    let (first_id, second_id) = (o.owner_member.clone(), second.id.clone());
    for round in 0..10 {
        let (a, b) = tokio::join!(
            o.owner.post(
                "/organization/update-member-role",
                json!({"memberId": second_id, "role": "member"})
            ),
            second.post(
                "/organization/update-member-role",
                json!({"memberId": first_id, "role": "member"})
            ),
        );
        let statuses = [a.status().as_u16(), b.status().as_u16()];
        assert!(
            owners(&server, &o.id).await >= 1,
            "round {round}: no owner left ({statuses:?})"
        );
        // Restore two owners for the next round.
        for id in [&first_id, &second_id] {
            let m = member::Entity::find_by_id(id)
                .one(&server.db)
                .await
                .unwrap()
                .unwrap();
            let mut m = m.into_active_model();
            m.role = Set("owner".into());
            m.update(&server.db).await.unwrap();
        }
        let (a, b) = tokio::join!(
            o.owner.post(
                "/organization/remove-member",
                json!({"memberIdOrEmail": second_id})
            ),
            second.post("/organization/leave", json!({"organizationId": o.id})),
        );
        let _ = (a.status(), b.status());
        assert!(
            owners(&server, &o.id).await >= 1,
            "round {round}: no owner after remove/leave"
        );
        if member::Entity::find_by_id(&second_id)
            .one(&server.db)
            .await
            .unwrap()
            .is_none()
        {
            // Put the second owner back with the same id.
            member::ActiveModel {
                id: Set(second_id.clone()),
                organization_id: Set(o.id.clone()),
                user_id: Set(second.user.id.clone()),
                role: Set("owner".into()),
                ..Default::default()
            }
            .insert(&server.db)
            .await
            .unwrap();
        }
    }
}

/// A removed member loses their team memberships and their sessions forget the organization.
async fn removal_cleans_up(db: TestDb) {
    let server = TestServer::start(&db).await;
    let o = Org::new(&server, "cleanup").await;
    let gone = o.join(&server, "gone@example.com", "member").await;
    team_member::ActiveModel {
        team_id: Set(o.default_team.clone()),
        user_id: Set(gone.user.id.clone()),
        ..Default::default()
    }
    .insert(&server.db)
    .await
    .unwrap();
    let (s, body) = parts(
        o.owner
            .post(
                "/organization/remove-member",
                json!({"memberIdOrEmail": "GONE@example.com"}),
            )
            .await,
    )
    .await;
    assert_eq!(
        (s, body["member"]["id"].as_str()),
        (200, Some(gone.id.as_str()))
    );
    assert_eq!(
        team_member::Entity::find()
            .filter(team_member::Column::UserId.eq(&gone.user.id))
            .count(&server.db)
            .await
            .unwrap(),
        0
    );
    let active = session::Entity::find()
        .filter(session::Column::UserId.eq(&gone.user.id))
        .all(&server.db)
        .await
        .unwrap();
    assert!(active
        .iter()
        .all(|s| s.active_organization_id.is_none() && s.active_team_id.is_none()));
    assert_error(
        gone.get(&format!(
            "/organization/get-full-organization?organizationId={}",
            o.id
        ))
        .await,
        403,
        "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION",
    )
    .await;
    assert_error(
        o.owner
            .post(
                "/organization/remove-member",
                json!({"memberIdOrEmail": gone.id}),
            )
            .await,
        400,
        "MEMBER_NOT_FOUND",
    )
    .await;
}

db_tests!(
    reading_the_active_member_and_roles,
    listing_members_pages_sorts_and_filters,
    has_permission_answers_by_role,
    outsiders_read_no_members,
    the_permission_matrix,
    an_unknown_role_is_refused,
    the_last_owner_stays,
    one_of_two_owners_may_leave,
    owner_races_keep_an_owner,
    removal_cleans_up,
);

/// A member of organization A naming organization B on every member route gets the contract's
/// error, and B is unchanged.
async fn member_routes_are_isolated(db: TestDb) {
    let server = TestServer::start(&db).await;
    let a = Org::new(&server, "iso-a").await;
    let b = Org::new(&server, "iso-b").await;
    let b_member = b.join(&server, "victim@example.com", "member").await.id;
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "/organization/remove-member",
            json!({"organizationId": b.id, "memberIdOrEmail": b_member}),
            400,
            "MEMBER_NOT_FOUND",
        ),
        (
            "/organization/update-member-role",
            json!({"organizationId": b.id, "memberId": b.owner_member, "role": "member"}),
            400,
            "MEMBER_NOT_FOUND",
        ),
        (
            "/organization/has-permission",
            json!({"organizationId": b.id, "permissions": {"member": ["delete"]}}),
            401,
            "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION",
        ),
        (
            "/organization/leave",
            json!({"organizationId": b.id}),
            400,
            "MEMBER_NOT_FOUND",
        ),
        // A's own member id, but B named: still refused.
        (
            "/organization/remove-member",
            json!({"organizationId": b.id, "memberIdOrEmail": "victim@example.com"}),
            400,
            "MEMBER_NOT_FOUND",
        ),
    ];
    for (path, body, status, code) in cases {
        let case = format!("{path} {body}");
        assert_error_for(a.owner.post(path, body).await, status, code, case).await;
    }
    assert_error(
        a.owner
            .get(&format!(
                "/organization/get-active-member-role?organizationId={}&userId=x",
                b.id
            ))
            .await,
        403,
        "YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION",
    )
    .await;
    let b_members = member::Entity::find()
        .filter(member::Column::OrganizationId.eq(&b.id))
        .all(&server.db)
        .await
        .unwrap();
    assert_eq!(b_members.len(), 2);
    assert!(b_members.iter().any(|m| m.role == "owner"));
}

db_tests!(member_routes_are_isolated);
