//! The `orgauth` command line: `serve` (the default), `migrate up|down|status|fresh`, `openapi`,
//! `healthcheck`, `convert-session-tokens`, `add-member`.
//!
//! - [`args`]: the arguments and their environment variables (see docs/configuration.md).
//! - [`environment`]: that environment prepared (`.env`, empty = unset, `<NAME>_FILE`).
//! - [`settings`]: the arguments turned into the service's configuration and the HTTP settings.

mod args;
mod environment;
mod healthcheck;
mod settings;
mod traces;

pub use args::*;

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, Parser};
use migration::{Migrator, MigratorTrait};

use crate::state::AppState;

/// Log lines on stderr and, when a collector is configured, traces to it; the returned provider
/// is shut down (flushing what is batched) when the command ends.
fn init_logging(
    format: LogFormat,
    trace_args: &TraceArgs,
) -> anyhow::Result<Option<opentelemetry_sdk::trace::SdkTracerProvider>> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;

    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let lines = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let lines = match format {
        LogFormat::Text => lines.boxed(),
        LogFormat::Json => lines.json().boxed(),
    };
    let provider = traces::provider(trace_args)?;
    if provider.is_some() {
        crate::request_log::spans_exported();
    }
    let otel = provider.as_ref().map(traces::layer);
    tracing_subscriber::registry()
        .with(filter)
        .with(lines)
        .with(otel)
        .init();
    Ok(provider)
}

