//! Invitations: an owner or admin invites an e-mail address with roles (and optionally teams);
//! only that address may accept or reject, before expiry, once. Accepting claims the invitation
//! and admits the new member (and into the invitation's teams) in one transaction with the
//! organization locked, so concurrent accepts give exactly one membership and never exceed the
//! membership or team limits.

use entity::{invitation, member, organization, user};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

use super::access::{role_names, Permission};
use super::organizations::{resolve, Target};
use crate::clock::db_time;
use crate::credentials::normalize_email;
use crate::error::OrgError;
use crate::mail::templates::Kind;
use crate::session::{self, Current};
use crate::{token, Auth, Error, Result};
use minijinja::context;

pub struct NewInvitation {
    pub email: String,
    pub roles: Vec<String>,
    pub organization_id: Option<String>,
    pub resend: bool,
    pub team_ids: Vec<String>,
}

/// An invitation as its recipient sees it.
pub struct InvitationDetails {
    pub invitation: invitation::Model,
    pub organization_name: String,
    pub organization_slug: String,
    pub inviter_email: String,
}

/// Where an invitation stands, stored as Better Auth stores it (`invitation.status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvitationStatus {
    /// Sent, and neither answered nor canceled (it may have expired).
    Pending,
    Accepted,
    Rejected,
    /// By a member allowed to, by a re-invitation, or because its inviter left.
    Canceled,
}

impl InvitationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
            Self::Canceled => "canceled",
        }
    }

    /// The status stored as `s`, if it is one of these.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Accepted,
            Self::Rejected,
            Self::Canceled,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
    }
}

impl From<InvitationStatus> for sea_orm::Value {
    fn from(status: InvitationStatus) -> Self {
        status.as_str().into()
    }
}

/// Moves invitation `id` from pending to `to`; false when it was no longer pending (accepted,
/// rejected or canceled meanwhile: its outcome stands).
async fn answer(db: &impl ConnectionTrait, id: &str, to: InvitationStatus) -> Result<bool> {
    let changed = invitation::Entity::update_many()
        .col_expr(invitation::Column::Status, Expr::value(to))
        .filter(invitation::Column::Id.eq(id))
        .filter(invitation::Column::Status.eq(InvitationStatus::Pending))
        .exec(db)
        .await?;
    Ok(changed.rows_affected > 0)
}

/// `inv` as it is once moved to `status`.
fn with_status(inv: invitation::Model, status: InvitationStatus) -> invitation::Model {
    invitation::Model {
        status: status.as_str().into(),
        ..inv
    }
}

impl Auth {
    fn is_live(&self, i: &invitation::Model) -> bool {
        InvitationStatus::parse(&i.status) == Some(InvitationStatus::Pending)
            && i.expires_at > db_time(self.clock.now())
    }

    fn send_invitation_mail(
        &self,
        inv: &invitation::Model,
        org: &organization::Model,
        inviter: &user::Model,
    ) {
        let link = self.cfg.org.invitation_url.replace("{id}", &inv.id);
        self.mailer.send(self.cfg.mail.render(
            Kind::Invitation,
            &inv.email,
            context! {
                inviter_name => inviter.name.as_str(),
                inviter_email => inviter.email.as_str(),
                organization => org.name.as_str(),
                role => inv.role.as_deref().unwrap_or("member"),
                link,
                hours => self.cfg.org.invitation_expires_in.num_hours(),
            },
        ));
    }

