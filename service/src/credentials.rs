//! Email-and-password accounts: sign-up, sign-in, password change, profile updates.

use entity::{account, user};
use migration::constraints::USER_EMAIL;
use migration::LEGACY_PASSWORD_CONDITION;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, QuerySelect, Set, TransactionTrait,
};

use crate::clock::db_time;
use crate::config::AuthConfig;
use crate::mail::templates::Kind;
use crate::password::Verified;
use crate::session::{self, ClientInfo, Current};
use crate::verification::{self, Purpose};
use crate::{Auth, Error, Result};
use minijinja::context;

/// The provider id of password accounts, as Better Auth names it.
pub const CREDENTIAL: &str = "credential";

/// The longest address SMTP can carry.
const MAX_EMAIL_LEN: usize = 254;

/// Trimmed, lower-cased, and a valid address; `None` otherwise.
pub fn normalize_email(raw: &str) -> Option<String> {
    let email = raw.trim().to_lowercase();
    (email.len() <= MAX_EMAIL_LEN && email_address::EmailAddress::is_valid(&email)).then_some(email)
}

/// Length rules, in Unicode code points; there are no composition rules.
pub fn check_new_password(cfg: &AuthConfig, password: &str) -> Result<()> {
    let len = password.chars().count();
    if len < cfg.min_password_length {
        Err(Error::PasswordTooShort)
    } else if len > cfg.max_password_length {
        Err(Error::PasswordTooLong)
    } else {
        Ok(())
    }
}

pub struct NewUser {
    pub name: String,
    pub email: String,
    pub password: String,
    pub image: Option<String>,
}

/// A signed-up or signed-in user, and the session opened for them (none when sign-up does not
/// sign in).
pub struct SignedIn {
    pub user: user::Model,
    pub session: Option<(String, entity::session::Model)>,
}

/// The fields `update-user` may change; `None` leaves a field as it is.
#[derive(Default)]
pub struct ProfileUpdate {
    pub name: Option<String>,
    pub image: Option<Option<String>>,
}

/// Inputs of a password change.
pub struct PasswordChange<'a> {
    pub current_password: &'a str,
    pub new_password: &'a str,
    pub revoke_other_sessions: bool,
}

impl Auth {
    /// Creates the user, their password account and (unless configured otherwise) a session, in one
    /// transaction: a failure leaves nothing behind. A taken email is decided by the unique
    /// constraint, not by a racy look-up first.
    pub async fn sign_up(
        &self,
        input: NewUser,
        remember: bool,
        callback_url: Option<&str>,
        client: &ClientInfo,
    ) -> Result<SignedIn> {
        let (db, hasher, cfg, now) = (&self.db, &self.hasher, &*self.cfg, self.clock.now());
        let email = normalize_email(&input.email)
            .ok_or_else(|| Error::invalid("email", "Invalid email address"))?;
        check_new_password(cfg, &input.password)?;
        let hash = hasher.hash(&input.password).await?;
        let txn = db.begin().await?;
        let new_user = user::Model {
            id: entity::behavior::new_id(),
            name: input.name,
            email,
            email_verified: false,
            image: input.image,
            created_at: db_time(now),
            updated_at: db_time(now),
            // The admin plugin's sign-up hook: new users get the default role.
            role: Some(cfg.admin.default_role.clone()),
            banned: Some(false),
            ban_reason: None,
            ban_expires: None,
        };
        let inserted = user::ActiveModel {
            id: Set(new_user.id.clone()),
            name: Set(new_user.name.clone()),
            email: Set(new_user.email.clone()),
            email_verified: Set(false),
            image: Set(new_user.image.clone()),
            created_at: Set(new_user.created_at),
            updated_at: Set(new_user.updated_at),
            role: Set(new_user.role.clone()),
            banned: Set(new_user.banned),
            ban_reason: Set(None),
            ban_expires: Set(None),
        }
        .insert(&txn)
        .await;
        let user = match inserted {
            Ok(user) => user,
            Err(e) if crate::error::violated(&e) == Some(&USER_EMAIL) => {
                drop(txn);
                return self.existing_email_sign_up(new_user).await;
            }
            Err(e) => return Err(e.into()),
        };
        new_credential_account(&user.id, hash, now)
            .insert(&txn)
            .await?;
        let session = if cfg.auto_sign_in && !cfg.require_email_verification {
            Some(session::create(&txn, cfg, &user.id, now, remember, client).await?)
        } else {
            None
        };
        txn.commit().await?;
        if cfg.send_verification_on_sign_up {
            self.send_verification_to(&user, callback_url).await?;
        }
        Ok(SignedIn { user, session })
    }

