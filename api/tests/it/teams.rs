//! Teams over HTTP: create, list, update, remove, set-active-team, list-user-teams,
//! list-team-members, add and remove team members — roles, isolation, cascades and limits.

use entity::{session, team, team_member};
use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};

use crate::fixtures::{Member, Org, User};
use crate::harness::{assert_error, assert_error_for, expect_ok, parts, Browser, TestServer};

/// An organization with an admin and a plain member (both with it active), another
/// organization, and the team "Engineering" the admin created (the answer to create-team).
struct Engineering {
    o: Org,
    admin: Member,
    plain: Member,
    other: Org,
    created: Value,
    eng: String,
}

async fn engineering(server: &TestServer) -> Engineering {
    let o = Org::new(server, "t-create").await;
    let admin = o.join(server, "adm@example.com", "admin").await;
    let plain = o.join(server, "mem@example.com", "member").await;
    let other = Org::new(server, "t-other").await;
    let created = expect_ok(
        admin
            .post("/organization/create-team", json!({"name": "Engineering"}))
            .await,
    )
    .await;
    let eng = created["id"].as_str().unwrap().to_owned();
    Engineering {
        o,
        admin,
        plain,
        other,
        created,
        eng,
    }
}

async fn creating_a_team(db: TestDb) {
    let server = TestServer::start(&db).await;
    let Engineering {
        o,
        plain,
        other,
        created,
        eng,
        ..
    } = engineering(&server).await;
    assert_eq!(
        (created["organizationId"].as_str(), &created["updatedAt"]),
        (Some(o.id.as_str()), &created["createdAt"])
    );
    assert!(created.get("memberCount").is_none());
    assert_eq!(
        team_member::Entity::find()
            .filter(team_member::Column::TeamId.eq(&eng))
            .count(&server.db)
            .await
            .unwrap(),
        0,
        "the creator is not added"
    );
    assert_error(
        plain
            .post("/organization/create-team", json!({"name": "X"}))
            .await,
        403,
        "YOU_ARE_NOT_ALLOWED_TO_CREATE_TEAMS_IN_THIS_ORGANIZATION",
    )
    .await;
    assert_error(
        other
            .owner
            .post(
                "/organization/create-team",
                json!({"name": "X", "organizationId": o.id}),
            )
            .await,
        403,
        "YOU_ARE_NOT_ALLOWED_TO_INVITE_USERS_TO_THIS_ORGANIZATION",
    )
    .await;
}

async fn listing_teams(db: TestDb) {
    let server = TestServer::start(&db).await;
    let Engineering {
        o, plain, other, ..
    } = engineering(&server).await;
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
    assert_error(
        other
            .owner
            .get(&format!("/organization/list-teams?organizationId={}", o.id))
            .await,
        403,
        "YOU_ARE_NOT_ALLOWED_TO_ACCESS_THIS_ORGANIZATION",
    )
    .await;
}

