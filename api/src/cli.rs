//! The `orgauth` command line: `serve` (the default), `migrate up|down|status|fresh`, `openapi`.
//! Every option can also be given in the environment; names follow Better Auth where it has one
//! and `ORGAUTH_<NAME>` otherwise (see docs/configuration.md).

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use migration::{Migrator, MigratorTrait};
use service::config::{AuthConfig, Secret, TokenStorage};
use service::db::{self, PoolSize, DEFAULT_DATABASE_URL};

use crate::rate_limit::RateLimitConfig;
use crate::state::{AppState, WebSettings};

#[derive(Parser, Debug)]
#[command(
    name = "orgauth",
    version,
    about = "Authentication and organizations server, wire-compatible with Better Auth"
)]
pub struct Cli {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub log: LogArgs,
    #[command(flatten)]
    pub serve: ServeArgs,
    #[command(flatten)]
    pub auth: AuthArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP server (what runs when no command is given).
    Serve,
    /// Apply or inspect schema migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Print the OpenAPI document as JSON, without starting a server or opening a database.
    Openapi,
    /// Replace plain session tokens (Better Auth's, or orgauth's in plain or coexistence mode)
    /// with their SHA-256 digests, in place. Nobody is signed out; safe while servers run;
    /// idempotent. Afterwards a Better Auth server can no longer read those sessions.
    ConvertSessionTokens,
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
pub struct DatabaseArgs {
    /// sqlite://PATH?mode=rwc or postgres://… (POSTGRES_URL is read too, as the seed names it).
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Pool size; defaults to 1 on SQLite (one writer) and 10 on PostgreSQL.
    #[arg(long, env = "ORGAUTH_DATABASE_MAX_CONNECTIONS", global = true)]
    pub database_max_connections: Option<u32>,
}

impl DatabaseArgs {
    pub fn url(&self) -> String {
        self.database_url
            .clone()
            .or_else(|| std::env::var("POSTGRES_URL").ok())
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned())
    }

