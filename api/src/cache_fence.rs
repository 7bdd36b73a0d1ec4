//! With the session cache on, a request that may have changed a session or a user answers only
//! once this replica has heard its own changes (`SessionCache::fence`): the client's next request
//! here must not find the old row in the cache. Reads known to write neither skip the wait; any
//! other route waits, so a route added later is safe before it is fast.

use poem::http::Method;
use poem::{Endpoint, Middleware, Request, Result};

use service::session_cache::SessionCache;

/// `GET` routes that change no session or user row (under the default base path, which
/// `BasePath` maps the configured one to before this runs).
const READS: &[&str] = &[
    "/api/auth/get-session",
    "/api/auth/list-sessions",
    "/api/auth/list-accounts",
    "/api/auth/ok",
    "/api/auth/organization/list",
    "/api/auth/organization/get-full-organization",
    "/api/auth/organization/get-organization",
    "/api/auth/organization/list-members",
    "/api/auth/organization/list-invitations",
    "/api/auth/organization/list-user-invitations",
    "/api/auth/organization/get-invitation",
    "/api/auth/organization/list-teams",
    "/api/auth/organization/list-user-teams",
    "/api/auth/organization/list-team-members",
    "/api/auth/organization/get-active-member",
    "/api/auth/organization/get-active-member-role",
    "/api/auth/admin/list-users",
    "/api/auth/admin/get-user",
    "/healthz",
    "/readyz",
];

/// The fence around the routes, for this replica's cache (none: nothing to wait for).
pub struct CacheFence(pub Option<SessionCache>);

impl<E: Endpoint> Middleware<E> for CacheFence {
    type Output = CacheFenceEndpoint<E>;

    fn transform(&self, next: E) -> Self::Output {
        CacheFenceEndpoint {
            next,
            cache: self.0.clone(),
        }
    }
}

pub struct CacheFenceEndpoint<E> {
    next: E,
    cache: Option<SessionCache>,
}

impl<E: Endpoint> Endpoint for CacheFenceEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let read = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
            && READS.contains(&req.uri().path());
        let answer = self.next.call(req).await;
        if let Some(cache) = self.cache.as_ref().filter(|_| !read) {
            cache.fence().await;
        }
        answer
    }
}
