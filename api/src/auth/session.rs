//! From a request to its session: the bearer token or the signed cookie, looked up, renewed when
//! due (the refreshed cookie goes out through the outbox, whatever the handler answers).

use poem::http::header::{AUTHORIZATION, COOKIE, USER_AGENT};
use poem::Request;
use service::session::{ClientInfo, Current, Lookup};

use crate::cookies::verify;
use crate::error::ApiResult;
use crate::outbox::Outbox;
use crate::state::AppState;

impl AppState {
    /// The client's address (as the rate limiter sees it) and user agent, kept on new sessions.
    pub fn client_info(&self, req: &Request) -> ClientInfo {
        ClientInfo {
            ip_address: self
                .client_ip
                .of(req)
                .map(|ip| ip.to_string())
                .unwrap_or_default(),
            user_agent: req.header(USER_AGENT).unwrap_or_default().to_owned(),
        }
    }

    /// The session token the request presents: `Authorization: Bearer` (signed, or the raw token)
    /// first, then the signed session cookie.
    pub fn presented_token(&self, req: &Request) -> Option<String> {
        match req.header(AUTHORIZATION) {
            Some(h) if h.starts_with("Bearer ") => bearer_token(self.cookies.secret.expose(), h),
            _ => self.cookies.session_token(req.header(COOKIE)),
        }
    }

    /// The request's session, or `None`. An expired session's cookies are cleared; a due session
    /// is renewed (unless it is a `rememberMe: false` one) and its cookie re-sent.
    pub async fn resolve(&self, req: &Request, may_refresh: bool) -> ApiResult<Option<Current>> {
        let Some(token) = self.presented_token(req) else {
            return Ok(None);
        };
        let dont_remember = self.cookies.dont_remember(req.header(COOKIE));
        let lookup = self
            .auth
            .session(&token, may_refresh && !dont_remember)
            .await?;
        match lookup {
            Lookup::Missing => Ok(None),
            Lookup::Expired => {
                self.cookies.clear(&Outbox::of(req));
                Ok(None)
            }
            Lookup::Active { current, refreshed } => {
                if refreshed {
                    self.set_session_cookie(&Outbox::of(req), &current.token, true);
                }
                Ok(Some(*current))
            }
        }
    }

    /// The request's session, or 401 `UNAUTHORIZED` (what [`super::Caller`] extracts).
    pub(super) async fn require(&self, req: &Request) -> ApiResult<Current> {
        self.resolve(req, true)
            .await?
            .ok_or_else(|| service::Error::Unauthorized.into())
    }

    /// The request's session if it is fresh; 401 without one, 403 `SESSION_NOT_FRESH` when stale.
    pub(super) async fn require_fresh(&self, req: &Request) -> ApiResult<Current> {
        let current = self.require(req).await?;
        if self.auth.is_fresh(&current) {
            Ok(current)
        } else {
            Err(service::Error::SessionNotFresh.into())
        }
    }

    /// Sends the request's session cookie again, as Better Auth does after a route changes the
    /// session's or its user's columns (`update-user`, `set-active`, `set-active-team`, accepting
    /// an invitation to one team): the same token, for the lifetime the cookie was given.
    pub fn resend_session_cookie(&self, req: &Request, current: &Current) {
        let remember = !self.cookies.dont_remember(req.header(COOKIE));
        self.set_session_cookie(&Outbox::of(req), &current.token, remember);
    }

    /// Sets the session cookie for `token` with the configured lifetime; the response, which now
    /// carries the token, must not be stored.
    pub fn set_session_cookie(&self, outbox: &Outbox, token: &str, remember: bool) {
        let max_age = self.auth.cfg.session_expires_in.num_seconds();
        self.cookies.set_session(outbox, token, max_age, remember);
        outbox.no_store();
    }
}

/// The session token an `Authorization: Bearer …` header presents: the value of a validly signed
/// `token.signature`, or a raw token (no `.`); `None` for a bad signature or another scheme.
pub fn bearer_token(secret: &str, authorization: &str) -> Option<String> {
    let bearer = authorization.strip_prefix("Bearer ")?.trim();
    match verify(secret, bearer) {
        Some(token) => Some(token),
        None if !bearer.contains('.') && !bearer.is_empty() => Some(bearer.to_owned()),
        None => None,
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::bearer_token;
    use crate::cookies::sign;

    const SECRET: &str = "bearer-secret-0123456789-0123456789";

    proptest! {
        /// The `set-auth-token` value a client was given opens its session; so does the raw token.
        #[test]
        fn signed_and_raw_tokens_are_read(token in "[A-Za-z0-9]{1,64}", pad in " {0,2}") {
            let signed = sign(SECRET, &token);
            prop_assert_eq!(bearer_token(SECRET, &format!("Bearer {pad}{signed}{pad}")), Some(token.clone()));
            prop_assert_eq!(bearer_token(SECRET, &format!("Bearer {token}")), Some(token));
        }

        /// Changing any one character of a signed token (value, dot or signature) never yields a
        /// token: a bad signature is not read as a raw token either.
        #[test]
        fn a_tampered_signed_token_is_refused(
            token in "[A-Za-z0-9]{1,64}",
            at in any::<prop::sample::Index>(),
            by in "[A-Za-z0-9+/=.%_-]",
        ) {
            let signed = sign(SECRET, &token);
            let i = at.index(signed.len());
            let by = by.chars().next().unwrap();
            prop_assume!(signed.as_bytes()[i] != by as u8);
            let mut tampered = signed.clone();
            tampered.replace_range(i..=i, &by.to_string());
            let got = bearer_token(SECRET, &format!("Bearer {tampered}"));
            // Dropping the dot (`.` → other) leaves no signature: then only a raw token can come
            // out, and it is the whole text, which is not a session's token.
            prop_assert!(got.is_none() || got.as_deref() == Some(tampered.as_str()), "{tampered}: {got:?}");
            prop_assert!(got.as_deref() != Some(token.as_str()));
        }

        /// Another scheme, or another case of `Bearer`, presents no token.
        #[test]
        fn other_schemes_present_nothing(scheme in "(bearer|BEARER|Basic|Token|Bearer\t|)", rest in "\\PC{0,40}") {
            prop_assert_eq!(bearer_token(SECRET, &format!("{scheme}{rest}")), None);
        }

        /// Whatever follows `Bearer `: no panic; what comes out is a raw token without `.`, or a
        /// value the secret signed.
        #[test]
        fn any_header_is_refused_or_read_soundly(rest in "\\PC{0,120}") {
            if let Some(token) = bearer_token(SECRET, &format!("Bearer {rest}")) {
                let raw = rest.trim();
                prop_assert!(
                    (token == raw && !raw.contains('.'))
                        || crate::cookies::verify(SECRET, raw).as_deref() == Some(token.as_str()),
                    "{rest:?} gave {token:?}"
                );
            }
        }
    }
}
