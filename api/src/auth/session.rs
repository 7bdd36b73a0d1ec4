//! From a request to its session: the bearer token or the signed cookie, looked up, renewed when
//! due (the refreshed cookie goes out through the outbox, whatever the handler answers).

use poem::http::header::{AUTHORIZATION, COOKIE, USER_AGENT};
use poem::Request;
use service::session::{ClientInfo, Current, Lookup};

use crate::client_ip::client_ip;
use crate::cookies::verify;
use crate::error::ApiResult;
use crate::outbox::Outbox;
use crate::state::AppState;

impl AppState {
    /// The client's address (as the rate limiter sees it) and user agent, kept on new sessions.
    pub fn client_info(&self, req: &Request) -> ClientInfo {
        ClientInfo {
            ip_address: client_ip(req, self.client_ip_header.as_deref())
                .map(|ip| ip.to_string())
                .unwrap_or_default(),
            user_agent: req.header(USER_AGENT).unwrap_or_default().to_owned(),
        }
    }

    /// The session token the request presents: `Authorization: Bearer` (signed, or the raw token)
    /// first, then the signed session cookie.
    pub fn presented_token(&self, req: &Request) -> Option<String> {
        if let Some(bearer) = req
            .header(AUTHORIZATION)
            .and_then(|h| h.strip_prefix("Bearer "))
        {
            let bearer = bearer.trim();
            return match verify(self.cookies.secret.expose(), bearer) {
                Some(token) => Some(token),
                None if !bearer.contains('.') && !bearer.is_empty() => Some(bearer.to_owned()),
                None => None,
            };
        }
        self.cookies.session_token(req.header(COOKIE))
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