    /// A sign-up with a taken email. When sign-up never signs in (verification required, or auto
    /// sign-in off), it answers exactly like a new sign-up, with a user that is not stored, and
    /// tells the address's owner by mail; so the answer does not reveal who has an account.
    /// Otherwise it is the contract's 422.
    async fn existing_email_sign_up(&self, attempted: user::Model) -> Result<SignedIn> {
        if self.cfg.auto_sign_in && !self.cfg.require_email_verification {
            return Err(Error::UserAlreadyExists);
        }
        self.mailer.send(
            self.cfg
                .mail
                .render(Kind::SignUpAttempt, &attempted.email, context! {}),
        );
        Ok(SignedIn {
            user: attempted,
            session: None,
        })
    }

    /// Checks email and password and opens a session. An unknown email, an account without a
    /// password and a wrong password spend the same hashing work
    /// ([`crate::password::Hasher::verify_sign_in`]) and give the same error.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        remember: bool,
        client: &ClientInfo,
    ) -> Result<SignedIn> {
        let (db, hasher, cfg, now) = (&self.db, &self.hasher, &*self.cfg, self.clock.now());
        let email = normalize_email(email).ok_or(Error::InvalidEmail)?;
        if password.chars().count() > cfg.max_password_length {
            return Err(Error::PasswordTooLong);
        }
        // Throttled by the submitted address, whether or not an account has it.
        let attempt = self.guessing.begin(&email, now).inspect_err(|_| {
            crate::audit::sign_in_failed(None, "throttled");
        })?;
        let user = user::Entity::find()
            .filter(user::Column::Email.eq(&email))
            .one(db)
            .await?;
        let account = match &user {
            Some(u) => credential_account(db, &u.id).await?,
            None => None,
        };
        let stored = account.as_ref().and_then(|a| a.password.clone());
        // Unknown address, no password, wrong password: the same work and the same answer.
        let verified = hasher.verify_sign_in(password, stored.as_deref()).await?;
        let (Some(user), Some(account), Some(stored), true) =
            (user.clone(), account, stored, verified != Verified::No)
        else {
            let user_id = user.as_ref().map(|u| u.id.as_str());
            crate::audit::sign_in_failed(user_id, "invalid_credentials");
            if let Some(wait) = attempt.failed(now) {
                crate::audit::account_throttled(user_id, wait.num_seconds());
            }
            return Err(Error::InvalidEmailOrPassword);
        };
        attempt.succeeded();
        // The re-hash and the session in one transaction: a refusal (a ban) writes neither.
        let txn = db.begin().await?;
        // The password as checked, its row locked: a change that raced the check (a first proof
        // of the address removing it, a reset) either committed before, and no row matches, or
        // waits for this transaction and then ends the session it opens.
        let unchanged = account::Entity::find_by_id(&account.id)
            .filter(account::Column::Password.eq(&stored))
            .lock_exclusive()
            .one(&txn)
            .await?;
        if unchanged.is_none() {
            return Err(Error::InvalidEmailOrPassword);
        }
        if let Verified::YesRehashed(upgraded) = verified {
            let mut active = account.into_active_model();
            active.password = Set(Some(upgraded));
            active.updated_at = Set(db_time(now));
            active.update(&txn).await?;
        }
        if cfg.require_email_verification && !user.email_verified {
            txn.commit().await?;
            crate::audit::sign_in_failed(Some(&user.id), "email_not_verified");
            return Err(Error::EmailNotVerified);
        }
        let session = session::create(&txn, cfg, &user.id, now, remember, client)
            .await
            .inspect_err(|e| {
                if let Error::BannedUser = e {
                    crate::audit::sign_in_failed(Some(&user.id), "banned");
                }
            })?;
        txn.commit().await?;
        crate::audit::sign_in_succeeded(&user.id, "password");
        Ok(SignedIn {
            user,
            session: Some(session),
        })
    }

    /// Changes the password after checking the current one. With `revoke_other_sessions`, every
    /// session of the user ends (the caller's too) and a new one is opened, as Better Auth does.
    pub async fn change_password(
        &self,
        current: &Current,
        passwords: PasswordChange<'_>,
        client: &ClientInfo,
    ) -> Result<Option<(String, entity::session::Model)>> {
        let (db, hasher, cfg, now) = (&self.db, &self.hasher, &*self.cfg, self.clock.now());
        let PasswordChange {
            current_password,
            new_password,
            revoke_other_sessions,
        } = passwords;
        check_new_password(cfg, new_password)?;
        if current_password.chars().count() > cfg.max_password_length {
            return Err(Error::PasswordTooLong);
        }
        let account = credential_account(db, &current.user.id).await?;
        let Some((account, stored)) = account.and_then(|a| a.password.clone().map(|p| (a, p)))
        else {
            return Err(Error::CredentialAccountNotFound);
        };
        self.check_current_password(current, current_password, &stored)
            .await?;
        let hash = hasher.hash(new_password).await?;
        let txn = db.begin().await?;
        let mut active = account.into_active_model();
        active.password = Set(Some(hash));
        active.updated_at = Set(db_time(now));
        active.update(&txn).await?;
        // Reset links mailed before the change must not undo it.
        verification::revoke_all(&txn, Purpose::ResetPassword, &current.user.id).await?;
        let new_session = if revoke_other_sessions {
            session::revoke_all(&txn, &current.user.id, None).await?;
            Some(session::create(&txn, cfg, &current.user.id, now, true, client).await?)
        } else {
            None
        };
        txn.commit().await?;
        crate::audit::event("password_changed", &current.user.id, None);
        self.mailer.send(self.cfg.mail.render(
            Kind::PasswordChanged,
            &current.user.email,
            context! {},
        ));
        Ok(new_session)
    }

    /// `verify-password`: whether `password` is the signed-in user's. A user without a password
    /// gets the wrong password's answer, after as long a wait (a hash), as Better Auth answers.
    pub async fn verify_password(&self, current: &Current, password: &str) -> Result<()> {
        if password.chars().count() > self.cfg.max_password_length {
            return Err(Error::PasswordTooLong);
        }
        let stored = credential_account(&self.db, &current.user.id)
            .await?
            .and_then(|a| a.password);
        match stored {
            Some(stored) => {
                self.check_current_password(current, password, &stored)
                    .await
            }
            None => {
                self.hasher.hash(password).await?;
                Err(Error::InvalidPassword)
            }
        }
    }

    /// Checks a signed-in user's password (`change-password`, `delete-user`): a guess like any
    /// other, so it counts against the account's failures and waits while it is throttled.
    pub(crate) async fn check_current_password(
        &self,
        current: &Current,
        password: &str,
        stored: &str,
    ) -> Result<()> {
        let attempt = self.guessing.begin(&current.user.email, self.clock.now())?;
        if self.hasher.verify(password, stored).await? == Verified::No {
            if let Some(wait) = attempt.failed(self.clock.now()) {
                crate::audit::account_throttled(Some(&current.user.id), wait.num_seconds());
            }
            return Err(Error::InvalidPassword);
        }
        attempt.succeeded();
        Ok(())
    }

    pub async fn update_profile(
        &self,
        user: &user::Model,
        update: ProfileUpdate,
    ) -> Result<user::Model> {
        let (db, now) = (&self.db, self.clock.now());
        if update.name.is_none() && update.image.is_none() {
            return Err(Error::NoFieldsToUpdate);
        }
        let mut active = user.clone().into_active_model();
        if let Some(name) = update.name {
            active.name = Set(name);
        }
        if let Some(image) = update.image {
            active.image = Set(image);
        }
        active.updated_at = Set(db_time(now));
        Ok(active.update(db).await?)
    }
}

