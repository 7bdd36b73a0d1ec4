//! One small, fully connected graph: two users, an organization with a team, memberships,
//! a session, an account, an invitation and a verification row.

use chrono::{Duration, Utc};
use entity::*;
use sea_orm::{ActiveModelTrait, DatabaseConnection, Set};

pub struct Graph {
    pub alice: user::Model,
    pub bob: user::Model,
    pub session: session::Model,
    pub account: account::Model,
    pub org: organization::Model,
    pub team: team::Model,
    pub member: member::Model,
    pub team_member: team_member::Model,
    pub invitation: invitation::Model,
}

pub async fn user(db: &DatabaseConnection, name: &str) -> user::Model {
    user::ActiveModel {
        name: Set(name.into()),
        email: Set(format!("{}@example.com", name.to_lowercase())),
        email_verified: Set(false),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap()
}

pub async fn graph(db: &DatabaseConnection) -> Graph {
    let alice = user(db, "Alice").await;
    let bob = user(db, "Bob").await;
    let later = (Utc::now() + Duration::days(7)).naive_utc();
    let session = session::ActiveModel {
        token: Set("token-alice".into()),
        user_id: Set(alice.id.clone()),
        expires_at: Set(later),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    let account = account::ActiveModel {
        account_id: Set(alice.id.clone()),
        provider_id: Set("credential".into()),
        user_id: Set(alice.id.clone()),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    let org = organization::ActiveModel {
        name: Set("Acme".into()),
        slug: Set("acme".into()),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    let team = team::ActiveModel {
        name: Set("Acme".into()),
        organization_id: Set(org.id.clone()),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    let member = member::ActiveModel {
        organization_id: Set(org.id.clone()),
        user_id: Set(alice.id.clone()),
        role: Set("owner".into()),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    let team_member = team_member::ActiveModel {
        team_id: Set(team.id.clone()),
        user_id: Set(alice.id.clone()),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    let invitation = invitation::ActiveModel {
        organization_id: Set(org.id.clone()),
        email: Set(bob.email.clone()),
        role: Set(Some("member".into())),
        status: Set("pending".into()),
        expires_at: Set(later),
        inviter_id: Set(alice.id.clone()),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    verification::ActiveModel {
        identifier: Set("reset-password:x".into()),
        value: Set(alice.id.clone()),
        expires_at: Set(later),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    Graph {
        alice,
        bob,
        session,
        account,
        org,
        team,
        member,
        team_member,
        invitation,
    }
}
