//! Organization routes over HTTP: create, check-slug, list, set-active, get(-full)-organization,
//! update, delete — with isolation between organizations and the role rules.

use entity::{member, organization, session, team, team_member};
use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};

use crate::fixtures::{Member, Org, User};
use crate::harness::{assert_error, assert_error_for, expect_ok, parts, Browser, TestServer};

/// Signs up `email`, who creates the organization "Org {slug}".
async fn owner_of(server: &TestServer, email: &str, slug: &str) -> Org {
    let owner = User::sign_up(server, email).await;
    Org::create(server, owner, &format!("Org {slug}"), slug).await
}

async fn active_of(server: &TestServer, b: &Browser) -> (Value, Value) {
    let s = b.json("/get-session").await;
    let id = s["session"]["id"].as_str().unwrap().to_owned();
    let row = session::Entity::find_by_id(id)
        .one(&server.db)
        .await
        .unwrap()
        .unwrap();
    (json!(row.active_organization_id), json!(row.active_team_id))
}

/// `owner@example.com` creates Acme with a logo and metadata; the user and the answer.
async fn acme(server: &TestServer) -> (User, Value) {
    let b = User::sign_up(server, "owner@example.com").await;
    let org = expect_ok(
        b.post("/organization/create", json!({"name": "Acme", "slug": "acme", "logo": "https://logo", "metadata": {"plan": "pro"}})).await,
    )
    .await;
    (b, org)
}

/// Creating makes the caller the owner, adds a default team with them in it, and makes both
/// active on their session.
async fn creating_an_organization(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (b, org) = acme(&server).await;
    let me = json!(b.id);
    assert_eq!(
        (
            org["name"].as_str(),
            org["slug"].as_str(),
            org["logo"].as_str()
        ),
        (Some("Acme"), Some("acme"), Some("https://logo"))
    );
    assert_eq!(
        org["metadata"],
        json!({"plan": "pro"}),
        "create returns the metadata object"
    );
    assert_eq!(org["members"].as_array().unwrap().len(), 1);
    assert_eq!(
        (&org["members"][0]["role"], &org["members"][0]["userId"]),
        (&json!("owner"), &me)
    );
    let id = org["id"].clone();

    let teams = team::Entity::find().all(&server.db).await.unwrap();
    assert_eq!(teams.len(), 1);
    // `updatedAt` set on insert, as ZeroStarter's Drizzle schema (`$onUpdate`) sets it.
    assert_eq!(
        (teams[0].name.as_str(), teams[0].updated_at),
        ("Acme", Some(teams[0].created_at))
    );
    assert_eq!(
        team_member::Entity::find().count(&server.db).await.unwrap(),
        1
    );
    assert_eq!(active_of(&server, &b).await, (id, json!(teams[0].id)));
}

/// Reads return what was created, with the metadata as the stored string.
async fn reading_a_new_organization(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (b, org) = acme(&server).await;
    let full = b.json("/organization/get-full-organization").await;
    assert_eq!(full["id"], org["id"]);
    assert_eq!(
        full["metadata"], "{\"plan\":\"pro\"}",
        "reads return the stored string"
    );
    assert_eq!(full["invitations"], json!([]));
    assert_eq!(full["members"][0]["user"]["email"], "owner@example.com");
    assert_eq!(
        (&full["teams"][0]["name"], &full["teams"][0]["memberCount"]),
        (&json!("Acme"), &json!(1))
    );
    assert_eq!(full["teams"][0]["updatedAt"], full["teams"][0]["createdAt"]);
    let list = b.json("/organization/list").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["metadata"], "{\"plan\":\"pro\"}");
}

/// A slug is taken once, checked by check-slug, and must be a lower-case slug.
async fn slugs_are_unique_and_well_formed(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (b, _) = acme(&server).await;
    assert_error(
        b.post(
            "/organization/create",
            json!({"name": "Other", "slug": "acme"}),
        )
        .await,
        400,
        "ORGANIZATION_ALREADY_EXISTS",
    )
    .await;
    assert_error(
        b.post("/organization/check-slug", json!({"slug": "acme"}))
            .await,
        400,
        "ORGANIZATION_SLUG_ALREADY_TAKEN",
    )
    .await;
    assert_eq!(
        parts(
            b.post("/organization/check-slug", json!({"slug": "free-one"}))
                .await
        )
        .await,
        (200, json!({"status": true}))
    );
    for bad in ["Has Space", "UPPER", "-edge", "", "a/b"] {
        assert_error_for(
            b.post("/organization/create", json!({"name": "X", "slug": bad}))
                .await,
            400,
            "VALIDATION_ERROR",
            bad,
        )
        .await;
    }
}