async fn updating_a_team(db: TestDb) {
    let server = TestServer::start(&db).await;
    let Engineering {
        o,
        admin,
        plain,
        other,
        eng,
        ..
    } = engineering(&server).await;
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
    assert_error(
        plain
            .post(
                "/organization/update-team",
                json!({"teamId": eng, "data": {"name": "Nope"}}),
            )
            .await,
        403,
        "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_TEAM",
    )
    .await;
    // Naming one's own organization but another's team: not found; another organization: refused.
    for (data, status, code) in [
        (json!({"name": "Pwned"}), 400, "TEAM_NOT_FOUND"),
        (
            json!({"name": "Pwned", "organizationId": o.id}),
            403,
            "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_TEAM",
        ),
    ] {
        let body = json!({"teamId": eng, "data": data});
        let answer = other
            .owner
            .post("/organization/update-team", body.clone())
            .await;
        assert_error_for(answer, status, code, body).await;
    }
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

/// The team "Extra" in `o`, with `admin` in it and active on their session.
async fn extra_team(o: &Org, admin: &Member) -> String {
    let extra = expect_ok(
        admin
            .post("/organization/create-team", json!({"name": "Extra"}))
            .await,
    )
    .await;
    let extra = extra["id"].as_str().unwrap().to_owned();
    o.owner
        .post(
            "/organization/add-team-member",
            json!({"teamId": extra, "userId": admin.user.id}),
        )
        .await;
    assert_eq!(
        admin
            .post("/organization/set-active-team", json!({"teamId": extra}))
            .await
            .status(),
        200
    );
    extra
}

/// The caller's active team cannot be removed, nor the last team.
async fn the_active_and_the_last_team_stay(db: TestDb) {
    let server = TestServer::start(&db).await;
    let o = Org::new(&server, "t-remove").await;
    let admin = o.join(&server, "adm@example.com", "admin").await;
    // The owner's active team is the default team: it cannot remove it; it is also the last one.
    assert_error(
        o.owner
            .post(
                "/organization/remove-team",
                json!({"teamId": o.default_team}),
            )
            .await,
        403,
        "YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_TEAM",
    )
    .await;
    assert_error(
        admin
            .post(
                "/organization/remove-team",
                json!({"teamId": o.default_team}),
            )
            .await,
        400,
        "UNABLE_TO_REMOVE_LAST_TEAM",
    )
    .await;
}

/// A plain member, and another organization's owner, cannot remove a team.
async fn removing_a_team_is_for_its_organizations_admins(db: TestDb) {
    let server = TestServer::start(&db).await;
    let o = Org::new(&server, "t-remove").await;
    let admin = o.join(&server, "adm@example.com", "admin").await;
    let plain = o.join(&server, "mem@example.com", "member").await;
    let other = Org::new(&server, "t-remove-other").await;
    let extra = extra_team(&o, &admin).await;
    assert_error(
        plain
            .post("/organization/remove-team", json!({"teamId": extra}))
            .await,
        403,
        "YOU_ARE_NOT_ALLOWED_TO_DELETE_TEAMS_IN_THIS_ORGANIZATION",
    )
    .await;
    assert_error(
        other
            .owner
            .post(
                "/organization/remove-team",
                json!({"teamId": extra, "organizationId": o.id}),
            )
            .await,
        403,
        "YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_TEAM",
    )
    .await;
    assert_error(
        other
            .owner
            .post("/organization/remove-team", json!({"teamId": extra}))
            .await,
        400,
        "TEAM_NOT_FOUND",
    )
    .await;
    assert!(team::Entity::find_by_id(&extra)
        .one(&server.db)
        .await
        .unwrap()
        .is_some());
}

/// A removed team takes its memberships with it, and no session keeps it active.
async fn a_removed_team_leaves_nothing_behind(db: TestDb) {
    let server = TestServer::start(&db).await;
    let o = Org::new(&server, "t-remove").await;
    let admin = o.join(&server, "adm@example.com", "admin").await;
    let extra = extra_team(&o, &admin).await;
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
    let o = Org::new(&server, "t-active").await;
    let other = Org::new(&server, "t-active-other").await;
    let m = o.join(&server, "m@example.com", "member").await;
    assert_error(
        m.post(
            "/organization/set-active-team",
            json!({"teamId": o.default_team}),
        )
        .await,
        403,
        "USER_IS_NOT_A_MEMBER_OF_THE_TEAM",
    )
    .await;
    assert_error(
        o.owner
            .post(
                "/organization/set-active-team",
                json!({"teamId": other.default_team}),
            )
            .await,
        400,
        "TEAM_NOT_FOUND",
    )
    .await;
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
    assert_error(
        o.owner
            .post(
                "/organization/set-active-team",
                json!({"teamId": o.default_team}),
            )
            .await,
        400,
        "NO_ACTIVE_ORGANIZATION",
    )
    .await;
}

/// A server whose teams hold two members, an organization with an admin and two plain members
/// (`mem@` and `third@`); nobody but the owner is in the default team yet.
async fn team_of_two(db: &TestDb) -> (TestServer, Org, Member, Member, Member) {
    let server = TestServer::start_with(db, |c| c.org.maximum_members_per_team = Some(2)).await;
    let o = Org::new(&server, "t-members").await;
    let admin = o.join(&server, "adm@example.com", "admin").await;
    let plain = o.join(&server, "mem@example.com", "member").await;
    let third = o.join(&server, "third@example.com", "member").await;
    (server, o, admin, plain, third)
}

/// `b` adds `user` to `team`.
async fn add_team_member(b: &Browser, team: &str, user: &str) -> (u16, Value) {
    parts(
        b.post(
            "/organization/add-team-member",
            json!({"teamId": team, "userId": user}),
        )
        .await,
    )
    .await
}

async fn adding_team_members(db: TestDb) {
    let (server, o, admin, plain, third) = team_of_two(&db).await;
    let outsider = User::sign_up(&server, "out@example.com").await;
    let team = o.default_team.as_str();
    let (s, first) = add_team_member(&admin, team, &plain.user.id).await;
    assert_eq!(
        (s, first["userId"].as_str()),
        (200, Some(plain.user.id.as_str()))
    );
    let (_, again) = add_team_member(&admin, team, &plain.user.id).await;
    assert_eq!(
        again["id"], first["id"],
        "adding twice returns the same membership"
    );
    assert_error(
        add_team_member(&admin, team, &outsider.id).await,
        400,
        "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION",
    )
    .await;
    assert_error(
        add_team_member(&plain, team, &third.user.id).await,
        403,
        "YOU_ARE_NOT_ALLOWED_TO_CREATE_A_NEW_TEAM_MEMBER",
    )
    .await;
    let (s, body) = add_team_member(&admin, team, &third.user.id).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (403, Some("TEAM_MEMBER_LIMIT_REACHED")),
        "owner + member fill a team of 2"
    );
}