    pub async fn connect(&self) -> anyhow::Result<sea_orm::DatabaseConnection> {
        let size = PoolSize {
            max_connections: self.database_max_connections,
        };
        Ok(db::connect(&self.url(), size).await?)
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Args, Debug)]
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

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "HOST", global = true, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on.
    #[arg(long, env = "PORT", global = true, default_value_t = 3000)]
    pub port: u16,
    /// Apply pending migrations before serving.
    #[arg(long, env = "ORGAUTH_AUTO_MIGRATE", global = true, default_value_t = true, action = clap::ArgAction::Set)]
    pub auto_migrate: bool,
    /// Seconds in-flight requests get to finish after SIGINT or SIGTERM.
    #[arg(
        long,
        env = "ORGAUTH_SHUTDOWN_TIMEOUT",
        global = true,
        default_value_t = 30
    )]
    pub shutdown_timeout: u64,
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
pub struct AuthArgs {
    /// Signs session cookies; at least 32 characters. Without it a random one is made per start
    /// (sessions do not survive a restart), and an https base URL refuses to start.
    #[arg(
        long,
        env = "BETTER_AUTH_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub secret: Option<String>,
    /// The public origin of this server, e.g. https://auth.example.com (links in e-mails, cookie
    /// security). Default: http://HOST:PORT.
    #[arg(long, env = "BETTER_AUTH_URL", global = true)]
    pub base_url: Option<String>,
    #[arg(
        long,
        env = "ORGAUTH_SESSION_EXPIRES_IN",
        global = true,
        default_value_t = 604_800
    )]
    pub session_expires_in: i64,
    #[arg(
        long,
        env = "ORGAUTH_SESSION_UPDATE_AGE",
        global = true,
        default_value_t = 86_400
    )]
    pub session_update_age: i64,
    /// Sessions end this long after sign-in however often they are used (the sliding refresh
    /// stops there).
    #[arg(
        long,
        env = "ORGAUTH_SESSION_ABSOLUTE_LIFETIME",
        global = true,
        default_value_t = 2_592_000
    )]
    pub session_absolute_lifetime: i64,
    /// 0 turns freshness checks off.
    #[arg(
        long,
        env = "ORGAUTH_SESSION_FRESH_AGE",
        global = true,
        default_value_t = 86_400
    )]
    pub session_fresh_age: i64,
    #[arg(
        long,
        env = "ORGAUTH_SESSION_TOKENS",
        global = true,
        default_value = "hashed"
    )]
    pub session_tokens: SessionTokens,
    /// Share the database with a running Better Auth server: sessions (plain tokens), password
    /// hashes (scrypt), provider tokens and reset and deletion links are written so that Better
    /// Auth reads them. Implies ORGAUTH_SESSION_TOKENS=plain. See docs/migrating-from-better-auth.md.
    #[arg(long, env = "ORGAUTH_COEXISTENCE", global = true, default_value_t = false, action = clap::ArgAction::Set)]
    pub coexistence: bool,
    #[arg(
        long,
        env = "ORGAUTH_MIN_PASSWORD_LENGTH",
        global = true,
        default_value_t = 8
    )]
    pub min_password_length: usize,
    #[arg(
        long,
        env = "ORGAUTH_MAX_PASSWORD_LENGTH",
        global = true,
        default_value_t = 128
    )]
    pub max_password_length: usize,
    /// Failed password checks an account (a submitted address) gets before its password checks
    /// must wait 30 s, doubled with each further failure; 0 switches this off.
    #[arg(
        long,
        env = "ORGAUTH_ACCOUNT_GUESS_LIMIT",
        global = true,
        default_value_t = 5
    )]
    pub account_guess_limit: u32,
    /// Seconds after its last failure that an account's failures are forgotten.
    #[arg(
        long,
        env = "ORGAUTH_ACCOUNT_GUESS_WINDOW",
        global = true,
        default_value_t = 900
    )]
    pub account_guess_window: i64,
    /// The longest wait, in seconds, of a throttled account's password checks.
    #[arg(
        long,
        env = "ORGAUTH_ACCOUNT_GUESS_MAX_DELAY",
        global = true,
        default_value_t = 300
    )]
    pub account_guess_max_delay: i64,
    #[arg(long, env = "ORGAUTH_REQUIRE_EMAIL_VERIFICATION", global = true, default_value_t = false, action = clap::ArgAction::Set)]
    pub require_email_verification: bool,
    #[arg(long, env = "ORGAUTH_AUTO_SIGN_IN", global = true, default_value_t = true, action = clap::ArgAction::Set)]
    pub auto_sign_in: bool,
    /// Origins trusted besides BETTER_AUTH_URL's, comma-separated; `*` and `?` wildcards
    /// (`https://*.example.com`) and custom schemes (`myapp://`) allowed.
    #[arg(
        long,
        env = "BETTER_AUTH_TRUSTED_ORIGINS",
        global = true,
        value_delimiter = ','
    )]
    pub trusted_origins: Vec<String>,
    /// `off` switches rate limiting off (load tests, black-box suites from one address).
    #[arg(long, env = "ORGAUTH_RATE_LIMIT", global = true, default_value = "on")]
    pub rate_limit: Switch,
    #[arg(
        long,
        env = "ORGAUTH_RATE_LIMIT_WINDOW",
        global = true,
        default_value_t = 10
    )]
    pub rate_limit_window: i64,
    #[arg(
        long,
        env = "ORGAUTH_RATE_LIMIT_MAX",
        global = true,
        default_value_t = 100
    )]
    pub rate_limit_max: u32,
    /// The most (client, route) windows the rate limiter keeps; past it, the window that started
    /// first is dropped.
    #[arg(
        long,
        env = "ORGAUTH_RATE_LIMIT_MAX_ENTRIES",
        global = true,
        default_value_t = crate::rate_limit::DEFAULT_MAX_ENTRIES
    )]
    pub rate_limit_max_entries: usize,
    /// A header a trusted proxy sets to the client address (e.g. `x-forwarded-for`); without it the
    /// socket address is used and client-sent headers cannot dodge the limits.
    #[arg(long, env = "ORGAUTH_CLIENT_IP_HEADER", global = true)]
    pub client_ip_header: Option<String>,
    /// `smtp://host:port` (plain local relay), `smtp://user:pass@host:587?tls=required` or
    /// `smtps://user:pass@host:465`. Unset: mails are written to the log (development only).
    #[arg(long, env = "SMTP_URL", global = true, hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of every mail.
    #[arg(
        long,
        env = "MAIL_FROM",
        global = true,
        default_value = "orgauth <no-reply@localhost>"
    )]
    pub mail_from: String,
    /// Send a verification mail on sign-up (default: when verification is required).
    #[arg(long, env = "ORGAUTH_SEND_VERIFICATION_ON_SIGN_UP", global = true, action = clap::ArgAction::Set)]
    pub send_verification_on_sign_up: Option<bool>,
    #[arg(
        long,
        env = "ORGAUTH_RESET_PASSWORD_TOKEN_EXPIRES_IN",
        global = true,
        default_value_t = 3600
    )]
    pub reset_password_token_expires_in: i64,
    #[arg(
        long,
        env = "ORGAUTH_EMAIL_VERIFICATION_EXPIRES_IN",
        global = true,
        default_value_t = 3600
    )]
    pub email_verification_expires_in: i64,
    /// A completed password reset ends every session of the user.
    #[arg(long, env = "ORGAUTH_REVOKE_SESSIONS_ON_PASSWORD_RESET", global = true, default_value_t = true, action = clap::ArgAction::Set)]
    pub revoke_sessions_on_password_reset: bool,
    /// Allow `change-email`.
    #[arg(long, env = "ORGAUTH_CHANGE_EMAIL", global = true, default_value_t = true, action = clap::ArgAction::Set)]
    pub change_email: bool,
    /// Allow `delete-user`.
    #[arg(long, env = "ORGAUTH_DELETE_USER", global = true, default_value_t = true, action = clap::ArgAction::Set)]
    pub delete_user: bool,
    /// `delete-user` without a password mails a confirmation link instead of deleting at once.
    #[arg(long, env = "ORGAUTH_DELETE_USER_VERIFICATION", global = true, default_value_t = false, action = clap::ArgAction::Set)]
    pub delete_user_verification: bool,
    /// Let any signed-in user create organizations.
    #[arg(long, env = "ORGAUTH_ALLOW_USER_TO_CREATE_ORGANIZATION", global = true, default_value_t = true, action = clap::ArgAction::Set)]
    pub allow_user_to_create_organization: bool,
    /// Memberships a user may have before creating another organization is refused (unset: no limit).
    #[arg(long, env = "ORGAUTH_ORGANIZATION_LIMIT", global = true)]
    pub organization_limit: Option<u64>,
    /// The role the creator of an organization gets.
    #[arg(
        long,
        env = "ORGAUTH_CREATOR_ROLE",
        global = true,
        default_value = "owner"
    )]
    pub creator_role: String,
    /// More roles, as JSON: `{"billing":{"organization":["update"]}}` (a built-in name replaces it).
    #[arg(long, env = "ORGAUTH_ROLES", global = true)]
    pub roles: Option<String>,
    /// Create a team named after each new organization, with its creator in it.
    #[arg(long, env = "ORGAUTH_DEFAULT_TEAM", global = true, default_value_t = true, action = clap::ArgAction::Set)]
    pub default_team: bool,
    #[arg(long, env = "ORGAUTH_DISABLE_ORGANIZATION_DELETION", global = true, default_value_t = false, action = clap::ArgAction::Set)]
    pub disable_organization_deletion: bool,
    /// Members per organization at most; also the largest page of `list-members`.
    #[arg(
        long,
        env = "ORGAUTH_MEMBERSHIP_LIMIT",
        global = true,
        default_value_t = 100
    )]
    pub membership_limit: u64,
    /// Seconds an invitation stays valid.
    #[arg(
        long,
        env = "ORGAUTH_INVITATION_EXPIRES_IN",
        global = true,
        default_value_t = 172_800
    )]
    pub invitation_expires_in: i64,
    /// Pending invitations per organization at most.
    #[arg(
        long,
        env = "ORGAUTH_INVITATION_LIMIT",
        global = true,
        default_value_t = 100
    )]
    pub invitation_limit: u64,
    /// Re-inviting an address cancels its pending invitation instead of failing.
    #[arg(long, env = "ORGAUTH_CANCEL_PENDING_INVITATIONS_ON_RE_INVITE", global = true, default_value_t = false, action = clap::ArgAction::Set)]
    pub cancel_pending_invitations_on_re_invite: bool,
    /// Only verified addresses may accept, reject or view invitations.
    #[arg(long, env = "ORGAUTH_REQUIRE_EMAIL_VERIFICATION_ON_INVITATION", global = true, default_value_t = true, action = clap::ArgAction::Set)]
    pub require_email_verification_on_invitation: bool,
    /// The link in invitation mails; `{id}` becomes the invitation id. Default:
    /// BETTER_AUTH_URL/accept-invitation/{id}.
    #[arg(long, env = "ORGAUTH_INVITATION_URL", global = true)]
    pub invitation_url: Option<String>,
    /// Teams per organization at most (unset: no limit).
    #[arg(long, env = "ORGAUTH_MAXIMUM_TEAMS", global = true)]
    pub maximum_teams: Option<u64>,
    /// Members per team at most (unset: no limit).
    #[arg(long, env = "ORGAUTH_MAXIMUM_MEMBERS_PER_TEAM", global = true)]
    pub maximum_members_per_team: Option<u64>,
    /// Let the last team of an organization be removed.
    #[arg(long, env = "ORGAUTH_ALLOW_REMOVING_ALL_TEAMS", global = true, default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_removing_all_teams: bool,
    #[command(flatten)]
    pub social: SocialArgs,
}