/// keepCurrentActiveOrganization leaves the session pointing at the organization it had.
async fn creating_may_keep_the_active_organization(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (b, org) = acme(&server).await;
    let (s, second) = parts(
        b.post(
            "/organization/create",
            json!({"name": "Beta", "slug": "beta", "keepCurrentActiveOrganization": true}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200);
    assert!(second.get("metadata").is_none(), "no metadata, no key");
    assert_eq!(active_of(&server, &b).await.0, org["id"]);
    assert_eq!(
        organization::Entity::find()
            .count(&server.db)
            .await
            .unwrap(),
        2
    );
}

async fn creating_needs_a_session(db: TestDb) {
    let server = TestServer::start(&db).await;
    assert_error(
        server
            .http
            .post(server.url("/api/auth/organization/create"))
            .json(&json!({"name": "N", "slug": "n"}))
            .send()
            .await
            .unwrap(),
        401,
        "UNAUTHORIZED",
    )
    .await;
}

/// alpha's owner (with alpha active) and bravo, another organization.
async fn alpha_and_bravo(server: &TestServer) -> (Org, Org) {
    let a = owner_of(server, "a@example.com", "alpha").await;
    let b = owner_of(server, "b@example.com", "bravo").await;
    (a, b)
}

/// Switching to an organization one is not in is refused, and clears the active organization.
async fn switching_to_another_organization_is_refused(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (a, b) = alpha_and_bravo(&server).await;
    assert_error(
        a.owner
            .post("/organization/set-active", json!({"organizationId": b.id}))
            .await,
        403,
        "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION",
    )
    .await;
    assert_eq!(
        active_of(&server, &a.owner).await,
        (Value::Null, Value::Null),
        "a refused switch clears the active organization"
    );
}

/// A member of organization A gets the contract's error on every route naming organization B,
/// and B is unchanged.
async fn organizations_are_isolated(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (a, b) = alpha_and_bravo(&server).await;
    let (org_a, org_b) = (&a.id, &b.id);
    for path in [
        format!("/organization/get-full-organization?organizationId={org_b}"),
        format!("/organization/get-organization?organizationId={org_b}"),
        "/organization/get-full-organization?organizationSlug=bravo".to_owned(),
    ] {
        let body = assert_error_for(
            a.owner.get(&path).await,
            403,
            "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION",
            &path,
        )
        .await;
        assert!(body.get("id").is_none());
    }
    assert_error(
        a.owner
            .post(
                "/organization/update",
                json!({"organizationId": org_b, "data": {"name": "Pwned"}}),
            )
            .await,
        400,
        "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION",
    )
    .await;
    assert_error(
        a.owner
            .post("/organization/delete", json!({"organizationId": org_b}))
            .await,
        400,
        "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION",
    )
    .await;
    let b_row = organization::Entity::find_by_id(org_b)
        .one(&server.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b_row.name, "Org bravo");
    let listed = a.owner.json("/organization/list").await;
    assert_eq!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].clone())
            .collect::<Vec<_>>(),
        vec![json!(org_a)]
    );
}

/// An organization that does not exist is told apart from one the caller is not in, by id and
/// by slug, as the contract does; the caller's active organization stays.
async fn a_missing_organization_is_not_found(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (a, _) = alpha_and_bravo(&server).await;
    for path in [
        "/organization/get-full-organization?organizationId=no-such-organization",
        "/organization/get-organization?organizationId=no-such-organization",
        "/organization/get-full-organization?organizationSlug=no-such-slug",
    ] {
        assert_error_for(a.owner.get(path).await, 400, "ORGANIZATION_NOT_FOUND", path).await;
    }
    assert_eq!(active_of(&server, &a.owner).await.0, json!(a.id));
}

/// The gamma organization with an admin, a plain member and a member who is also an admin, each
/// with it active.
async fn gamma(server: &TestServer) -> (Org, [Member; 3]) {
    let o = owner_of(server, "own@example.com", "gamma").await;
    let admin = o.join(server, "adm@example.com", "admin").await;
    let plain = o.join(server, "mem@example.com", "member").await;
    let both = o.join(server, "both@example.com", "member,admin").await;
    (o, [admin, plain, both])
}

