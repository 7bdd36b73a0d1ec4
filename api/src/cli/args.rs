//! The command line's arguments as clap declares them, and their environment variables: Better
//! Auth's names where it has one, `ORGAUTH_<NAME>` otherwise (docs/configuration.md lists them).
//! What the values become is [`super::settings`]; the rules they obey are the service's
//! configuration's (`service::config`).

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "orgauth",
    version,
    about = "Authentication and organizations server, wire-compatible with Better Auth",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub log: LogArgs,
    #[command(flatten)]
    pub traces: TraceArgs,
    /// The server's settings when no command is given (`serve` takes the same).
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What `serve` reads: where to listen, and the authentication settings.
#[derive(Args, Debug)]
pub struct ServerArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    #[command(flatten)]
    pub metrics: MetricsArgs,
    #[command(flatten)]
    pub auth: AuthArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP server (what runs when no command is given).
    Serve(ServerArgs),
    /// Apply or inspect schema migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Print the OpenAPI document as JSON, without starting a server or opening a database.
    Openapi,
    /// Ask the server on HOST:PORT for /readyz and exit 0 when it answers 200, 1 otherwise (a
    /// container's HEALTHCHECK: the image has no shell or curl). An unspecified HOST (0.0.0.0,
    /// ::) is reached on the loopback.
    Healthcheck {
        /// The address the server listens on.
        #[arg(long, env = "HOST", default_value = "127.0.0.1")]
        host: String,
        /// The port the server listens on.
        #[arg(long, env = "PORT", default_value_t = 3000)]
        port: u16,
    },
    /// Replace plain session tokens (Better Auth's, or orgauth's in plain or coexistence mode)
    /// with their SHA-256 digests, in place. Nobody is signed out; safe while servers run;
    /// idempotent. Afterwards a Better Auth server can no longer read those sessions.
    ConvertSessionTokens,
    /// Check the store against its invariants (migration/src/invariants): prints each broken one
    /// with the row that breaks it and exits 1, or prints nothing and exits 0. Reads the
    /// configuration for the mode (coexistence and plain tokens relax the secrets' checks) and
    /// the creator role.
    CheckInvariants {
        #[command(flatten)]
        auth: AuthArgs,
    },
    /// Add an existing user to an organization without an invitation (the organization plugin's
    /// server-side `addMember`; deliberately not an HTTP route).
    AddMember {
        /// The organization's id or slug.
        #[arg(long)]
        organization: String,
        /// The user's e-mail address.
        #[arg(long)]
        email: String,
        /// A role; repeat for several.
        #[arg(long = "role", default_value = "member")]
        member_roles: Vec<String>,
        #[command(flatten)]
        auth: AuthArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum MigrateAction {
    /// Apply pending migrations (all, or the next N).
    Up {
        #[arg(short = 'n', long)]
        num: Option<u32>,
    },
    /// Roll back the last N applied migrations.
    Down {
        #[arg(short = 'n', long, default_value_t = 1)]
        num: u32,
    },
    /// List migrations and whether each is applied, adopted (the tables existed already, see
    /// docs/migrating-from-better-auth.md) or pending.
    Status,
    /// Drop every table, then apply all migrations. Destroys all data.
    Fresh,
}

#[derive(Args, Debug)]
#[command(next_help_heading = "Database")]
pub struct DatabaseArgs {
    /// sqlite://PATH?mode=rwc or postgres://… (POSTGRES_URL is read too, as the seed names it).
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Pool size; defaults to 1 on SQLite (one writer) and 10 on PostgreSQL.
    #[arg(long, env = "ORGAUTH_DATABASE_MAX_CONNECTIONS", global = true)]
    pub database_max_connections: Option<u32>,
    /// Seconds a request waits for a free database connection, and then for a lock, before it is
    /// answered 503 with Retry-After [default: 10 on PostgreSQL, 5 on SQLite].
    #[arg(long, env = "ORGAUTH_DATABASE_ACQUIRE_TIMEOUT", global = true)]
    pub database_acquire_timeout: Option<u64>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Args, Debug)]
