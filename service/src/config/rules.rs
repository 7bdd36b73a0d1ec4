//! What settings must satisfy before a server starts, and the choices made from them. A broken
//! rule is one line naming the setting as the environment spells it (`BETTER_AUTH_SECRET`,
//! `ORGAUTH_<NAME>`), which the binary prints as it stands.

use std::collections::BTreeMap;

use chrono::Duration;

use super::{AuthConfig, Secret};
use crate::access::{Roles, Statements};
use crate::admin::access::AdminRoles;
use crate::mail::{MailError, Mailer};

/// Why settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A setting breaks a rule; the message names the setting.
    #[error("{0}")]
    Invalid(String),
    /// A JSON setting does not parse; the message names the setting and the shape it needs, the
    /// source says where the parser stopped.
    #[error("{message}")]
    Json {
        message: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// `SMTP_URL` or `MAIL_FROM` cannot be used.
    #[error(transparent)]
    Mail(#[from] MailError),
}

fn ensure(rule: bool, message: &str) -> Result<(), ConfigError> {
    match rule {
        true => Ok(()),
        false => Err(ConfigError::Invalid(message.to_owned())),
    }
}

impl Secret {
    /// The secret from `BETTER_AUTH_SECRET`: at least 32 characters. Without one a random secret
    /// is made, with a warning, since sessions then end when the server stops; a deployment whose
    /// public URL (`base_url`) is https must set one.
    pub fn from_setting(value: Option<&str>, base_url: &str) -> Result<Self, ConfigError> {
        match value {
            Some(s) if s.len() >= 32 => Ok(Self::new(s)),
            Some(_) => Err(ConfigError::Invalid(
                "BETTER_AUTH_SECRET must be at least 32 characters".into(),
            )),
            None if base_url.starts_with("https://") => Err(ConfigError::Invalid(
                "BETTER_AUTH_SECRET is required when BETTER_AUTH_URL is https".into(),
            )),
            None => {
                tracing::warn!("BETTER_AUTH_SECRET is not set: using a random secret, so sessions end when the server stops");
                Ok(Self::new(crate::token::generate(48)))
            }
        }
    }
}

impl AuthConfig {
    /// Checks the rules between settings, in this order, and answers the first one broken:
    /// session durations, password lengths, the guessing throttle, one-time token lifetimes, the
    /// creator's role, the providers' ids.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let zero = Duration::zero();
        ensure(
            self.session_expires_in > zero
                && self.session_absolute_lifetime > zero
                && self.session_update_age >= zero
                && self.session_fresh_age >= zero,
            "session durations must be positive",
        )?;
        ensure(
            self.min_password_length >= 1 && self.min_password_length <= self.max_password_length,
            "ORGAUTH_MIN_PASSWORD_LENGTH must be between 1 and ORGAUTH_MAX_PASSWORD_LENGTH",
        )?;
        ensure(
            self.account_guessing.window > zero && self.account_guessing.max_delay > zero,
            "ORGAUTH_ACCOUNT_GUESS_WINDOW and ORGAUTH_ACCOUNT_GUESS_MAX_DELAY must be positive",
        )?;
        ensure(
            self.reset_password_expires_in > zero
                && self.email_verification_expires_in > zero
                && self.magic_link.expires_in > zero,
            "token lifetimes must be positive",
        )?;
        let roles = &self.org.roles;
        ensure(
            roles.exists(&roles.creator_role),
            "ORGAUTH_CREATOR_ROLE names an unknown role",
        )?;
        self.admin.validate().map_err(ConfigError::Invalid)?;
        super::social::validate(&self.social)
    }
}

/// The built-in roles plus those of `ORGAUTH_ROLES` (JSON `{"role":{"resource":["action"]}}`; a
/// built-in name replaces that role), with `creator_role` for creators of organizations. Whether
/// that role exists is [`AuthConfig::validate`]'s to say.
pub fn roles(custom: Option<&str>, creator_role: &str) -> Result<Roles, ConfigError> {
    let custom: BTreeMap<String, Statements> = match custom {
        Some(json) => serde_json::from_str(json).map_err(|source| ConfigError::Json {
            message: "ORGAUTH_ROLES is not a JSON object of role -> resource -> actions",
            source,
        })?,
        None => BTreeMap::new(),
    };
    let mut roles = Roles::with_custom(custom);
    roles.creator_role = creator_role.to_owned();
    Ok(roles)
}

