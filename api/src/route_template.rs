//! The route a request path belongs to, its template with each parameter as `:name`
//! (`/api/auth/reset-password/:token`, as the request log masks it): the label of its metrics and
//! the `http.route` of its trace span. Not the OpenAPI document's `{token}`: braces in a label
//! value are valid Prometheus text but trip simple parsers of it. Found from the path alone, before routing, so requests refused early (429, 413)
//! are labelled too. A parameter's value (a reset token) never appears, and every path the
//! server does not have is [`UNMATCHED`], so the labels are a fixed set.

use std::collections::HashSet;

/// The route of every path the server does not have.
pub const UNMATCHED: &str = "unmatched";

/// Nested services answered under a prefix; any path below is labelled with the prefix.
const PREFIXES: &[&str] = &["/docs"];

pub struct RouteTemplates {
    exact: HashSet<String>,
    templates: Vec<(String, Template)>,
}

/// A route path with parameters, by segment: `None` for a `{parameter}`, which matches one
/// non-empty segment. Shared with the rate limiter's counters.
#[derive(PartialEq, Eq)]
pub struct Template(Vec<Option<String>>);

impl Template {
    /// From a path as the OpenAPI document writes it (`/reset-password/{token}`).
    pub fn new(path: &str) -> Self {
        Self(
            path.split('/')
                .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
                .collect(),
        )
    }

    /// Whether `path` is one of the template's paths.
    pub fn matches(&self, path: &str) -> bool {
        let mut segments = path.split('/');
        self.0.iter().all(|t| match (t, segments.next()) {
            (Some(literal), Some(s)) => literal == s,
            (None, Some(s)) => !s.is_empty(),
            (_, None) => false,
        }) && segments.next().is_none()
    }
}

impl RouteTemplates {
    /// From the routes' paths (the OpenAPI document's, and the few served beside it).
    pub fn new<S: AsRef<str>>(paths: &[S]) -> Self {
        let mut routes = Self {
            exact: HashSet::new(),
            templates: Vec::new(),
        };
        for path in paths.iter().map(AsRef::as_ref) {
            if path.contains('{') {
                let label = path
                    .split('/')
                    .map(
                        |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                            Some(name) => format!(":{name}"),
                            None => s.to_owned(),
                        },
                    )
                    .collect::<Vec<_>>()
                    .join("/");
                routes.templates.push((label, Template::new(path)));
            } else {
                routes.exact.insert(path.to_owned());
            }
        }
        routes
    }

    /// The route `path` belongs to, or [`UNMATCHED`].
    pub fn of(&self, path: &str) -> &str {
        if let Some(route) = self.exact.get(path) {
            return route;
        }
        if let Some((route, _)) = self.templates.iter().find(|(_, t)| t.matches(path)) {
            return route;
        }
        PREFIXES
            .iter()
            .find(|p| {
                path.strip_prefix(**p)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
            .copied()
            .unwrap_or(UNMATCHED)
    }
}

/// A request's method as a label: the standard ones, anything else `other`.
pub fn method_label(method: &poem::http::Method) -> &'static str {
    use poem::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_their_templates_and_unknown_ones_to_one_label() {
        let routes = RouteTemplates::new(&[
            "/api/auth/get-session",
            "/api/auth/reset-password/{token}",
            "/api/auth/callback/{id}",
        ]);
        assert_eq!(routes.of("/api/auth/get-session"), "/api/auth/get-session");
        assert_eq!(
            routes.of("/api/auth/reset-password/secret-token"),
            "/api/auth/reset-password/:token"
        );
        assert_eq!(routes.of("/api/auth/reset-password/"), UNMATCHED);
        assert_eq!(routes.of("/api/auth/reset-password/a/b"), UNMATCHED);
        assert_eq!(routes.of("/api/auth/nothing-here"), UNMATCHED);
        assert_eq!(routes.of("/docs/index.css"), "/docs");
        assert_eq!(routes.of("/docsx"), UNMATCHED);
    }
}
