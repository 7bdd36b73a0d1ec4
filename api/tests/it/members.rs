//! Member routes over HTTP: reading roles, listing, has-permission, leave, remove-member and
//! update-member-role, with the owner rules under concurrency.

use entity::{member, session, team, team_member};
use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, Set,
};
use serde_json::{json, Value};

use crate::harness::{parts, Browser, TestServer};

struct Org {
    id: String,
    owner: Browser,
}

async fn org(server: &TestServer, slug: &str) -> Org {
    let owner = server.browser();
    owner
        .sign_up(&format!("owner-{slug}@example.com"), "password123")
        .await;
    let (s, body) = parts(
        owner
            .post("/organization/create", json!({"name": slug, "slug": slug}))
            .await,
    )
    .await;
    assert_eq!(s, 200, "{body}");
    Org {
        id: body["id"].as_str().unwrap().to_owned(),
        owner,
    }
}

/// Signs up `email`, makes them a member with `role` (directly: invitations are not under test),
/// and makes the organization active on their session. Returns the browser and the member id.
async fn join(server: &TestServer, org: &Org, email: &str, role: &str) -> (Browser, String) {
    let b = server.browser();
    let user_id = b.sign_up(email, "password123").await["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let m = member::ActiveModel {
        organization_id: Set(org.id.clone()),
        user_id: Set(user_id),
        role: Set(role.to_owned()),
        ..Default::default()
    }
    .insert(&server.db)
    .await
    .unwrap();
    assert_eq!(
        b.post(
            "/organization/set-active",
            json!({"organizationId": org.id})
        )
        .await
        .status(),
        200
    );
    (b, m.id)
}

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

