//! The HTTP application and its lifecycle: routes, Swagger UI, the OpenAPI document, binding,
//! and graceful shutdown.

use std::time::Duration;

use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};

pub use crate::connections::Limits;
use poem::endpoint::make_sync;
use poem::web::Html;
use poem::{Endpoint, EndpointExt, Response, Route};
use poem_openapi::OpenApiService;
use sea_orm::DatabaseConnection;

use crate::admin::AdminApi;
use crate::auth::flows::FlowsApi;
use crate::auth::magic_link::MagicLinkApi;
use crate::auth::social::SocialApi;
use crate::auth::AuthApi;
use crate::base_path::BasePath;
use crate::body_limit::BodyLimit;
use crate::cache_fence::CacheFence;
use crate::cors::Cors;
use crate::error::with_contract_fallbacks;
use crate::health::HealthApi;
use crate::organization::{InvitationsApi, MembersApi, OrganizationApi, TeamsApi};
use crate::origin::OriginCheck;
use crate::outbox::WithOutbox;
use crate::panic::catch_panics;
use crate::rate_limit::RateLimit;
use crate::request_log::RequestLog;
use crate::route_template::RouteTemplates;
use crate::state::AppState;

/// Request bodies larger than this are refused with 413 before they are read.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Every group of operations, in the order the document lists them.
pub type Apis = (
    AuthApi,
    FlowsApi,
    SocialApi,
    MagicLinkApi,
    OrganizationApi,
    MembersApi,
    InvitationsApi,
    TeamsApi,
    AdminApi,
    HealthApi,
);

/// The typed API, which is also what the OpenAPI document describes.
pub fn openapi(state: AppState) -> OpenApiService<Apis, ()> {
    let db = state.auth.db.clone();
    OpenApiService::new(
        (
            AuthApi {
                state: state.clone(),
            },
            FlowsApi {
                state: state.clone(),
            },
            SocialApi {
                state: state.clone(),
            },
            MagicLinkApi {
                state: state.clone(),
            },
            OrganizationApi {
                state: state.clone(),
            },
            MembersApi {
                state: state.clone(),
            },
            InvitationsApi {
                state: state.clone(),
            },
            TeamsApi {
                state: state.clone(),
            },
            AdminApi { state },
            HealthApi { db },
        ),
        "orgauth",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Authentication and multi-tenant organizations, wire-compatible with Better Auth 1.7.25.",
    )
    .license(env!("CARGO_PKG_LICENSE"))
    .server("/")
}

/// The OpenAPI document as JSON, without a database.
pub fn openapi_json() -> String {
    let auth = service::Auth::new(
        DatabaseConnection::default(),
        service::password::Hasher::new(1, 1),
        service::config::AuthConfig::with_secret(service::config::Secret::new("")),
        std::sync::Arc::new(service::clock::SystemClock),
        service::mail::Mailer::Log { links: true },
    );
    openapi(AppState::new(auth, Default::default())).spec()
}

/// The routes served beside the API's own (`/docs` is nested; see `route_template`).
const SERVED_BESIDE: &[&str] = &[
    "/openapi.json",
    "/api/auth/reference",
    "/api/auth/open-api/generate-schema",
];

