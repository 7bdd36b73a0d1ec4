//! From arguments to settings: the service's [`AuthConfig`], whose rules the service's
//! configuration checks; the HTTP layer's [`WebSettings`]; the mailer; the database connection.

use service::config::social::{self, ProviderConfig, ProviderKind};
use service::config::{self, AuthConfig, ConfigError, OrgConfig, Secret, TokenStorage};
use service::db::{self, PoolSize, DEFAULT_DATABASE_URL};

use super::args::{
    AdminArgs, AuthArgs, DatabaseArgs, RateLimitStorage, ServeArgs, SessionTokens, SocialArgs,
    Switch,
};
use crate::client_ip::ClientIp;
use crate::rate_limit::{RateLimitConfig, Storage};
use crate::state::WebSettings;

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
            acquire_timeout: self
                .database_acquire_timeout
                .map(|secs| std::time::Duration::from_secs(secs.max(1))),
        };
        Ok(db::connect(&self.url(), size).await?)
    }
}

impl ServeArgs {
    /// The connections' deadlines and cap, and the stop's grace period.
    pub fn limits(&self) -> crate::server::Limits {
        use std::time::Duration;
        crate::server::Limits {
            header_read_timeout: Duration::from_secs(self.header_read_timeout),
            idle_timeout: Duration::from_secs(self.idle_timeout),
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout),
        }
    }
}

impl AuthArgs {
    /// `BETTER_AUTH_URL` without a trailing slash, or the address served.
    pub fn public_url(&self, serve: &ServeArgs) -> String {
        self.base_url
            .clone()
            .unwrap_or_else(|| format!("http://{}:{}", serve.host, serve.port))
            .trim_end_matches('/')
            .to_owned()
    }

    /// The base path (Better Auth's `basePath`) for the public URL `base_url`: as Better Auth's
    /// router, the path of `BETTER_AUTH_URL` when it has one, else `ORGAUTH_BASE_PATH`, else
    /// `/api/auth`. Both, differing, stop the server.
    pub fn base_path(&self, base_url: &str) -> Result<String, ConfigError> {
        let in_url = url::Url::parse(base_url)
            .ok()
            .map(|u| u.path().trim_end_matches('/').to_owned())
            .filter(|p| !p.is_empty());
        let set = self.base_path.as_deref().map(str::trim);
        match (in_url, set) {
            (Some(path), Some(set)) if path != set => Err(ConfigError::Invalid(format!(
                "ORGAUTH_BASE_PATH: `{set}` differs from BETTER_AUTH_URL's path `{path}`, which \
                 Better Auth serves the routes under; set one of them"
            ))),
            (Some(path), _) => checked_base_path("BETTER_AUTH_URL's path", &path),
            (None, Some(set)) => checked_base_path("ORGAUTH_BASE_PATH", set),
            (None, None) => Ok(crate::base_path::DEFAULT.to_owned()),
        }
    }