    /// `invite-member`, in the contract's order of checks.
    pub async fn invite_member(
        &self,
        current: &Current,
        input: NewInvitation,
    ) -> Result<invitation::Model> {
        let cfg = &self.cfg.org;
        let org_id = resolve(
            &self.db,
            Some(current),
            Target::id_or_active(input.organization_id),
        )
        .await?
        .ok_or(OrgError::OrganizationNotFound)?;
        let email = normalize_email(&input.email).ok_or(Error::InvalidEmail)?;
        let txn = self.db.begin().await?;
        let (locked, me) = self
            .lock_as(
                &txn,
                &org_id,
                &current.user.id,
                Permission::CREATE_INVITATION,
                (OrgError::MemberNotFound, OrgError::NotAllowedToInvite),
            )
            .await?;
        let role = cfg.roles.parse(&input.roles)?;
        if cfg.roles.is_creator(&role) && !cfg.roles.is_creator(&me.role) {
            return Err(OrgError::NotAllowedToInviteWithRole.into());
        }
        let invitee = user::Entity::find()
            .filter(user::Column::Email.eq(&email))
            .one(&txn)
            .await?;
        if let Some(invitee) = invitee {
            if locked.member(&invitee.id).await?.is_some() {
                return Err(OrgError::AlreadyAMember.into());
            }
        }
        let expires_at = db_time(self.clock.now() + cfg.invitation_expires_in);
        let pending: Vec<invitation::Model> = invitation::Entity::find()
            .filter(invitation::Column::OrganizationId.eq(&org_id))
            .filter(invitation::Column::Status.eq(InvitationStatus::Pending))
            .filter(invitation::Column::ExpiresAt.gt(locked.now))
            .all(&txn)
            .await?;
        if let Some(existing) = pending.iter().find(|i| i.email == email) {
            if input.resend {
                // Re-sending renews the invitation as it is: only for a role the sender may grant.
                if cfg
                    .roles
                    .is_creator(existing.role.as_deref().unwrap_or_default())
                    && !cfg.roles.is_creator(&me.role)
                {
                    return Err(OrgError::NotAllowedToInviteWithRole.into());
                }
                let mut active = existing.clone().into_active_model();
                active.expires_at = Set(expires_at);
                let bumped = active.update(&txn).await?;
                let org = locked.organization;
                txn.commit().await?;
                self.send_invitation_mail(&bumped, &org, &current.user);
                return Ok(bumped);
            }
            if !cfg.cancel_pending_invitations_on_re_invite {
                return Err(OrgError::AlreadyInvited.into());
            }
            answer(&txn, &existing.id, InvitationStatus::Canceled).await?;
        } else if pending.len() as u64 >= cfg.invitation_limit {
            return Err(OrgError::InvitationLimitReached.into());
        }
        if input.team_ids.iter().any(|id| id.contains(',')) {
            return Err(OrgError::InvalidTeamId.into());
        }
        let team_ids: Vec<&str> = input.team_ids.iter().flat_map(|t| role_names(t)).collect();
        for id in &team_ids {
            locked.team(id).await?;
            locked.check_room(id).await?;
        }
        let created = invitation::ActiveModel {
            // Ids of invitations are capabilities: 190 random bits, not a time-ordered UUID.
            id: Set(token::generate(32)),
            organization_id: Set(org_id),
            email: Set(email),
            role: Set(Some(role)),
            team_id: Set((!team_ids.is_empty()).then(|| team_ids.join(","))),
            status: Set(InvitationStatus::Pending.as_str().into()),
            expires_at: Set(expires_at),
            created_at: Set(locked.now),
            inviter_id: Set(current.user.id.clone()),
        }
        .insert(&txn)
        .await?;
        let org = locked.organization;
        txn.commit().await?;
        self.send_invitation_mail(&created, &org, &current.user);
        Ok(created)
    }

    /// The invitation if the caller is its recipient (and verified, when required).
    async fn own_invitation(
        &self,
        current: &Current,
        id: &str,
        gate: OrgError,
    ) -> Result<invitation::Model> {
        let inv = invitation::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .filter(|i| self.is_live(i))
            .ok_or(OrgError::InvitationNotFound)?;
        if inv.email != current.user.email.to_lowercase() {
            return Err(OrgError::NotTheRecipient.into());
        }
        if self.cfg.org.require_email_verification_on_invitation && !current.user.email_verified {
            return Err(gate.into());
        }
        Ok(inv)
    }

    /// `accept-invitation`: exactly one of any number of concurrent accepts succeeds; the new
    /// member joins the invitation's teams, and the organization (and its one team, if exactly one)
    /// becomes active on the session.
    pub async fn accept_invitation(
        &self,
        current: &Current,
        id: &str,
    ) -> Result<(invitation::Model, member::Model)> {
        let inv = self
            .own_invitation(current, id, OrgError::VerificationRequiredToAnswer)
            .await?;
        let txn = self.db.begin().await?;
        let locked = self
            .lock(&txn, &inv.organization_id)
            .await?
            .ok_or(OrgError::OrganizationNotFound)?;
        if !answer(&txn, &inv.id, InvitationStatus::Accepted).await? {
            return Err(OrgError::InvitationNotFound.into());
        }
        let role = inv.role.as_deref().unwrap_or("member");
        let new_member = locked.admit(&current.user.id, role).await?;
        let team_ids: Vec<&str> = inv.team_id.as_deref().map(role_names).unwrap_or_default();
        for team_id in &team_ids {
            locked.admit_to_team(team_id, &current.user.id).await?;
        }
        let active_team = match team_ids.as_slice() {
            [only] => Some(*only),
            _ => None,
        };
        session::set_active(&txn, &current.session.id, Some(locked.id()), active_team).await?;
        txn.commit().await?;
        crate::audit::event(
            "invitation_accepted",
            &current.user.id,
            Some(&inv.organization_id),
        );
        Ok((with_status(inv, InvitationStatus::Accepted), new_member))
    }