#[command(next_help_heading = "Logging")]
pub struct LogArgs {
    /// Log lines as text or as JSON objects; the level comes from RUST_LOG (default info).
    #[arg(
        long,
        env = "ORGAUTH_LOG_FORMAT",
        global = true,
        default_value = "text"
    )]
    pub log_format: LogFormat,
}

/// Traces over OTLP/HTTP, the OpenTelemetry standard variables (docs/deploy.md, Observability).
#[derive(Args, Debug)]
#[command(next_help_heading = "Observability")]
pub struct TraceArgs {
    /// The OTLP/HTTP collector's base URL (e.g. http://127.0.0.1:4318); traces go to its
    /// /v1/traces. Unset (and no traces endpoint): no traces.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", global = true, value_parser = http_url)]
    pub otel_exporter_otlp_endpoint: Option<String>,
    /// The full URL traces are posted to, instead of the base URL's /v1/traces.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", global = true, value_parser = http_url)]
    pub otel_exporter_otlp_traces_endpoint: Option<String>,
    /// The traces' service.name.
    #[arg(
        long,
        env = "OTEL_SERVICE_NAME",
        global = true,
        default_value = "orgauth"
    )]
    pub otel_service_name: String,
}

/// An http:// or https:// URL.
fn http_url(value: &str) -> Result<String, String> {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => Ok(value.to_owned()),
        _ => Err("expected an http:// or https:// URL".to_owned()),
    }
}

