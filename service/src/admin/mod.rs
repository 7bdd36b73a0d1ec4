//! Better Auth's admin plugin (docs/admin.md): platform roles in `user.role`, user management,
//! bans and impersonation, with orgauth's safer rules (docs/compatibility.md, "Admin plugin"):
//! roles are ranked and nobody grants a role above their own or acts on someone who outranks
//! them; the last admin stays; a ban ends every session at once; impersonation is logged with
//! both ids, cannot be nested, and ends when its session row says.
//!
//! - [`access`]: roles, ranks and permissions.
//! - [`users`]: the routes' rules.

pub mod access;
pub mod users;

use chrono::Duration;

use access::AdminRoles;

/// The admin plugin's options (`ORGAUTH_ADMIN_<NAME>`), with Better Auth's defaults.
#[derive(Clone, Debug)]
pub struct AdminConfig {
    /// The roles, highest rank first (`roles`; default `admin`, `user`).
    pub roles: AdminRoles,
    /// Roles whose holders are admins (`adminRoles`, default `admin`): impersonating them needs
    /// `user:impersonate-admins`, and the last of them cannot be demoted, banned or removed.
    pub admin_roles: Vec<String>,
    /// Users who may do everything, whatever their role (`adminUserIds`).
    pub admin_user_ids: Vec<String>,
    /// The role of new users, and of users whose role is empty (`defaultRole`, `user`).
    pub default_role: String,
    /// Lifetime of an impersonation session, never extended (`impersonationSessionDuration`, 1 h).
    pub impersonation_session_duration: Duration,
    /// Anyone with `user:impersonate` may impersonate admins (`allowImpersonatingAdmins`).
    pub allow_impersonating_admins: bool,
    /// `ban_reason` when `ban-user` gives none (`defaultBanReason`, "No reason").
    pub default_ban_reason: String,
    /// Ban length when `ban-user` gives none (`defaultBanExpiresIn`; `None`: until unbanned).
    pub default_ban_expires_in: Option<Duration>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            roles: AdminRoles::default(),
            admin_roles: vec!["admin".into()],
            admin_user_ids: Vec::new(),
            default_role: "user".into(),
            impersonation_session_duration: Duration::seconds(3600),
            allow_impersonating_admins: false,
            default_ban_reason: "No reason".into(),
            default_ban_expires_in: None,
        }
    }
}

impl AdminConfig {
    /// Every admin role and the default role are configured roles; the default role is not an
    /// admin role (every new user would be an admin); durations are positive.
    pub fn validate(&self) -> Result<(), String> {
        if self.admin_roles.is_empty() {
            return Err("ORGAUTH_ADMIN_ROLES must name at least one role".into());
        }
        if let Some(r) = self.admin_roles.iter().find(|r| !self.roles.exists(r)) {
            return Err(format!(
                "ORGAUTH_ADMIN_ROLES: {r} is not a role of ORGAUTH_ADMIN_ROLE_STATEMENTS"
            ));
        }
        if !self.roles.exists(&self.default_role) {
            return Err(format!(
                "ORGAUTH_ADMIN_DEFAULT_ROLE: {} is not a role of ORGAUTH_ADMIN_ROLE_STATEMENTS",
                self.default_role
            ));
        }
        if self.admin_roles.contains(&self.default_role) {
            return Err("ORGAUTH_ADMIN_DEFAULT_ROLE must not be one of ORGAUTH_ADMIN_ROLES".into());
        }
        if self.impersonation_session_duration <= Duration::zero() {
            return Err("ORGAUTH_ADMIN_IMPERSONATION_SESSION_DURATION must be positive".into());
        }
        if self
            .default_ban_expires_in
            .is_some_and(|d| d <= Duration::zero())
        {
            return Err("ORGAUTH_ADMIN_DEFAULT_BAN_EXPIRES_IN must be positive".into());
        }
        Ok(())
    }
}

/// What the admin plugin refuses. Messages and codes are Better Auth's `ADMIN_ERROR_CODES` where
/// it has the case; the rest are orgauth's safer rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    /// The user named does not exist (404 here, where the core routes answer 400).
    #[error("User not found")]
    UserNotFound,
    #[error("You cannot ban yourself")]
    CannotBanYourself,
    #[error("You are not allowed to change users role")]
    NotAllowedToChangeRole,
    #[error("You are not allowed to create users")]
    NotAllowedToCreateUsers,
    #[error("You are not allowed to list users")]
    NotAllowedToListUsers,
    #[error("You are not allowed to list users sessions")]
    NotAllowedToListUsersSessions,
    #[error("You are not allowed to ban users")]
    NotAllowedToBanUsers,
    #[error("You are not allowed to impersonate users")]
    NotAllowedToImpersonateUsers,
    #[error("You are not allowed to revoke users sessions")]
    NotAllowedToRevokeUsersSessions,
    #[error("You are not allowed to delete users")]
    NotAllowedToDeleteUsers,
    #[error("You are not allowed to set users password")]
    NotAllowedToSetUsersPassword,
    #[error("You are not allowed to get user")]
    NotAllowedToGetUser,
    #[error("You are not allowed to update users")]
    NotAllowedToUpdateUsers,
    #[error("You are not allowed to update users email")]
    NotAllowedToSetUsersEmail,
    #[error("You are not allowed to set a non-existent role value")]
    NonExistentRole,
    #[error("Invalid role type")]
    InvalidRoleType,
    #[error("You cannot impersonate admins")]
    CannotImpersonateAdmins,
    #[error("You cannot remove yourself")]
    CannotRemoveYourself,
    #[error("No data to update")]
    NoDataToUpdate,
    #[error("Password cannot be updated through update-user. Use the set-user-password endpoint instead")]
    PasswordCannotBeUpdated,
    #[error("User id cannot be updated")]
    UserIdCannotBeUpdated,
    /// A taken address: 400 here, where sign-up answers 422.
    #[error("User already exists. Use another email.")]
    EmailTaken,
    /// `stop-impersonating` from a session that is not an impersonation (no code, as Better Auth).
    #[error("You are not impersonating anyone")]
    NotImpersonating,
    /// `stop-impersonating` without a valid `admin_session` cookie naming a live session of the
    /// impersonator (no code; Better Auth answers 500).
    #[error("Failed to find admin session")]
    AdminSessionNotFound,
    /// `has-permission` with the legacy `permission` key (no code, as Better Auth).
    #[error("invalid permission check. no permission(s) were passed.")]
    NoPermissionsPassed,
    // orgauth's safer rules.
    #[error("You cannot grant a role above your own")]
    RoleAboveYourOwn,
    #[error("You cannot change the role of a user whose role is equal to or above yours")]
    EqualOrHigherRole,
    #[error("You cannot act on a user whose role is above yours")]
    HigherRole,
    #[error("You cannot impersonate yourself")]
    CannotImpersonateYourself,
    #[error("You cannot impersonate someone while impersonating")]
    NestedImpersonation,
    #[error("The last admin cannot be demoted")]
    LastAdminDemoted,
    #[error("The last admin cannot be banned")]
    LastAdminBanned,
    #[error("The last admin cannot be removed")]
    LastAdminRemoved,
}