/// A new password account for `user_id`: `provider_id = "credential"`, `account_id` = the user id.
pub(crate) fn new_credential_account(
    user_id: &str,
    hash: String,
    now: chrono::DateTime<chrono::Utc>,
) -> account::ActiveModel {
    account::ActiveModel {
        account_id: Set(user_id.to_owned()),
        provider_id: Set(CREDENTIAL.into()),
        user_id: Set(user_id.to_owned()),
        password: Set(Some(hash)),
        created_at: Set(db_time(now)),
        updated_at: Set(db_time(now)),
        ..Default::default()
    }
}

/// Stores `hash` as the user's password: on their password account, or on a new one (a user who
/// signed up by a provider or a magic link gets one).
pub(crate) async fn set_password(
    db: &impl ConnectionTrait,
    user_id: &str,
    hash: String,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    match credential_account(db, user_id).await? {
        Some(acct) => {
            let mut acct = acct.into_active_model();
            acct.password = Set(Some(hash));
            acct.updated_at = Set(db_time(now));
            acct.update(db).await?;
        }
        None => {
            new_credential_account(user_id, hash, now)
                .insert(db)
                .await?;
        }
    }
    Ok(())
}

/// The password account of a user: `provider_id = "credential"` and `account_id` = the user id.
async fn credential_account(
    db: &impl ConnectionTrait,
    user_id: &str,
) -> Result<Option<account::Model>> {
    Ok(account::Entity::find()
        .filter(account::Column::UserId.eq(user_id))
        .filter(account::Column::ProviderId.eq(CREDENTIAL))
        .filter(account::Column::AccountId.eq(user_id))
        .one(db)
        .await?)
}

