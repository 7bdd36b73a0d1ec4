//! The rules' settings, with Better Auth's defaults. Durations are whole seconds on the wire and
//! in the environment; here they are `chrono::Duration`.
//!
//! - `rules`: what settings must satisfy ([`AuthConfig::validate`]), and the choices made from
//!   them: the secret, the roles, the mailer.
//! - [`social`]: the social sign-in providers' settings.

mod rules;
pub mod social;

use chrono::Duration;

use crate::access::Roles;

pub use rules::{admin_roles, magic_link_enabled, mailer, roles, ConfigError};

/// The server secret (`BETTER_AUTH_SECRET`): signs cookies and derives revocation handles.
/// Its `Debug` never shows the value.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// How session tokens are kept in `session.token`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenStorage {
    /// SHA-256 digests (default): a copy of the database cannot be used to ride sessions.
    Hashed,
    /// The token itself, as Better Auth stores it, for sharing one database with a running
    /// Better Auth server during a migration.
    Plain,
}

#[derive(Clone, Debug)]
pub struct AuthConfig {
    pub secret: Secret,
    /// Session lifetime, renewed by the sliding refresh (`session.expiresIn`, 7 days).
    pub session_expires_in: Duration,
    /// How old a session's last refresh must be before a request renews it (`session.updateAge`, 1 day).
    pub session_update_age: Duration,
    /// Sessions younger than this are fresh enough for sensitive actions (`session.freshAge`, 1 day; 0 = off).
    pub session_fresh_age: Duration,
    /// Age beyond which the sliding refresh no longer extends a session (30 days): a stolen
    /// session cannot be kept alive forever by using it.
    pub session_absolute_lifetime: Duration,
    /// Lifetime of a session created with `rememberMe: false` (1 day, never extended).
    pub session_dont_remember_expires_in: Duration,
    pub session_tokens: TokenStorage,
    /// Sessions stored as plain tokens may exist (Better Auth wrote them, or orgauth did in plain
    /// mode): a presented token is looked up in both forms. Found at start.
    pub plain_session_tokens_present: bool,
    /// Some stored passwords are Better Auth's scrypt hashes (found at start; the sweep looks
    /// again): failed sign-ins spend scrypt work as well as Argon2id.
    pub scrypt_hashes_present: bool,
    /// Sharing the database with a running Better Auth server (`ORGAUTH_COEXISTENCE`): sessions,
    /// password hashes, provider tokens and reset and deletion secrets are written in Better
    /// Auth's formats so it can read them. See docs/migrating-from-better-auth.md.
    pub coexistence: bool,
    /// Better Auth's optional columns this database has (found at start).
    pub columns: crate::better_auth_columns::BetterAuthColumns,
    pub min_password_length: usize,
    pub max_password_length: usize,
    /// Per-account protection against password guessing (`ORGAUTH_ACCOUNT_GUESS_*`).
    pub account_guessing: crate::guessing::GuessLimits,
    /// Sign-in refuses unverified addresses (`emailAndPassword.requireEmailVerification`).
    pub require_email_verification: bool,
    /// Sign-up signs the user in (`emailAndPassword.autoSignIn`).
    pub auto_sign_in: bool,
    /// Sign-up sends a verification mail (`emailVerification.sendOnSignUp`; default: when
    /// verification is required).
    pub send_verification_on_sign_up: bool,
    /// `BETTER_AUTH_URL` + `/api/auth`: the base of every link in a mail, never taken from `Host`.
    pub api_base_url: String,
    pub reset_password_expires_in: Duration,
    pub email_verification_expires_in: Duration,
    /// A completed password reset ends every session of the user (Better Auth's default: no).
    pub revoke_sessions_on_password_reset: bool,
    pub change_email_enabled: bool,
    pub delete_user_enabled: bool,
    /// `delete-user` without password or token mails a confirmation link instead of deleting.
    pub delete_user_verification: bool,
    pub delete_token_expires_in: Duration,
    pub org: OrgConfig,
    /// Magic-link sign-in (Better Auth's `magicLink()` plugin).
    pub magic_link: MagicLinkConfig,
    /// The admin plugin's options.
    pub admin: crate::admin::AdminConfig,
    /// Social sign-in providers (none unless configured).
    pub social: Vec<social::ProviderConfig>,
    /// What mails say (`ORGAUTH_APP_NAME`, `ORGAUTH_MAIL_TEMPLATES`).
    pub mail: std::sync::Arc<crate::mail::templates::Templates>,
    /// The session cache's bounds, when it is on (`ORGAUTH_SESSION_CACHE`; PostgreSQL only).
    pub session_cache: Option<crate::session_cache::CacheLimits>,
    /// The longest a request to a provider may take, connection included: a provider that is
    /// down or stalls fails the sign-in after this, instead of holding it.
    pub provider_timeout: std::time::Duration,
    /// How long an OpenID discovery document is used before it is refreshed (in the background).
    pub discovery_ttl: std::time::Duration,
}