/// The Prometheus endpoint (docs/deploy.md, Observability).
#[derive(Args, Debug)]
#[command(next_help_heading = "Observability")]
pub struct MetricsArgs {
    /// IP:PORT of a separate listener serving Prometheus metrics at GET /metrics, e.g.
    /// 127.0.0.1:9464. Unset: no metrics listener.
    #[arg(long, env = "ORGAUTH_METRICS_ADDR", value_parser = ip_port)]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// An IP address and port (no host name: the listener binds exactly what is given).
fn ip_port(value: &str) -> Result<std::net::SocketAddr, String> {
    value
        .parse()
        .map_err(|_| "expected IP:PORT, e.g. 127.0.0.1:9464".to_owned())
}

#[derive(Args, Debug)]
#[command(next_help_heading = "Server")]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub port: u16,
    /// Apply pending migrations before serving.
    #[arg(long, env = "ORGAUTH_AUTO_MIGRATE", default_value_t = true, action = clap::ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub auto_migrate: bool,
    /// Seconds in-flight requests get to finish after SIGINT or SIGTERM.
    #[arg(long, env = "ORGAUTH_SHUTDOWN_TIMEOUT", default_value_t = 30)]
    pub shutdown_timeout: u64,
    /// Seconds a client gets to send a whole request head: from connecting, or from the first
    /// byte of its next request on a kept-alive connection. Slower ones are disconnected.
    #[arg(
        long,
        env = "ORGAUTH_HEADER_READ_TIMEOUT",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub header_read_timeout: u64,
    /// Seconds a kept-alive connection may wait, idle, for its next request.
    #[arg(
        long,
        env = "ORGAUTH_IDLE_TIMEOUT",
        default_value_t = 75,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub idle_timeout: u64,
    /// Connections served at once; further ones wait in the kernel's accept queue.
    #[arg(
        long,
        env = "ORGAUTH_MAX_CONNECTIONS",
        default_value_t = 10_000,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub max_connections: u64,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum SessionTokens {
    /// SHA-256 digests in `session.token` (default).
    Hashed,
    /// Tokens as Better Auth stores them, to share a database with a running Better Auth server.
    Plain,
}

/// Authentication settings: Better Auth's names where it has them, `ORGAUTH_<NAME>` otherwise.
/// Durations are in seconds.
#[derive(Args, Debug)]
#[command(next_help_heading = "Authentication and organizations")]
pub struct AuthArgs {
    /// Signs session cookies; at least 32 characters. Without it a random one is made per start
    /// (sessions do not survive a restart), and an https base URL refuses to start.
    #[arg(long, env = "BETTER_AUTH_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// The public origin of this server, e.g. https://auth.example.com (links in e-mails, cookie
    /// security). Default: http://HOST:PORT.
    #[arg(long, env = "BETTER_AUTH_URL")]
    pub base_url: Option<String>,
    #[arg(long, env = "ORGAUTH_SESSION_EXPIRES_IN", default_value_t = 604_800)]
    pub session_expires_in: i64,
    #[arg(long, env = "ORGAUTH_SESSION_UPDATE_AGE", default_value_t = 86_400)]
    pub session_update_age: i64,
    /// Sessions end this long after sign-in however often they are used (the sliding refresh
    /// stops there).
    #[arg(
        long,
        env = "ORGAUTH_SESSION_ABSOLUTE_LIFETIME",
        default_value_t = 2_592_000
    )]
    pub session_absolute_lifetime: i64,
    /// 0 turns freshness checks off.
    #[arg(long, env = "ORGAUTH_SESSION_FRESH_AGE", default_value_t = 86_400)]
    pub session_fresh_age: i64,
    #[arg(long, env = "ORGAUTH_SESSION_TOKENS", default_value = "hashed")]
    pub session_tokens: SessionTokens,
    /// Share the database with a running Better Auth server: sessions (plain tokens), password
    /// hashes (scrypt), provider tokens and reset and deletion links are written so that Better
    /// Auth reads them. Implies ORGAUTH_SESSION_TOKENS=plain. See docs/migrating-from-better-auth.md.
    #[arg(long, env = "ORGAUTH_COEXISTENCE", default_value_t = false, action = clap::ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub coexistence: bool,
    #[arg(long, env = "ORGAUTH_MIN_PASSWORD_LENGTH", default_value_t = 8)]
    pub min_password_length: usize,
    #[arg(long, env = "ORGAUTH_MAX_PASSWORD_LENGTH", default_value_t = 128)]
    pub max_password_length: usize,
    /// Failed password checks an account (a submitted address) gets before its password checks
    /// must wait 30 s, doubled with each further failure; 0 switches this off.
    #[arg(long, env = "ORGAUTH_ACCOUNT_GUESS_LIMIT", default_value_t = 5)]
    pub account_guess_limit: u32,
    /// Seconds after its last failure that an account's failures are forgotten.
    #[arg(long, env = "ORGAUTH_ACCOUNT_GUESS_WINDOW", default_value_t = 900)]
    pub account_guess_window: i64,
    /// The longest wait, in seconds, of a throttled account's password checks.
    #[arg(long, env = "ORGAUTH_ACCOUNT_GUESS_MAX_DELAY", default_value_t = 300)]
    pub account_guess_max_delay: i64,
    #[arg(long, env = "ORGAUTH_REQUIRE_EMAIL_VERIFICATION", default_value_t = false, action = clap::ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub require_email_verification: bool,
    #[arg(long, env = "ORGAUTH_AUTO_SIGN_IN", default_value_t = true, action = clap::ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub auto_sign_in: bool,
    /// Origins trusted besides BETTER_AUTH_URL's, comma-separated; `*` and `?` wildcards
    /// (`https://*.example.com`) and custom schemes (`myapp://`) allowed.
    #[arg(long, env = "BETTER_AUTH_TRUSTED_ORIGINS", value_delimiter = ',')]
    pub trusted_origins: Vec<String>,
    /// `off` switches rate limiting off (load tests, black-box suites from one address).
    #[arg(long, env = "ORGAUTH_RATE_LIMIT", default_value = "on")]
    pub rate_limit: Switch,
    #[arg(long, env = "ORGAUTH_RATE_LIMIT_WINDOW", default_value_t = 10)]
    pub rate_limit_window: i64,
    #[arg(long, env = "ORGAUTH_RATE_LIMIT_MAX", default_value_t = 100)]
    pub rate_limit_max: u32,
    /// The most (client, route) windows the rate limiter keeps; past it, the window that started
    /// first is dropped.
    #[arg(
        long,
        env = "ORGAUTH_RATE_LIMIT_MAX_ENTRIES",
        default_value_t = crate::rate_limit::DEFAULT_MAX_ENTRIES
    )]
    pub rate_limit_max_entries: usize,
    /// Where the rate-limit counters live: `memory` (this process), `database` (the `rate_limit`
    /// table, shared by replicas) or `redis` (`REDIS_URL`; Better Auth's `secondary-storage`)
    /// [default: `redis` when REDIS_URL is set, else `memory`].
    #[arg(long, env = "ORGAUTH_RATE_LIMIT_STORAGE")]
    pub rate_limit_storage: Option<RateLimitStorage>,
    /// The Redis that replicas share rate-limit counters through (`redis://[:password@]host:port/db`).
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Each replica keeps the sessions it serves in memory, kept exact by PostgreSQL's change
    /// notifications (migration 8), so a cached session costs no query
    /// (docs/performance.md#the-session-cache) [default: on with PostgreSQL; SQLite cannot].
    #[arg(long, env = "ORGAUTH_SESSION_CACHE")]
    pub session_cache: Option<Switch>,
    /// The most sessions (and users) the session cache keeps.
    #[arg(long, env = "ORGAUTH_SESSION_CACHE_ENTRIES", default_value_t = 100_000)]
    pub session_cache_entries: u64,
    /// The most memory, in MiB, the session cache's rows take.
    #[arg(long, env = "ORGAUTH_SESSION_CACHE_MB", default_value_t = 16)]
    pub session_cache_mb: u64,
    /// The header proxies set to the client address. Alone: trusted from any peer when it holds
    /// one address. With `ORGAUTH_TRUSTED_PROXIES`: read only from those proxies, walked from the
    /// right (default `x-forwarded-for`; `forwarded` is read as RFC 7239).
    #[arg(long, env = "ORGAUTH_CLIENT_IP_HEADER")]
    pub client_ip_header: Option<String>,
    /// The reverse proxies in front of the server, by address or CIDR network, comma-separated
    /// (`127.0.0.1,10.0.0.0/8`); forwarding headers are read only from them
    /// (docs/configuration.md#behind-a-proxy).
    #[arg(long, env = "ORGAUTH_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,
    /// CORS with credentials for the trusted origins (`BETTER_AUTH_TRUSTED_ORIGINS`) on the auth
    /// routes, for a web app on another origin; `off` when a proxy in front answers CORS.
    #[arg(long, env = "ORGAUTH_CORS", default_value = "on")]
    pub cors: Switch,
    /// The first part of every cookie's name (Better Auth's `advanced.cookiePrefix`):
    /// `<prefix>.session_token`.
    #[arg(long, env = "ORGAUTH_COOKIE_PREFIX", default_value = crate::cookies::DEFAULT_PREFIX)]
    pub cookie_prefix: String,
    /// Share the cookies with every subdomain of `ORGAUTH_CROSS_SUB_DOMAIN_COOKIES_DOMAIN`
    /// (Better Auth's `advanced.crossSubDomainCookies.enabled`).
    #[arg(long, env = "ORGAUTH_CROSS_SUB_DOMAIN_COOKIES", default_value_t = false, action = clap::ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub cross_sub_domain_cookies: bool,
    /// The cookies' `Domain` when shared (`crossSubDomainCookies.domain`); default: the host of
    /// `BETTER_AUTH_URL`.
    #[arg(long, env = "ORGAUTH_CROSS_SUB_DOMAIN_COOKIES_DOMAIN")]
    pub cross_sub_domain_cookies_domain: Option<String>,
    /// Where the auth routes are served (Better Auth's `basePath`), e.g. `/auth`; `/api/auth`
    /// answers 404 when another is set. Default: the path of `BETTER_AUTH_URL` if it has one (as
    /// in Better Auth), else `/api/auth`.
    #[arg(long, env = "ORGAUTH_BASE_PATH")]
    pub base_path: Option<String>,
    /// `smtp://host:port` (plain local relay), `smtp://user:pass@host:587?tls=required` or
    /// `smtps://user:pass@host:465`. Unset: mails are written to the log (development only).
    #[arg(long, env = "SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of every mail.
    #[arg(
        long,
        env = "MAIL_FROM",
        default_value = "orgauth <no-reply@localhost>"
    )]
    pub mail_from: String,
    /// The product's name in mails (Better Auth's `appName`).
    #[arg(long, env = "ORGAUTH_APP_NAME", default_value = "orgauth")]
    pub app_name: String,
    /// A directory of mail templates replacing the built-in ones of the same file name
    /// (docs/configuration.md#mail).
    #[arg(long, env = "ORGAUTH_MAIL_TEMPLATES")]
    pub mail_templates: Option<std::path::PathBuf>,
    /// Send a verification mail on sign-up (default: when verification is required).
    #[arg(long, env = "ORGAUTH_SEND_VERIFICATION_ON_SIGN_UP", action = clap::ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub send_verification_on_sign_up: Option<bool>,
    #[arg(
        long,
        env = "ORGAUTH_RESET_PASSWORD_TOKEN_EXPIRES_IN",
        default_value_t = 3600
    )]
    pub reset_password_token_expires_in: i64,
    #[arg(
        long,
        env = "ORGAUTH_EMAIL_VERIFICATION_EXPIRES_IN",
        default_value_t = 3600
    )]
    pub email_verification_expires_in: i64,
    /// A completed password reset ends every session of the user.
    #[arg(long, env = "ORGAUTH_REVOKE_SESSIONS_ON_PASSWORD_RESET", default_value_t = true, action = clap::ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub revoke_sessions_on_password_reset: bool,
    /// Allow `change-email`.
    #[arg(long, env = "ORGAUTH_CHANGE_EMAIL", default_value_t = true, action = clap::ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub change_email: bool,
    /// Allow `delete-user`.
    #[arg(long, env = "ORGAUTH_DELETE_USER", default_value_t = true, action = clap::ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub delete_user: bool,
    /// `delete-user` without a password mails a confirmation link instead of deleting at once.
    #[arg(long, env = "ORGAUTH_DELETE_USER_VERIFICATION", default_value_t = false, action = clap::ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub delete_user_verification: bool,
    /// Magic-link sign-in (`sign-in/magic-link`, `magic-link/verify`; off: 404). Unset: on when
    /// mail can reach people (SMTP_URL, or a local server logging its links); on without that
    /// refuses to start.
    #[arg(long, env = "ORGAUTH_MAGIC_LINK", action = clap::ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub magic_link: Option<bool>,
    /// Seconds a magic link works (Better Auth's `expiresIn`).
    #[arg(long, env = "ORGAUTH_MAGIC_LINK_EXPIRES_IN", default_value_t = 300)]
    pub magic_link_expires_in: i64,
    /// A magic link for an address without an account signs nobody up (`disableSignUp`).
    #[arg(long, env = "ORGAUTH_MAGIC_LINK_DISABLE_SIGN_UP", default_value_t = false, action = clap::ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub magic_link_disable_sign_up: bool,
    /// Let any signed-in user create organizations.
    #[arg(long, env = "ORGAUTH_ALLOW_USER_TO_CREATE_ORGANIZATION", default_value_t = true, action = clap::ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub allow_user_to_create_organization: bool,
    /// Memberships a user may have before creating another organization is refused (unset: no limit).
    #[arg(long, env = "ORGAUTH_ORGANIZATION_LIMIT")]
    pub organization_limit: Option<u64>,
    /// The role the creator of an organization gets.
    #[arg(long, env = "ORGAUTH_CREATOR_ROLE", default_value = "owner")]
    pub creator_role: String,
    /// More roles, as JSON: `{"billing":{"organization":["update"]}}` (a built-in name replaces it).
    #[arg(long, env = "ORGAUTH_ROLES")]
    pub roles: Option<String>,
    /// Create a team named after each new organization, with its creator in it.
    #[arg(long, env = "ORGAUTH_DEFAULT_TEAM", default_value_t = true, action = clap::ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub default_team: bool,
    #[arg(long, env = "ORGAUTH_DISABLE_ORGANIZATION_DELETION", default_value_t = false, action = clap::ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub disable_organization_deletion: bool,
    /// Members per organization at most; also the largest page of `list-members`.
    #[arg(long, env = "ORGAUTH_MEMBERSHIP_LIMIT", default_value_t = 100)]
    pub membership_limit: u64,
    /// Seconds an invitation stays valid.
    #[arg(long, env = "ORGAUTH_INVITATION_EXPIRES_IN", default_value_t = 172_800)]
    pub invitation_expires_in: i64,
    /// Pending invitations per organization at most.
    #[arg(long, env = "ORGAUTH_INVITATION_LIMIT", default_value_t = 100)]
    pub invitation_limit: u64,
    /// Re-inviting an address cancels its pending invitation instead of failing.
    #[arg(long, env = "ORGAUTH_CANCEL_PENDING_INVITATIONS_ON_RE_INVITE", default_value_t = false, action = clap::ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub cancel_pending_invitations_on_re_invite: bool,
    /// Only verified addresses may accept, reject or view invitations.
    #[arg(long, env = "ORGAUTH_REQUIRE_EMAIL_VERIFICATION_ON_INVITATION", default_value_t = true, action = clap::ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub require_email_verification_on_invitation: bool,
    /// The link in invitation mails; `{id}` becomes the invitation id. Default:
    /// BETTER_AUTH_URL/accept-invitation/{id}.
    #[arg(long, env = "ORGAUTH_INVITATION_URL")]
    pub invitation_url: Option<String>,
    /// Teams per organization at most (unset: no limit).
    #[arg(long, env = "ORGAUTH_MAXIMUM_TEAMS")]
    pub maximum_teams: Option<u64>,
    /// Members per team at most (unset: no limit).
    #[arg(long, env = "ORGAUTH_MAXIMUM_MEMBERS_PER_TEAM")]
    pub maximum_members_per_team: Option<u64>,
    /// Let the last team of an organization be removed.
    #[arg(long, env = "ORGAUTH_ALLOW_REMOVING_ALL_TEAMS", default_value_t = false, action = clap::ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub allow_removing_all_teams: bool,
    #[command(flatten)]
    pub admin: AdminArgs,
    #[command(flatten)]
    pub social: SocialArgs,
}