/// Every route: the API, Swagger UI at `/docs`, the document at `/openapi.json` and (as Better
/// Auth's `openAPI()` plugin serves them) at `<base path>/open-api/generate-schema`, with the
/// Scalar reference at `<base path>/reference`; the auth routes under the base path
/// (`ORGAUTH_BASE_PATH`, see [`crate::base_path`]).
pub fn app(state: AppState) -> impl Endpoint {
    let trusted = state.trusted.clone();
    let known_paths: Vec<String> = <Apis as poem_openapi::OpenApi>::meta()
        .into_iter()
        .flat_map(|api| api.paths.into_iter().map(|p| p.path))
        .collect();
    // The log and the metrics see the path the client sent: under the configured base path.
    let mut routes: Vec<String> = known_paths
        .iter()
        .map(String::as_str)
        .chain(SERVED_BESIDE.iter().copied())
        .map(|p| match p.strip_prefix(crate::base_path::DEFAULT) {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                format!("{}{rest}", state.base_path)
            }
            _ => p.to_string(),
        })
        .collect();
    routes.sort();
    routes.dedup();
    let request_log = RequestLog {
        client_ip: state.client_ip.clone(),
        routes: std::sync::Arc::new(RouteTemplates::new(&routes)),
    };
    let limiter = RateLimit::new(
        state.rate_limit.clone(),
        state.client_ip.clone(),
        state.auth.clock.clone(),
        &state.auth.db,
        &known_paths,
    );
    let base_path = state.base_path.clone();
    let api = openapi(state.clone());
    // The pages embed the document; they get the one with the configured paths.
    let spec = api.spec();
    let document = crate::base_path::document(&spec, &base_path);
    let swagger_ui = api.swagger_ui_html().replacen(&spec, &document, 1);
    let reference = crate::reference::page(&api).replacen(&spec, &document, 1);
    let spec_endpoint = move || {
        let document = document.clone();
        make_sync(move |_| {
            Response::builder()
                .content_type("application/json")
                .body(document.clone())
        })
    };
    let state_cors = state.cors;
    let session_cache = state.auth.session_cache.clone();
    let routes = Route::new()
        .nest(
            "/docs",
            Route::new().at("/", make_sync(move |_| Html(swagger_ui.clone()))),
        )
        .at("/openapi.json", spec_endpoint())
        .at("/api/auth/reference", crate::reference::endpoint(reference))
        .at("/api/auth/open-api/generate-schema", spec_endpoint())
        .nest("/", api)
        // For the extractors that find the caller (see `auth::Caller`).
        .data(state);
    // Outermost first: log, answer a panic with a 500, map the base path, CORS (preflights
    // answered here), collect headers, rate-limit, read the body, check origins, wait for the
    // session cache to hear the route's changes, route.
    let cors = Cors(trusted.clone());
    let inner = with_contract_fallbacks(routes)
        .with(CacheFence(session_cache))
        .with(OriginCheck(trusted))
        .with(BodyLimit(MAX_BODY_BYTES))
        .with(limiter)
        .with(WithOutbox)
        .with_if(state_cors, cors)
        .with_if(
            base_path != crate::base_path::DEFAULT,
            BasePath(base_path.clone()),
        );
    catch_panics(inner).with(request_log)
}

/// Binds the listening socket; a port in use fails here, before anything else starts.
pub async fn bind(host: &str, port: u16) -> std::io::Result<TcpAcceptor> {
    TcpListener::bind(format!("{host}:{port}"))
        .into_acceptor()
        .await
}

/// The address a bound acceptor listens on, for the start-up line and for tests on port 0.
pub fn local_addr(acceptor: &TcpAcceptor) -> Option<std::net::SocketAddr> {
    acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
}

/// Serves until `shutdown` resolves, then stops accepting and gives in-flight requests up to
/// `grace` to finish; connections are bounded by the default [`Limits`].
pub async fn run(
    acceptor: TcpAcceptor,
    app: impl Endpoint + 'static,
    shutdown: impl std::future::Future<Output = ()>,
    grace: Duration,
) -> std::io::Result<()> {
    let limits = Limits {
        shutdown_timeout: grace,
        ..Limits::default()
    };
    run_with_limits(acceptor, app, shutdown, limits).await
}

/// As [`run`], with the connections' deadlines and cap given.
pub async fn run_with_limits(
    acceptor: TcpAcceptor,
    app: impl Endpoint + 'static,
    shutdown: impl std::future::Future<Output = ()>,
    limits: Limits,
) -> std::io::Result<()> {
    tracing::info!("server started");
    crate::connections::serve(acceptor, app, shutdown, limits).await
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed by this call, not at the future's
/// first poll: a signal that arrives after the start-up line but before the accept loop first
/// polls the future must stop the server gracefully, not kill it with the default action.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let stopped = {
        use tokio::signal::unix::{signal, SignalKind};
        let interrupt = signal(SignalKind::interrupt()).ok();
        let terminate = signal(SignalKind::terminate()).ok();
        async move {
            tokio::select! {
                _ = received(interrupt) => {},
                _ = received(terminate) => {},
            }
        }
    };
    #[cfg(not(unix))]
    let stopped = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    async move {
        stopped.await;
        tracing::info!("shutdown requested; finishing in-flight requests");
    }
}

/// Waits for the signal; forever when its handler could not be installed.
#[cfg(unix)]
async fn received(signal: Option<tokio::signal::unix::Signal>) {
    match signal {
        Some(mut s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}
