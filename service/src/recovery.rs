//! Password reset: a mailed single-use link, then a new password that ends every session.

use entity::user;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, TransactionTrait};

use crate::credentials::{check_new_password, normalize_email};
use crate::mail::templates::Kind;
use crate::verification::{self, Check, Purpose};
use crate::{session, Auth, Error, Result};
use minijinja::context;

impl Auth {
    /// Mails a reset link when the address belongs to a user. The answer is the same either way,
    /// and so is its timing: the answer waits only for the look-up, which costs the same for any
    /// address; issuing the link and mailing it run in the background once the answer is out,
    /// for a real user only.
    pub async fn request_password_reset(
        &self,
        email: &str,
        redirect_to: Option<&str>,
    ) -> Result<()> {
        let floor = crate::email::AnswerFloor::start();
        let found = match normalize_email(email) {
            Some(email) => {
                user::Entity::find()
                    .filter(user::Column::Email.eq(&email))
                    .one(&self.db)
                    .await
            }
            None => Ok(None),
        };
        if let Ok(Some(user)) = found.as_ref() {
            let (auth, now, user) = (self.clone(), self.clock.now(), user.clone());
            let redirect_to = redirect_to.map(str::to_owned);
            floor.then_spawn(async move {
                if let Err(e) = auth.mail_reset_link(user, redirect_to, now).await {
                    tracing::error!(error = %e, "issuing a password-reset link failed");
                }
            });
        }
        floor.wait().await;
        found.map(|_| ()).map_err(Into::into)
    }

    async fn mail_reset_link(
        &self,
        user: user::Model,
        redirect_to: Option<String>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        // A new link voids the older ones; the user row's lock orders concurrent requests, so
        // exactly one link (the last) stays usable.
        let txn = self.db.begin().await?;
        user::Entity::find_by_id(&user.id)
            .lock_exclusive()
            .one(&txn)
            .await?;
        verification::revoke_all(&txn, Purpose::ResetPassword, &user.id).await?;
        let token = verification::issue(
            &txn,
            Purpose::ResetPassword,
            &user.id,
            now,
            self.cfg.reset_password_expires_in,
            self.cfg.coexistence,
        )
        .await?;
        txn.commit().await?;
        let link = format!(
            "{}/reset-password/{token}?callbackURL={}",
            self.cfg.api_base_url,
            crate::token::encode_uri_component(redirect_to.as_deref().unwrap_or(""))
        );
        self.mailer.send(self.cfg.mail.render(
            Kind::ResetPassword,
            &user.email,
            context! { link, minutes => self.cfg.reset_password_expires_in.num_minutes() },
        ));
        Ok(())
    }

    /// Whether a reset token is usable (for the link's redirect); does not use it.
    pub async fn reset_token_is_valid(&self, token: &str) -> Result<bool> {
        let check =
            verification::peek(&self.db, Purpose::ResetPassword, token, self.clock.now()).await?;
        Ok(matches!(check, Check::Valid(_)))
    }

    /// Sets a new password with a reset token. The token is used up even under concurrent
    /// attempts (exactly one succeeds), every other reset token of the user stops working, and
    /// every session of the user ends.
    pub async fn reset_password(&self, token: &str, new_password: &str) -> Result<()> {
        check_new_password(&self.cfg, new_password)?;
        let now = self.clock.now();
        if !matches!(
            verification::peek(&self.db, Purpose::ResetPassword, token, now).await?,
            Check::Valid(_)
        ) {
            return Err(Error::InvalidToken);
        }
        let hash = self.hasher.hash(new_password).await?;
        let txn = self.db.begin().await?;
        let Check::Valid(user_id) =
            verification::consume(&txn, Purpose::ResetPassword, token, now).await?
        else {
            return Err(Error::InvalidToken);
        };
        let user = user::Entity::find_by_id(&user_id)
            .one(&txn)
            .await?
            .ok_or(Error::UserNotFound)?;
        // Following the mailed link proves the address: on an address never proven before,
        // whatever a pre-registrant set up (provider accounts, sessions, a pending change of
        // address) goes, as on a provider's first proof; the password is the one set here.
        let keep = crate::unproven::Keep {
            password: true,
            ..Default::default()
        };
        let revoked = crate::unproven::revoke_unproven_access(&txn, &user.id, keep, now).await?;
        verification::revoke_all(&txn, Purpose::ResetPassword, &user.id).await?;
        crate::credentials::set_password(&txn, &user.id, hash, now).await?;
        if self.cfg.revoke_sessions_on_password_reset {
            session::revoke_all(&txn, &user.id, None).await?;
        }
        txn.commit().await?;
        if let Some(revoked) = revoked {
            crate::audit::unproven_access_revoked(&user.id, revoked);
        }
        // Whoever completes a reset holds the mailbox: guesses at the old password stop mattering.
        self.guessing.clear(&user.email);
        crate::audit::event("password_reset", &user.id, None);
        self.mailer.send(
            self.cfg
                .mail
                .render(Kind::PasswordReset, &user.email, context! {}),
        );
        Ok(())
    }
}
