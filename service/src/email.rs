//! E-mail verification and e-mail change, both through a single-use link mailed to the address
//! being proven. Unlike Better Auth's stateless JWT, the link is an opaque secret stored hashed,
//! bound to the user and the address, and used up on first use.

use entity::user;
use migration::constraints::USER_EMAIL;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use crate::clock::db_time;
use crate::credentials::normalize_email;
use crate::error::OnUnique;
use crate::mail::templates::Kind;
use crate::session::Current;
use crate::token::encode_uri_component;
use crate::verification::{self, Check, Purpose};
use crate::{Auth, Error, Result};
use minijinja::context;

/// What a verification secret proves: that `email` (or, for a change, `update_to`) reaches `user_id`.
#[derive(Serialize, Deserialize)]
struct Claim {
    user_id: String,
    email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    update_to: Option<String>,
}

/// How every stored claim of `user_id` begins (`user_id` is serialized first), so the claims of a
/// user can be found without reading every row.
pub(crate) fn claim_prefix(user_id: &str) -> String {
    format!(
        "{{\"user_id\":{},",
        serde_json::to_string(user_id).expect("a string serializes")
    )
}

/// The outcome of following a verification link.
pub enum Verified {
    /// The address was verified (or already was).
    Email,
    /// The user's address changed; here is the user as they are now.
    Changed(user::Model),
}

impl Auth {
    async fn mail_verification(
        &self,
        claim: Claim,
        to: &str,
        callback_url: Option<&str>,
    ) -> Result<()> {
        let value = serde_json::to_string(&claim).expect("a claim serializes");
        let now = self.clock.now();
        let lifetime = self.cfg.email_verification_expires_in;
        let token =
            verification::issue(&self.db, Purpose::VerifyEmail, &value, now, lifetime, false)
                .await?;
        let link = format!(
            "{}/verify-email?token={token}&callbackURL={}",
            self.cfg.api_base_url,
            encode_uri_component(callback_url.unwrap_or("/"))
        );
        let kind = match claim.update_to {
            Some(_) => Kind::ConfirmNewEmail,
            None => Kind::VerifyEmail,
        };
        self.mailer.send(self.cfg.mail.render(
            kind,
            to,
            context! { link, minutes => lifetime.num_minutes() },
        ));
        Ok(())
    }

    /// Mails a verification link for `user`'s current address.
    pub async fn send_verification_to(
        &self,
        user: &user::Model,
        callback_url: Option<&str>,
    ) -> Result<()> {
        let claim = Claim {
            user_id: user.id.clone(),
            email: user.email.clone(),
            update_to: None,
        };
        self.mail_verification(claim, &user.email, callback_url)
            .await
    }

    /// `send-verification-email`. With a session, the address must be the session user's and not
    /// yet verified. Without one, the answer is always success, and a mail goes out only to an
    /// existing unverified user; the answer waits only for the look-up (the same for any
    /// address), the link is issued and mailed in the background.
    pub async fn send_verification_email(
        &self,
        current: Option<&Current>,
        email: &str,
        callback_url: Option<&str>,
    ) -> Result<()> {
        let email = normalize_email(email)
            .ok_or_else(|| Error::invalid("email", "Invalid email address"))?;
        match current {
            Some(c) => {
                if c.user.email != email {
                    return Err(Error::EmailMismatch);
                }
                if c.user.email_verified {
                    return Err(Error::EmailAlreadyVerified);
                }
                self.send_verification_to(&c.user, callback_url).await
            }
            None => {
                let floor = AnswerFloor::start();
                let user = user::Entity::find()
                    .filter(user::Column::Email.eq(&email))
                    .one(&self.db)
                    .await;
                if let Ok(Some(u)) = user
                    .as_ref()
                    .map(|u| u.clone().filter(|u| !u.email_verified))
                {
                    let auth = self.clone();
                    let callback_url = callback_url.map(str::to_owned);
                    floor.then_spawn(async move {
                        if let Err(e) = auth.send_verification_to(&u, callback_url.as_deref()).await
                        {
                            tracing::error!(error = %e, "issuing a verification link failed");
                        }
                    });
                }
                floor.wait().await;
                user.map(|_| ()).map_err(Into::into)
            }
        }
    }