/// Social sign-in providers; each is enabled by its client id and secret (docs/social-sign-in.md).
#[derive(Args, Debug)]
pub struct SocialArgs {
    /// GitHub OAuth app client id; enables `github`.
    #[arg(long, env = "GITHUB_CLIENT_ID", global = true)]
    pub github_client_id: Option<String>,
    #[arg(
        long,
        env = "GITHUB_CLIENT_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub github_client_secret: Option<String>,
    /// GitHub's authorization endpoint (GitHub Enterprise, tests).
    #[arg(
        long,
        env = "ORGAUTH_GITHUB_AUTHORIZE_URL",
        global = true,
        default_value = "https://github.com/login/oauth/authorize"
    )]
    pub github_authorize_url: String,
    /// GitHub's token endpoint.
    #[arg(
        long,
        env = "ORGAUTH_GITHUB_TOKEN_URL",
        global = true,
        default_value = "https://github.com/login/oauth/access_token"
    )]
    pub github_token_url: String,
    /// GitHub's REST API (`/user`, `/user/emails`).
    #[arg(
        long,
        env = "ORGAUTH_GITHUB_API_URL",
        global = true,
        default_value = "https://api.github.com"
    )]
    pub github_api_url: String,
    /// Sign a GitHub user into the existing user with the same address when GitHub marks the
    /// address verified (linking the account); off: such sign-ins are refused.
    #[arg(long, env = "ORGAUTH_GITHUB_TRUST_EMAIL", global = true, default_value_t = true, action = clap::ArgAction::Set)]
    pub github_trust_email: bool,
    /// Google OAuth client id; enables `google`.
    #[arg(long, env = "GOOGLE_CLIENT_ID", global = true)]
    pub google_client_id: Option<String>,
    #[arg(
        long,
        env = "GOOGLE_CLIENT_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub google_client_secret: Option<String>,
    /// Google's OpenID discovery document (tests point it elsewhere).
    #[arg(
        long,
        env = "ORGAUTH_GOOGLE_DISCOVERY_URL",
        global = true,
        default_value = service::social::GOOGLE_DISCOVERY_URL
    )]
    pub google_discovery_url: String,
    /// As ORGAUTH_GITHUB_TRUST_EMAIL, with Google's `email_verified` claim.
    #[arg(long, env = "ORGAUTH_GOOGLE_TRUST_EMAIL", global = true, default_value_t = true, action = clap::ArgAction::Set)]
    pub google_trust_email: bool,
    /// Generic OpenID Connect providers, as a JSON array of
    /// `{"id","discoveryUrl","clientId","clientSecret","scopes"?,"trustEmail"?}`.
    #[arg(
        long,
        env = "ORGAUTH_OIDC_PROVIDERS",
        global = true,
        hide_env_values = true
    )]
    pub oidc_providers: Option<String>,
}

