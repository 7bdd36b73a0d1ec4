//! Request bodies are read up to a fixed size and refused with 413 beyond it, before any parsing,
//! whether or not the client sent `Content-Length` (poem's `SizeLimit` insists on one, which GETs
//! and chunked uploads do not carry).
//!
//! A request without a body is not a body of the wrong type: Better Auth validates it as
//! `undefined` (400 `VALIDATION_ERROR`, or accepted where the body is optional). Such a request is
//! marked [`NoBody`] and read as JSON, so a route that needs a body answers that 400, not 415.
//!
//! Having the whole body here, this is also where text holding NUL is refused ([`crate::nul`]).

use poem::error::ReadBodyError;
use poem::http::header::CONTENT_TYPE;
use poem::http::{HeaderValue, StatusCode};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use serde_json::json;

use crate::nul;

pub struct BodyLimit(pub usize);

/// The request came without a body (and without a content type).
#[derive(Clone, Copy, Debug)]
pub struct NoBody;

impl<E: Endpoint> Middleware<E> for BodyLimit {
    type Output = BodyLimitEndpoint<E>;

    fn transform(&self, next: E) -> Self::Output {
        BodyLimitEndpoint {
            next,
            limit: self.0,
        }
    }
}

pub struct BodyLimitEndpoint<E> {
    next: E,
    limit: usize,
}

fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(json!({"message": message, "code": code}).to_string())
}

impl<E: Endpoint> Endpoint for BodyLimitEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        match req.take_body().into_bytes_limit(self.limit).await {
            Ok(bytes) => {
                let form = req
                    .header(CONTENT_TYPE)
                    .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
                if nul::in_uri(req.uri()) || nul::in_body(&bytes, form) {
                    return Ok(refuse(
                        StatusCode::BAD_REQUEST,
                        "VALIDATION_ERROR",
                        "Text may not contain the NUL character (U+0000)",
                    ));
                }
                if bytes.is_empty() && req.header(CONTENT_TYPE).is_none() {
                    req.extensions_mut().insert(NoBody);
                    req.headers_mut()
                        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                }
                req.set_body(bytes)
            }
            Err(ReadBodyError::PayloadTooLarge) => {
                return Ok(refuse(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "PAYLOAD_TOO_LARGE",
                    "Request body is too large",
                ))
            }
            Err(_) => {
                return Ok(refuse(
                    StatusCode::BAD_REQUEST,
                    "BAD_REQUEST",
                    "The request body could not be read",
                ))
            }
        }
        Ok(self.next.get_response(req).await.into_response())
    }
}
