//! The Prometheus endpoint: `GET /metrics` on a listener of its own (`ORGAUTH_METRICS_ADDR`), off
//! by default. A separate port, not a path of the API, so the API can be public while the
//! metrics stay on a private interface, and so no proxy rule or rate limit of the API applies to
//! the scrape. The metrics themselves are [`service::metrics`].

use std::net::SocketAddr;

use poem::listener::{Listener, TcpAcceptor, TcpListener};
use poem::web::Data;
use poem::{get, handler, EndpointExt, Response, Route};
use sea_orm::DatabaseConnection;

/// The scrape: the Prometheus text format.
#[handler]
fn scrape(db: Data<&DatabaseConnection>) -> Response {
    Response::builder()
        .content_type(prometheus::TEXT_FORMAT)
        .body(service::metrics::get().render(&db))
}

/// Binds the metrics listener; a port in use fails the start, as the API's does.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpAcceptor> {
    TcpListener::bind(addr).into_acceptor().await
}

/// Serves `/metrics` (anything else: 404) until the task is dropped or aborted.
pub async fn serve(acceptor: TcpAcceptor, db: DatabaseConnection) -> std::io::Result<()> {
    let app = Route::new().at("/metrics", get(scrape)).data(db);
    poem::Server::new_with_acceptor(acceptor).run(app).await
}
