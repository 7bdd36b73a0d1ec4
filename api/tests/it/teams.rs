//! Teams over HTTP: create, list, update, remove, set-active-team, list-user-teams,
//! list-team-members, add and remove team members — roles, isolation, cascades and limits.

use entity::{member, session, team, team_member};
use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::{json, Value};

use crate::harness::{parts, Browser, TestServer};

struct Org {
    id: String,
    owner: Browser,
    default_team: String,
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
    let id = body["id"].as_str().unwrap().to_owned();
    let default_team = team::Entity::find()
        .filter(team::Column::OrganizationId.eq(&id))
        .one(&server.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    Org {
        id,
        owner,
        default_team,
    }
}

/// A new user who is a member of `org` with `role`, with `org` active. Returns the browser and user id.
async fn join(server: &TestServer, org: &Org, email: &str, role: &str) -> (Browser, String) {
    let b = server.browser();
    let user_id = b.sign_up(email, "password123").await["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    member::ActiveModel {
        organization_id: Set(org.id.clone()),
        user_id: Set(user_id.clone()),
        role: Set(role.into()),
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
    (b, user_id)
}

async fn code(r: reqwest::Response) -> (u16, String) {
    let (s, body) = parts(r).await;
    (s, body["code"].as_str().unwrap_or_default().to_owned())
}

async fn creating_listing_and_updating_teams(db: TestDb) {
    let server = TestServer::start(&db).await;
    let o = org(&server, "t-create").await;
    let (admin, _) = join(&server, &o, "adm@example.com", "admin").await;
    let (plain, _) = join(&server, &o, "mem@example.com", "member").await;
    let other = org(&server, "t-other").await;

    let (s, created) = parts(
        admin
            .post("/organization/create-team", json!({"name": "Engineering"}))
            .await,
    )
    .await;
    assert_eq!(s, 200, "{created}");
    assert_eq!(
        (created["organizationId"].as_str(), &created["updatedAt"]),
        (Some(o.id.as_str()), &created["createdAt"])
    );
    assert!(created.get("memberCount").is_none());
    let eng = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        team_member::Entity::find()
            .filter(team_member::Column::TeamId.eq(&eng))
            .count(&server.db)
            .await
            .unwrap(),
        0,
        "the creator is not added"
    );
    assert_eq!(
        code(
            plain
                .post("/organization/create-team", json!({"name": "X"}))
                .await
        )
        .await,
        (
            403,
            "YOU_ARE_NOT_ALLOWED_TO_CREATE_TEAMS_IN_THIS_ORGANIZATION".into()
        )
    );
    assert_eq!(
        code(
            other
                .owner
                .post(
                    "/organization/create-team",
                    json!({"name": "X", "organizationId": o.id})
                )
                .await
        )
        .await,
        (
            403,
            "YOU_ARE_NOT_ALLOWED_TO_INVITE_USERS_TO_THIS_ORGANIZATION".into()
        )
    );

    let teams = plain.json("/organization/list-teams").await;
    let names: Vec<&str> = teams
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["t-create", "Engineering"],
        "only this organization's teams"
    );
    assert_eq!(
        code(
            other
                .owner
                .get(&format!("/organization/list-teams?organizationId={}", o.id))
                .await
        )
        .await,
        (
            403,
            "YOU_ARE_NOT_ALLOWED_TO_ACCESS_THIS_ORGANIZATION".into()
        )
    );

