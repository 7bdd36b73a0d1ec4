//! The contract's error body, `{"message","code"}`, and what poem's own errors become.

use poem::error::{MethodNotAllowedError, NotFoundError};
use poem::{Endpoint, EndpointExt, IntoResponse, Response};
use poem_openapi::Object;

/// Every error the API returns: a human-readable message and, where the contract has one, a
/// stable machine-readable code.
#[derive(Debug, Clone, Object)]
pub struct ErrorBody {
    /// What went wrong, for people.
    pub message: String,
    /// A stable code for programs, e.g. `INVALID_EMAIL_OR_PASSWORD`.
    #[oai(skip_serializing_if_is_none)]
    pub code: Option<String>,
}

impl ErrorBody {
    pub fn new(code: &str, message: &str) -> Self {
        Self {
            message: message.to_owned(),
            code: Some(code.to_owned()),
        }
    }
}

/// As Better Auth answers them: an unknown path and a known path with the wrong method are both
/// a 404 with an empty body (there is no 405).
pub fn with_contract_fallbacks(ep: impl Endpoint + 'static) -> impl Endpoint {
    ep.catch_error(|_: NotFoundError| async { not_found() })
        .catch_error(|_: MethodNotAllowedError| async { not_found() })
}

fn not_found() -> Response {
    poem::http::StatusCode::NOT_FOUND.into_response()
}