/// The admin plugin's options (Better Auth's `admin()`; docs/admin.md).
#[derive(Args, Debug)]
#[command(next_help_heading = "Admin plugin")]
pub struct AdminArgs {
    /// Roles whose holders are admins, comma-separated (Better Auth's `adminRoles`).
    #[arg(
        long = "admin-roles",
        env = "ORGAUTH_ADMIN_ROLES",
        default_value = "admin"
    )]
    pub admin_roles: String,
    /// The roles as JSON, highest rank first: `{"owner":{"user":["list"]},"user":{}}` (Better
    /// Auth's `roles`; replaces the default `admin` and `user`).
    #[arg(long = "admin-role-statements", env = "ORGAUTH_ADMIN_ROLE_STATEMENTS")]
    pub admin_role_statements: Option<String>,
    /// Users who may do everything, comma-separated ids (Better Auth's `adminUserIds`).
    #[arg(long = "admin-user-ids", env = "ORGAUTH_ADMIN_USER_IDS")]
    pub admin_user_ids: Option<String>,
    /// The role of new users (Better Auth's `defaultRole`).
    #[arg(
        long = "admin-default-role",
        env = "ORGAUTH_ADMIN_DEFAULT_ROLE",
        default_value = "user"
    )]
    pub admin_default_role: String,
    /// Seconds an impersonation session lasts (never extended).
    #[arg(
        long = "admin-impersonation-session-duration",
        env = "ORGAUTH_ADMIN_IMPERSONATION_SESSION_DURATION",
        default_value_t = 3600
    )]
    pub admin_impersonation_session_duration: i64,
    /// Anyone allowed to impersonate may impersonate admins too.
    #[arg(long = "admin-allow-impersonating-admins", env = "ORGAUTH_ADMIN_ALLOW_IMPERSONATING_ADMINS", default_value_t = false, action = clap::ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub admin_allow_impersonating_admins: bool,
    /// The ban reason when `ban-user` gives none.
    #[arg(
        long = "admin-default-ban-reason",
        env = "ORGAUTH_ADMIN_DEFAULT_BAN_REASON",
        default_value = "No reason"
    )]
    pub admin_default_ban_reason: String,
    /// Seconds a ban lasts when `ban-user` gives no `banExpiresIn` (unset: until unbanned).
    #[arg(
        long = "admin-default-ban-expires-in",
        env = "ORGAUTH_ADMIN_DEFAULT_BAN_EXPIRES_IN"
    )]
    pub admin_default_ban_expires_in: Option<i64>,
}