/// owner, admin and member against update.
async fn roles_decide_update(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (o, [admin, plain, both]) = gamma(&server).await;
    let update = |b: &Browser, name: &str| {
        let body = json!({"organizationId": o.id, "data": {"name": name}});
        let b = b.clone();
        async move { parts(b.post("/organization/update", body).await).await }
    };
    assert_error(
        update(&plain, "By member").await,
        403,
        "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_ORGANIZATION",
    )
    .await;
    assert_eq!(update(&admin, "By admin").await.0, 200);
    assert_eq!(
        update(&both, "By member-admin").await.1["name"],
        "By member-admin"
    );
    let (s, body) = update(&o.owner, "By owner").await;
    assert_eq!((s, body["name"].as_str()), (200, Some("By owner")));
}

/// Only the owner deletes; the organization's members and teams go with it, and no session
/// keeps it active.
async fn only_the_owner_deletes(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (o, [admin, plain, both]) = gamma(&server).await;
    let org = &o.id;
    for b in [&plain, &admin, &both] {
        assert_error(
            b.post("/organization/delete", json!({"organizationId": org}))
                .await,
            403,
            "YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_ORGANIZATION",
        )
        .await;
    }
    let (s, deleted) = parts(
        o.owner
            .post("/organization/delete", json!({"organizationId": org}))
            .await,
    )
    .await;
    assert_eq!((s, deleted["id"].as_str()), (200, Some(org.as_str())));
    assert_eq!(
        organization::Entity::find()
            .count(&server.db)
            .await
            .unwrap(),
        0
    );
    assert_eq!(member::Entity::find().count(&server.db).await.unwrap(), 0);
    assert_eq!(team::Entity::find().count(&server.db).await.unwrap(), 0);
    let pointing = session::Entity::find()
        .filter(session::Column::ActiveOrganizationId.eq(org))
        .count(&server.db)
        .await
        .unwrap();
    assert_eq!(
        pointing, 0,
        "no session keeps the deleted organization active"
    );
}

/// `sw@example.com` owns "first" (active, with its team) and "second".
async fn first_and_second(server: &TestServer) -> (Org, Value) {
    let first = owner_of(server, "sw@example.com", "first").await;
    let (s, second) = parts(
        first
            .owner
            .post(
                "/organization/create",
                json!({"name": "Second", "slug": "second", "keepCurrentActiveOrganization": true}),
            )
            .await,
    )
    .await;
    assert_eq!(s, 200);
    (first, second)
}

async fn switching_the_active_organization(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (first, second) = first_and_second(&server).await;
    let b = &first.owner;
    let (active_org, active_team) = active_of(&server, b).await;
    assert_eq!(active_org, json!(first.id));
    assert!(active_team.is_string());
    let switched = parts(
        b.post(
            "/organization/set-active",
            json!({"organizationSlug": "second"}),
        )
        .await,
    )
    .await;
    assert_eq!((switched.0, &switched.1["id"]), (200, &second["id"]));
    assert_eq!(
        active_of(&server, b).await,
        (second["id"].clone(), Value::Null),
        "the old organization's team is no longer active"
    );
    assert_error(
        b.post(
            "/organization/set-active",
            json!({"organizationSlug": "missing"}),
        )
        .await,
        400,
        "ORGANIZATION_NOT_FOUND",
    )
    .await;
    assert_eq!(
        parts(
            b.post("/organization/set-active", json!({"organizationId": null}))
                .await
        )
        .await,
        (200, Value::Null)
    );
    assert_eq!(active_of(&server, b).await, (Value::Null, Value::Null));
    assert_eq!(
        b.json("/organization/get-full-organization").await,
        Value::Null,
        "no active organization: null"
    );
}

async fn updating_an_organization(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (first, _) = first_and_second(&server).await;
    let (b, first) = (&first.owner, &first.id);
    assert_error(
        b.post(
            "/organization/update",
            json!({"organizationId": first, "data": {"slug": "second"}}),
        )
        .await,
        400,
        "ORGANIZATION_SLUG_ALREADY_TAKEN",
    )
    .await;
    let body = expect_ok(b.post("/organization/update", json!({"organizationId": first, "data": {"slug": "first-renamed", "metadata": {"tier": 2}, "logo": null}})).await).await;
    assert_eq!(
        (body["slug"].as_str(), &body["metadata"], &body["logo"]),
        (Some("first-renamed"), &json!({"tier": 2}), &Value::Null)
    );
    // Without an active organization and none named: not found.
    expect_ok(
        b.post("/organization/set-active", json!({"organizationId": null}))
            .await,
    )
    .await;
    assert_error(
        b.post(
            "/organization/update",
            json!({"data": {"name": "No active"}}),
        )
        .await,
        400,
        "ORGANIZATION_NOT_FOUND",
    )
    .await;
}