    /// Where the rate-limit counters live: as set, else in Redis when `REDIS_URL` is set (as
    /// Better Auth uses its secondary storage when one is configured), else in memory.
    pub fn rate_limit_storage(&self) -> Result<Storage, ConfigError> {
        let url = self
            .redis_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty());
        let kind = self.rate_limit_storage.unwrap_or(match url {
            Some(_) => RateLimitStorage::Redis,
            None => RateLimitStorage::Memory,
        });
        Ok(match kind {
            RateLimitStorage::Memory => Storage::Memory,
            RateLimitStorage::Database => Storage::Database,
            RateLimitStorage::Redis => {
                let url = url.ok_or_else(|| {
                    ConfigError::Invalid(
                        "ORGAUTH_RATE_LIMIT_STORAGE=redis needs REDIS_URL".to_owned(),
                    )
                })?;
                service::rate_limit::RedisCounters::new(url).map_err(ConfigError::Invalid)?;
                Storage::Redis(Secret::new(url))
            }
        })
    }

    /// The session cache's bounds when it is on for a server on `backend`: by default on
    /// PostgreSQL and off on SQLite; asked for on SQLite, an error.
    pub fn session_cache(
        &self,
        backend: sea_orm::DbBackend,
    ) -> Result<Option<service::session_cache::CacheLimits>, ConfigError> {
        let postgres = backend == sea_orm::DbBackend::Postgres;
        match (self.session_cache, postgres) {
            (Some(Switch::Off), _) | (None, false) => Ok(None),
            (Some(Switch::On), false) => Err(ConfigError::Invalid(
                "ORGAUTH_SESSION_CACHE=on needs PostgreSQL: the cache is kept exact by its change \
                 notifications (one SQLite process has nobody to share with)"
                    .to_owned(),
            )),
            (_, true) => Ok(Some(service::session_cache::CacheLimits {
                max_entries: self.session_cache_entries.max(1),
                max_bytes: self.session_cache_mb.max(1) << 20,
            })),
        }
    }

    /// The HTTP-facing settings for `base_url`, or the first rule they break.
    pub fn web(&self, base_url: String) -> Result<WebSettings, ConfigError> {
        let storage = self.rate_limit_storage()?;
        let rate_limit = (self.rate_limit == Switch::On).then(|| RateLimitConfig {
            window: chrono::Duration::seconds(self.rate_limit_window.max(1)),
            max: self.rate_limit_max,
            max_entries: self.rate_limit_max_entries.max(1),
            storage,
        });
        let cookie_domain = self.cookie_domain(&base_url)?;
        let proxies = crate::client_ip::parse_trusted_proxies(&self.trusted_proxies)
            .map_err(ConfigError::Invalid)?;
        Ok(WebSettings {
            trusted_origins: self.trusted_origins.clone(),
            rate_limit,
            client_ip: ClientIp::new(self.client_ip_header.as_deref(), proxies),
            cors: self.cors == Switch::On,
            cookie_prefix: Some(cookie_prefix(&self.cookie_prefix)?),
            cookie_domain,
            base_path: Some(self.base_path(&base_url)?),
            base_url: origin(&base_url),
        })
    }

    /// The cookies' `Domain`: none unless shared across subdomains; then the configured domain,
    /// which must contain the public URL's host (browsers drop the cookie otherwise), or that host.
    fn cookie_domain(&self, base_url: &str) -> Result<Option<String>, ConfigError> {
        if !self.cross_sub_domain_cookies {
            return Ok(None);
        }
        let host = url::Url::parse(base_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            .unwrap_or_default();
        let Some(domain) = &self.cross_sub_domain_cookies_domain else {
            return Ok(Some(host));
        };
        let domain = domain.trim().trim_start_matches('.').to_ascii_lowercase();
        let valid = !domain.is_empty()
            && domain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        let contains_host = host == domain || host.ends_with(&format!(".{domain}"));
        if !valid || !contains_host {
            return Err(ConfigError::Invalid(format!(
                "ORGAUTH_CROSS_SUB_DOMAIN_COOKIES_DOMAIN: `{domain}` must be a domain name that \
                 BETTER_AUTH_URL's host (`{host}`) is in or under"
            )));
        }
        Ok(Some(domain))
    }

    /// The service's settings, or the first rule they break.
    pub fn config(&self, base_url: &str) -> Result<AuthConfig, ConfigError> {
        use chrono::Duration;
        let secret = Secret::from_setting(self.secret.as_deref(), base_url)?;
        let roles = config::roles(self.roles.as_deref(), &self.creator_role)?;
        let social = self.social.providers()?;
        let mut cfg = AuthConfig::with_secret(secret);
        cfg.session_expires_in = Duration::seconds(self.session_expires_in);
        cfg.session_absolute_lifetime = Duration::seconds(self.session_absolute_lifetime);
        cfg.session_update_age = Duration::seconds(self.session_update_age);
        cfg.session_fresh_age = Duration::seconds(self.session_fresh_age);
        // Coexistence implies plain tokens: a Better Auth server must read the sessions.
        cfg.session_tokens = match (self.session_tokens, self.coexistence) {
            (SessionTokens::Hashed, false) => TokenStorage::Hashed,
            (SessionTokens::Plain, _) | (_, true) => TokenStorage::Plain,
        };
        cfg.coexistence = self.coexistence;
        cfg.min_password_length = self.min_password_length;
        cfg.max_password_length = self.max_password_length;
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
        cfg.api_base_url = format!("{}{}", origin(base_url), self.base_path(base_url)?);
        cfg.reset_password_expires_in = Duration::seconds(self.reset_password_token_expires_in);
        cfg.email_verification_expires_in = Duration::seconds(self.email_verification_expires_in);
        cfg.revoke_sessions_on_password_reset = self.revoke_sessions_on_password_reset;
        cfg.change_email_enabled = self.change_email;
        cfg.delete_user_enabled = self.delete_user;
        cfg.delete_user_verification = self.delete_user_verification;
        cfg.org = OrgConfig {
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
                .unwrap_or_else(|| format!("{}/accept-invitation/{{id}}", origin(base_url))),
            maximum_teams: self.maximum_teams,
            maximum_members_per_team: self.maximum_members_per_team,
            allow_removing_all_teams: self.allow_removing_all_teams,
        };
        cfg.magic_link = config::MagicLinkConfig {
            enabled: self.magic_link.unwrap_or(true),
            expires_in: Duration::seconds(self.magic_link_expires_in),
            disable_sign_up: self.magic_link_disable_sign_up,
        };
        cfg.admin = self.admin.config()?;
        cfg.social = social;
        cfg.mail = std::sync::Arc::new(service::mail::templates::Templates::new(
            &self.app_name,
            &origin(base_url),
            self.mail_templates.as_deref(),
        )?);
        cfg.provider_timeout = std::time::Duration::from_secs(self.social.provider_timeout);
        cfg.validate()?;
        Ok(cfg)
    }

    /// SMTP when configured; otherwise the log, with a warning (refused for an https deployment).
    pub fn mailer(&self, base_url: &str) -> Result<service::mail::Mailer, ConfigError> {
        config::mailer(self.smtp_url.as_deref(), &self.mail_from, base_url)
    }

    /// Whether magic-link sign-in is on with `mailer` ([`config::magic_link_enabled`]).
    pub fn magic_link_enabled(&self, mailer: &service::mail::Mailer) -> Result<bool, ConfigError> {
        config::magic_link_enabled(self.magic_link, mailer)
    }
}