/// Social sign-in providers; each is enabled by its client id and secret (docs/social-sign-in.md).
#[derive(Args, Debug)]
#[command(next_help_heading = "Social sign-in")]
pub struct SocialArgs {
    /// GitHub OAuth app client id; enables `github`.
    #[arg(long, env = "GITHUB_CLIENT_ID")]
    pub github_client_id: Option<String>,
    #[arg(long, env = "GITHUB_CLIENT_SECRET", hide_env_values = true)]
    pub github_client_secret: Option<String>,
    /// GitHub's authorization endpoint (GitHub Enterprise, tests).
    #[arg(
        long,
        env = "ORGAUTH_GITHUB_AUTHORIZE_URL",
        default_value = "https://github.com/login/oauth/authorize"
    )]
    pub github_authorize_url: String,
    /// GitHub's token endpoint.
    #[arg(
        long,
        env = "ORGAUTH_GITHUB_TOKEN_URL",
        default_value = "https://github.com/login/oauth/access_token"
    )]
    pub github_token_url: String,
    /// GitHub's REST API (`/user`, `/user/emails`).
    #[arg(
        long,
        env = "ORGAUTH_GITHUB_API_URL",
        default_value = "https://api.github.com"
    )]
    pub github_api_url: String,
    /// Sign a GitHub user into the existing user with the same address when GitHub marks the
    /// address verified (linking the account); off: such sign-ins are refused.
    #[arg(long, env = "ORGAUTH_GITHUB_TRUST_EMAIL", default_value_t = true, action = clap::ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub github_trust_email: bool,
    /// Google OAuth client id; enables `google`.
    #[arg(long, env = "GOOGLE_CLIENT_ID")]
    pub google_client_id: Option<String>,
    #[arg(long, env = "GOOGLE_CLIENT_SECRET", hide_env_values = true)]
    pub google_client_secret: Option<String>,
    /// Google's OpenID discovery document (tests point it elsewhere).
    #[arg(
        long,
        env = "ORGAUTH_GOOGLE_DISCOVERY_URL",
        default_value = service::config::social::GOOGLE_DISCOVERY_URL
    )]
    pub google_discovery_url: String,
    /// As ORGAUTH_GITHUB_TRUST_EMAIL, with Google's `email_verified` claim.
    #[arg(long, env = "ORGAUTH_GOOGLE_TRUST_EMAIL", default_value_t = true, action = clap::ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub google_trust_email: bool,
    /// Generic OpenID Connect providers, as a JSON array of
    /// `{"id","discoveryUrl","clientId","clientSecret","scopes"?,"trustEmail"?}`.
    #[arg(long, env = "ORGAUTH_OIDC_PROVIDERS", hide_env_values = true)]
    pub oidc_providers: Option<String>,
    /// Seconds a request to a provider (discovery, token, user API) may take, connecting
    /// included (at most 5 s of it).
    #[arg(
        long,
        env = "ORGAUTH_PROVIDER_TIMEOUT",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub provider_timeout: u64,
}

/// `ORGAUTH_RATE_LIMIT_STORAGE`: Better Auth's `rateLimit.storage`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RateLimitStorage {
    Memory,
    Database,
    #[value(alias = "secondary-storage")]
    Redis,
}

/// `on` or `off` (`ORGAUTH_RATE_LIMIT`), or any other boolean spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    #[value(alias = "true", alias = "1", alias = "yes")]
    On,
    #[value(alias = "false", alias = "0", alias = "no")]
    Off,
}