impl AdminError {
    /// The code clients branch on; `None` where Better Auth sends none.
    pub fn code(self) -> Option<&'static str> {
        use AdminError as A;
        Some(match self {
            A::UserNotFound => "USER_NOT_FOUND",
            A::CannotBanYourself => "YOU_CANNOT_BAN_YOURSELF",
            A::NotAllowedToChangeRole => "YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE",
            A::NotAllowedToCreateUsers => "YOU_ARE_NOT_ALLOWED_TO_CREATE_USERS",
            A::NotAllowedToListUsers => "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS",
            A::NotAllowedToListUsersSessions => "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS_SESSIONS",
            A::NotAllowedToBanUsers => "YOU_ARE_NOT_ALLOWED_TO_BAN_USERS",
            A::NotAllowedToImpersonateUsers => "YOU_ARE_NOT_ALLOWED_TO_IMPERSONATE_USERS",
            A::NotAllowedToRevokeUsersSessions => "YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS",
            A::NotAllowedToDeleteUsers => "YOU_ARE_NOT_ALLOWED_TO_DELETE_USERS",
            A::NotAllowedToSetUsersPassword => "YOU_ARE_NOT_ALLOWED_TO_SET_USERS_PASSWORD",
            A::NotAllowedToGetUser => "YOU_ARE_NOT_ALLOWED_TO_GET_USER",
            A::NotAllowedToUpdateUsers => "YOU_ARE_NOT_ALLOWED_TO_UPDATE_USERS",
            A::NotAllowedToSetUsersEmail => "YOU_ARE_NOT_ALLOWED_TO_SET_USERS_EMAIL",
            A::NonExistentRole => "YOU_ARE_NOT_ALLOWED_TO_SET_NON_EXISTENT_VALUE",
            A::InvalidRoleType => "INVALID_ROLE_TYPE",
            A::CannotImpersonateAdmins => "YOU_CANNOT_IMPERSONATE_ADMINS",
            A::CannotRemoveYourself => "YOU_CANNOT_REMOVE_YOURSELF",
            A::NoDataToUpdate => "NO_DATA_TO_UPDATE",
            A::PasswordCannotBeUpdated => "PASSWORD_CANNOT_BE_UPDATED_VIA_UPDATE_USER",
            A::UserIdCannotBeUpdated => "USER_ID_CANNOT_BE_UPDATED",
            A::EmailTaken => "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL",
            A::NotImpersonating | A::AdminSessionNotFound | A::NoPermissionsPassed => return None,
            A::RoleAboveYourOwn => "YOU_CANNOT_GRANT_A_ROLE_ABOVE_YOUR_OWN",
            A::EqualOrHigherRole => "YOU_CANNOT_CHANGE_THE_ROLE_OF_AN_EQUAL_OR_HIGHER_ROLE",
            A::HigherRole => "YOU_CANNOT_ACT_ON_A_HIGHER_ROLE",
            A::CannotImpersonateYourself => "YOU_CANNOT_IMPERSONATE_YOURSELF",
            A::NestedImpersonation => "YOU_CANNOT_IMPERSONATE_WHILE_IMPERSONATING",
            A::LastAdminDemoted => "THE_LAST_ADMIN_CANNOT_BE_DEMOTED",
            A::LastAdminBanned => "THE_LAST_ADMIN_CANNOT_BE_BANNED",
            A::LastAdminRemoved => "THE_LAST_ADMIN_CANNOT_BE_REMOVED",
        })
    }

    /// Refusals for want of a permission or a rank (403); the rest are 400.
    pub fn is_forbidden(self) -> bool {
        use AdminError as A;
        matches!(
            self,
            A::NotAllowedToChangeRole
                | A::NotAllowedToCreateUsers
                | A::NotAllowedToListUsers
                | A::NotAllowedToListUsersSessions
                | A::NotAllowedToBanUsers
                | A::NotAllowedToImpersonateUsers
                | A::NotAllowedToRevokeUsersSessions
                | A::NotAllowedToDeleteUsers
                | A::NotAllowedToSetUsersPassword
                | A::NotAllowedToGetUser
                | A::NotAllowedToUpdateUsers
                | A::NotAllowedToSetUsersEmail
                | A::CannotImpersonateAdmins
                | A::RoleAboveYourOwn
                | A::EqualOrHigherRole
                | A::HigherRole
        )
    }
}
