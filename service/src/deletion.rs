//! Deleting one's own account: with the password, with a mailed confirmation, or from a fresh
//! session. The database's cascades remove sessions, accounts, memberships, team memberships and
//! sent invitations with the user.

use entity::{account, member, organization, user};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait};

use crate::credentials::CREDENTIAL;
use crate::mail::templates::Kind;
use crate::org::members::lock_members;
use crate::session::{self, Current};
use crate::token::encode_uri_component;
use crate::verification::{self, Check, Purpose};
use crate::{Auth, Error, Result};
use minijinja::context;

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
            self.check_current_password(current, password, &stored)
                .await?;
        } else if let Some(token) = token {
            return self
                .delete_user_with_token(token, &current.user.id)
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
            self.mailer.send(self.cfg.mail.render(
                Kind::DeleteAccount,
                &current.user.email,
                context! { link },
            ));
            return Ok(Deletion::VerificationSent);
        } else if !session::is_fresh(&self.cfg, current, self.clock.now()) {
            return Err(Error::SessionExpired);
        }
        self.delete_user_row(&self.db, &current.user.id).await?;
        Ok(Deletion::Deleted)
    }

    /// Deletes `user_id`'s account with a mailed deletion token. The token must be theirs: a
    /// link opened by someone else (another signed-in user, a mail scanner without a session)
    /// deletes nothing and stays usable by its owner.
    pub async fn delete_user_with_token(&self, token: &str, user_id: &str) -> Result<()> {
        if !self.cfg.delete_user_enabled {
            return Err(Error::DeleteUserDisabled);
        }
        let now = self.clock.now();
        let txn = self.db.begin().await?;
        match verification::peek(&txn, Purpose::DeleteAccount, token, now).await? {
            Check::Valid(id) if id == user_id => {}
            Check::Expired => return Err(Error::TokenExpired),
            Check::Valid(_) | Check::Unknown => return Err(Error::InvalidToken),
        }
        if verification::consume(&txn, Purpose::DeleteAccount, token, now).await?
            != Check::Valid(user_id.to_owned())
        {
            return Err(Error::InvalidToken);
        }
        self.delete_user_row(&txn, user_id).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Deletes a user (their rows cascade), keeping Better Auth's team counts true, and never
    /// leaving an organization without an owner: an organization of which the user is the only
    /// owner goes with them when nobody else is in it, and otherwise the deletion is refused,
    /// naming it. Decided with the organizations' member rows locked.
    pub(crate) async fn delete_user_row(
        &self,
        db: &impl TransactionTrait<Transaction = sea_orm::DatabaseTransaction>,
        user_id: &str,
    ) -> Result<()> {
        let txn = db.begin().await?;
        let roles = &self.cfg.org.roles;
        let mut owned: Vec<member::Model> = member::Entity::find()
            .filter(member::Column::UserId.eq(user_id))
            .all(&txn)
            .await?
            .into_iter()
            .filter(|m| roles.is_creator(&m.role))
            .collect();
        owned.sort_by(|a, b| a.organization_id.cmp(&b.organization_id));
        let (mut orphaned, mut ownerless) = (Vec::new(), Vec::new());
        for m in &owned {
            let members = lock_members(&txn, &m.organization_id).await?;
            let others: Vec<_> = members.iter().filter(|o| o.user_id != user_id).collect();
            if others.is_empty() {
                orphaned.push(m.organization_id.clone());
            } else if !others.iter().any(|o| roles.is_creator(&o.role)) {
                ownerless.push(m.organization_id.clone());
            }
        }
        if !ownerless.is_empty() {
            let names: Vec<String> = organization::Entity::find()
                .filter(organization::Column::Id.is_in(ownerless))
                .order_by_asc(organization::Column::Name)
                .all(&txn)
                .await?
                .into_iter()
                .map(|o| format!("{} ({})", o.name, o.slug))
                .collect();
            return Err(Error::OnlyOwner(names.join(", ")));
        }
        for organization_id in &orphaned {
            organization::Entity::delete_by_id(organization_id)
                .exec(&txn)
                .await?;
            session::forget_organization(&txn, organization_id, None).await?;
        }
        let teams = self.cfg.columns.teams_of(&txn, user_id).await?;
        user::Entity::delete_by_id(user_id).exec(&txn).await?;
        self.cfg.columns.sync_team_counts(&txn, &teams).await?;
        txn.commit().await?;
        Ok(())
    }
}
