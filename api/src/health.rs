//! Liveness, readiness and Better Auth's `/ok`.

use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use sea_orm::DatabaseConnection;

use crate::auth::NoSession;
use crate::error::{ErrorBody, Errors, Probe};
use crate::wire::success;

#[derive(Tags)]
pub enum Tag {
    /// Is the server up, and can it reach its database?
    Health,
}

/// `{"ok": true}`, as Better Auth answers `GET /api/auth/ok`.
#[derive(Object)]
pub struct Ok {
    /// Always true.
    pub ok: bool,
}

/// `{"status": "ok"}`.
#[derive(Object)]
pub struct Status {
    /// `ok`.
    pub status: String,
}

success! {
    /// Always `{"ok": true}`.
    pub Alive(Ok)
}

success! {
    /// The process serves requests.
    pub Live(Status)
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
    async fn ok(&self, _auth: NoSession) -> Result<Alive, Errors<Probe>> {
        Ok(Ok { ok: true }.into())
    }

    /// Liveness
    ///
    /// The process is up and serving; says nothing about the database.
    #[oai(path = "/healthz", method = "get", operation_id = "healthz")]
    async fn healthz(&self, _auth: NoSession) -> Live {
        Status {
            status: "ok".into(),
        }
        .into()
    }

    /// Readiness
    ///
    /// 200 when the database answers a query, 503 otherwise.
    #[oai(path = "/readyz", method = "get", operation_id = "readyz")]
    async fn readyz(&self, _auth: NoSession) -> Readiness {
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
