//! The real server on a free port, backed by a fresh migrated database.

use std::time::Duration;

use migration::testing::TestDb;
use migration::{Migrator, MigratorTrait};
use sea_orm::DatabaseConnection;
use service::db::PoolSize;

pub struct TestServer {
    pub base: String,
    pub http: reqwest::Client,
    pub db: DatabaseConnection,
}

impl TestServer {
    pub async fn start(test_db: &TestDb) -> Self {
        let db = service::db::connect(&test_db.url, PoolSize::default())
            .await
            .unwrap();
        Migrator::up(&db, None).await.unwrap();
        let acceptor = api::server::bind("127.0.0.1", 0).await.unwrap();
        let addr = api::server::local_addr(&acceptor).unwrap();
        tokio::spawn(api::server::run(
            acceptor,
            api::server::app(db.clone()),
            std::future::pending(),
            Duration::from_secs(1),
        ));
        Self {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }
}