/// One entry of `ORGAUTH_OIDC_PROVIDERS`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OidcProviderEntry {
    id: String,
    discovery_url: String,
    client_id: String,
    client_secret: String,
    scopes: Option<Vec<String>>,
    trust_email: Option<bool>,
}

impl SocialArgs {
    /// The configured providers, or why the configuration is unusable.
    pub fn providers(&self) -> anyhow::Result<Vec<service::social::ProviderConfig>> {
        use service::social::{ProviderConfig, ProviderKind};
        let mut providers = Vec::new();
        match (&self.github_client_id, &self.github_client_secret) {
            (Some(id), Some(secret)) => {
                let mut github = ProviderConfig::github(id, secret);
                github.kind = ProviderKind::Github {
                    authorize_url: self.github_authorize_url.clone(),
                    token_url: self.github_token_url.clone(),
                    api_url: self.github_api_url.trim_end_matches('/').to_owned(),
                };
                github.trust_email = self.github_trust_email;
                providers.push(github);
            }
            (None, None) => {}
            _ => anyhow::bail!("GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET go together"),
        }
        match (&self.google_client_id, &self.google_client_secret) {
            (Some(id), Some(secret)) => {
                let mut google = ProviderConfig::google(id, secret);
                google.kind = ProviderKind::Oidc {
                    discovery_url: self.google_discovery_url.clone(),
                };
                google.trust_email = self.google_trust_email;
                providers.push(google);
            }
            (None, None) => {}
            _ => anyhow::bail!("GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET go together"),
        }
        let entries: Vec<OidcProviderEntry> = match &self.oidc_providers {
            Some(json) if !json.trim().is_empty() => serde_json::from_str(json).context(
                "ORGAUTH_OIDC_PROVIDERS is not a JSON array of {id, discoveryUrl, clientId, clientSecret, scopes?, trustEmail?}",
            )?,
            _ => Vec::new(),
        };
        for e in entries {
            let valid_id = !e.id.is_empty()
                && e.id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
            anyhow::ensure!(
                valid_id && e.id != service::credentials::CREDENTIAL,
                "ORGAUTH_OIDC_PROVIDERS: id {:?} must be lower-case letters, digits, - or _ (and not \"credential\")",
                e.id
            );
            anyhow::ensure!(
                !providers.iter().any(|p| p.id == e.id),
                "ORGAUTH_OIDC_PROVIDERS: provider {:?} is configured twice",
                e.id
            );
            let mut p =
                ProviderConfig::oidc(&e.id, &e.discovery_url, &e.client_id, &e.client_secret);
            if let Some(scopes) = e.scopes {
                p.scopes = scopes;
            }
            if let Some(trust) = e.trust_email {
                p.trust_email = trust;
            }
            providers.push(p);
        }
        Ok(providers)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

impl AuthArgs {
    /// The HTTP-facing settings for `base_url`.
    pub fn web(&self, base_url: String) -> WebSettings {
        let rate_limit = (self.rate_limit == Switch::On).then(|| RateLimitConfig {
            window: chrono::Duration::seconds(self.rate_limit_window.max(1)),
            max: self.rate_limit_max,
            max_entries: self.rate_limit_max_entries.max(1),
        });
        WebSettings {
            base_url,
            trusted_origins: self.trusted_origins.clone(),
            rate_limit,
            client_ip_header: self
                .client_ip_header
                .as_ref()
                .map(|h| h.to_ascii_lowercase()),
        }
    }

    /// The settings, or why they cannot be used.
    pub fn config(&self, base_url: &str) -> anyhow::Result<AuthConfig> {
        use chrono::Duration;
        let secret = match &self.secret {
            Some(s) if s.len() >= 32 => s.clone(),
            Some(_) => anyhow::bail!("BETTER_AUTH_SECRET must be at least 32 characters"),
            None if base_url.starts_with("https://") => {
                anyhow::bail!("BETTER_AUTH_SECRET is required when BETTER_AUTH_URL is https")
            }
            None => {
                tracing::warn!("BETTER_AUTH_SECRET is not set: using a random secret, so sessions end when the server stops");
                service::token::generate(48)
            }
        };
        anyhow::ensure!(
            self.session_expires_in > 0
                && self.session_absolute_lifetime > 0
                && self.session_update_age >= 0
                && self.session_fresh_age >= 0,
            "session durations must be positive"
        );
        anyhow::ensure!(
            self.min_password_length >= 1 && self.min_password_length <= self.max_password_length,
            "ORGAUTH_MIN_PASSWORD_LENGTH must be between 1 and ORGAUTH_MAX_PASSWORD_LENGTH"
        );
        let mut cfg = AuthConfig::with_secret(Secret::new(secret));
        cfg.session_expires_in = Duration::seconds(self.session_expires_in);
        cfg.session_absolute_lifetime = Duration::seconds(self.session_absolute_lifetime);
        cfg.session_update_age = Duration::seconds(self.session_update_age);
        cfg.session_fresh_age = Duration::seconds(self.session_fresh_age);
        cfg.session_tokens = match (self.session_tokens, self.coexistence) {
            (SessionTokens::Hashed, false) => TokenStorage::Hashed,
            (SessionTokens::Plain, _) | (_, true) => TokenStorage::Plain,
        };
        cfg.coexistence = self.coexistence;
        cfg.min_password_length = self.min_password_length;
        cfg.max_password_length = self.max_password_length;
        anyhow::ensure!(
            self.account_guess_window > 0 && self.account_guess_max_delay > 0,
            "ORGAUTH_ACCOUNT_GUESS_WINDOW and ORGAUTH_ACCOUNT_GUESS_MAX_DELAY must be positive"
        );
        cfg.account_guessing = service::guessing::GuessLimits {
            free_failures: self.account_guess_limit,
            window: Duration::seconds(self.account_guess_window),
            max_delay: Duration::seconds(self.account_guess_max_delay),
            ..Default::default()
        };
        cfg.require_email_verification = self.require_email_verification;
        cfg.auto_sign_in = self.auto_sign_in;
        cfg.send_verification_on_sign_up = self
            .send_verification_on_sign_up
            .unwrap_or(self.require_email_verification);
        cfg.api_base_url = format!("{base_url}/api/auth");
        anyhow::ensure!(
            self.reset_password_token_expires_in > 0 && self.email_verification_expires_in > 0,
            "token lifetimes must be positive"
        );
        cfg.reset_password_expires_in = Duration::seconds(self.reset_password_token_expires_in);
        cfg.email_verification_expires_in = Duration::seconds(self.email_verification_expires_in);
        cfg.revoke_sessions_on_password_reset = self.revoke_sessions_on_password_reset;
        cfg.change_email_enabled = self.change_email;
        cfg.delete_user_enabled = self.delete_user;
        cfg.delete_user_verification = self.delete_user_verification;
        let custom: std::collections::BTreeMap<String, service::access::Statements> =
            match &self.roles {
                Some(json) => serde_json::from_str(json)
                    .context("ORGAUTH_ROLES is not a JSON object of role -> resource -> actions")?,
                None => Default::default(),
            };
        let mut roles = service::access::Roles::with_custom(custom);
        anyhow::ensure!(
            roles.exists(&self.creator_role),
            "ORGAUTH_CREATOR_ROLE names an unknown role"
        );
        roles.creator_role = self.creator_role.clone();
        cfg.org = service::config::OrgConfig {
            allow_user_to_create_organization: self.allow_user_to_create_organization,
            organization_limit: self.organization_limit,
            roles,
            default_team: self.default_team,
            disable_organization_deletion: self.disable_organization_deletion,
            membership_limit: self.membership_limit.max(1),
            invitation_expires_in: Duration::seconds(self.invitation_expires_in.max(1)),
            invitation_limit: self.invitation_limit,
            cancel_pending_invitations_on_re_invite: self.cancel_pending_invitations_on_re_invite,
            require_email_verification_on_invitation: self.require_email_verification_on_invitation,
            invitation_url: self
                .invitation_url
                .clone()
                .unwrap_or_else(|| format!("{base_url}/accept-invitation/{{id}}")),
            maximum_teams: self.maximum_teams,
            maximum_members_per_team: self.maximum_members_per_team,
            allow_removing_all_teams: self.allow_removing_all_teams,
        };
        cfg.social = self.social.providers()?;
        Ok(cfg)
    }

    /// SMTP when configured; otherwise the log, with a warning (refused for an https deployment).
    pub fn mailer(&self, base_url: &str) -> anyhow::Result<service::mail::Mailer> {
        match &self.smtp_url {
            Some(url) => Ok(service::mail::Mailer::smtp(url, &self.mail_from)?),
            None if base_url.starts_with("https://") => {
                anyhow::bail!("SMTP_URL is required when BETTER_AUTH_URL is https")
            }
            None if is_local(base_url) => {
                tracing::warn!("SMTP_URL is not set: mails (and the links in them) go to the log");
                Ok(service::mail::Mailer::Log { links: true })
            }
            None => {
                tracing::warn!(
                    "mail is not configured (SMTP_URL is not set): no mail is sent, and the log \
                     shows mails with their links cut short, since {base_url} is not a local address"
                );
                Ok(service::mail::Mailer::Log { links: false })
            }
        }
    }
}

/// Whether `base_url` names this machine (localhost or a loopback address).
fn is_local(base_url: &str) -> bool {
    let rest = base_url.split_once("://").map_or(base_url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Parses the command line, runs the command, and turns any failure into one line on stderr and
/// a non-zero exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Openapi) = cli.command {
        println!("{}", crate::server::openapi_json());
        return ExitCode::SUCCESS;
    }
    init_logging(cli.log.log_format);
    crate::panic::install_hook();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("orgauth: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("orgauth: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        None | Some(Command::Serve) => serve(&cli.database, &cli.serve, &cli.auth).await,
        Some(Command::Migrate { action }) => migrate(&cli.database, action).await,
        Some(Command::Openapi) => unreachable!("handled before the runtime starts"),
        Some(Command::ConvertSessionTokens) => {
            let db = cli.database.connect().await?;
            let converted = service::session::convert_plain_tokens(&db).await?;
            println!("converted {converted} plain session token(s) to digests");
            Ok(())
        }
        Some(Command::AddMember {
            organization,
            email,
            member_roles,
        }) => {
            let db = cli.database.connect().await?;
            let base_url = cli.auth.base_url.clone().unwrap_or_default();
            let mut cfg = cli.auth.config(&base_url)?;
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

async fn serve(database: &DatabaseArgs, args: &ServeArgs, auth: &AuthArgs) -> anyhow::Result<()> {
    let base_url = auth
        .base_url
        .clone()
        .unwrap_or_else(|| format!("http://{}:{}", args.host, args.port))
        .trim_end_matches('/')
        .to_owned();
    // The database first: a wrong DATABASE_URL is the one line printed, not preceded by warnings.
    let db = database.connect().await?;
    let mut cfg = auth.config(&base_url)?;
    let mailer = auth.mailer(&base_url)?;
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
    tokio::spawn(sweep_periodically(db.clone(), hasher.clone()));
    let acceptor = crate::server::bind(&args.host, args.port)
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    if let Some(addr) = crate::server::local_addr(&acceptor) {
        tracing::info!("orgauth listening on http://{addr} (Swagger UI: http://{addr}/docs)");
    }
    crate::server::run(
        acceptor,
        crate::server::app(AppState::new(
            service::Auth::new(
                db.clone(),
                hasher,
                cfg,
                std::sync::Arc::new(service::clock::SystemClock),
                mailer,
            ),
            auth.web(base_url),
        )),
        crate::server::shutdown_signal(),
        Duration::from_secs(args.shutdown_timeout),
    )
    .await
    .context("server failed")?;
    db.close().await.ok();
    tracing::info!("orgauth stopped");
    Ok(())
}

/// Every ten minutes, deletes expired sessions and one-time secrets (they are also deleted when
/// presented), and looks again whether any Better Auth scrypt hash is left (failed sign-ins stop
/// spending scrypt work once the last one is upgraded). Runs until the process stops; a failed
/// sweep is logged and retried next time.
async fn sweep_periodically(db: sea_orm::DatabaseConnection, hasher: service::password::Hasher) {
    let mut every = tokio::time::interval(Duration::from_secs(600));
    loop {
        every.tick().await;
        match service::maintenance::sweep(&db, chrono::Utc::now()).await {
            Ok(swept) => tracing::debug!(?swept, "expired rows swept"),
            Err(e) => tracing::warn!(error = %e, "sweeping expired rows failed"),
        }
        match service::credentials::scrypt_hashes_present(&db).await {
            Ok(present) => hasher.set_scrypt_in_use(present),
            Err(e) => tracing::warn!(error = %e, "looking for scrypt hashes failed"),
        }
    }
}