/// The magic-link plugin's options, with its defaults (`ORGAUTH_MAGIC_LINK*` in the environment).
#[derive(Clone, Debug)]
pub struct MagicLinkConfig {
    /// The routes exist (off: they answer 404, as without the plugin).
    pub enabled: bool,
    /// How long a link works (`expiresIn`, 300 s).
    pub expires_in: Duration,
    /// A link for an address without an account signs nobody up (`disableSignUp`); no link is
    /// mailed to such an address.
    pub disable_sign_up: bool,
}

impl Default for MagicLinkConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            expires_in: Duration::seconds(300),
            disable_sign_up: false,
        }
    }
}

/// The organization plugin's options, with its defaults (`ORGAUTH_<NAME>` in the environment).
#[derive(Clone, Debug)]
pub struct OrgConfig {
    pub allow_user_to_create_organization: bool,
    /// Memberships a user may have before creating another organization is refused.
    pub organization_limit: Option<u64>,
    pub roles: Roles,
    /// Create a team named after the organization, with its creator in it, on create.
    pub default_team: bool,
    pub disable_organization_deletion: bool,
    /// Members per organization at most; also the largest page of `list-members` (100).
    pub membership_limit: u64,
    pub invitation_expires_in: Duration,
    /// Pending, unexpired invitations per organization at most.
    pub invitation_limit: u64,
    /// A new invitation to an address with a pending one cancels the old one instead of failing.
    pub cancel_pending_invitations_on_re_invite: bool,
    /// Only a verified address may accept, reject or view an invitation (on by default here).
    pub require_email_verification_on_invitation: bool,
    /// The link in invitation mails; `{id}` is replaced by the invitation id.
    pub invitation_url: String,
    /// Teams per organization at most (`None`: no limit).
    pub maximum_teams: Option<u64>,
    /// Members per team at most (`None`: no limit).
    pub maximum_members_per_team: Option<u64>,
    /// Let the last team of an organization be removed.
    pub allow_removing_all_teams: bool,
}

impl Default for OrgConfig {
    fn default() -> Self {
        Self {
            allow_user_to_create_organization: true,
            organization_limit: None,
            roles: Roles::default(),
            default_team: true,
            disable_organization_deletion: false,
            membership_limit: 100,
            invitation_expires_in: Duration::seconds(172_800),
            invitation_limit: 100,
            cancel_pending_invitations_on_re_invite: false,
            require_email_verification_on_invitation: true,
            invitation_url: "http://localhost:3000/accept-invitation/{id}".into(),
            maximum_teams: None,
            maximum_members_per_team: None,
            allow_removing_all_teams: false,
        }
    }
}

/// The built-in templates for the default name, compiled once.
static DEFAULT_TEMPLATES: std::sync::LazyLock<std::sync::Arc<crate::mail::templates::Templates>> =
    std::sync::LazyLock::new(Default::default);

impl AuthConfig {
    /// Reads what the settings depend on in the database itself, once at start: Better Auth's
    /// optional columns, whether plain session tokens are stored, and whether scrypt hashes are.
    pub async fn read_database(&mut self, db: &impl sea_orm::ConnectionTrait) -> crate::Result<()> {
        self.columns = crate::better_auth_columns::discover(db).await?;
        self.plain_session_tokens_present = crate::session::plain_tokens_present(db).await?;
        self.scrypt_hashes_present = crate::credentials::scrypt_hashes_present(db).await?;
        Ok(())
    }

    /// Better Auth's defaults around `secret`.
    pub fn with_secret(secret: Secret) -> Self {
        Self {
            secret,
            session_expires_in: Duration::seconds(604_800),
            session_update_age: Duration::seconds(86_400),
            session_fresh_age: Duration::seconds(86_400),
            session_absolute_lifetime: Duration::seconds(2_592_000),
            session_dont_remember_expires_in: Duration::seconds(86_400),
            session_tokens: TokenStorage::Hashed,
            plain_session_tokens_present: false,
            scrypt_hashes_present: false,
            coexistence: false,
            columns: Default::default(),
            min_password_length: 8,
            max_password_length: 128,
            account_guessing: Default::default(),
            require_email_verification: false,
            auto_sign_in: true,
            send_verification_on_sign_up: false,
            api_base_url: "http://localhost:3000/api/auth".into(),
            reset_password_expires_in: Duration::seconds(3600),
            email_verification_expires_in: Duration::seconds(3600),
            revoke_sessions_on_password_reset: true,
            change_email_enabled: true,
            delete_user_enabled: true,
            delete_user_verification: false,
            delete_token_expires_in: Duration::seconds(86_400),
            org: OrgConfig::default(),
            magic_link: MagicLinkConfig::default(),
            admin: Default::default(),
            social: Vec::new(),
            mail: DEFAULT_TEMPLATES.clone(),
            session_cache: None,
            provider_timeout: std::time::Duration::from_secs(10),
            discovery_ttl: crate::social::discovery::TTL,
        }
    }
}
