//! Deleting one's own account: with the password, with a mailed confirmation, or from a fresh
//! session. The database's cascades remove sessions, accounts, memberships, team memberships and
//! sent invitations with the user.

use entity::{account, user};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionSession, TransactionTrait};

use crate::credentials::CREDENTIAL;
use crate::mail::Mail;
use crate::session::{self, Current};
use crate::token::encode_uri_component;
use crate::verification::{self, Check, Purpose};
use crate::{Auth, Error, Result};

/// What `delete-user` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Deletion {
    Deleted,
    /// A confirmation link was mailed; nothing is deleted yet.
    VerificationSent,
}

impl Auth {
    /// `delete-user`: with `password` it must match; with `token` the mailed confirmation is used;
    /// otherwise either a confirmation is mailed (when so configured) or the session must be fresh.
    pub async fn delete_user(
        &self,
        current: &Current,
        password: Option<&str>,
        token: Option<&str>,
        callback_url: Option<&str>,
        client: &crate::session::ClientInfo,
    ) -> Result<Deletion> {
        if !self.cfg.delete_user_enabled {
            return Err(Error::DeleteUserDisabled);
        }
        if let Some(password) = password {
            let acct = account::Entity::find()
                .filter(account::Column::UserId.eq(&current.user.id))
                .filter(account::Column::ProviderId.eq(CREDENTIAL))
                .one(&self.db)
                .await?;
            let stored = acct
                .and_then(|a| a.password)
                .ok_or(Error::CredentialAccountNotFound)?;
            self.check_current_password(current, password, &stored, client)
                .await?;
        } else if let Some(token) = token {
            return self
                .delete_user_with_token(token)
                .await
                .map(|_| Deletion::Deleted);
        } else if self.cfg.delete_user_verification {
            let now = self.clock.now();
            let token = verification::issue(
                &self.db,
                Purpose::DeleteAccount,
                &current.user.id,
                now,
                self.cfg.delete_token_expires_in,
                self.cfg.coexistence,
            )
            .await?;
            let link = format!(
                "{}/delete-user/callback?token={token}&callbackURL={}",
                self.cfg.api_base_url,
                encode_uri_component(callback_url.unwrap_or("/"))
            );
            self.mailer.send(Mail {
                to: current.user.email.clone(),
                subject: "Confirm deleting your account".into(),
                text: format!("To delete your account and all its data, open:\n{link}\n\nIf it was not you, ignore this mail.\n"),
            });
            return Ok(Deletion::VerificationSent);
        } else if !session::is_fresh(&self.cfg, current, self.clock.now()) {
            return Err(Error::SessionExpired);
        }
        self.delete_user_row(&self.db, &current.user.id).await?;
        Ok(Deletion::Deleted)
    }

    /// Deletes the user named by a mailed deletion token; returns their id.
    pub async fn delete_user_with_token(&self, token: &str) -> Result<String> {
        if !self.cfg.delete_user_enabled {
            return Err(Error::DeleteUserDisabled);
        }
        let txn = self.db.begin().await?;
        let user_id =
            match verification::consume(&txn, Purpose::DeleteAccount, token, self.clock.now())
                .await?
            {
                Check::Valid(id) => id,
                Check::Expired => return Err(Error::TokenExpired),
                Check::Unknown => return Err(Error::InvalidToken),
            };
        self.delete_user_row(&txn, &user_id).await?;
        txn.commit().await?;
        Ok(user_id)
    }

    /// Deletes a user (their rows cascade), keeping Better Auth's team counts true.
    async fn delete_user_row(&self, db: &impl TransactionTrait, user_id: &str) -> Result<()> {
        let txn = db.begin().await?;
        let teams = self.cfg.columns.teams_of(&txn, user_id).await?;
        user::Entity::delete_by_id(user_id).exec(&txn).await?;
        self.cfg.columns.sync_team_counts(&txn, &teams).await?;
        txn.commit().await?;
        Ok(())
    }
}
