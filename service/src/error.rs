//! What can go wrong in the rules, said as what happened. Each variant's message is the
//! contract's text and `code()` the stable code clients branch on. Nothing here knows HTTP: the api
//! maps every variant to its status in one table (`api/src/error.rs`), and where Better Auth
//! answers one condition with different statuses on different routes, the route says so there.

use std::borrow::Cow;

use migration::constraints::{self, Unique};
use sea_orm::{DbErr, RuntimeErr};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input the rules refuse: the field as the request names it (`None` for the input as a
    /// whole) and why. The api adds where the field was sent (`[body.slug] …`).
    #[error("{message}")]
    Validation {
        field: Option<&'static str>,
        message: Cow<'static, str>,
    },
    /// A string that is not an email address where one is required.
    #[error("Invalid email")]
    InvalidEmail,
    /// Unknown email, no password, or a wrong password: one answer for all, so nothing leaks.
    #[error("Invalid email or password")]
    InvalidEmailOrPassword,
    #[error("Password too short")]
    PasswordTooShort,
    #[error("Password too long")]
    PasswordTooLong,
    /// Sign-up with an email that already has an account.
    #[error("User already exists. Use another email.")]
    UserAlreadyExists,
    /// Correct password, but the address must be verified first.
    #[error("Email not verified")]
    EmailNotVerified,
    /// The current password given to a sensitive action is wrong.
    #[error("Invalid password")]
    InvalidPassword,
    /// The user has no password to check (OAuth-only account).
    #[error("Credential account not found")]
    CredentialAccountNotFound,
    /// The admin plugin's ban: no new session (Better Auth's message, which differs from its
    /// error table's).
    #[error("You have been banned from this application. Please contact support if you believe this is an error.")]
    BannedUser,
    /// Deleting the account would leave organizations with other members but no owner (named).
    #[error("You are the only owner of organizations that have other members: {0}. Make another member an owner, or delete the organization, first.")]
    OnlyOwner(String),
    /// No valid session where one is required.
    #[error("Unauthorized")]
    Unauthorized,
    /// The session is older than the fresh age and the action needs a recent sign-in.
    #[error("Session is not fresh")]
    SessionNotFresh,
    /// `update-user` was asked to change the email; that has its own flow.
    #[error("Email can not be updated")]
    EmailCanNotBeUpdated,
    /// `update-user` or `update-session` with nothing it may change.
    #[error("No fields to update")]
    NoFieldsToUpdate,
    /// A field the server manages (`update-session`'s active organization and team).
    #[error("{0} is not allowed to be set")]
    FieldNotAllowed(&'static str),
    /// A one-time link or token that does not exist, was used, or belongs to someone else.
    #[error("Invalid token")]
    InvalidToken,
    /// A one-time link or token past its expiry.
    #[error("Token expired")]
    TokenExpired,
    /// The token's user no longer exists.
    #[error("User not found")]
    UserNotFound,
    /// `send-verification-email` for another address than the session's.
    #[error("Email mismatch")]
    EmailMismatch,
    #[error("Email is already verified")]
    EmailAlreadyVerified,
    /// `change-email` to the current address.
    #[error("Email is the same")]
    EmailIsTheSame,
    #[error("Change email is disabled")]
    ChangeEmailDisabled,
    /// `delete-user` is switched off; answered as an unknown route.
    #[error("Not found")]
    DeleteUserDisabled,
    /// Magic-link sign-in is switched off; answered as an unknown route.
    #[error("Not found")]
    MagicLinkDisabled,
    /// A magic link for an address without an account, with sign-up by magic link off
    /// (Better Auth's redirect code, lower case).
    #[error("New user signup is disabled")]
    MagicLinkSignUpDisabled,
    /// `delete-user` without a password needs a recent sign-in.
    #[error("Session expired. Re-authenticate to perform this action.")]
    SessionExpired,
    /// `unlink-account` with an id that is not one of the caller's accounts.
    #[error("Account not found")]
    AccountNotFound,
    /// `unlink-account` of the only way left to sign in.
    #[error("You can't unlink your last account")]
    FailedToUnlinkLastAccount,
    /// A social provider that is not configured.
    #[error("Provider not found")]
    ProviderNotFound,
    /// A linked account whose provider is not a configured social provider (the password
    /// account, or a provider since removed from the configuration).
    #[error("Provider {0} is not supported.")]
    ProviderNotSupported(String),
    /// A social provider could not be reached (discovery or network failure); details are logged.
    #[error("The provider is unavailable")]
    ProviderUnavailable,
    /// Sign-in with a client-obtained ID token, which orgauth does not accept.
    #[error("id_token not supported")]
    IdTokenNotSupported,
    /// No usable access token, and refreshing it failed.
    #[error("Failed to get a valid access token")]
    FailedToGetAccessToken,
    #[error("Refresh token not found")]
    RefreshTokenNotFound,
    #[error("Failed to refresh access token")]
    FailedToRefreshAccessToken,
    /// The provider did not say who the account's user is.
    #[error("Failed to get user info")]
    FailedToGetUserInfo,
    /// An organization rule said no.
    #[error(transparent)]
    Org(#[from] OrgError),
    /// An admin plugin rule said no.
    #[error(transparent)]
    Admin(#[from] crate::admin::AdminError),
    /// Roles that do not exist, named in the message as Better Auth does (`ROLE_NOT_FOUND: x, y`).
    #[error("ROLE_NOT_FOUND: {0}")]
    RoleNotFound(String),
    /// Too many failed password checks for this account (or address) lately: its password
    /// checks wait `retry_after` seconds (see `guessing`). Nothing else of the account's waits.
    #[error("Too many requests. Please try again later.")]
    TooManyAttempts { retry_after: u64 },
    /// Hashing is saturated; retry shortly (never reported as a wrong password).
    #[error("The server is busy. Please try again shortly.")]
    Overloaded,
    /// The database failed; details are logged, never returned.
    #[error("Internal Server Error")]
    Database(#[from] sea_orm::DbErr),
}

impl Error {
    /// The contract's code, where it has one.
    pub fn code(&self) -> Option<&'static str> {
        Some(match self {
            Error::Validation { .. } => "VALIDATION_ERROR",
            Error::InvalidEmail => "INVALID_EMAIL",
            Error::InvalidEmailOrPassword => "INVALID_EMAIL_OR_PASSWORD",
            Error::PasswordTooShort => "PASSWORD_TOO_SHORT",
            Error::PasswordTooLong => "PASSWORD_TOO_LONG",
            Error::UserAlreadyExists => "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL",
            Error::EmailNotVerified => "EMAIL_NOT_VERIFIED",
            Error::InvalidPassword => "INVALID_PASSWORD",
            Error::CredentialAccountNotFound => "CREDENTIAL_ACCOUNT_NOT_FOUND",
            Error::Unauthorized => "UNAUTHORIZED",
            Error::BannedUser => "BANNED_USER",
            Error::OnlyOwner(_) => "YOU_ARE_THE_ONLY_OWNER_OF_AN_ORGANIZATION",
            Error::SessionNotFresh => "SESSION_NOT_FRESH",
            Error::EmailCanNotBeUpdated => "EMAIL_CAN_NOT_BE_UPDATED",
            Error::FieldNotAllowed(_) => "FIELD_NOT_ALLOWED",
            Error::NoFieldsToUpdate | Error::EmailIsTheSame => return None,
            Error::InvalidToken => "INVALID_TOKEN",
            Error::TokenExpired => "TOKEN_EXPIRED",
            Error::UserNotFound => "USER_NOT_FOUND",
            Error::EmailMismatch => "EMAIL_MISMATCH",
            Error::EmailAlreadyVerified => "EMAIL_ALREADY_VERIFIED",
            Error::ChangeEmailDisabled => "CHANGE_EMAIL_DISABLED",
            Error::DeleteUserDisabled | Error::MagicLinkDisabled => "NOT_FOUND",
            Error::MagicLinkSignUpDisabled => "new_user_signup_disabled",
            Error::SessionExpired => "SESSION_EXPIRED",
            Error::AccountNotFound => "ACCOUNT_NOT_FOUND",
            Error::RoleNotFound(_) => "ROLE_NOT_FOUND",
            Error::Org(error) => error.code(),
            Error::Admin(error) => return error.code(),
            Error::FailedToUnlinkLastAccount => "FAILED_TO_UNLINK_LAST_ACCOUNT",
            Error::ProviderNotFound => "PROVIDER_NOT_FOUND",
            Error::ProviderNotSupported(_) => "PROVIDER_NOT_SUPPORTED",
            Error::ProviderUnavailable => "PROVIDER_UNAVAILABLE",
            Error::IdTokenNotSupported => "ID_TOKEN_NOT_SUPPORTED",
            Error::FailedToGetAccessToken => "FAILED_TO_GET_ACCESS_TOKEN",
            Error::RefreshTokenNotFound => "REFRESH_TOKEN_NOT_FOUND",
            Error::FailedToRefreshAccessToken => "FAILED_TO_REFRESH_ACCESS_TOKEN",
            Error::FailedToGetUserInfo => "FAILED_TO_GET_USER_INFO",
            Error::TooManyAttempts { .. } => "TOO_MANY_REQUESTS",
            Error::Overloaded => "SERVICE_UNAVAILABLE",
            Error::Database(_) => "INTERNAL_SERVER_ERROR",
        })
    }
}

impl From<crate::password::PasswordError> for Error {
    fn from(e: crate::password::PasswordError) -> Self {
        match e {
            crate::password::PasswordError::Overloaded => Error::Overloaded,
            // A stored value we cannot read never matches.
            crate::password::PasswordError::Malformed => Error::InvalidEmailOrPassword,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// `field` refused, for `message`.
    pub fn invalid(field: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Error::Validation {
            field: Some(field),
            message: message.into(),
        }
    }
}

/// Whether `e` says the database cannot serve just now, rather than that the statement is wrong:
/// no connection (refused, reset, closed by a restart or `pg_terminate_backend`, none free in
/// time), PostgreSQL shutting down or out of resources, SQLite full, busy or locked. The request
/// may succeed if retried, so the API answers 503 with `Retry-After` instead of 500.
pub fn unavailable(e: &DbErr) -> bool {
    use sea_orm::sqlx::{postgres::PgDatabaseError, sqlite::SqliteError, Error as Sqlx};
    let e = match e {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => e,
        DbErr::Conn(_) => return true,
        _ => return false,
    };
    match &**e {
        Sqlx::Io(_)
        | Sqlx::Tls(_)
        | Sqlx::PoolTimedOut
        | Sqlx::PoolClosed
        | Sqlx::WorkerCrashed => true,
        Sqlx::Database(d) => {
            if let Some(pg) = d.try_downcast_ref::<PgDatabaseError>() {
                // 08: connection exception; 53: insufficient resources (disk full, out of memory,
                // too many connections); 57P01-57P03: terminated by an administrator or a shutdown,
                // or starting up; 55P03: a lock not granted within `lock_timeout`.
                let code = pg.code();
                code.starts_with("08")
                    || code.starts_with("53")
                    || matches!(code, "57P01" | "57P02" | "57P03" | "55P03")
            } else if d.try_downcast_ref::<SqliteError>().is_some() {
                // The primary result code: SQLITE_BUSY (5), SQLITE_LOCKED (6), SQLITE_FULL (13).
                let code = d.code().and_then(|c| c.parse::<i32>().ok()).unwrap_or(0);
                matches!(code & 0xff, 5 | 6 | 13)
            } else {
                false
            }
        }
        _ => false,
    }
}

/// Which of the schema's unique constraints `e` broke, if it is a unique violation.
pub fn violated(e: &DbErr) -> Option<&'static Unique> {
    let (DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))) = e else {
        return None;
    };
    let sea_orm::sqlx::Error::Database(e) = &**e else {
        return None;
    };
    if !e.is_unique_violation() {
        return None;
    }
    constraints::ALL
        .iter()
        .copied()
        .find(|u| u.is(e.constraint(), e.message()))
}

/// A statement's unique violation as the domain error it means, decided where the statement runs
/// (no racy look-up before it).
pub trait OnUnique<T> {
    /// `error` when the statement broke `constraint`; any other failure stays a database error.
    fn on_unique(self, constraint: &Unique, error: impl Into<Error>) -> Result<T>;
}

impl<T> OnUnique<T> for std::result::Result<T, DbErr> {
    fn on_unique(self, constraint: &Unique, error: impl Into<Error>) -> Result<T> {
        self.map_err(|e| match violated(&e) {
            Some(broken) if broken == constraint => error.into(),
            _ => e.into(),
        })
    }
}

/// The organization plugin's errors, with the contract's messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OrgError {
    #[error("You are not allowed to create a new organization")]
    NotAllowedToCreateOrganization,
    #[error("You have reached the maximum number of organizations")]
    OrganizationLimitReached,
    #[error("Organization already exists")]
    OrganizationAlreadyExists,
    #[error("Organization slug already taken")]
    SlugAlreadyTaken,
    #[error("Organization not found")]
    OrganizationNotFound,
    /// The caller is not a member of the organization the request names.
    #[error("User is not a member of the organization")]
    NotAMember,
    /// The user the request names (not the caller) is not a member of the organization.
    #[error("User is not a member of the organization")]
    UserNotAMember,
    #[error("You are not allowed to update this organization")]
    NotAllowedToUpdateOrganization,
    #[error("You are not allowed to delete this organization")]
    NotAllowedToDeleteOrganization,
    #[error("Organization deletion is disabled")]
    DeletionDisabled,
    #[error("No active organization")]
    NoActiveOrganization,
    #[error("Member not found")]
    MemberNotFound,
    #[error("You are not a member of this organization")]
    YouAreNotAMember,
    #[error("You cannot leave the organization as the only owner")]
    OnlyOwner,
    #[error("You cannot leave the organization without an owner")]
    WithoutAnOwner,
    #[error("You are not allowed to delete this member")]
    NotAllowedToDeleteMember,
    #[error("You are not allowed to update this member")]
    NotAllowedToUpdateMember,
    #[error("You are not allowed to invite users to this organization")]
    NotAllowedToInvite,
    #[error("You are not allowed to invite a user with this role")]
    NotAllowedToInviteWithRole,
    #[error("User is already a member of this organization")]
    AlreadyAMember,
    #[error("User is already invited to this organization")]
    AlreadyInvited,
    #[error("Invitation limit reached")]
    InvitationLimitReached,
    #[error("Invitation not found")]
    InvitationNotFound,
    #[error("You are not the recipient of the invitation")]
    NotTheRecipient,
    #[error("Email verification required before accepting or rejecting invitation")]
    VerificationRequiredToAnswer,
    #[error("Email verification required to view or list invitations for the session email")]
    VerificationRequiredToView,
    #[error("You are not allowed to cancel this invitation")]
    NotAllowedToCancel,
    #[error("You are not allowed to list invitations for this organization")]
    NotAllowedToListInvitations,
    #[error("Inviter is no longer a member of the organization")]
    InviterGone,
    #[error("Organization membership limit reached")]
    MembershipLimitReached,
    #[error("Team not found")]
    TeamNotFound,
    #[error("Team id contains a reserved character")]
    InvalidTeamId,
    #[error("You are not allowed to create teams in this organization")]
    NotAllowedToCreateTeams,
    #[error("You have reached the maximum number of teams")]
    TeamLimitReached,
    #[error("You are not allowed to access this organization as an owner")]
    NotAllowedToAccessOrganization,
    #[error("You are not allowed to update this team")]
    NotAllowedToUpdateTeam,
    #[error("You are not allowed to delete this team")]
    NotAllowedToDeleteThisTeam,
    #[error("You are not allowed to delete teams in this organization")]
    NotAllowedToDeleteTeams,
    #[error("Unable to remove last team")]
    UnableToRemoveLastTeam,
    #[error("User is not a member of the team")]
    NotATeamMember,
    #[error("You do not have an active team")]
    NoActiveTeam,
    #[error("You are not allowed to create a new member")]
    NotAllowedToAddTeamMember,
    #[error("You are not allowed to remove a team member")]
    NotAllowedToRemoveTeamMember,
    #[error("Team member limit reached")]
    TeamMemberLimitReached,
}

impl OrgError {
    pub fn code(self) -> &'static str {
        match self {
            OrgError::NotAllowedToCreateOrganization => {
                "YOU_ARE_NOT_ALLOWED_TO_CREATE_A_NEW_ORGANIZATION"
            }
            OrgError::OrganizationLimitReached => {
                "YOU_HAVE_REACHED_THE_MAXIMUM_NUMBER_OF_ORGANIZATIONS"
            }
            OrgError::OrganizationAlreadyExists => "ORGANIZATION_ALREADY_EXISTS",
            OrgError::SlugAlreadyTaken => "ORGANIZATION_SLUG_ALREADY_TAKEN",
            OrgError::OrganizationNotFound => "ORGANIZATION_NOT_FOUND",
            OrgError::NotAMember | OrgError::UserNotAMember => {
                "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION"
            }
            OrgError::NotAllowedToUpdateOrganization => {
                "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_ORGANIZATION"
            }
            OrgError::NotAllowedToDeleteOrganization => {
                "YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_ORGANIZATION"
            }
            OrgError::DeletionDisabled => "ORGANIZATION_DELETION_DISABLED",
            OrgError::NoActiveOrganization => "NO_ACTIVE_ORGANIZATION",
            OrgError::MemberNotFound => "MEMBER_NOT_FOUND",
            OrgError::YouAreNotAMember => "YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION",
            OrgError::OnlyOwner => "YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER",
            OrgError::WithoutAnOwner => "YOU_CANNOT_LEAVE_THE_ORGANIZATION_WITHOUT_AN_OWNER",
            OrgError::NotAllowedToDeleteMember => "YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_MEMBER",
            OrgError::NotAllowedToUpdateMember => "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER",
            OrgError::NotAllowedToInvite => {
                "YOU_ARE_NOT_ALLOWED_TO_INVITE_USERS_TO_THIS_ORGANIZATION"
            }
            OrgError::NotAllowedToInviteWithRole => {
                "YOU_ARE_NOT_ALLOWED_TO_INVITE_USER_WITH_THIS_ROLE"
            }
            OrgError::AlreadyAMember => "USER_IS_ALREADY_A_MEMBER_OF_THIS_ORGANIZATION",
            OrgError::AlreadyInvited => "USER_IS_ALREADY_INVITED_TO_THIS_ORGANIZATION",
            OrgError::InvitationLimitReached => "INVITATION_LIMIT_REACHED",
            OrgError::InvitationNotFound => "INVITATION_NOT_FOUND",
            OrgError::NotTheRecipient => "YOU_ARE_NOT_THE_RECIPIENT_OF_THE_INVITATION",
            OrgError::VerificationRequiredToAnswer => {
                "EMAIL_VERIFICATION_REQUIRED_BEFORE_ACCEPTING_OR_REJECTING_INVITATION"
            }
            OrgError::VerificationRequiredToView => "EMAIL_VERIFICATION_REQUIRED_FOR_INVITATION",
            OrgError::NotAllowedToCancel => "YOU_ARE_NOT_ALLOWED_TO_CANCEL_THIS_INVITATION",
            OrgError::NotAllowedToListInvitations => "YOU_ARE_NOT_ALLOWED_TO_LIST_INVITATIONS",
            OrgError::InviterGone => "INVITER_IS_NO_LONGER_A_MEMBER_OF_THE_ORGANIZATION",
            OrgError::MembershipLimitReached => "ORGANIZATION_MEMBERSHIP_LIMIT_REACHED",
            OrgError::TeamNotFound => "TEAM_NOT_FOUND",
            OrgError::InvalidTeamId => "INVALID_TEAM_ID",
            OrgError::NotAllowedToCreateTeams => {
                "YOU_ARE_NOT_ALLOWED_TO_CREATE_TEAMS_IN_THIS_ORGANIZATION"
            }
            OrgError::TeamLimitReached => "YOU_HAVE_REACHED_THE_MAXIMUM_NUMBER_OF_TEAMS",
            OrgError::NotAllowedToAccessOrganization => {
                "YOU_ARE_NOT_ALLOWED_TO_ACCESS_THIS_ORGANIZATION"
            }
            OrgError::NotAllowedToUpdateTeam => "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_TEAM",
            OrgError::NotAllowedToDeleteThisTeam => "YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_TEAM",
            OrgError::NotAllowedToDeleteTeams => {
                "YOU_ARE_NOT_ALLOWED_TO_DELETE_TEAMS_IN_THIS_ORGANIZATION"
            }
            OrgError::UnableToRemoveLastTeam => "UNABLE_TO_REMOVE_LAST_TEAM",
            OrgError::NotATeamMember => "USER_IS_NOT_A_MEMBER_OF_THE_TEAM",
            OrgError::NoActiveTeam => "YOU_DO_NOT_HAVE_AN_ACTIVE_TEAM",
            OrgError::NotAllowedToAddTeamMember => {
                "YOU_ARE_NOT_ALLOWED_TO_CREATE_A_NEW_TEAM_MEMBER"
            }
            OrgError::NotAllowedToRemoveTeamMember => "YOU_ARE_NOT_ALLOWED_TO_REMOVE_A_TEAM_MEMBER",
            OrgError::TeamMemberLimitReached => "TEAM_MEMBER_LIMIT_REACHED",
        }
    }
}