impl AdminArgs {
    /// The admin plugin's options; whether they fit together is `AuthConfig::validate`'s to say.
    fn config(&self) -> Result<service::admin::AdminConfig, ConfigError> {
        let list = |s: &str| -> Vec<String> {
            s.split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect()
        };
        Ok(service::admin::AdminConfig {
            roles: config::admin_roles(self.admin_role_statements.as_deref())?,
            admin_roles: list(&self.admin_roles),
            admin_user_ids: self.admin_user_ids.as_deref().map(list).unwrap_or_default(),
            default_role: self.admin_default_role.trim().to_owned(),
            impersonation_session_duration: chrono::Duration::seconds(
                self.admin_impersonation_session_duration,
            ),
            allow_impersonating_admins: self.admin_allow_impersonating_admins,
            default_ban_reason: self.admin_default_ban_reason.clone(),
            default_ban_expires_in: self
                .admin_default_ban_expires_in
                .map(chrono::Duration::seconds),
        })
    }
}

impl SocialArgs {
    /// GitHub and Google when their client ids and secrets are set, then `ORGAUTH_OIDC_PROVIDERS`.
    fn providers(&self) -> Result<Vec<ProviderConfig>, ConfigError> {
        let mut providers = Vec::new();
        let github = (
            self.github_client_id.as_deref(),
            self.github_client_secret.as_deref(),
        );
        if let Some((id, secret)) = social::client("GITHUB", github.0, github.1)? {
            let mut github = ProviderConfig::github(id, secret);
            github.kind = ProviderKind::Github {
                authorize_url: self.github_authorize_url.clone(),
                token_url: self.github_token_url.clone(),
                api_url: self.github_api_url.trim_end_matches('/').to_owned(),
            };
            github.trust_email = self.github_trust_email;
            providers.push(github);
        }
        let google = (
            self.google_client_id.as_deref(),
            self.google_client_secret.as_deref(),
        );
        if let Some((id, secret)) = social::client("GOOGLE", google.0, google.1)? {
            let mut google = ProviderConfig::google(id, secret);
            // Google's published authorization endpoint holds only for Google's own document.
            if self.google_discovery_url != social::GOOGLE_DISCOVERY_URL {
                google.kind = ProviderKind::Oidc {
                    discovery_url: self.google_discovery_url.clone(),
                    authorize_url: None,
                };
            }
            google.trust_email = self.google_trust_email;
            providers.push(google);
        }
        providers.extend(social::oidc_providers(self.oidc_providers.as_deref())?);
        Ok(providers)
    }
}

/// `ORGAUTH_COOKIE_PREFIX`: characters a cookie name may hold, as Better Auth's prefixes use them.
fn cookie_prefix(prefix: &str) -> Result<String, ConfigError> {
    let prefix = prefix.trim();
    let valid = !prefix.is_empty()
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    match valid {
        true => Ok(prefix.to_owned()),
        false => Err(ConfigError::Invalid(format!(
            "ORGAUTH_COOKIE_PREFIX: `{prefix}` must be letters, digits, `-`, `_` or `.`"
        ))),
    }
}