    /// `change-email`: mails a confirmation link to the new address; the address changes only when
    /// it is followed. A new address that is already taken answers success and changes nothing.
    pub async fn change_email(
        &self,
        current: &Current,
        new_email: &str,
        callback_url: Option<&str>,
    ) -> Result<()> {
        if !self.cfg.change_email_enabled {
            return Err(Error::ChangeEmailDisabled);
        }
        let new_email = normalize_email(new_email)
            .ok_or_else(|| Error::invalid("newEmail", "Invalid email address"))?;
        if new_email == current.user.email {
            return Err(Error::EmailIsTheSame);
        }
        // The old address hears of it first: a stolen session cannot move the account silently.
        self.mailer.send(self.cfg.mail.render(
            Kind::EmailChangeRequested,
            &current.user.email,
            context! { new_email => new_email.as_str() },
        ));
        let taken = user::Entity::find()
            .filter(user::Column::Email.eq(&new_email))
            .one(&self.db)
            .await?
            .is_some();
        if taken {
            return Ok(());
        }
        let claim = Claim {
            user_id: current.user.id.clone(),
            email: current.user.email.clone(),
            update_to: Some(new_email.clone()),
        };
        self.mail_verification(claim, &new_email, callback_url)
            .await
    }

    /// Follows a verification link: uses the secret up, then verifies the address or moves the
    /// user to the new one. A link for an address the user no longer has does nothing.
    pub async fn verify_email(&self, token: &str) -> Result<Verified> {
        let now = self.clock.now();
        let txn = self.db.begin().await?;
        let claim = match verification::consume(&txn, Purpose::VerifyEmail, token, now).await? {
            Check::Valid(value) => {
                serde_json::from_str::<Claim>(&value).map_err(|_| Error::InvalidToken)?
            }
            Check::Expired => return Err(Error::TokenExpired),
            Check::Unknown => return Err(Error::InvalidToken),
        };
        let user = user::Entity::find_by_id(&claim.user_id)
            .one(&txn)
            .await?
            .ok_or(Error::UserNotFound)?;
        if user.email != claim.email {
            return Err(Error::InvalidToken);
        }
        let outcome = match claim.update_to {
            None if user.email_verified => Verified::Email,
            None => {
                let mut active = user.into_active_model();
                active.email_verified = Set(true);
                active.updated_at = Set(db_time(now));
                active.update(&txn).await?;
                Verified::Email
            }
            Some(new_email) => {
                // Following the link proves the new address, so it is verified.
                let mut active = user.into_active_model();
                active.email = Set(new_email);
                active.email_verified = Set(true);
                active.updated_at = Set(db_time(now));
                let updated = active
                    .update(&txn)
                    .await
                    .on_unique(&USER_EMAIL, Error::InvalidToken)?;
                Verified::Changed(updated)
            }
        };
        txn.commit().await?;
        if let Verified::Changed(user) = &outcome {
            crate::audit::event("email_changed", &user.id, None);
            self.mailer.send(self.cfg.mail.render(
                Kind::EmailChanged,
                &claim.email,
                context! { new_email => user.email.as_str() },
            ));
        }
        Ok(outcome)
    }
}

/// The least time an answer that must not tell whether an address has an account takes (the
/// mail routes without a session): the look-up and the spawning of the mail's work vary by a
/// millisecond or so between a known and an unknown address, well inside it.
const ANSWER_FLOOR: std::time::Duration = std::time::Duration::from_millis(50);

/// Holds its answer until [`ANSWER_FLOOR`] after it started, when awaited with [`Self::wait`].
pub(crate) struct AnswerFloor(tokio::time::Instant);

impl AnswerFloor {
    pub(crate) fn start() -> Self {
        Self(tokio::time::Instant::now())
    }

    pub(crate) async fn wait(self) {
        tokio::time::sleep_until(self.0 + ANSWER_FLOOR).await;
    }

    /// Runs `work` in the background once the answer has gone out, so that the work a known
    /// address causes (a database write, the mail) does not compete with its answer for the CPU.
    pub(crate) fn then_spawn(&self, work: impl std::future::Future<Output = ()> + Send + 'static) {
        let after_answer = self.0 + ANSWER_FLOOR + std::time::Duration::from_millis(5);
        tokio::spawn(async move {
            tokio::time::sleep_until(after_answer).await;
            work.await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_start_with_their_prefix() {
        for update_to in [None, Some("new@example.com".to_owned())] {
            let claim = Claim {
                user_id: "01a2-\"odd\"".into(),
                email: "a@example.com".into(),
                update_to,
            };
            let value = serde_json::to_string(&claim).unwrap();
            assert!(value.starts_with(&claim_prefix(&claim.user_id)), "{value}");
            assert!(!value.starts_with(&claim_prefix("01a2-")));
        }
    }
}
