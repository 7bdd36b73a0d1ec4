//! How a route gets its caller, and what must hold before it runs: extractors, declared in the
//! handler's signature. poem-openapi extracts a handler's parameters in the order they are
//! declared, and Better Auth (better-call) validates the body and the query before its session
//! middleware runs; so routes declare their body and query first and the caller last, and a
//! malformed request is a 400 whether or not it has a session. Where something else comes
//! before the session (a switched-off feature's 404, a header every answer carries), its guard is
//! declared before the caller too.

use std::marker::PhantomData;
use std::ops::Deref;

use poem::http::header::REFERRER_POLICY;
use poem::http::HeaderValue;
use poem::{FromRequest, Request, RequestBody};
use poem_openapi::registry::Registry;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use service::session::Current;

use super::OptionalSession;
use crate::outbox::Outbox;
use crate::state::AppState;

/// The caller's session: 401 `UNAUTHORIZED` without one, renewed when due. With `FRESH`
/// (see [`FreshCaller`]) it must also be recent. Documented as the session cookie or the bearer
/// token.
pub struct Caller<const FRESH: bool = false>(pub Current);

/// A caller whose session is fresh: 401 without a session, 403 `SESSION_NOT_FRESH` when it is
/// older than the fresh age.
pub type FreshCaller = Caller<true>;

impl<const FRESH: bool> Deref for Caller<FRESH> {
    type Target = Current;

    fn deref(&self) -> &Current {
        &self.0
    }
}

impl<'a, const FRESH: bool> ApiExtractor<'a> for Caller<FRESH> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <OptionalSession as ApiExtractor>::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        <OptionalSession as ApiExtractor>::security_schemes()
    }

    async fn from_request(
        req: &'a Request,
        _: &mut RequestBody,
        _: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        let state = AppState::of(req);
        let current = match FRESH {
            true => state.require_fresh(req).await?,
            false => state.require(req).await?,
        };
        Ok(Self(current))
    }
}

/// A header the route's answer carries whatever it is, from where the guard is declared on.
pub trait Header: Send + Sync {
    fn set(outbox: &Outbox);
}

/// Declares that every answer from here on carries `H`.
pub struct With<H>(PhantomData<H>);

impl<'a, H: Header> FromRequest<'a> for With<H> {
    async fn from_request(req: &'a Request, _: &mut RequestBody) -> poem::Result<Self> {
        H::set(&Outbox::of(req));
        Ok(Self(PhantomData))
    }
}

/// `Cache-Control: no-store`: the answer may carry a token.
pub struct NoStore;

impl Header for NoStore {
    fn set(outbox: &Outbox) {
        outbox.no_store();
    }
}

/// `Referrer-Policy: no-referrer`: the page was opened from a link carrying a secret.
pub struct NoReferrer;

impl Header for NoReferrer {
    fn set(outbox: &Outbox) {
        outbox.push(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    }
}

/// The account-deletion routes exist only when deletion is enabled: 404 `NOT_FOUND` otherwise,
/// before the session is looked at.
pub struct DeletionEnabled;

impl<'a> FromRequest<'a> for DeletionEnabled {
    async fn from_request(req: &'a Request, _: &mut RequestBody) -> poem::Result<Self> {
        if !AppState::of(req).auth.cfg.delete_user_enabled {
            return Err(crate::error::ApiError::from(service::Error::DeleteUserDisabled).into());
        }
        Ok(Self)
    }
}