    /// `reject-invitation`: the recipient declines a pending invitation.
    pub async fn reject_invitation(
        &self,
        current: &Current,
        id: &str,
    ) -> Result<invitation::Model> {
        let inv = self
            .own_invitation(current, id, OrgError::VerificationRequiredToAnswer)
            .await?;
        if !answer(&self.db, &inv.id, InvitationStatus::Rejected).await? {
            return Err(OrgError::InvitationNotFound.into());
        }
        Ok(with_status(inv, InvitationStatus::Rejected))
    }

    /// `cancel-invitation`: by a member allowed `invitation:cancel` in the invitation's organization.
    pub async fn cancel_invitation(
        &self,
        current: &Current,
        id: &str,
    ) -> Result<invitation::Model> {
        let inv = invitation::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or(OrgError::InvitationNotFound)?;
        let txn = self.db.begin().await?;
        self.lock_as(
            &txn,
            &inv.organization_id,
            &current.user.id,
            Permission::CANCEL_INVITATION,
            (OrgError::MemberNotFound, OrgError::NotAllowedToCancel),
        )
        .await?;
        if !answer(&txn, &inv.id, InvitationStatus::Canceled).await? {
            return Err(OrgError::InvitationNotFound.into());
        }
        txn.commit().await?;
        Ok(with_status(inv, InvitationStatus::Canceled))
    }

    /// `get-invitation`: a pending invitation, for its recipient, with its organization and inviter.
    pub async fn invitation_details(
        &self,
        current: &Current,
        id: &str,
    ) -> Result<InvitationDetails> {
        let inv = self
            .own_invitation(current, id, OrgError::VerificationRequiredToView)
            .await?;
        let org = organization::Entity::find_by_id(&inv.organization_id)
            .one(&self.db)
            .await?
            .ok_or(OrgError::OrganizationNotFound)?;
        if self
            .membership(&inv.organization_id, &inv.inviter_id)
            .await?
            .is_none()
        {
            return Err(OrgError::InviterGone.into());
        }
        let inviter = user::Entity::find_by_id(&inv.inviter_id)
            .one(&self.db)
            .await?
            .ok_or(Error::UserNotFound)?;
        Ok(InvitationDetails {
            invitation: inv,
            organization_name: org.name,
            organization_slug: org.slug,
            inviter_email: inviter.email,
        })
    }

    /// `list-invitations`: an organization's invitations (all statuses), for members allowed to
    /// invite; invitations for the creator role only for its holders. Returns the page and the
    /// total, so a page never hides that more exist.
    pub async fn list_invitations(
        &self,
        current: &Current,
        organization_id: Option<String>,
        limit: Option<u64>,
        offset: Option<u64>,
    ) -> Result<(Vec<invitation::Model>, u64)> {
        let roles = &self.cfg.org.roles;
        let org = resolve(
            &self.db,
            Some(current),
            Target::id_or_active(organization_id),
        )
        .await?
        .ok_or(OrgError::NoActiveOrganization)?;
        let me = self
            .membership(&org, &current.user.id)
            .await?
            .ok_or(OrgError::YouAreNotAMember)?;
        if !roles.can(&me.role, Permission::CREATE_INVITATION) {
            return Err(OrgError::NotAllowedToListInvitations.into());
        }
        let mut query =
            invitation::Entity::find().filter(invitation::Column::OrganizationId.eq(&org));
        if !roles.is_creator(&me.role) {
            let creator = roles.creator_role.clone();
            query = query
                .filter(invitation::Column::Role.ne(creator.clone()))
                .filter(invitation::Column::Role.not_like(format!("{creator},%")))
                .filter(invitation::Column::Role.not_like(format!("%,{creator}")))
                .filter(invitation::Column::Role.not_like(format!("%,{creator},%")));
        }
        let total = query.clone().count(&self.db).await?;
        let page = query
            .order_by_asc(invitation::Column::CreatedAt)
            .order_by_asc(invitation::Column::Id)
            .limit(limit.unwrap_or(self.cfg.org.invitation_limit).min(100))
            .offset(offset.unwrap_or(0))
            .all(&self.db)
            .await?;
        Ok((page, total))
    }

    /// `list-user-invitations`: the pending invitations to the caller's (verified) address.
    pub async fn user_invitations(
        &self,
        current: &Current,
    ) -> Result<Vec<(invitation::Model, String)>> {
        if !current.user.email_verified {
            return Err(OrgError::VerificationRequiredToView.into());
        }
        Ok(invitation::Entity::find()
            .filter(invitation::Column::Email.eq(current.user.email.to_lowercase()))
            .filter(invitation::Column::Status.eq(InvitationStatus::Pending))
            .find_also_related(organization::Entity)
            .order_by_asc(invitation::Column::CreatedAt)
            .limit(100)
            .all(&self.db)
            .await?
            .into_iter()
            .filter_map(|(i, o)| o.map(|o| (i, o.name)))
            .collect())
    }
}
