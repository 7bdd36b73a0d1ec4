use chrono::{Duration, SubsecRound, Utc};
use entity::*;
use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, ModelTrait, PaginatorTrait, Set};

use crate::fixture::{graph, user};

async fn counts(db: &sea_orm::DatabaseConnection) -> [u64; 8] {
    [
        user::Entity::find().count(db).await.unwrap(),
        session::Entity::find().count(db).await.unwrap(),
        account::Entity::find().count(db).await.unwrap(),
        organization::Entity::find().count(db).await.unwrap(),
        team::Entity::find().count(db).await.unwrap(),
        member::Entity::find().count(db).await.unwrap(),
        team_member::Entity::find().count(db).await.unwrap(),
        invitation::Entity::find().count(db).await.unwrap(),
    ]
}

/// Deleting a user removes their sessions, accounts, memberships, team memberships and the
/// invitations they sent, and nothing else.
async fn deleting_a_user_cascades(db: TestDb) {
    let db = db.migrated().await;
    let g = graph(&db).await;
    assert_eq!(counts(&db).await, [2, 1, 1, 1, 1, 1, 1, 1]);
    g.alice.delete(&db).await.unwrap();
    // users, sessions, accounts, orgs, teams, members, team members, invitations
    assert_eq!(counts(&db).await, [1, 0, 0, 1, 1, 0, 0, 0]);
    assert!(user::Entity::find_by_id(&g.bob.id)
        .one(&db)
        .await
        .unwrap()
        .is_some());
}

/// Deleting an organization removes its teams, members and invitations, and through the teams
/// their team members; the users stay.
async fn deleting_an_organization_cascades(db: TestDb) {
    let db = db.migrated().await;
    let g = graph(&db).await;
    g.org.delete(&db).await.unwrap();
    assert_eq!(counts(&db).await, [2, 1, 1, 0, 0, 0, 0, 0]);
}

/// Deleting a team removes its team members only.
async fn deleting_a_team_cascades_to_team_members(db: TestDb) {
    let db = db.migrated().await;
    let g = graph(&db).await;
    g.team.delete(&db).await.unwrap();
    assert_eq!(counts(&db).await, [2, 1, 1, 1, 0, 1, 0, 1]);
}

/// Inserts get an id and timestamps; updates move `updated_at` and leave `created_at`.
async fn timestamps_and_ids_are_automatic(db: TestDb) {
    let db = db.migrated().await;
    let g = graph(&db).await;
    assert_eq!(
        uuid::Uuid::parse_str(&g.alice.id)
            .unwrap()
            .get_version_num(),
        7
    );
    assert_ne!(g.alice.id, g.bob.id);
    assert_eq!(g.alice.created_at, g.alice.updated_at);
    assert!(g.team.updated_at.is_some() && g.team_member.created_at.is_some());

    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let mut renamed = g.alice.clone().into_active_model();
    renamed.name = Set("Alice A".into());
    let renamed = renamed.update(&db).await.unwrap();
    assert_eq!(renamed.created_at, g.alice.created_at);
    assert!(
        renamed.updated_at > g.alice.updated_at,
        "user.updated_at moves"
    );

    let mut refreshed = g.session.clone().into_active_model();
    refreshed.expires_at = Set((Utc::now() + Duration::days(8)).naive_utc());
    let refreshed = refreshed.update(&db).await.unwrap();
    assert!(
        refreshed.updated_at > g.session.updated_at,
        "session.updated_at moves"
    );
    assert_eq!(refreshed.created_at, g.session.created_at);

    let mut team = g.team.clone().into_active_model();
    team.name = Set("Platform".into());
    let team = team.update(&db).await.unwrap();
    assert!(team.updated_at > g.team.updated_at, "team.updated_at moves");

    let mut account = g.account.clone().into_active_model();
    account.scope = Set(Some("read".into()));
    assert!(account.update(&db).await.unwrap().updated_at > g.account.updated_at);

    // A time the caller chose is kept: the service stamps rows with its own clock.
    let chosen = (Utc::now() - Duration::days(30))
        .naive_utc()
        .trunc_subsecs(3);
    let mut stamped = renamed.into_active_model();
    stamped.name = Set("Alice B".into());
    stamped.updated_at = Set(chosen);
    assert_eq!(stamped.update(&db).await.unwrap().updated_at, chosen);
}

