//! Better Auth's `basePath` (`ORGAUTH_BASE_PATH`): where the auth routes are served.
//!
//! The routes are declared under `/api/auth` (poem-openapi's prefixes are fixed at compile time),
//! and every layer inside (CORS, rate limits, origin checks) reads those paths. With another base
//! path, the outermost layer maps `<base path>/…` onto `/api/auth/…` and answers `/api/auth/…`
//! itself with Better Auth's 404 for a path outside its base path; the OpenAPI document shows the
//! configured paths ([`document`]).

use poem::http::uri::PathAndQuery;
use poem::http::{StatusCode, Uri};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};

/// Better Auth's default base path, and where the routes are declared.
pub const DEFAULT: &str = "/api/auth";

/// `<base>/rest` when `path` is `base` or under it: `Some(rest)`, possibly empty.
fn under<'a>(path: &'a str, base: &str) -> Option<&'a str> {
    path.strip_prefix(base)
        .filter(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The OpenAPI document `spec` (poem-openapi's pretty JSON) with its paths under `base_path`.
/// Line by line, because parsing and writing it again would reorder the paths (serde_json's maps
/// are sorted); a path is a key line `"/api/auth…": {`.
pub fn document(spec: &str, base_path: &str) -> String {
    if base_path == DEFAULT {
        return spec.to_owned();
    }
    let mut out = String::with_capacity(spec.len());
    for line in spec.split_inclusive('\n') {
        let indent = line.len() - line.trim_start().len();
        let key = line[indent..]
            .strip_prefix('"')
            .and_then(|rest| rest.split_once('"'))
            .map(|(key, _)| key);
        let is_path =
            key.is_some_and(|k| under(k, DEFAULT).is_some()) && line.trim_end().ends_with("\": {");
        if is_path {
            out.push_str(&line[..indent + 1]);
            out.push_str(base_path);
            out.push_str(&line[indent + 1 + DEFAULT.len()..]);
        } else {
            out.push_str(line);
        }
    }
    out
}

/// Maps the configured base path onto [`DEFAULT`]; see the module's documentation.
pub struct BasePath(pub String);

impl<E: Endpoint> Middleware<E> for BasePath {
    type Output = BasePathEndpoint<E>;

    fn transform(&self, next: E) -> Self::Output {
        BasePathEndpoint {
            next,
            base: self.0.clone(),
        }
    }
}

pub struct BasePathEndpoint<E> {
    next: E,
    base: String,
}

impl<E: Endpoint> Endpoint for BasePathEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let path = req.uri().path();
        if let Some(rest) = under(path, &self.base) {
            let mapped = match req.uri().query() {
                Some(query) => format!("{DEFAULT}{rest}?{query}"),
                None => format!("{DEFAULT}{rest}"),
            };
            let mut parts = req.uri().clone().into_parts();
            parts.path_and_query = Some(
                PathAndQuery::try_from(mapped)
                    .map_err(|_| poem::Error::from_status(StatusCode::BAD_REQUEST))?,
            );
            let uri = Uri::from_parts(parts)
                .map_err(|_| poem::Error::from_status(StatusCode::BAD_REQUEST))?;
            *req.uri_mut() = uri;
        } else if under(path, DEFAULT).is_some() {
            return Ok(StatusCode::NOT_FOUND.into_response());
        }
        Ok(self.next.get_response(req).await.into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under_matches_whole_segments() {
        assert_eq!(under("/auth", "/auth"), Some(""));
        assert_eq!(under("/auth/ok", "/auth"), Some("/ok"));
        assert_eq!(under("/authx/ok", "/auth"), None);
        assert_eq!(under("/x/auth", "/auth"), None);
    }

    #[test]
    fn the_document_shows_the_configured_paths_in_their_order() {
        let spec = "{\n  \"paths\": {\n    \"/api/auth/sign-up/email\": {\n      \"post\": {\n        \"description\": \"see \\\"/api/auth/x\\\"\"\n      }\n    },\n    \"/healthz\": {\n    }\n  }\n}";
        let out = document(spec, "/custom/auth");
        assert!(
            out.contains("    \"/custom/auth/sign-up/email\": {\n"),
            "{out}"
        );
        let first = out.find("/custom/auth/sign-up/email").unwrap();
        assert!(first < out.find("/healthz").unwrap());
        // Values are not keys.
        assert!(out.contains("see \\\"/api/auth/x\\\""), "{out}");
        assert_eq!(document(spec, DEFAULT), spec);
    }
}