/// Two creates racing for one slug: one organization, one clear error.
async fn concurrent_creates_with_one_slug(db: TestDb) {
    let server = TestServer::start(&db).await;
    let x = User::sign_up(&server, "x@example.com").await;
    let y = User::sign_up(&server, "y@example.com").await;
    let (rx, ry) = tokio::join!(
        x.post(
            "/organization/create",
            json!({"name": "X", "slug": "contested"})
        ),
        y.post(
            "/organization/create",
            json!({"name": "Y", "slug": "contested"})
        ),
    );
    let mut outcomes = [parts(rx).await, parts(ry).await];
    outcomes.sort_by_key(|(s, _)| *s);
    let [won, lost] = outcomes;
    assert_eq!(won.0, 200);
    assert_error(lost, 400, "ORGANIZATION_ALREADY_EXISTS").await;
    assert_eq!(
        organization::Entity::find()
            .count(&server.db)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        member::Entity::find().count(&server.db).await.unwrap(),
        1,
        "the loser left no member behind"
    );
}

/// Organization lists and full organizations asked for at the same time are read in batched
/// statements: each user still gets exactly their own organizations, oldest first, and each full
/// organization only its own members and teams.
async fn concurrent_lists_each_get_their_own_organizations(db: TestDb) {
    let server = TestServer::start(&db).await;
    let mut users = Vec::new();
    for i in 0..4 {
        let o = owner_of(
            &server,
            &format!("list{i}@example.com"),
            &format!("first-{i}"),
        )
        .await;
        let (b, mut expected) = (o.owner.browser, vec![o.id]);
        if i % 2 == 0 {
            let (s, second) = parts(
                b.post(
                    "/organization/create",
                    json!({"name": "Second", "slug": format!("second-{i}")}),
                )
                .await,
            )
            .await;
            assert_eq!(s, 200);
            expected.push(second["id"].as_str().unwrap().to_owned());
        }
        users.push((b, expected));
    }
    let lone = User::sign_up(&server, "lone@example.com").await;
    users.push((lone.browser, Vec::new()));
    let mut asks = Vec::new();
    let full: Vec<_> = users
        .iter()
        .enumerate()
        .filter(|(_, (_, expected))| !expected.is_empty())
        .flat_map(|(i, (b, expected))| {
            (0..4).map(move |_| {
                let request = b.http.get(format!(
                    "{}/api/auth/organization/get-full-organization?organizationId={}",
                    b.base, expected[0]
                ));
                let (id, email) = (expected[0].clone(), format!("list{i}@example.com"));
                tokio::spawn(async move { (parts(request.send().await.unwrap()).await, id, email) })
            })
        })
        .collect();
    for ask in full {
        let ((s, body), id, email) = ask.await.unwrap();
        assert_eq!((s, &body["id"]), (200, &json!(id)));
        let members = body["members"].as_array().unwrap();
        assert_eq!(members.len(), 1, "{body}");
        assert_eq!(members[0]["user"]["email"], json!(email));
        assert_eq!(body["teams"][0]["memberCount"], json!(1));
    }
    for _ in 0..6 {
        for (b, expected) in &users {
            let request = b.http.get(format!("{}/api/auth/organization/list", b.base));
            let expected = expected.clone();
            asks.push(tokio::spawn(async move {
                let (s, body) = parts(request.send().await.unwrap()).await;
                (s, body, expected)
            }));
        }
    }
    for ask in asks {
        let (s, body, expected) = ask.await.unwrap();
        assert_eq!(s, 200);
        let ids: Vec<&str> = body
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, expected);
    }
}

db_tests!(
    concurrent_lists_each_get_their_own_organizations,
    creating_an_organization,
    reading_a_new_organization,
    slugs_are_unique_and_well_formed,
    creating_may_keep_the_active_organization,
    creating_needs_a_session,
    switching_to_another_organization_is_refused,
    organizations_are_isolated,
    a_missing_organization_is_not_found,
    roles_decide_update,
    only_the_owner_deletes,
    switching_the_active_organization,
    updating_an_organization,
    concurrent_creates_with_one_slug,
);