/// Each generated `Related` impl answers a real query.
async fn relations_answer_queries(db: TestDb) {
    let db = db.migrated().await;
    let g = graph(&db).await;
    let carol = user(&db, "Carol").await;

    // user -> many
    let a = &g.alice;
    assert_eq!(
        a.find_related(session::Entity).all(&db).await.unwrap(),
        vec![g.session.clone()]
    );
    assert_eq!(
        a.find_related(account::Entity).all(&db).await.unwrap(),
        vec![g.account.clone()]
    );
    assert_eq!(
        a.find_related(member::Entity).all(&db).await.unwrap(),
        vec![g.member.clone()]
    );
    assert_eq!(
        a.find_related(team_member::Entity).all(&db).await.unwrap(),
        vec![g.team_member.clone()]
    );
    assert_eq!(
        a.find_related(invitation::Entity).all(&db).await.unwrap(),
        vec![g.invitation.clone()]
    );
    assert!(carol
        .find_related(member::Entity)
        .all(&db)
        .await
        .unwrap()
        .is_empty());

    // organization -> many
    let o = &g.org;
    assert_eq!(
        o.find_related(team::Entity).all(&db).await.unwrap(),
        vec![g.team.clone()]
    );
    assert_eq!(
        o.find_related(member::Entity).all(&db).await.unwrap(),
        vec![g.member.clone()]
    );
    assert_eq!(
        o.find_related(invitation::Entity).all(&db).await.unwrap(),
        vec![g.invitation.clone()]
    );

    // team <-> organization, team -> team members
    assert_eq!(
        g.team
            .find_related(organization::Entity)
            .one(&db)
            .await
            .unwrap()
            .as_ref(),
        Some(o)
    );
    assert_eq!(
        g.team
            .find_related(team_member::Entity)
            .all(&db)
            .await
            .unwrap(),
        vec![g.team_member.clone()]
    );

    // belongs-to side of every foreign key
    assert_eq!(
        g.session
            .find_related(user::Entity)
            .one(&db)
            .await
            .unwrap()
            .as_ref(),
        Some(a)
    );
    assert_eq!(
        g.account
            .find_related(user::Entity)
            .one(&db)
            .await
            .unwrap()
            .as_ref(),
        Some(a)
    );
    assert_eq!(
        g.member
            .find_related(user::Entity)
            .one(&db)
            .await
            .unwrap()
            .as_ref(),
        Some(a)
    );
    assert_eq!(
        g.member
            .find_related(organization::Entity)
            .one(&db)
            .await
            .unwrap()
            .as_ref(),
        Some(o)
    );
    assert_eq!(
        g.team_member
            .find_related(team::Entity)
            .one(&db)
            .await
            .unwrap()
            .as_ref(),
        Some(&g.team)
    );
    assert_eq!(
        g.team_member
            .find_related(user::Entity)
            .one(&db)
            .await
            .unwrap()
            .as_ref(),
        Some(a)
    );
    assert_eq!(
        g.invitation
            .find_related(organization::Entity)
            .one(&db)
            .await
            .unwrap()
            .as_ref(),
        Some(o)
    );
    assert_eq!(
        g.invitation
            .find_related(user::Entity)
            .one(&db)
            .await
            .unwrap()
            .as_ref(),
        Some(a)
    );

    // eager loading through Related, as the service's list queries do
    let with_users = member::Entity::find()
        .find_also_related(user::Entity)
        .all(&db)
        .await
        .unwrap();
    assert_eq!(with_users, vec![(g.member.clone(), Some(a.clone()))]);
}

db_tests!(
    deleting_a_user_cascades,
    deleting_an_organization_cascades,
    deleting_a_team_cascades_to_team_members,
    timestamps_and_ids_are_automatic,
    relations_answer_queries,
);