/// Whether any stored password is a Better Auth scrypt hash (`<salt hex>:<key hex>`, not a PHC
/// string): failed sign-ins then spend scrypt work too, so they cannot tell such users apart.
/// The condition is written as the partial index `account_legacyPassword_idx` states it, so the
/// look reads that (usually empty) index, not every account.
pub async fn scrypt_hashes_present(db: &impl ConnectionTrait) -> Result<bool> {
    Ok(account::Entity::find()
        .filter(Expr::cust(LEGACY_PASSWORD_CONDITION))
        .one(db)
        .await?
        .is_some())
}

/// The user's linked accounts (password and OAuth), at most 100.
pub async fn accounts(db: &impl ConnectionTrait, user_id: &str) -> Result<Vec<account::Model>> {
    Ok(account::Entity::find()
        .filter(account::Column::UserId.eq(user_id))
        .limit(100)
        .all(db)
        .await?)
}

/// Removes one of the user's accounts, never the last one: the accounts are locked for the
/// check, so two concurrent unlinks cannot together remove every way to sign in.
pub async fn unlink_account(
    db: &DatabaseConnection,
    user_id: &str,
    account_id: &str,
) -> Result<()> {
    let txn = db.begin().await?;
    let accounts = account::Entity::find()
        .filter(account::Column::UserId.eq(user_id))
        .lock_exclusive()
        .all(&txn)
        .await?;
    if !accounts.iter().any(|a| a.id == account_id) {
        return Err(Error::AccountNotFound);
    }
    if accounts.len() <= 1 {
        return Err(Error::FailedToUnlinkLastAccount);
    }
    account::Entity::delete_by_id(account_id).exec(&txn).await?;
    txn.commit().await?;
    Ok(())
}

/// The account routes' rules, with this server's database.
impl Auth {
    /// The caller's linked accounts (see [`accounts`]).
    pub async fn accounts_of(&self, current: &Current) -> Result<Vec<account::Model>> {
        accounts(&self.db, &current.user.id).await
    }

    /// Unlinks one of the caller's accounts, never the last (see [`unlink_account`]).
    pub async fn unlink_account(&self, current: &Current, account_id: &str) -> Result<()> {
        unlink_account(&self.db, &current.user.id, account_id).await
    }
}
