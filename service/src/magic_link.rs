//! Magic-link sign-in (Better Auth's `magicLink()` plugin): a mailed single-use link that signs
//! its address in, signing it up on first use unless that is switched off. The secret is stored
//! as a digest in `verification` (Better Auth's own form, `magic-link:<secret>`, in coexistence),
//! with Better Auth's value (`{"type":"magic-link","email":…,"name":…}`); a new link for an
//! address voids its older ones, and using one voids them all. Following a link proves the
//! address: on a user who never proved it, what predates the proof goes first
//! ([`crate::unproven`]), as Better Auth's `revokeUnprovenAccountAccess` does.

use chrono::{DateTime, Utc};
use entity::{session, user};
use migration::constraints::USER_EMAIL;
use minijinja::context;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QuerySelect, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use crate::clock::db_time;
use crate::credentials::normalize_email;
use crate::error::OnUnique;
use crate::mail::templates::Kind;
use crate::session::ClientInfo;
use crate::token::encode_uri_component;
use crate::verification::{self, Check, Purpose};
use crate::{Auth, Error, Result};

/// What a magic-link secret is for, as Better Auth writes it (`JSON.stringify` order: `type`,
/// `email`, then `name` when given), so either server reads the other's rows.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    #[serde(rename = "type")]
    kind: String,
    email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

const RECORD_TYPE: &str = "magic-link";

/// How every record for `email` begins: it is followed by `}` or by `,"name":…`.
fn record_prefix(email: &str) -> String {
    format!(
        "{{\"type\":\"{RECORD_TYPE}\",\"email\":{}",
        serde_json::to_string(email).expect("a string serializes")
    )
}

