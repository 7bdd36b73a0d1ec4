//! Liveness, readiness and Better Auth's `/ok`.

use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use sea_orm::DatabaseConnection;

use crate::error::ErrorBody;

#[derive(Tags)]
pub enum Tag {
    /// Is the server up, and can it reach its database?
    Health,
}

/// `{"ok": true}`, as Better Auth answers `GET /api/auth/ok`.
#[derive(Object)]
pub struct Ok {
    pub ok: bool,
}

/// `{"status": "ok"}`.
#[derive(Object)]
pub struct Status {
    pub status: String,
}

#[derive(ApiResponse)]
pub enum Readiness {
    /// The database answered.
    #[oai(status = 200)]
    Ready(Json<Status>),
    /// The database did not answer; the server should not receive traffic.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

pub struct HealthApi {
    pub db: DatabaseConnection,
}

#[OpenApi(tag = "Tag::Health")]
impl HealthApi {
    /// Better Auth's health check
    ///
    /// Always `{"ok":true}` while the process serves requests.
    #[oai(path = "/api/auth/ok", method = "get", operation_id = "ok")]
    async fn ok(&self) -> Json<Ok> {
        Json(Ok { ok: true })
    }

    /// Liveness
    ///
    /// The process is up and serving; says nothing about the database.
    #[oai(path = "/healthz", method = "get", operation_id = "healthz")]
    async fn healthz(&self) -> Json<Status> {
        Json(Status {
            status: "ok".into(),
        })
    }

    /// Readiness
    ///
    /// 200 when the database answers a query, 503 otherwise.
    #[oai(path = "/readyz", method = "get", operation_id = "readyz")]
    async fn readyz(&self) -> Readiness {
        match service::db::ping(&self.db).await {
            Ok(()) => Readiness::Ready(Json(Status {
                status: "ok".into(),
            })),
            Err(e) => {
                tracing::warn!(error = %e, "readiness check: database unreachable");
                Readiness::Unavailable(Json(ErrorBody::new(
                    "DATABASE_UNAVAILABLE",
                    "The database is unavailable",
                )))
            }
        }
    }
}
