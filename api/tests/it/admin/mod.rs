//! The admin plugin over HTTP (docs/admin.md), on both databases: its routes and answers
//! ([`routes`]), orgauth's safer rules ([`safer`]), and impersonation ([`impersonation`]).

mod impersonation;
mod routes;
mod safer;

use entity::user;
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
use serde_json::Value;
use service::access::Statements;
use service::admin::access::{AdminRoles, USER_ACTIONS};
use service::config::AuthConfig;

use crate::fixtures::User;
use crate::harness::{parts, Browser, TestServer};

/// ZeroStarter's shape (docs/admin.md): `owner > admin > member > user`, the top two admin roles.
pub fn zero_starter(cfg: &mut AuthConfig) {
    let st = |user: &[&str], session: &[&str]| -> Statements {
        Statements::from([
            (
                "user".to_owned(),
                user.iter().map(|a| (*a).to_owned()).collect(),
            ),
            (
                "session".to_owned(),
                session.iter().map(|a| (*a).to_owned()).collect(),
            ),
        ])
    };
    let admin_user: Vec<&str> = USER_ACTIONS
        .iter()
        .copied()
        .filter(|a| *a != "impersonate-admins")
        .collect();
    let sessions = ["list", "revoke", "delete"];
    cfg.admin.roles = AdminRoles::new(vec![
        ("owner".into(), st(&USER_ACTIONS, &sessions)),
        ("admin".into(), st(&admin_user, &sessions)),
        ("member".into(), st(&["list", "get"], &["list"])),
        ("user".into(), st(&[], &[])),
    ])
    .unwrap();
    cfg.admin.admin_roles = vec!["owner".into(), "admin".into()];
}

/// A server with [`zero_starter`]'s roles.
pub async fn server(db: &migration::testing::TestDb) -> TestServer {
    TestServer::start_with(db, zero_starter).await
}

/// Signs up `email`, signed in, and gives them `role` (as the database would have it).
pub async fn with_role(server: &TestServer, email: &str, role: &str) -> User {
    let u = User::sign_up(server, email).await;
    set_role(server, &u.id, role).await;
    u
}

pub async fn set_role(server: &TestServer, id: &str, role: &str) {
    let row = user::Entity::find_by_id(id)
        .one(&server.db)
        .await
        .unwrap()
        .unwrap();
    let mut row = row.into_active_model();
    row.role = Set(Some(role.to_owned()));
    row.update(&server.db).await.unwrap();
    server.settle().await;
}

pub async fn row(server: &TestServer, id: &str) -> Option<user::Model> {
    user::Entity::find_by_id(id).one(&server.db).await.unwrap()
}

/// `POST /api/auth/admin/<route>` as `b`.
pub async fn admin(b: &Browser, route: &str, body: Value) -> (u16, Value) {
    parts(b.post(&format!("/admin/{route}"), body).await).await
}

/// `GET /api/auth/admin/<route>` as `b`.
pub async fn admin_get(b: &Browser, route: &str) -> (u16, Value) {
    parts(b.get(&format!("/admin/{route}")).await).await
}