async fn reading_members_and_roles(db: TestDb) {
    let server = TestServer::start(&db).await;
    let o = org(&server, "reading").await;
    let (admin, _) = join(&server, &o, "admin@example.com", "admin").await;
    let (both, _) = join(&server, &o, "both@example.com", "member,admin").await;
    for i in 0..3 {
        join(&server, &o, &format!("m{i}@example.com"), "member").await;
    }
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
    let (s, body) = parts(
        admin
            .get("/organization/list-members?filterField=email&filterValue=x")
            .await,
    )
    .await;
    assert_eq!((s, body["code"].as_str()), (400, Some("VALIDATION_ERROR")));

    let perm = |b: &Browser, p: Value| {
        let b = b.http.clone();
        let url = format!("{}/api/auth/organization/has-permission", server.base);
        async move {
            parts(
                b.post(url)
                    .header("origin", crate::harness::ORIGIN)
                    .json(&p)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    assert_eq!(
        perm(&admin, json!({"permissions": {"invitation": ["create"]}})).await,
        (200, json!({"error": null, "success": true}))
    );
    assert_eq!(
        perm(&admin, json!({"permissions": {"organization": ["delete"]}}))
            .await
            .1["success"],
        false
    );
    assert_eq!(
        perm(
            &o.owner,
            json!({"permissions": {"organization": ["delete"], "member": ["delete"]}})
        )
        .await
        .1["success"],
        true
    );
    assert_eq!(
        perm(
            &both,
            json!({"permissions": {"organization": ["update"], "ac": ["read"]}})
        )
        .await
        .1["success"],
        true
    );
    assert_eq!(
        perm(
            &o.owner,
            json!({"permission": {"organization": ["delete"]}})
        )
        .await
        .1["success"],
        false,
        "the deprecated key never grants"
    );
    assert_eq!(
        perm(&o.owner, json!({"permission": {}, "permissions": {}}))
            .await
            .0,
        400
    );
    let outsider = server.browser();
    outsider.sign_up("out@example.com", "password123").await;
    let (s, body) = perm(
        &outsider,
        json!({"organizationId": o.id, "permissions": {"ac": ["read"]}}),
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (401, Some("USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION"))
    );
    let (s, body) = parts(
        outsider
            .get(&format!(
                "/organization/list-members?organizationId={}",
                o.id
            ))
            .await,
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (403, Some("YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION"))
    );
    let (s, body) = parts(outsider.get("/organization/get-active-member").await).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (400, Some("NO_ACTIVE_ORGANIZATION"))
    );
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
        let o = org(&server, &format!("matrix-{i}")).await;
        let (actor, _) = join(&server, &o, &format!("actor{i}@example.com"), role).await;
        let (_, target) = join(&server, &o, &format!("target{i}@example.com"), "member").await;
        let owner_member = member::Entity::find()
            .filter(member::Column::OrganizationId.eq(&o.id))
            .filter(member::Column::Role.eq("owner"))
            .one(&server.db)
            .await
            .unwrap()
            .unwrap();
        let actor = if *role == "owner" { &o.owner } else { &actor };
        let response = match *action {
            "remove" => {
                actor
                    .post(
                        "/organization/remove-member",
                        json!({"memberIdOrEmail": target}),
                    )
                    .await
            }
            "make-admin" => {
                actor
                    .post(
                        "/organization/update-member-role",
                        json!({"memberId": target, "role": "admin"}),
                    )
                    .await
            }
            "make-owner" => {
                actor
                    .post(
                        "/organization/update-member-role",
                        json!({"memberId": target, "role": ["owner"]}),
                    )
                    .await
            }
            "demote-owner" => {
                actor
                    .post(
                        "/organization/update-member-role",
                        json!({"memberId": owner_member.id, "role": "member"}),
                    )
                    .await
            }
            "remove-owner" => {
                actor
                    .post(
                        "/organization/remove-member",
                        json!({"memberIdOrEmail": owner_member.id}),
                    )
                    .await
            }
            _ => unreachable!(),
        };
        let (s, body) = parts(response).await;
        assert_eq!(s, *status, "{role} {action}: {body}");
        if !code.is_empty() {
            assert_eq!(body["code"], *code, "{role} {action}");
        }
    }
    assert_eq!(
        parts(
            org(&server, "roles")
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

async fn the_last_owner_stays(db: TestDb) {
    let server = TestServer::start(&db).await;
    let o = org(&server, "last").await;
    let me = o.owner.json("/organization/get-active-member").await;
    let (s, body) = parts(
        o.owner
            .post("/organization/leave", json!({"organizationId": o.id}))
            .await,
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (
            400,
            Some("YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER")
        )
    );
    let (s, body) = parts(
        o.owner
            .post(
                "/organization/update-member-role",
                json!({"memberId": me["id"], "role": "admin"}),
            )
            .await,
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (
            400,
            Some("YOU_CANNOT_LEAVE_THE_ORGANIZATION_WITHOUT_AN_OWNER")
        )
    );
    let (s, body) = parts(
        o.owner
            .post(
                "/organization/remove-member",
                json!({"memberIdOrEmail": "owner-last@example.com"}),
            )
            .await,
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (
            400,
            Some("YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER")
        )
    );
    // With a second owner, one may go.
    let (second, _) = join(&server, &o, "second@example.com", "owner").await;
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
    let o = org(&server, "race").await;
    let (second, second_id) = join(&server, &o, "second@example.com", "owner").await;
    let first_id = o.owner.json("/organization/get-active-member").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
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
            let user_id = second.json("/get-session").await["user"]["id"]
                .as_str()
                .unwrap()
                .to_owned();
            member::ActiveModel {
                id: Set(second_id.clone()),
                organization_id: Set(o.id.clone()),
                user_id: Set(user_id),
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
    let o = org(&server, "cleanup").await;
    let (gone, gone_member) = join(&server, &o, "gone@example.com", "member").await;
    let gone_user = gone.json("/get-session").await["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let default_team = team::Entity::find()
        .filter(team::Column::OrganizationId.eq(&o.id))
        .one(&server.db)
        .await
        .unwrap()
        .unwrap();
    team_member::ActiveModel {
        team_id: Set(default_team.id.clone()),
        user_id: Set(gone_user.clone()),
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
        (200, Some(gone_member.as_str()))
    );
    assert_eq!(
        team_member::Entity::find()
            .filter(team_member::Column::UserId.eq(&gone_user))
            .count(&server.db)
            .await
            .unwrap(),
        0
    );
    let active = session::Entity::find()
        .filter(session::Column::UserId.eq(&gone_user))
        .all(&server.db)
        .await
        .unwrap();
    assert!(active
        .iter()
        .all(|s| s.active_organization_id.is_none() && s.active_team_id.is_none()));
    let (s, body) = parts(
        gone.get(&format!(
            "/organization/get-full-organization?organizationId={}",
            o.id
        ))
        .await,
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (403, Some("USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION"))
    );
    let (s, body) = parts(
        o.owner
            .post(
                "/organization/remove-member",
                json!({"memberIdOrEmail": gone_member}),
            )
            .await,
    )
    .await;
    assert_eq!((s, body["code"].as_str()), (400, Some("MEMBER_NOT_FOUND")));
}

db_tests!(
    reading_members_and_roles,
    the_permission_matrix,
    the_last_owner_stays,
    owner_races_keep_an_owner,
    removal_cleans_up,
);

/// A member of organization A naming organization B on every member route gets the contract's
/// error, and B is unchanged.
async fn member_routes_are_isolated(db: TestDb) {
    let server = TestServer::start(&db).await;
    let a = org(&server, "iso-a").await;
    let b = org(&server, "iso-b").await;
    let (_, b_member) = join(&server, &b, "victim@example.com", "member").await;
    let b_owner_member = b.owner.json("/organization/get-active-member").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "/organization/remove-member",
            json!({"organizationId": b.id, "memberIdOrEmail": b_member}),
            400,
            "MEMBER_NOT_FOUND",
        ),
        (
            "/organization/update-member-role",
            json!({"organizationId": b.id, "memberId": b_owner_member, "role": "member"}),
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
        let (s, answer) = parts(a.owner.post(path, body.clone()).await).await;
        assert_eq!(
            (s, answer["code"].as_str()),
            (status, Some(code)),
            "{path} {body}"
        );
    }
    let (s, answer) = parts(
        a.owner
            .get(&format!(
                "/organization/get-active-member-role?organizationId={}&userId=x",
                b.id
            ))
            .await,
    )
    .await;
    assert_eq!(
        (s, answer["code"].as_str()),
        (403, Some("YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION"))
    );
    let b_members = member::Entity::find()
        .filter(member::Column::OrganizationId.eq(&b.id))
        .all(&server.db)
        .await
        .unwrap();
    assert_eq!(b_members.len(), 2);
    assert!(b_members.iter().any(|m| m.role == "owner"));
}

db_tests!(member_routes_are_isolated);