/// Removes every outstanding magic link of `email`.
async fn revoke_links(db: &impl ConnectionTrait, email: &str) -> Result<()> {
    let prefix = record_prefix(email);
    use entity::verification::{Column, Entity};
    Entity::delete_many()
        .filter(Column::Identifier.starts_with(Purpose::MagicLink.prefix()))
        .filter(
            Condition::any()
                .add(Column::Value.eq(format!("{prefix}}}")))
                .add(Column::Value.starts_with(format!("{prefix},"))),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// `sign-in/magic-link`'s input. The callback URLs were checked against the trusted origins.
pub struct LinkRequest<'a> {
    pub email: &'a str,
    /// The new user's name (sign-up on first use only).
    pub name: Option<&'a str>,
    pub callback_url: Option<&'a str>,
    pub new_user_callback_url: Option<&'a str>,
    pub error_callback_url: Option<&'a str>,
}

/// A followed magic link: the new session (its token for the client) and its user.
pub struct MagicSignIn {
    pub token: String,
    pub session: session::Model,
    pub user: user::Model,
    /// The link signed the address up.
    pub is_new_user: bool,
}

impl Auth {
    /// Issues a magic link for the address and mails it. The answer is the same for any valid
    /// address, and so is its timing: it waits only for the look-up; the link is issued and mailed
    /// in the background once the answer is out, and not at all for an address without an account
    /// when sign-up by magic link is off.
    pub async fn request_magic_link(&self, req: LinkRequest<'_>) -> Result<()> {
        let email = normalize_email(req.email)
            .ok_or_else(|| Error::invalid("email", "Invalid email address"))?;
        let floor = crate::email::AnswerFloor::start();
        let found = user::Entity::find()
            .filter(user::Column::Email.eq(&email))
            .one(&self.db)
            .await;
        let wanted = match &found {
            Ok(Some(_)) => true,
            Ok(None) => !self.cfg.magic_link.disable_sign_up,
            Err(_) => false,
        };
        if wanted {
            let auth = self.clone();
            let now = self.clock.now();
            let record = Record {
                kind: RECORD_TYPE.into(),
                email: email.clone(),
                name: req.name.map(str::to_owned),
            };
            let mut query = format!(
                "callbackURL={}",
                encode_uri_component(req.callback_url.filter(|c| !c.is_empty()).unwrap_or("/"))
            );
            for (key, value) in [
                ("newUserCallbackURL", req.new_user_callback_url),
                ("errorCallbackURL", req.error_callback_url),
            ] {
                if let Some(value) = value.filter(|v| !v.is_empty()) {
                    query.push_str(&format!("&{key}={}", encode_uri_component(value)));
                }
            }
            floor.then_spawn(async move {
                if let Err(e) = auth.mail_magic_link(record, query, now).await {
                    tracing::error!(error = %e, "issuing a magic link failed");
                }
            });
        }
        floor.wait().await;
        found.map(|_| ()).map_err(Into::into)
    }

    async fn mail_magic_link(
        &self,
        record: Record,
        query: String,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let lifetime = self.cfg.magic_link.expires_in;
        let txn = self.db.begin().await?;
        // A new link voids the older ones. With an account, its row's lock orders concurrent
        // requests, so exactly one link (the last) stays usable; without one, using any link
        // voids the others (see `verify_magic_link`).
        user::Entity::find()
            .filter(user::Column::Email.eq(&record.email))
            .lock_exclusive()
            .one(&txn)
            .await?;
        revoke_links(&txn, &record.email).await?;
        let value = serde_json::to_string(&record).expect("a record serializes");
        let token = verification::issue(
            &txn,
            Purpose::MagicLink,
            &value,
            now,
            lifetime,
            self.cfg.coexistence,
        )
        .await?;
        txn.commit().await?;
        let link = format!(
            "{}/magic-link/verify?token={token}&{query}",
            self.cfg.api_base_url
        );
        self.mailer.send(self.cfg.mail.render(
            Kind::MagicLink,
            &record.email,
            context! { link, minutes => lifetime.num_minutes().max(1) },
        ));
        Ok(())
    }

    /// Follows a magic link: uses the secret up (an unknown, used or expired one is
    /// `InvalidToken`, as Better Auth answers all three), signs the address up if it has no
    /// account (`MagicLinkSignUpDisabled`, the link used up, when that is off), revokes what
    /// predates the proof on an unverified user, and opens a session. One transaction: a refusal
    /// (a ban) changes nothing and leaves the link usable.
    pub async fn verify_magic_link(&self, token: &str, client: &ClientInfo) -> Result<MagicSignIn> {
        let (cfg, now) = (&*self.cfg, self.clock.now());
        let txn = self.db.begin().await?;
        let record = match verification::consume(&txn, Purpose::MagicLink, token, now).await? {
            Check::Valid(value) => serde_json::from_str::<Record>(&value)
                .ok()
                .filter(|r| r.kind == RECORD_TYPE)
                .ok_or(Error::InvalidToken)?,
            Check::Expired => {
                // Better Auth deletes an expired link when it is presented; so does this.
                txn.commit().await?;
                return Err(Error::InvalidToken);
            }
            Check::Unknown => return Err(Error::InvalidToken),
        };
        let email = normalize_email(&record.email).ok_or(Error::InvalidToken)?;
        // One sign-in per round of links: the others for the address stop working.
        revoke_links(&txn, &record.email).await?;
        let existing = user::Entity::find()
            .filter(user::Column::Email.eq(&email))
            .one(&txn)
            .await?;
        let (user_id, is_new_user, revoked) = match existing {
            Some(u) if u.email_verified => (u.id, false, None),
            Some(u) => {
                let keep = crate::unproven::Keep::default();
                let revoked =
                    crate::unproven::revoke_unproven_access(&txn, &u.id, keep, now).await?;
                (u.id, false, revoked)
            }
            None if cfg.magic_link.disable_sign_up => {
                // Used up all the same, as Better Auth does.
                txn.commit().await?;
                return Err(Error::MagicLinkSignUpDisabled);
            }
            None => {
                let created = user::ActiveModel {
                    id: Set(entity::behavior::new_id()),
                    name: Set(record.name.clone().unwrap_or_default()),
                    email: Set(email.clone()),
                    email_verified: Set(true),
                    image: Set(None),
                    created_at: Set(db_time(now)),
                    updated_at: Set(db_time(now)),
                    // The admin plugin's sign-up hook: new users get the default role.
                    role: Set(Some(cfg.admin.default_role.clone())),
                    banned: Set(Some(false)),
                    ban_reason: Set(None),
                    ban_expires: Set(None),
                }
                .insert(&txn)
                .await
                // Signed up by another way in the meantime: the link is followed again.
                .on_unique(&USER_EMAIL, Error::InvalidToken)?;
                (created.id, true, None)
            }
        };
        let (token, session) = crate::session::create(&txn, cfg, &user_id, now, true, client)
            .await
            .inspect_err(|e| {
                if let Error::BannedUser = e {
                    crate::audit::sign_in_failed(Some(&user_id), "banned");
                }
            })?;
        let user = user::Entity::find_by_id(&user_id)
            .one(&txn)
            .await?
            .ok_or(Error::UserNotFound)?;
        txn.commit().await?;
        if let Some(revoked) = revoked {
            crate::audit::unproven_access_revoked(&user_id, revoked);
        }
        if is_new_user {
            crate::audit::event("signed_up", &user_id, None);
        }
        crate::audit::sign_in_succeeded(&user_id, "magic-link");
        // Whoever follows the link holds the mailbox: guesses at the password stop mattering.
        self.guessing.clear(&email);
        Ok(MagicSignIn {
            token,
            session,
            user,
            is_new_user,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_written_as_better_auth_writes_them() {
        let record = |name: Option<&str>| Record {
            kind: RECORD_TYPE.into(),
            email: "a@example.com".into(),
            name: name.map(str::to_owned),
        };
        let named = serde_json::to_string(&record(Some("Ada"))).unwrap();
        let plain = serde_json::to_string(&record(None)).unwrap();
        assert_eq!(
            named,
            r#"{"type":"magic-link","email":"a@example.com","name":"Ada"}"#
        );
        assert_eq!(plain, r#"{"type":"magic-link","email":"a@example.com"}"#);
        let prefix = record_prefix("a@example.com");
        assert!(named.starts_with(&format!("{prefix},")));
        assert_eq!(plain, format!("{prefix}}}"));
        assert!(!named.starts_with(&record_prefix("a@example.co")));
    }
}
