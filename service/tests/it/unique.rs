//! A unique violation is told apart by the constraint the migrations name, on both databases
//! (PostgreSQL names the constraint; SQLite names its columns).

use chrono::Utc;
use entity::{member, organization, team, team_member, user};
use migration::constraints::{self, Unique};
use migration::testing::TestDb;
use migration::{db_tests, MigratorTrait};
use sea_orm::{ActiveModelTrait, DatabaseConnection, DbErr, Set};
use service::error::violated;

fn broke<T: std::fmt::Debug>(outcome: Result<T, DbErr>) -> Option<&'static Unique> {
    violated(&outcome.expect_err("a second row must be refused"))
}

async fn new_user(db: &DatabaseConnection, email: &str) -> Result<user::Model, DbErr> {
    let now = Utc::now().naive_utc();
    user::ActiveModel {
        id: Set(entity::behavior::new_id()),
        name: Set("U".into()),
        email: Set(email.into()),
        email_verified: Set(false),
        image: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
}

async fn new_org(db: &DatabaseConnection, slug: &str) -> Result<organization::Model, DbErr> {
    organization::ActiveModel {
        name: Set(slug.into()),
        slug: Set(slug.into()),
        created_at: Set(Utc::now().naive_utc()),
        ..Default::default()
    }
    .insert(db)
    .await
}

async fn violations_name_their_constraint(db: TestDb) {
    // Opened as the server opens it: SQLite enforces foreign keys only when asked.
    let conn = service::db::connect(&db.url, Default::default())
        .await
        .unwrap();
    migration::Migrator::up(&conn, None).await.unwrap();
    let u = new_user(&conn, "a@example.com").await.unwrap();
    assert_eq!(
        broke(new_user(&conn, "a@example.com").await),
        Some(&constraints::USER_EMAIL)
    );
    let org = new_org(&conn, "acme").await.unwrap();
    assert_eq!(
        broke(new_org(&conn, "acme").await),
        Some(&constraints::ORGANIZATION_SLUG)
    );
    let membership = || member::ActiveModel {
        organization_id: Set(org.id.clone()),
        user_id: Set(u.id.clone()),
        role: Set("owner".into()),
        created_at: Set(Utc::now().naive_utc()),
        ..Default::default()
    };
    membership().insert(&conn).await.unwrap();
    assert_eq!(
        broke(membership().insert(&conn).await),
        Some(&constraints::MEMBER)
    );
    let t = team::ActiveModel {
        name: Set("T".into()),
        organization_id: Set(org.id.clone()),
        created_at: Set(Utc::now().naive_utc()),
        updated_at: Set(None),
        ..Default::default()
    }
    .insert(&conn)
    .await
    .unwrap();
    let in_team = || team_member::ActiveModel {
        team_id: Set(t.id.clone()),
        user_id: Set(u.id.clone()),
        created_at: Set(None),
        ..Default::default()
    };
    in_team().insert(&conn).await.unwrap();
    assert_eq!(
        broke(in_team().insert(&conn).await),
        Some(&constraints::TEAM_MEMBER)
    );
    let linked = || entity::account::ActiveModel {
        account_id: Set("gh-1".into()),
        provider_id: Set("github".into()),
        user_id: Set(u.id.clone()),
        created_at: Set(Utc::now().naive_utc()),
        updated_at: Set(Utc::now().naive_utc()),
        ..Default::default()
    };
    linked().insert(&conn).await.unwrap();
    assert_eq!(
        broke(linked().insert(&conn).await),
        Some(&constraints::ACCOUNT)
    );
    // Not a unique violation at all: nothing to name.
    let orphan = team_member::ActiveModel {
        team_id: Set("no-such-team".into()),
        user_id: Set(u.id.clone()),
        created_at: Set(None),
        ..Default::default()
    };
    let fk = orphan.insert(&conn).await;
    assert_eq!(broke(fk), None);
}

db_tests!(violations_name_their_constraint);
