//! Organization routes over HTTP: create, check-slug, list, set-active, get(-full)-organization,
//! update, delete — with isolation between organizations and the role rules.

use entity::{member, organization, session, team, team_member};
use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::{json, Value};

use crate::harness::{parts, Browser, TestServer};

/// Signs up `email` and creates an organization with `slug`; returns the browser and the org id.
async fn owner_of(server: &TestServer, email: &str, slug: &str) -> (Browser, String) {
    let b = server.browser();
    b.sign_up(email, "password123").await;
    let (s, org) = parts(
        b.post(
            "/organization/create",
            json!({"name": format!("Org {slug}"), "slug": slug}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "{org}");
    (b, org["id"].as_str().unwrap().to_owned())
}

/// Adds `email` (signed up) to `org` with `role` directly in the database (invitations are not
/// under test here).
async fn member_with_role(server: &TestServer, org: &str, email: &str, role: &str) -> Browser {
    let b = server.browser();
    let user_id = b.sign_up(email, "password123").await["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    member::ActiveModel {
        organization_id: Set(org.to_owned()),
        user_id: Set(user_id),
        role: Set(role.to_owned()),
        ..Default::default()
    }
    .insert(&server.db)
    .await
    .unwrap();
    b
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

async fn creating_an_organization(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = server.browser();
    let me = b.sign_up("owner@example.com", "password123").await["user"]["id"].clone();
    let (s, org) = parts(
        b.post("/organization/create", json!({"name": "Acme", "slug": "acme", "logo": "https://logo", "metadata": {"plan": "pro"}})).await,
    )
    .await;
    assert_eq!(s, 200, "{org}");
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
    assert_eq!(
        (teams[0].name.as_str(), teams[0].updated_at),
        ("Acme", None)
    );
    assert_eq!(
        team_member::Entity::find().count(&server.db).await.unwrap(),
        1
    );
    assert_eq!(
        active_of(&server, &b).await,
        (id.clone(), json!(teams[0].id))
    );

    let full = b.json("/organization/get-full-organization").await;
    assert_eq!(full["id"], id);
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
    assert!(full["teams"][0]["updatedAt"].is_null());
    let list = b.json("/organization/list").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["metadata"], "{\"plan\":\"pro\"}");

    let (s, body) = parts(
        b.post(
            "/organization/create",
            json!({"name": "Other", "slug": "acme"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (400, Some("ORGANIZATION_ALREADY_EXISTS"))
    );
    let (s, body) = parts(
        b.post("/organization/check-slug", json!({"slug": "acme"}))
            .await,
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (400, Some("ORGANIZATION_SLUG_ALREADY_TAKEN"))
    );
    assert_eq!(
        parts(
            b.post("/organization/check-slug", json!({"slug": "free-one"}))
                .await
        )
        .await,
        (200, json!({"status": true}))
    );
    for bad in ["Has Space", "UPPER", "-edge", "", "a/b"] {
        let (s, body) = parts(
            b.post("/organization/create", json!({"name": "X", "slug": bad}))
                .await,
        )
        .await;
        assert_eq!(
            (s, body["code"].as_str()),
            (400, Some("VALIDATION_ERROR")),
            "{bad}"
        );
    }
    // keepCurrentActiveOrganization leaves the session pointing at Acme.
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
    assert_eq!(active_of(&server, &b).await.0, id);
    assert_eq!(
        organization::Entity::find()
            .count(&server.db)
            .await
            .unwrap(),
        2
    );
    let (s, body) = parts(
        server
            .http
            .post(server.url("/api/auth/organization/create"))
            .json(&json!({"name": "N", "slug": "n"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, body["code"].as_str()), (401, Some("UNAUTHORIZED")));
}

/// A member of organization A gets the contract's error on every route naming organization B,
/// and B is unchanged.
async fn organizations_are_isolated(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (a, org_a) = owner_of(&server, "a@example.com", "alpha").await;
    let (_b, org_b) = owner_of(&server, "b@example.com", "bravo").await;

    let (s, body) = parts(
        a.post("/organization/set-active", json!({"organizationId": org_b}))
            .await,
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (403, Some("USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION"))
    );
    assert_eq!(
        active_of(&server, &a).await,
        (Value::Null, Value::Null),
        "a refused switch clears the active organization"
    );
    a.post("/organization/set-active", json!({"organizationId": org_a}))
        .await;
    for path in [
        format!("/organization/get-full-organization?organizationId={org_b}"),
        format!("/organization/get-organization?organizationId={org_b}"),
        "/organization/get-full-organization?organizationSlug=bravo".to_owned(),
    ] {
        let (s, body) = parts(a.get(&path).await).await;
        assert_eq!(
            (s, body["code"].as_str()),
            (403, Some("USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION")),
            "{path}"
        );
        assert!(body.get("id").is_none());
    }
    // An organization that does not exist is told apart from one the caller is not in, by id
    // and by slug, as the contract does; the caller's active organization stays.
    a.post("/organization/set-active", json!({"organizationId": org_a}))
        .await;
    for path in [
        "/organization/get-full-organization?organizationId=no-such-organization",
        "/organization/get-organization?organizationId=no-such-organization",
        "/organization/get-full-organization?organizationSlug=no-such-slug",
    ] {
        let (s, body) = parts(a.get(path).await).await;
        assert_eq!(
            (s, body["code"].as_str()),
            (400, Some("ORGANIZATION_NOT_FOUND")),
            "{path}"
        );
    }
    assert_eq!(active_of(&server, &a).await.0, json!(org_a));
    let (s, body) = parts(
        a.post(
            "/organization/update",
            json!({"organizationId": org_b, "data": {"name": "Pwned"}}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (400, Some("USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION"))
    );
    let (s, body) = parts(
        a.post("/organization/delete", json!({"organizationId": org_b}))
            .await,
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (400, Some("USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION"))
    );
    let b_row = organization::Entity::find_by_id(&org_b)
        .one(&server.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b_row.name, "Org bravo");
    let listed = a.json("/organization/list").await;
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

/// owner, admin and member against update and delete.
async fn roles_decide_update_and_delete(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (owner, org) = owner_of(&server, "own@example.com", "gamma").await;
    let admin = member_with_role(&server, &org, "adm@example.com", "admin").await;
    let plain = member_with_role(&server, &org, "mem@example.com", "member").await;
    let both = member_with_role(&server, &org, "both@example.com", "member,admin").await;
    for b in [&admin, &plain, &both] {
        b.post("/organization/set-active", json!({"organizationId": org}))
            .await;
    }
    let update = |b: &Browser, name: &str| {
        let body = json!({"organizationId": org, "data": {"name": name}});
        let b = b.http.clone();
        let url = format!("{}/api/auth/organization/update", server.base);
        async move {
            parts(
                b.post(url)
                    .header("origin", crate::harness::ORIGIN)
                    .json(&body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let (s, body) = update(&plain, "By member").await;
    assert_eq!(
        (s, body["code"].as_str()),
        (403, Some("YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_ORGANIZATION"))
    );
    assert_eq!(update(&admin, "By admin").await.0, 200);
    assert_eq!(
        update(&both, "By member-admin").await.1["name"],
        "By member-admin"
    );
    let (s, body) = update(&owner, "By owner").await;
    assert_eq!((s, body["name"].as_str()), (200, Some("By owner")));

    for b in [&plain, &admin, &both] {
        let (s, body) = parts(
            b.post("/organization/delete", json!({"organizationId": org}))
                .await,
        )
        .await;
        assert_eq!(
            (s, body["code"].as_str()),
            (403, Some("YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_ORGANIZATION"))
        );
    }
    let (s, deleted) = parts(
        owner
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
        .filter(session::Column::ActiveOrganizationId.eq(&org))
        .count(&server.db)
        .await
        .unwrap();
    assert_eq!(
        pointing, 0,
        "no session keeps the deleted organization active"
    );
}

async fn switching_and_updating(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (b, first) = owner_of(&server, "sw@example.com", "first").await;
    let (s, second) = parts(
        b.post(
            "/organization/create",
            json!({"name": "Second", "slug": "second", "keepCurrentActiveOrganization": true}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200);
    let (active_org, active_team) = active_of(&server, &b).await;
    assert_eq!(active_org, json!(first));
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
        active_of(&server, &b).await,
        (second["id"].clone(), Value::Null),
        "the old organization's team is no longer active"
    );
    let (s, body) = parts(
        b.post(
            "/organization/set-active",
            json!({"organizationSlug": "missing"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (400, Some("ORGANIZATION_NOT_FOUND"))
    );
    assert_eq!(
        parts(
            b.post("/organization/set-active", json!({"organizationId": null}))
                .await
        )
        .await,
        (200, Value::Null)
    );
    assert_eq!(active_of(&server, &b).await, (Value::Null, Value::Null));
    assert_eq!(
        b.json("/organization/get-full-organization").await,
        Value::Null,
        "no active organization: null"
    );

    let (s, body) = parts(
        b.post(
            "/organization/update",
            json!({"organizationId": first, "data": {"slug": "second"}}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (400, Some("ORGANIZATION_SLUG_ALREADY_TAKEN"))
    );
    let (s, body) = parts(b.post("/organization/update", json!({"organizationId": first, "data": {"slug": "first-renamed", "metadata": {"tier": 2}, "logo": null}})).await).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        (body["slug"].as_str(), &body["metadata"], &body["logo"]),
        (Some("first-renamed"), &json!({"tier": 2}), &Value::Null)
    );
    let (s, body) = parts(
        b.post(
            "/organization/update",
            json!({"data": {"name": "No active"}}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (400, Some("ORGANIZATION_NOT_FOUND"))
    );
}

/// Two creates racing for one slug: one organization, one clear error.
async fn concurrent_creates_with_one_slug(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (x, y) = (server.browser(), server.browser());
    x.sign_up("x@example.com", "password123").await;
    y.sign_up("y@example.com", "password123").await;
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
    assert_eq!(outcomes[0].0, 200);
    assert_eq!(
        (outcomes[1].0, outcomes[1].1["code"].as_str()),
        (400, Some("ORGANIZATION_ALREADY_EXISTS"))
    );
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
        let (b, first) = owner_of(
            &server,
            &format!("list{i}@example.com"),
            &format!("first-{i}"),
        )
        .await;
        let mut expected = vec![first];
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
    let lone = server.browser();
    lone.sign_up("lone@example.com", "password123").await;
    users.push((lone, Vec::new()));
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
    organizations_are_isolated,
    roles_decide_update_and_delete,
    switching_and_updating,
    concurrent_creates_with_one_slug,
);