    let (s, renamed) = parts(
        admin
            .post(
                "/organization/update-team",
                json!({"teamId": eng, "data": {"name": "Platform"}}),
            )
            .await,
    )
    .await;
    assert_eq!((s, renamed["name"].as_str()), (200, Some("Platform")));
    assert_eq!(
        code(
            plain
                .post(
                    "/organization/update-team",
                    json!({"teamId": eng, "data": {"name": "Nope"}})
                )
                .await
        )
        .await,
        (403, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_TEAM".into())
    );
    // Naming one's own organization but another's team: not found; another organization: refused.
    assert_eq!(
        code(
            other
                .owner
                .post(
                    "/organization/update-team",
                    json!({"teamId": eng, "data": {"name": "Pwned"}})
                )
                .await
        )
        .await,
        (400, "TEAM_NOT_FOUND".into())
    );
    assert_eq!(
        code(
            other
                .owner
                .post(
                    "/organization/update-team",
                    json!({"teamId": eng, "data": {"name": "Pwned", "organizationId": o.id}})
                )
                .await
        )
        .await,
        (403, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_TEAM".into())
    );
    assert_eq!(
        team::Entity::find_by_id(&eng)
            .one(&server.db)
            .await
            .unwrap()
            .unwrap()
            .name,
        "Platform"
    );
}

async fn removing_teams(db: TestDb) {
    let server = TestServer::start(&db).await;
    let o = org(&server, "t-remove").await;
    let (admin, admin_id) = join(&server, &o, "adm@example.com", "admin").await;
    let (plain, _) = join(&server, &o, "mem@example.com", "member").await;
    let other = org(&server, "t-remove-other").await;
    // The owner's active team is the default team: it cannot remove it; it is also the last one.
    assert_eq!(
        code(
            o.owner
                .post(
                    "/organization/remove-team",
                    json!({"teamId": o.default_team})
                )
                .await
        )
        .await,
        (403, "YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_TEAM".into())
    );
    assert_eq!(
        code(
            admin
                .post(
                    "/organization/remove-team",
                    json!({"teamId": o.default_team})
                )
                .await
        )
        .await,
        (400, "UNABLE_TO_REMOVE_LAST_TEAM".into())
    );
    let (_, extra) = parts(
        admin
            .post("/organization/create-team", json!({"name": "Extra"}))
            .await,
    )
    .await;
    let extra = extra["id"].as_str().unwrap().to_owned();
    o.owner
        .post(
            "/organization/add-team-member",
            json!({"teamId": extra, "userId": admin_id}),
        )
        .await;
    assert_eq!(
        admin
            .post("/organization/set-active-team", json!({"teamId": extra}))
            .await
            .status(),
        200
    );
    assert_eq!(
        code(
            plain
                .post("/organization/remove-team", json!({"teamId": extra}))
                .await
        )
        .await,
        (
            403,
            "YOU_ARE_NOT_ALLOWED_TO_DELETE_TEAMS_IN_THIS_ORGANIZATION".into()
        )
    );
    assert_eq!(
        code(
            other
                .owner
                .post(
                    "/organization/remove-team",
                    json!({"teamId": extra, "organizationId": o.id})
                )
                .await
        )
        .await,
        (403, "YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_TEAM".into())
    );
    assert_eq!(
        code(
            other
                .owner
                .post("/organization/remove-team", json!({"teamId": extra}))
                .await
        )
        .await,
        (400, "TEAM_NOT_FOUND".into())
    );
    let (s, body) = parts(
        o.owner
            .post("/organization/remove-team", json!({"teamId": extra}))
            .await,
    )
    .await;
    assert_eq!(
        (s, body),
        (200, json!({"message": "Team removed successfully."}))
    );
    assert_eq!(
        team_member::Entity::find()
            .filter(team_member::Column::TeamId.eq(&extra))
            .count(&server.db)
            .await
            .unwrap(),
        0
    );
    let still_active = session::Entity::find()
        .filter(session::Column::ActiveTeamId.eq(&extra))
        .count(&server.db)
        .await
        .unwrap();
    assert_eq!(still_active, 0, "sessions forget a removed team");
}

async fn the_active_team(db: TestDb) {
    let server = TestServer::start(&db).await;
    let o = org(&server, "t-active").await;
    let other = org(&server, "t-active-other").await;
    let (m, _) = join(&server, &o, "m@example.com", "member").await;
    assert_eq!(
        code(
            m.post(
                "/organization/set-active-team",
                json!({"teamId": o.default_team})
            )
            .await
        )
        .await,
        (403, "USER_IS_NOT_A_MEMBER_OF_THE_TEAM".into())
    );
    assert_eq!(
        code(
            o.owner
                .post(
                    "/organization/set-active-team",
                    json!({"teamId": other.default_team})
                )
                .await
        )
        .await,
        (400, "TEAM_NOT_FOUND".into())
    );
    let (s, t) = parts(
        o.owner
            .post(
                "/organization/set-active-team",
                json!({"teamId": o.default_team}),
            )
            .await,
    )
    .await;
    assert_eq!((s, t["id"].as_str()), (200, Some(o.default_team.as_str())));
    assert_eq!(
        parts(
            o.owner
                .post("/organization/set-active-team", json!({"teamId": null}))
                .await
        )
        .await,
        (200, Value::Null)
    );
    assert!(o.owner.json("/get-session").await["session"]["activeTeamId"].is_null());
    o.owner
        .post("/organization/set-active", json!({"organizationId": null}))
        .await;
    assert_eq!(
        code(
            o.owner
                .post(
                    "/organization/set-active-team",
                    json!({"teamId": o.default_team})
                )
                .await
        )
        .await,
        (400, "NO_ACTIVE_ORGANIZATION".into())
    );
}

async fn team_members(db: TestDb) {
    let server = TestServer::start_with(&db, |c| c.org.maximum_members_per_team = Some(2)).await;
    let o = org(&server, "t-members").await;
    let (admin, admin_id) = join(&server, &o, "adm@example.com", "admin").await;
    let (plain, plain_id) = join(&server, &o, "mem@example.com", "member").await;
    let (_, third_id) = join(&server, &o, "third@example.com", "member").await;
    let outsider = server.browser();
    let outsider_id = outsider.sign_up("out@example.com", "password123").await["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let add = |b: &Browser, user: &str| {
        let b = b.http.clone();
        let url = format!("{}/api/auth/organization/add-team-member", server.base);
        let body = json!({"teamId": o.default_team, "userId": user});
        async move {
            b.post(url)
                .header("origin", crate::harness::ORIGIN)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let (s, first) = parts(add(&admin, &plain_id).await).await;
    assert_eq!(
        (s, first["userId"].as_str()),
        (200, Some(plain_id.as_str()))
    );
    let (_, again) = parts(add(&admin, &plain_id).await).await;
    assert_eq!(
        again["id"], first["id"],
        "adding twice returns the same membership"
    );
    assert_eq!(
        code(add(&admin, &outsider_id).await).await,
        (400, "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION".into())
    );
    assert_eq!(
        code(add(&plain, &third_id).await).await,
        (
            403,
            "YOU_ARE_NOT_ALLOWED_TO_CREATE_A_NEW_TEAM_MEMBER".into()
        )
    );
    assert_eq!(
        code(add(&admin, &third_id).await).await,
        (403, "TEAM_MEMBER_LIMIT_REACHED".into()),
        "owner + member fill a team of 2"
    );

    assert_eq!(
        code(plain.get("/organization/list-team-members").await)
            .await
            .0,
        400,
        "no active team yet"
    );
    let members = plain
        .json(&format!(
            "/organization/list-team-members?teamId={}",
            o.default_team
        ))
        .await;
    assert_eq!(members.as_array().unwrap().len(), 2);
    assert_eq!(
        code(
            admin
                .get(&format!(
                    "/organization/list-team-members?teamId={}",
                    o.default_team
                ))
                .await
        )
        .await,
        (400, "USER_IS_NOT_A_MEMBER_OF_THE_TEAM".into())
    );

    let mine = plain.json("/organization/list-user-teams").await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
    let theirs = admin
        .json(&format!("/organization/list-user-teams?userId={plain_id}"))
        .await;
    assert_eq!(theirs[0]["id"], json!(o.default_team));
    assert_eq!(
        code(
            plain
                .get(&format!("/organization/list-user-teams?userId={admin_id}"))
                .await
        )
        .await,
        (403, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER".into())
    );

    plain
        .post(
            "/organization/set-active-team",
            json!({"teamId": o.default_team}),
        )
        .await;
    let remove = json!({"teamId": o.default_team, "userId": plain_id});
    assert_eq!(
        code(
            plain
                .post("/organization/remove-team-member", remove.clone())
                .await
        )
        .await,
        (403, "YOU_ARE_NOT_ALLOWED_TO_REMOVE_A_TEAM_MEMBER".into())
    );
    let (s, body) = parts(
        admin
            .post("/organization/remove-team-member", remove.clone())
            .await,
    )
    .await;
    assert_eq!(
        (s, body),
        (200, json!({"message": "Team member removed successfully."}))
    );
    assert!(
        plain.json("/get-session").await["session"]["activeTeamId"].is_null(),
        "their session forgets the team"
    );
    assert_eq!(
        code(admin.post("/organization/remove-team-member", remove).await).await,
        (400, "USER_IS_NOT_A_MEMBER_OF_THE_TEAM".into())
    );
}

async fn team_limits(db: TestDb) {
    let server = TestServer::start_with(&db, |c| {
        c.org.maximum_teams = Some(2);
        c.org.allow_removing_all_teams = true;
    })
    .await;
    let o = org(&server, "t-limits").await;
    let (_, second) = parts(
        o.owner
            .post("/organization/create-team", json!({"name": "Two"}))
            .await,
    )
    .await;
    assert_eq!(
        code(
            o.owner
                .post("/organization/create-team", json!({"name": "Three"}))
                .await
        )
        .await,
        (400, "YOU_HAVE_REACHED_THE_MAXIMUM_NUMBER_OF_TEAMS".into())
    );
    o.owner
        .post("/organization/set-active-team", json!({"teamId": null}))
        .await;
    assert_eq!(
        o.owner
            .post("/organization/remove-team", json!({"teamId": second["id"]}))
            .await
            .status(),
        200
    );
    assert_eq!(
        o.owner
            .post(
                "/organization/remove-team",
                json!({"teamId": o.default_team})
            )
            .await
            .status(),
        200,
        "all teams may go when allowed"
    );
}

db_tests!(
    creating_listing_and_updating_teams,
    removing_teams,
    the_active_team,
    team_members,
    team_limits
);
