//! Better Auth's origin and CSRF rules (contract §4), applied before any handler runs:
//!
//! 1. A state-changing request (not GET/HEAD/OPTIONS) that carries cookies must come from a trusted
//!    `Origin` (or `Referer`).
//! 2. The redirect targets must point at a trusted origin or be a plain relative path: on a
//!    state-changing request, `callbackURL` (the body's, else the query's) and the body's
//!    `redirectTo`, `errorCallbackURL` and `newUserCallbackURL`; on a GET, the query's
//!    `callbackURL`, `errorCallbackURL` and `newUserCallbackURL`. Other query values are not
//!    targets, as in Better Auth.
//! 3. Sign-in and sign-up (email, magic link) without cookies: a cross-site navigation is refused, and a browser request
//!    (Fetch Metadata or Origin present) must come from a trusted origin.

use std::sync::Arc;

use poem::http::header::{COOKIE, ORIGIN, REFERER};
use poem::http::{Method, StatusCode};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use serde_json::{json, Value};
use url::Url;
use wildmatch::WildMatch;

use crate::wire::is_truthy;

/// The origins this deployment trusts: its own, and `BETTER_AUTH_TRUSTED_ORIGINS`.
#[derive(Clone, Debug)]
pub struct TrustedOrigins {
    exact: Vec<String>,
    patterns: Vec<WildMatch>,
    /// Custom schemes trusted as a whole (`myapp://`), for native apps.
    schemes: Vec<String>,
}

impl TrustedOrigins {
    /// `base_url`'s origin plus each entry of `extra` (exact origins, `*`/`?` wildcards such as
    /// `https://*.example.com`, or custom schemes such as `myapp://`).
    pub fn new(base_url: &str, extra: &[String]) -> Self {
        let mut exact = Vec::new();
        let mut patterns = Vec::new();
        let mut schemes = Vec::new();
        for entry in std::iter::once(base_url.to_owned()).chain(extra.iter().cloned()) {
            let entry = entry.trim();
            if let Some(scheme) = entry.strip_suffix("://") {
                schemes.push(scheme.to_ascii_lowercase());
                continue;
            }
            let entry = entry.trim_end_matches('/').to_owned();
            if entry.is_empty() {
                continue;
            }
            if entry.contains('*') || entry.contains('?') {
                patterns.push(WildMatch::new(&entry));
            } else if let Some(origin) = origin_of(&entry) {
                exact.push(origin);
            } else {
                exact.push(entry);
            }
        }
        Self {
            exact,
            patterns,
            schemes,
        }
    }

    /// Whether an absolute URL's origin is trusted.
    pub fn trusts_url(&self, raw: &str) -> bool {
        if let Ok(url) = Url::parse(raw) {
            if self.schemes.iter().any(|s| s == url.scheme()) {
                return true;
            }
        }
        let Some(origin) = origin_of(raw) else {
            return false;
        };
        if self.exact.contains(&origin) {
            return true;
        }
        let host = Url::parse(raw)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        self.patterns
            .iter()
            .any(|p| p.matches(&origin) || (!host.is_empty() && p.matches(&host)))
    }

    /// Whether a callback-type value is acceptable: a trusted absolute URL, or a path relative to
    /// this site (a single leading `/`, no backslash, no control characters, no encoded slashes).
    pub fn trusts_callback(&self, value: &str) -> bool {
        if value.starts_with('/') {
            let lower = value.to_ascii_lowercase();
            return !value.starts_with("//")
                && !value.contains('\\')
                && !value.chars().any(|c| c.is_control())
                && !lower.contains("%2f")
                && !lower.contains("%5c");
        }
        self.trusts_url(value)
    }
}

/// `scheme://host[:port]` of a URL; custom schemes (`myapp://x`) keep `scheme://host`.
fn origin_of(raw: &str) -> Option<String> {
    let url = Url::parse(raw).ok()?;
    match url.origin() {
        url::Origin::Tuple(..) => Some(url.origin().ascii_serialization()),
        url::Origin::Opaque(_) => url.host_str().map(|h| format!("{}://{h}", url.scheme())),
    }
}

fn forbidden(code: &str, message: &str) -> Response {
    Response::builder()
        .status(StatusCode::FORBIDDEN)
        .content_type("application/json")
        .body(json!({"message": message, "code": code}).to_string())
}

fn bad_request(message: String) -> Response {
    Response::builder()
        .status(StatusCode::BAD_REQUEST)
        .content_type("application/json")
        .body(json!({"message": message}).to_string())
}

/// The callback-type fields and their error codes and labels.
const CALLBACK_FIELDS: &[(&str, &str, &str)] = &[
    ("callbackURL", "INVALID_CALLBACK_URL", "callbackURL"),
    ("redirectTo", "INVALID_REDIRECT_URL", "redirectURL"),
    (
        "errorCallbackURL",
        "INVALID_ERROR_CALLBACK_URL",
        "errorCallbackURL",
    ),
    (
        "newUserCallbackURL",
        "INVALID_NEW_USER_CALLBACK_URL",
        "newUserCallbackURL",
    ),
];

pub struct OriginCheck(pub Arc<TrustedOrigins>);