/// Parses the command line, runs the command, and turns any failure into one line on stderr and
/// a non-zero exit code.
pub fn main() -> ExitCode {
    if let Err(e) = environment::prepare(&env_names(), std::path::Path::new(".")) {
        eprintln!("orgauth: error: {e}");
        return ExitCode::FAILURE;
    }
    let cli = Cli::parse();
    if let Some(Command::Openapi) = cli.command {
        println!("{}", crate::server::openapi_json());
        return ExitCode::SUCCESS;
    }
    if let Some(Command::Healthcheck { host, port }) = &cli.command {
        return match healthcheck::check(host, *port) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("orgauth: error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let traces = match init_logging(cli.log.log_format, &cli.traces) {
        Ok(traces) => traces,
        Err(e) => {
            eprintln!("orgauth: error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    crate::panic::install_hook();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("orgauth: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli));
    if let Some(traces) = traces {
        // Sends the spans still batched; a collector that is down costs at most its timeout.
        if let Err(e) = traces.shutdown() {
            eprintln!("orgauth: warning: flushing traces failed: {e}");
        }
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("orgauth: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Every environment variable the command line reads, sorted.
pub fn env_names() -> Vec<String> {
    fn read_by(command: &clap::Command) -> Vec<String> {
        let mut names: Vec<String> = command
            .get_arguments()
            .filter_map(|a| a.get_env())
            .map(|n| n.to_string_lossy().into_owned())
            .collect();
        names.extend(command.get_subcommands().flat_map(read_by));
        names
    }
    let mut names = read_by(&Cli::command());
    names.sort();
    names.dedup();
    names
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        None => serve(&cli.database, &cli.server).await,
        Some(Command::Serve(server)) => serve(&cli.database, &server).await,
        Some(Command::Migrate { action }) => migrate(&cli.database, action).await,
        Some(Command::Openapi | Command::Healthcheck { .. }) => {
            unreachable!("handled before the runtime starts")
        }
        Some(Command::ConvertSessionTokens) => {
            let db = cli.database.connect().await?;
            let converted = service::session::convert_plain_tokens(&db).await?;
            println!("converted {converted} plain session token(s) to digests");
            Ok(())
        }
        Some(Command::CheckInvariants { auth }) => {
            let db = cli.database.connect().await?;
            let base_url = auth.base_url.clone().unwrap_or_default();
            let cfg = auth.config(&base_url)?;
            let scope = service::invariants::Scope {
                exclusive: !cfg.coexistence
                    && cfg.session_tokens == service::config::TokenStorage::Hashed,
                creator_role: cfg.org.roles.creator_role.clone(),
            };
            let broken = service::invariants::check(&db, &scope).await?;
            for violation in &broken {
                println!("{violation}");
            }
            anyhow::ensure!(broken.is_empty(), "{} invariant violation(s)", broken.len());
            Ok(())
        }
        Some(Command::AddMember {
            organization,
            email,
            member_roles,
            auth,
        }) => {
            let db = cli.database.connect().await?;
            let base_url = auth.base_url.clone().unwrap_or_default();
            let mut cfg = auth.config(&base_url)?;
            cfg.read_database(&db).await?;
            let auth = service::Auth::new(
                db,
                service::password::Hasher::new(1, 1),
                cfg,
                std::sync::Arc::new(service::clock::SystemClock),
                service::mail::Mailer::Log { links: false },
            );
            let added = auth
                .add_member(&organization, &email, &member_roles)
                .await?;
            println!(
                "{}",
                serde_json::json!({"id": added.id, "organizationId": added.organization_id, "userId": added.user_id, "role": added.role})
            );
            Ok(())
        }
    }
}

async fn migrate(database: &DatabaseArgs, action: MigrateAction) -> anyhow::Result<()> {
    let db = database.connect().await?;
    match action {
        MigrateAction::Up { num } => Migrator::up(&db, num).await,
        MigrateAction::Down { num } => Migrator::down(&db, Some(num)).await,
        MigrateAction::Status => return print_status(&db).await,
        MigrateAction::Fresh => Migrator::fresh(&db).await,
    }
    .context("migration failed")
}

/// One line per migration: its name and `applied`, `adopted <when>` or `pending`.
async fn print_status(db: &sea_orm::DatabaseConnection) -> anyhow::Result<()> {
    let adopted = migration::adopt::adopted(db).await?;
    for m in Migrator::get_migration_with_status(db).await? {
        let status = match (adopted.get(m.name()), m.status()) {
            (Some(when), _) => format!("adopted {when} (the tables existed; nothing was created)"),
            (None, migration::MigrationStatus::Applied) => "applied".to_owned(),
            (None, migration::MigrationStatus::Pending) => "pending".to_owned(),
        };
        println!("{}  {status}", m.name());
    }
    Ok(())
}

async fn serve(database: &DatabaseArgs, server: &ServerArgs) -> anyhow::Result<()> {
    let ServerArgs {
        serve: args,
        metrics,
        auth: auth_args,
    } = server;
    let base_url = auth_args.public_url(args);
    // The database first: a wrong DATABASE_URL is the one line printed, not preceded by warnings.
    let db = database.connect().await?;
    let mut cfg = auth_args.config(&base_url)?;
    cfg.session_cache = auth_args.session_cache(db.get_database_backend())?;
    let mailer = auth_args.mailer(&base_url)?;
    let web = auth_args.web(base_url)?;
    cfg.magic_link.enabled = auth_args.magic_link_enabled(&mailer)?;
    if args.auto_migrate {
        Migrator::up(&db, None)
            .await
            .context("applying migrations failed")?;
    }
    cfg.read_database(&db)
        .await
        .context("reading the database's columns failed")?;
    let hasher = match cfg.coexistence {
        false => service::password::Hasher::for_this_machine(),
        true => service::password::Hasher::for_this_machine().writing_better_auth_hashes(),
    };
    let clock = std::sync::Arc::new(service::clock::SystemClock);
    let auth = service::Auth::new(db.clone(), hasher, cfg, clock, mailer);
    let rate_limit_keep =
        crate::rate_limit::longest_window(&web.rate_limit.clone().unwrap_or_default());
    tokio::spawn(service::maintenance::sweep_periodically(
        auth.clone(),
        rate_limit_keep,
    ));
    auth.social.warm();
    // Before the start-up line: from then on a SIGTERM is a graceful stop.
    let shutdown = crate::server::shutdown_signal();
    let acceptor = crate::server::bind(&args.host, args.port)
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    // Bound before the start-up line too: whoever has read that line can scrape.
    let metrics_acceptor = match metrics.metrics_addr {
        Some(addr) => Some(
            crate::metrics::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (ORGAUTH_METRICS_ADDR)"))?,
        ),
        None => None,
    };
    if let Some(addr) = crate::server::local_addr(&acceptor) {
        tracing::info!("orgauth listening on http://{addr} (Swagger UI: http://{addr}/docs)");
    }
    let metrics_server = metrics_acceptor.map(|acceptor| {
        if let Some(addr) = crate::server::local_addr(&acceptor) {
            tracing::info!("metrics on http://{addr}/metrics");
        }
        tokio::spawn(crate::metrics::serve(acceptor, db.clone()))
    });
    crate::server::run_with_limits(
        acceptor,
        crate::server::app(AppState::new(auth, web)),
        shutdown,
        args.limits(),
    )
    .await
    .context("server failed")?;
    if let Some(metrics_server) = metrics_server {
        metrics_server.abort();
    }
    db.close().await.ok();
    tracing::info!("orgauth stopped");
    Ok(())
}
