//! Headers a handler wants on its response whatever the response turns out to be: the session
//! cookie after a refresh must reach the client even when the handler then answers 403.

use std::sync::{Arc, Mutex};

use poem::http::header::{CACHE_CONTROL, PRAGMA};
use poem::http::{HeaderName, HeaderValue};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};

/// Per-request list of headers to append to the response.
#[derive(Clone, Default)]
pub struct Outbox(Arc<Mutex<Vec<(HeaderName, HeaderValue)>>>);

impl Outbox {
    pub fn push(&self, name: HeaderName, value: HeaderValue) {
        self.0.lock().expect("outbox").push((name, value));
    }

    /// Like [`Outbox::push`], replacing what was pushed under `name` before.
    pub fn set(&self, name: HeaderName, value: HeaderValue) {
        let mut headers = self.0.lock().expect("outbox");
        headers.retain(|(n, _)| *n != name);
        headers.push((name, value));
    }

    /// `Cache-Control: no-store` (and `Pragma: no-cache`, as Better Auth's `get-session`): for every
    /// response that carries a session token or a provider's token, in its body or in a cookie.
    pub fn no_store(&self) {
        self.set(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        self.set(PRAGMA, HeaderValue::from_static("no-cache"));
    }

    /// The request's outbox (every request has one: [`WithOutbox`] wraps the whole app).
    pub fn of(req: &Request) -> Outbox {
        req.extensions()
            .get::<Outbox>()
            .cloned()
            .unwrap_or_default()
    }
}

pub struct WithOutbox;

impl<E: Endpoint> Middleware<E> for WithOutbox {
    type Output = WithOutboxEndpoint<E>;

    fn transform(&self, next: E) -> Self::Output {
        WithOutboxEndpoint { next }
    }
}

pub struct WithOutboxEndpoint<E> {
    next: E,
}

impl<E: Endpoint> Endpoint for WithOutboxEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let outbox = Outbox::default();
        req.extensions_mut().insert(outbox.clone());
        let mut response = self.next.get_response(req).await.into_response();
        for (name, value) in outbox.0.lock().expect("outbox").drain(..) {
            response.headers_mut().append(name, value);
        }
        Ok(response)
    }
}