impl<E: Endpoint> Middleware<E> for OriginCheck {
    type Output = OriginCheckEndpoint<E>;

    fn transform(&self, next: E) -> Self::Output {
        OriginCheckEndpoint {
            next,
            trusted: self.0.clone(),
        }
    }
}

pub struct OriginCheckEndpoint<E> {
    next: E,
    trusted: Arc<TrustedOrigins>,
}

impl<E> OriginCheckEndpoint<E> {
    /// Where the request claims to come from: a non-empty `Origin`, else `Referer` as sent (a
    /// Referer that is not a URL is an untrusted origin, not a missing one).
    fn claimed_origin(req: &Request) -> Option<String> {
        req.header(ORIGIN)
            .filter(|o| !o.is_empty())
            .or_else(|| req.header(REFERER))
            .map(str::to_owned)
    }

    /// Rule 1 (and rule 3's browser half): the claimed origin must be trusted.
    fn check_origin(&self, req: &Request) -> Option<Response> {
        let origin = Self::claimed_origin(req);
        match origin.as_deref() {
            None | Some("") => Some(forbidden(
                "MISSING_OR_NULL_ORIGIN",
                "Missing or null Origin",
            )),
            // A same-origin request from an opaque context: the request's own origin is ours.
            Some("null") if req.header("sec-fetch-site") == Some("same-origin") => None,
            Some("null") => Some(forbidden(
                "MISSING_OR_NULL_ORIGIN",
                "Missing or null Origin",
            )),
            Some(o) if self.trusted.trusts_url(o) => None,
            Some(_) => Some(forbidden("INVALID_ORIGIN", "Invalid origin")),
        }
    }

    fn check_callbacks(&self, fields: &[(String, Value)]) -> Option<Response> {
        for (key, code, label) in CALLBACK_FIELDS {
            for (_, value) in fields.iter().filter(|(k, _)| k == key) {
                match value {
                    Value::Null => {}
                    Value::String(s) if s.is_empty() || self.trusted.trusts_callback(s) => {}
                    Value::String(_) => return Some(forbidden(code, &format!("Invalid {label}"))),
                    _ => return Some(bad_request(format!("Invalid {label}: expected a string"))),
                }
            }
        }
        None
    }
}