/// The admin plugin's roles from `ORGAUTH_ADMIN_ROLE_STATEMENTS` (JSON
/// `{"role":{"resource":["action"]}}`, highest rank first; it replaces Better Auth's default
/// `admin` and `user`, as its `roles` option does), or the defaults.
pub fn admin_roles(json: Option<&str>) -> Result<AdminRoles, ConfigError> {
    let Some(json) = json else {
        return Ok(AdminRoles::default());
    };
    let ranked: Ranked = serde_json::from_str(json).map_err(|source| ConfigError::Json {
        message:
            "ORGAUTH_ADMIN_ROLE_STATEMENTS is not a JSON object of role -> resource -> actions",
        source,
    })?;
    AdminRoles::new(ranked.0)
        .map_err(|e| ConfigError::Invalid(format!("ORGAUTH_ADMIN_ROLE_STATEMENTS: {e}")))
}

/// A JSON object's entries in the order written (the order is the roles' rank).
struct Ranked(Vec<(String, Statements)>);

impl<'de> serde::Deserialize<'de> for Ranked {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Ranked;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of role -> resource -> actions")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Ranked, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<String, Statements>()? {
                    out.push(entry);
                }
                Ok(Ranked(out))
            }
        }
        d.deserialize_map(Visitor)
    }
}

/// SMTP when `smtp_url` is set. Otherwise mails go to the log, with a warning: with their links
/// on a local server (a developer follows them), with the links cut short elsewhere (the log is
/// not a mailbox); an https deployment refuses to start without SMTP.
/// Whether magic-link sign-in is on: as set, or, unset, when mail reaches people (SMTP, or the
/// log of a local server, which shows the links). On without either is refused: the route would
/// answer success while the link went nowhere.
pub fn magic_link_enabled(setting: Option<bool>, mailer: &Mailer) -> Result<bool, ConfigError> {
    let delivers = mailer.delivers_links();
    match setting {
        None => Ok(delivers),
        Some(true) if !delivers => Err(ConfigError::Invalid(
            "ORGAUTH_MAGIC_LINK=true needs SMTP_URL (no mail would carry the links)".into(),
        )),
        Some(on) => Ok(on),
    }
}