/// A base path (`what` names where it was set) as Better Auth's router matches it: absolute,
/// plain segments, no trailing slash; not the root, where the auth routes would share the
/// namespace of `/docs`, `/openapi.json` and the health checks.
fn checked_base_path(what: &str, path: &str) -> Result<String, ConfigError> {
    let valid = path.len() > 1
        && path.starts_with('/')
        && !path.ends_with('/')
        && !path.contains("//")
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_.~".contains(&b))
        && !path.split('/').any(|s| s == "." || s == "..");
    match valid {
        true => Ok(path.to_owned()),
        false => Err(ConfigError::Invalid(format!(
            "{what}: `{path}` must be a path such as /api/auth: `/` then segments of letters, \
             digits, `-`, `_`, `.` and `~`, without a trailing `/`, `//`, `.` or `..` segments or \
             a query"
        ))),
    }
}

/// The origin of the public URL (Better Auth keeps `baseURL`'s origin as its `baseURL` option;
/// the path is the base path).
fn origin(base_url: &str) -> String {
    match url::Url::parse(base_url) {
        Ok(url) if url.origin().is_tuple() => url.origin().ascii_serialization(),
        _ => base_url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(base_path: Option<&str>) -> AuthArgs {
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            auth: AuthArgs,
        }
        let mut auth = Only::parse_from(["orgauth"]).auth;
        auth.base_path = base_path.map(str::to_owned);
        auth
    }

    #[test]
    fn base_paths() {
        for ok in ["/api/auth", "/auth", "/v1/auth-api", "/a.b/c_d~e"] {
            assert_eq!(args(Some(ok)).base_path("https://a.example").unwrap(), ok);
        }
        for bad in [
            "",
            "/",
            "auth",
            "/auth/",
            "/a//b",
            "/auth?x=1",
            "/a/../b",
            "/a b",
            "/a%2fb",
        ] {
            let err = args(Some(bad)).base_path("https://a.example").unwrap_err();
            assert!(
                err.to_string().starts_with("ORGAUTH_BASE_PATH: "),
                "{bad}: {err}"
            );
        }
        assert_eq!(
            args(None).base_path("https://a.example").unwrap(),
            "/api/auth"
        );
    }

    #[test]
    fn the_session_cache_is_on_with_postgresql_unless_switched_off() {
        use sea_orm::DatabaseBackend::{Postgres, Sqlite};
        let mut a = args(None);
        let limits = a.session_cache(Postgres).unwrap().expect("on by default");
        assert_eq!((limits.max_entries, limits.max_bytes), (100_000, 16 << 20));
        assert!(a.session_cache(Sqlite).unwrap().is_none(), "off by default");
        a.session_cache = Some(Switch::Off);
        assert!(a.session_cache(Postgres).unwrap().is_none());
        a.session_cache = Some(Switch::On);
        let err = a.session_cache(Sqlite).unwrap_err().to_string();
        assert!(
            err.contains("ORGAUTH_SESSION_CACHE=on needs PostgreSQL"),
            "{err}"
        );
    }

    #[test]
    fn a_path_in_the_public_url_is_the_base_path_as_in_better_auth() {
        let url = "https://a.example/identity";
        assert_eq!(args(None).base_path(url).unwrap(), "/identity");
        assert_eq!(args(Some("/identity")).base_path(url).unwrap(), "/identity");
        let err = args(Some("/auth")).base_path(url).unwrap_err().to_string();
        assert!(
            err.starts_with("ORGAUTH_BASE_PATH: `/auth` differs"),
            "{err}"
        );
        let err = args(None)
            .base_path("https://a.example/a//b")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("BETTER_AUTH_URL's path: "), "{err}");
        assert_eq!(origin(url), "https://a.example");
        assert_eq!(origin("http://127.0.0.1:3000"), "http://127.0.0.1:3000");
        let cfg = args(None).config("http://a.example/identity").unwrap();
        assert_eq!(cfg.api_base_url, "http://a.example/identity");
        assert_eq!(
            cfg.org.invitation_url,
            "http://a.example/accept-invitation/{id}"
        );
        let cfg = args(Some("/auth")).config("http://a.example").unwrap();
        assert_eq!(cfg.api_base_url, "http://a.example/auth");
    }
}