async fn listing_team_members(db: TestDb) {
    let (_server, o, admin, plain, _) = team_of_two(&db).await;
    expect_ok(add_team_member(&admin, &o.default_team, &plain.user.id).await).await;
    assert_eq!(
        parts(plain.get("/organization/list-team-members").await)
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
    assert_error(
        admin
            .get(&format!(
                "/organization/list-team-members?teamId={}",
                o.default_team
            ))
            .await,
        400,
        "USER_IS_NOT_A_MEMBER_OF_THE_TEAM",
    )
    .await;
}

async fn listing_a_users_teams(db: TestDb) {
    let (_server, o, admin, plain, _) = team_of_two(&db).await;
    expect_ok(add_team_member(&admin, &o.default_team, &plain.user.id).await).await;
    let mine = plain.json("/organization/list-user-teams").await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
    let theirs = admin
        .json(&format!(
            "/organization/list-user-teams?userId={}",
            plain.user.id
        ))
        .await;
    assert_eq!(theirs[0]["id"], json!(o.default_team));
    assert_error(
        plain
            .get(&format!(
                "/organization/list-user-teams?userId={}",
                admin.user.id
            ))
            .await,
        403,
        "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER",
    )
    .await;
}

async fn removing_team_members(db: TestDb) {
    let (_server, o, admin, plain, _) = team_of_two(&db).await;
    expect_ok(add_team_member(&admin, &o.default_team, &plain.user.id).await).await;
    plain
        .post(
            "/organization/set-active-team",
            json!({"teamId": o.default_team}),
        )
        .await;
    let remove = json!({"teamId": o.default_team, "userId": plain.user.id});
    assert_error(
        plain
            .post("/organization/remove-team-member", remove.clone())
            .await,
        403,
        "YOU_ARE_NOT_ALLOWED_TO_REMOVE_A_TEAM_MEMBER",
    )
    .await;
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
    assert_error(
        admin.post("/organization/remove-team-member", remove).await,
        400,
        "USER_IS_NOT_A_MEMBER_OF_THE_TEAM",
    )
    .await;
}

async fn team_limits(db: TestDb) {
    let server = TestServer::start_with(&db, |c| {
        c.org.maximum_teams = Some(2);
        c.org.allow_removing_all_teams = true;
    })
    .await;
    let o = Org::new(&server, "t-limits").await;
    let (_, second) = parts(
        o.owner
            .post("/organization/create-team", json!({"name": "Two"}))
            .await,
    )
    .await;
    assert_error(
        o.owner
            .post("/organization/create-team", json!({"name": "Three"}))
            .await,
        400,
        "YOU_HAVE_REACHED_THE_MAXIMUM_NUMBER_OF_TEAMS",
    )
    .await;
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
    creating_a_team,
    listing_teams,
    updating_a_team,
    the_active_and_the_last_team_stay,
    removing_a_team_is_for_its_organizations_admins,
    a_removed_team_leaves_nothing_behind,
    the_active_team,
    adding_team_members,
    listing_team_members,
    listing_a_users_teams,
    removing_team_members,
    team_limits
);