pub fn mailer(smtp_url: Option<&str>, from: &str, base_url: &str) -> Result<Mailer, ConfigError> {
    match smtp_url {
        Some(url) => Ok(Mailer::smtp(url, from)?),
        None if base_url.starts_with("https://") => Err(ConfigError::Invalid(
            "SMTP_URL is required when BETTER_AUTH_URL is https".into(),
        )),
        None if is_local(base_url) => {
            tracing::warn!("SMTP_URL is not set: mails (and the links in them) go to the log");
            Ok(Mailer::Log { links: true })
        }
        None => {
            tracing::warn!(
                "mail is not configured (SMTP_URL is not set): no mail is sent, and the log \
                 shows mails with their links cut short, since {base_url} is not a local address"
            );
            Ok(Mailer::Log { links: false })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Permission;
    use crate::config::social::ProviderConfig;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn config() -> AuthConfig {
        AuthConfig::with_secret(Secret::new(SECRET))
    }

    fn broken(cfg: &AuthConfig) -> String {
        cfg.validate().unwrap_err().to_string()
    }

    #[test]
    fn a_secret_has_32_characters_or_is_made_up_for_http() {
        let given = Secret::from_setting(Some(SECRET), "https://auth.example.com").unwrap();
        assert_eq!(given.expose(), SECRET);
        assert_eq!(
            Secret::from_setting(Some(&SECRET[1..]), "http://localhost:3000")
                .unwrap_err()
                .to_string(),
            "BETTER_AUTH_SECRET must be at least 32 characters"
        );
        assert_eq!(
            Secret::from_setting(None, "https://auth.example.com")
                .unwrap_err()
                .to_string(),
            "BETTER_AUTH_SECRET is required when BETTER_AUTH_URL is https"
        );
        let made_up = Secret::from_setting(None, "http://localhost:3000").unwrap();
        let again = Secret::from_setting(None, "http://localhost:3000").unwrap();
        assert_eq!(made_up.expose().len(), 48);
        assert_ne!(made_up.expose(), again.expose(), "random per start");
    }

    #[test]
    fn the_defaults_are_valid() {
        assert!(config().validate().is_ok());
    }

    #[test]
    fn session_durations_are_positive() {
        let no_age = |f: fn(&mut AuthConfig)| {
            let mut cfg = config();
            f(&mut cfg);
            cfg
        };
        // An update age or fresh age of 0 is allowed: refresh on every request, freshness off.
        assert!(no_age(|c| c.session_update_age = Duration::zero())
            .validate()
            .is_ok());
        assert!(no_age(|c| c.session_fresh_age = Duration::zero())
            .validate()
            .is_ok());
        for cfg in [
            no_age(|c| c.session_expires_in = Duration::zero()),
            no_age(|c| c.session_absolute_lifetime = Duration::zero()),
            no_age(|c| c.session_update_age = Duration::seconds(-1)),
            no_age(|c| c.session_fresh_age = Duration::seconds(-1)),
        ] {
            assert_eq!(broken(&cfg), "session durations must be positive");
        }
    }

    #[test]
    fn password_lengths_make_a_range() {
        for (min, max, ok) in [(1, 1, true), (8, 128, true), (0, 128, false), (9, 8, false)] {
            let mut cfg = config();
            cfg.min_password_length = min;
            cfg.max_password_length = max;
            match ok {
                true => assert!(cfg.validate().is_ok(), "{min}..{max}"),
                false => assert_eq!(
                    broken(&cfg),
                    "ORGAUTH_MIN_PASSWORD_LENGTH must be between 1 and ORGAUTH_MAX_PASSWORD_LENGTH"
                ),
            }
        }
    }

    #[test]
    fn the_guessing_throttle_has_a_window_and_a_longest_wait() {
        let mut cfg = config();
        cfg.account_guessing.free_failures = 0; // off is fine
        assert!(cfg.validate().is_ok());
        cfg.account_guessing.window = Duration::zero();
        let message =
            "ORGAUTH_ACCOUNT_GUESS_WINDOW and ORGAUTH_ACCOUNT_GUESS_MAX_DELAY must be positive";
        assert_eq!(broken(&cfg), message);
        let mut cfg = config();
        cfg.account_guessing.max_delay = Duration::zero();
        assert_eq!(broken(&cfg), message);
    }

    #[test]
    fn one_time_tokens_live_a_while() {
        let mut cfg = config();
        cfg.reset_password_expires_in = Duration::zero();
        assert_eq!(broken(&cfg), "token lifetimes must be positive");
        let mut cfg = config();
        cfg.email_verification_expires_in = Duration::seconds(-5);
        assert_eq!(broken(&cfg), "token lifetimes must be positive");
    }

    #[test]
    fn custom_roles_come_from_json_and_may_be_the_creators() {
        let r = roles(
            Some(r#"{"billing":{"organization":["update"]},"member":{"ac":["read","create"]}}"#),
            "billing",
        )
        .unwrap();
        assert!(r.can("billing", Permission::UPDATE_ORGANIZATION));
        assert!(
            r.can("member", Permission::new("ac", "create")),
            "a built-in name is replaced"
        );
        assert!(
            r.can("owner", Permission::DELETE_ORGANIZATION),
            "the others stay"
        );
        assert_eq!(r.creator_role, "billing");
        let mut cfg = config();
        cfg.org.roles = r;
        assert!(cfg.validate().is_ok());
    }

    #[test]
    fn malformed_roles_name_the_setting() {
        for json in [
            "{not json",
            r#"["owner"]"#,
            r#"{"x":{"organization":"update"}}"#,
        ] {
            let e = roles(Some(json), "owner").unwrap_err();
            assert_eq!(
                e.to_string(),
                "ORGAUTH_ROLES is not a JSON object of role -> resource -> actions"
            );
            assert!(
                std::error::Error::source(&e).is_some(),
                "the parser's reason"
            );
        }
    }

    #[test]
    fn the_creator_role_exists() {
        let mut cfg = config();
        cfg.org.roles = roles(None, "boss").unwrap();
        assert_eq!(broken(&cfg), "ORGAUTH_CREATOR_ROLE names an unknown role");
    }

    #[test]
    fn provider_ids_are_checked_with_the_rest() {
        let mut cfg = config();
        cfg.social = vec![ProviderConfig::oidc("credential", "d", "c", "s")];
        assert!(broken(&cfg).starts_with("ORGAUTH_OIDC_PROVIDERS: id \"credential\""));
    }

    #[test]
    fn the_first_broken_rule_is_the_answer() {
        let mut cfg = config();
        cfg.min_password_length = 0;
        cfg.reset_password_expires_in = Duration::zero();
        assert_eq!(
            broken(&cfg),
            "ORGAUTH_MIN_PASSWORD_LENGTH must be between 1 and ORGAUTH_MAX_PASSWORD_LENGTH"
        );
    }

    #[test]
    fn magic_links_are_on_only_where_mail_reaches_people() {
        let smtp = mailer(
            Some("smtp://127.0.0.1:2525"),
            "a <a@b.test>",
            "https://a.test",
        )
        .unwrap();
        let local = Mailer::Log { links: true };
        let cut = Mailer::Log { links: false };
        assert!(magic_link_enabled(None, &smtp).unwrap());
        assert!(magic_link_enabled(None, &local).unwrap());
        assert!(!magic_link_enabled(None, &cut).unwrap());
        assert!(!magic_link_enabled(Some(false), &smtp).unwrap());
        assert!(magic_link_enabled(Some(true), &local).unwrap());
        let e = magic_link_enabled(Some(true), &cut).unwrap_err();
        assert!(
            e.to_string()
                .contains("ORGAUTH_MAGIC_LINK=true needs SMTP_URL"),
            "{e}"
        );
    }

    #[test]
    fn mail_needs_smtp_on_https_and_shows_links_only_locally() {
        match mailer(None, "orgauth <a@b.test>", "https://auth.example.com") {
            Err(e) => assert_eq!(
                e.to_string(),
                "SMTP_URL is required when BETTER_AUTH_URL is https"
            ),
            Ok(_) => panic!("an https deployment needs SMTP"),
        }
        for (base_url, links) in [
            ("http://localhost:3000", true),
            ("http://127.0.0.1:3000", true),
            ("http://[::1]:3000/", true),
            ("http://auth.internal:3000", false),
            ("http://10.0.0.5", false),
        ] {
            match mailer(None, "orgauth <a@b.test>", base_url).unwrap() {
                Mailer::Log { links: shown } => assert_eq!(shown, links, "{base_url}"),
                Mailer::Smtp(_) => panic!("no SMTP_URL, no SMTP"),
            }
        }
        assert!(matches!(
            mailer(
                Some("smtp://127.0.0.1:2525"),
                "orgauth <a@b.test>",
                "https://a.test"
            ),
            Ok(Mailer::Smtp(_))
        ));
        assert!(matches!(
            mailer(
                Some("smtp://127.0.0.1:2525"),
                "not an address",
                "https://a.test"
            ),
            Err(ConfigError::Mail(MailError::InvalidFrom(_)))
        ));
    }

    #[test]
    fn local_means_this_machine() {
        for (url, local) in [
            ("http://localhost", true),
            ("http://localhost:8080/app", true),
            ("http://127.0.0.2:3000", true),
            ("http://[::1]", true),
            ("localhost:3000", true),
            ("http://localhost.example.com", false),
            ("https://example.com", false),
            ("http://[2001:db8::1]:3000", false),
        ] {
            assert_eq!(is_local(url), local, "{url}");
        }
    }
}