impl<E: Endpoint> Endpoint for OriginCheckEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let path = req.uri().path().to_owned();
        if !path.starts_with("/api/auth/") {
            return Ok(self.next.get_response(req).await.into_response());
        }
        let safe_method = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        let has_cookie = req.header(COOKIE).is_some_and(|c| !c.trim().is_empty());
        // A provider's form_post lands here cross-site; the handler only redirects it to the GET
        // form, where the state and its cookie are checked.
        let is_callback = path.starts_with("/api/auth/callback/");
        if !safe_method && has_cookie && !is_callback {
            if let Some(refusal) = self.check_origin(&req) {
                return Ok(refusal);
            }
        }
        let is_sign_in = matches!(
            path.as_str(),
            "/api/auth/sign-in/email" | "/api/auth/sign-up/email" | "/api/auth/sign-in/magic-link"
        );
        if is_sign_in && !has_cookie {
            let fetch_site = req.header("sec-fetch-site");
            let has_fetch_metadata = req
                .headers()
                .keys()
                .any(|k| k.as_str().starts_with("sec-fetch-"));
            if fetch_site == Some("cross-site") && req.header("sec-fetch-mode") == Some("navigate")
            {
                return Ok(forbidden(
                    "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED",
                    "Cross-site navigation login blocked. This request appears to be a CSRF attack.",
                ));
            }
            if has_fetch_metadata || Self::claimed_origin(&req).is_some() {
                if let Some(refusal) = self.check_origin(&req) {
                    return Ok(refusal);
                }
            }
        }

        let query: Vec<(String, Value)> =
            url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
                .filter(|(k, _)| {
                    CALLBACK_FIELDS.iter().any(|(f, _, _)| f == k) && k != "redirectTo"
                })
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect();
        let fields = if safe_method {
            query
        } else {
            // The body was read into memory by `BodyLimit`; look at it and put it back.
            let bytes = req.take_body().into_bytes().await.unwrap_or_default();
            let mut fields: Vec<(String, Value)> = match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(map)) => map
                    .into_iter()
                    .filter(|(k, v)| CALLBACK_FIELDS.iter().any(|(f, _, _)| f == k) && is_truthy(v))
                    .collect(),
                _ => Vec::new(),
            };
            req.set_body(bytes);
            // Only the query's `callbackURL` counts, and only when the body has none.
            if !fields.iter().any(|(k, _)| k == "callbackURL") {
                fields.extend(query.into_iter().filter(|(k, _)| k == "callbackURL"));
            }
            fields
        };
        if let Some(refusal) = self.check_callbacks(&fields) {
            return Ok(refusal);
        }
        Ok(self.next.get_response(req).await.into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::TrustedOrigins;

    #[test]
    fn matches_origins_and_callbacks() {
        let t = TrustedOrigins::new(
            "http://localhost:3000",
            &[
                "https://*.example.com".into(),
                "myapp://".into(),
                "https://app.example.org".into(),
            ],
        );
        for ok in [
            "http://localhost:3000",
            "http://localhost:3000/x?y",
            "https://a.example.com/cb",
            "https://app.example.org",
            "myapp://callback",
        ] {
            assert!(t.trusts_url(ok), "{ok}");
        }
        for bad in [
            "http://localhost:3001",
            "https://localhost:3000",
            "https://app.example.org.evil.com",
            "https://example.com.evil.com",
            "javascript:alert(1)",
            "http://evil.com",
        ] {
            assert!(!t.trusts_url(bad), "{bad}");
        }
        for ok in ["/dashboard", "/a/b?c=d", "https://app.example.org/welcome"] {
            assert!(t.trusts_callback(ok), "{ok}");
        }
        for bad in [
            "//evil.com",
            "/\\evil.com",
            "/%2F%2Fevil.com",
            "/a\nb",
            "https://trusted.example.evil.example",
            "evil.com",
        ] {
            assert!(!t.trusts_callback(bad), "{bad}");
        }
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;
    use url::Url;

    use super::TrustedOrigins;

    const BASE: &str = "http://localhost:3000";

    fn trusted() -> TrustedOrigins {
        TrustedOrigins::new(
            BASE,
            &[
                "https://app.example.org".into(),
                "https://*.example.com".into(),
                "myapp://".into(),
            ],
        )
    }

    /// The trust list above, decided from a URL's parts as the browser's origin has them.
    fn expected(scheme: &str, host: &str, port: Option<u16>) -> bool {
        let default = match scheme {
            "http" => Some(80),
            "https" => Some(443),
            _ => None,
        };
        let port = port.filter(|p| Some(*p) != default);
        match (scheme, port) {
            ("myapp", _) => true,
            ("http", Some(3000)) => host == "localhost",
            ("https", None) => {
                host == "app.example.org"
                    || host
                        .strip_suffix(".example.com")
                        .is_some_and(|sub| !sub.is_empty())
            }
            _ => false,
        }
    }

    fn host() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("localhost".to_owned()),
            Just("LocalHost".to_owned()),
            Just("app.example.org".to_owned()),
            Just("example.com".to_owned()),
            Just("evil.com".to_owned()),
            Just("localhost.evil.com".to_owned()),
            Just("app.example.org.evil.com".to_owned()),
            Just("example.com.evil.com".to_owned()),
            Just("evilexample.com".to_owned()),
            Just("127.0.0.1".to_owned()),
            "[a-z0-9-]{1,8}(\\.[a-z0-9-]{1,8}){0,2}\\.example\\.com",
            "[a-z0-9]{1,8}(\\.[a-z]{1,8}){0,3}",
        ]
    }

    proptest! {
        /// A generated URL — any scheme, host, port, user info, path, query and fragment — is
        /// trusted exactly when its origin is on the list.
        #[test]
        fn urls_are_trusted_exactly_when_their_origin_is_listed(
            scheme in "(http|https|HTTPS|ftp|ws|myapp|javascript)",
            host in host(),
            port in proptest::option::of(prop_oneof![Just(80u16), Just(443), Just(3000), Just(8443), any::<u16>()]),
            userinfo in "(|user@|localhost:3000@|app\\.example\\.org@)",
            rest in "(/[a-zA-Z0-9._~@:-]{0,12}){0,3}(\\?[a-z=&@/.]{0,12})?(#[a-z@/.]{0,8})?",
        ) {
            let port_part = port.map(|p| format!(":{p}")).unwrap_or_default();
            let raw = format!("{scheme}://{userinfo}{host}{port_part}{rest}");
            let (scheme, host) = (scheme.to_ascii_lowercase(), host.to_ascii_lowercase());
            prop_assert_eq!(trusted().trusts_url(&raw), expected(&scheme, &host, port), "{}", raw);
        }

        /// Any text: no panic, and what is trusted has a listed origin as a browser parses it.
        #[test]
        fn trusted_text_has_a_listed_origin(raw in "\\PC{0,80}|(https?|myapp)://[a-zA-Z0-9.:@/\\\\%*?#-]{0,40}") {
            if trusted().trusts_url(&raw) {
                let url = Url::parse(&raw).expect("only a URL is trusted");
                let host = url.host_str().unwrap_or_default();
                prop_assert!(expected(url.scheme(), host, url.port()), "{} trusted", raw);
            }
        }

        /// A callback that is accepted either has a listed origin or, taken relative to this
        /// site, stays on it — however it mixes slashes, backslashes, escapes and control
        /// characters.
        #[test]
        fn accepted_callbacks_stay_on_listed_origins(
            raw in "/[/\\\\%2fFcC5:@.a-z\t\n\r ]{0,24}|\\PC{0,60}",
        ) {
            let t = trusted();
            if t.trusts_callback(&raw) {
                let resolved = Url::parse(&format!("{BASE}/")).unwrap().join(&raw);
                if let Ok(url) = resolved {
                    let host = url.host_str().unwrap_or_default();
                    prop_assert!(expected(url.scheme(), host, url.port()), "{:?} leads to {}", raw, url);
                }
            }
        }
    }
}
