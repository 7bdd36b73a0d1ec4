//! Invitations: an owner or admin invites an e-mail address with roles (and optionally teams);
//! only that address may accept or reject, before expiry, once. Accepting creates the membership
//! inside the transaction that claims the invitation, with the organization's member rows locked,
//! so concurrent accepts give exactly one membership and never exceed the membership limit.

use entity::{invitation, member, organization, session, team, team_member, user};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, SqlErr, TransactionTrait,
};

use crate::access::role_names;
use crate::clock::db_time;
use crate::credentials::normalize_email;
use crate::error::OrgError;
use crate::mail::Mail;
use crate::members::parse_roles;
use crate::session::Current;
use crate::{token, Auth, Error, Result};

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

const PENDING: &str = "pending";

/// Serialises changes to one organization's invitations and members until the transaction ends
/// (PostgreSQL `FOR UPDATE` on the organization row; SQLite has a single writer), so limits
/// counted inside the transaction hold under concurrent requests.
async fn lock_organization(
    txn: &sea_orm::DatabaseTransaction,
    organization_id: &str,
) -> Result<()> {
    organization::Entity::find_by_id(organization_id)
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or_else(|| OrgError::OrganizationNotFound.bad_request())?;
    Ok(())
}

impl Auth {
    /// 403 `TEAM_MEMBER_LIMIT_REACHED` when the team is full.
    async fn check_team_capacity(
        &self,
        db: &impl sea_orm::ConnectionTrait,
        team_id: &str,
    ) -> Result<()> {
        if let Some(max) = self.cfg.org.maximum_members_per_team {
            let count = team_member::Entity::find()
                .filter(team_member::Column::TeamId.eq(team_id))
                .count(db)
                .await?;
            if count >= max {
                return Err(OrgError::TeamMemberLimitReached.forbidden());
            }
        }
        Ok(())
    }

    fn is_live(&self, i: &invitation::Model) -> bool {
        i.status == PENDING && i.expires_at > db_time(self.clock.now())
    }

    fn send_invitation_mail(
        &self,
        inv: &invitation::Model,
        org: &organization::Model,
        inviter: &user::Model,
    ) {
        let link = self.cfg.org.invitation_url.replace("{id}", &inv.id);
        self.mailer.send(Mail {
            to: inv.email.clone(),
            subject: format!("You are invited to join {}", org.name),
            text: format!(
                "{} ({}) invited you to join {} as {}.\n\nTo accept, open:\n{link}\n\nThe invitation expires in {} hours.\n",
                inviter.name,
                inviter.email,
                org.name,
                inv.role.as_deref().unwrap_or("member"),
                self.cfg.org.invitation_expires_in.num_hours()
            ),
        });
    }

    /// `invite-member`, in the contract's order of checks.
    pub async fn invite_member(
        &self,
        current: &Current,
        input: NewInvitation,
    ) -> Result<invitation::Model> {
        let cfg = &self.cfg.org;
        let org_id = input
            .organization_id
            .or_else(|| current.session.active_organization_id.clone())
            .ok_or_else(|| OrgError::OrganizationNotFound.bad_request())?;
        let email = normalize_email(&input.email).ok_or(Error::InvalidEmail)?;
        let me = self
            .membership(&org_id, &current.user.id)
            .await?
            .ok_or_else(|| OrgError::MemberNotFound.bad_request())?;
        if !cfg.roles.can(&me.role, "invitation", "create") {
            return Err(OrgError::NotAllowedToInvite.forbidden());
        }
        let role = parse_roles(self, &input.roles)?;
        if cfg.roles.is_creator(&role) && !cfg.roles.is_creator(&me.role) {
            return Err(OrgError::NotAllowedToInviteWithRole.forbidden());
        }
        if let Some(invitee) = user::Entity::find()
            .filter(user::Column::Email.eq(&email))
            .one(&self.db)
            .await?
        {
            if self.membership(&org_id, &invitee.id).await?.is_some() {
                return Err(OrgError::AlreadyAMember.bad_request());
            }
        }
        let org = organization::Entity::find_by_id(&org_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| OrgError::OrganizationNotFound.bad_request())?;
        let now = db_time(self.clock.now());
        let expires_at = db_time(self.clock.now() + cfg.invitation_expires_in);
        let txn = self.db.begin().await?;
        lock_organization(&txn, &org_id).await?;
        let pending: Vec<invitation::Model> = invitation::Entity::find()
            .filter(invitation::Column::OrganizationId.eq(&org_id))
            .filter(invitation::Column::Status.eq(PENDING))
            .filter(invitation::Column::ExpiresAt.gt(now))
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
                    return Err(OrgError::NotAllowedToInviteWithRole.forbidden());
                }
                let mut active = existing.clone().into_active_model();
                active.expires_at = Set(expires_at);
                let bumped = active.update(&txn).await?;
                txn.commit().await?;
                self.send_invitation_mail(&bumped, &org, &current.user);
                return Ok(bumped);
            }
            if !cfg.cancel_pending_invitations_on_re_invite {
                return Err(OrgError::AlreadyInvited.bad_request());
            }
            invitation::Entity::update_many()
                .col_expr(invitation::Column::Status, Expr::value("canceled"))
                .filter(invitation::Column::Id.eq(&existing.id))
                .exec(&txn)
                .await?;
        } else if pending.len() as u64 >= cfg.invitation_limit {
            return Err(OrgError::InvitationLimitReached.forbidden());
        }
        let team_ids: Vec<String> = input
            .team_ids
            .iter()
            .flat_map(|t| role_names(t))
            .map(str::to_owned)
            .collect();
        for id in &input.team_ids {
            if id.contains(',') {
                return Err(OrgError::InvalidTeamId.bad_request());
            }
        }
        for id in &team_ids {
            let found = team::Entity::find_by_id(id)
                .filter(team::Column::OrganizationId.eq(&org_id))
                .count(&txn)
                .await?;
            if found == 0 {
                return Err(OrgError::TeamNotFound.bad_request());
            }
            self.check_team_capacity(&txn, id).await?;
        }
        let created = invitation::ActiveModel {
            // Ids of invitations are capabilities: 190 random bits, not a time-ordered UUID.
            id: Set(token::generate(32)),
            organization_id: Set(org_id),
            email: Set(email),
            role: Set(Some(role)),
            team_id: Set((!team_ids.is_empty()).then(|| team_ids.join(","))),
            status: Set(PENDING.into()),
            expires_at: Set(expires_at),
            created_at: Set(now),
            inviter_id: Set(current.user.id.clone()),
        }
        .insert(&txn)
        .await?;
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
            .ok_or_else(|| OrgError::InvitationNotFound.bad_request())?;
        if inv.email != current.user.email.to_lowercase() {
            return Err(OrgError::NotTheRecipient.forbidden());
        }
        if self.cfg.org.require_email_verification_on_invitation && !current.user.email_verified {
            return Err(gate.forbidden());
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
        let now = db_time(self.clock.now());
        let txn = self.db.begin().await?;
        lock_organization(&txn, &inv.organization_id).await?;
        let members = member::Entity::find()
            .filter(member::Column::OrganizationId.eq(&inv.organization_id))
            .all(&txn)
            .await?;
        let claimed = invitation::Entity::update_many()
            .col_expr(invitation::Column::Status, Expr::value("accepted"))
            .filter(invitation::Column::Id.eq(&inv.id))
            .filter(invitation::Column::Status.eq(PENDING))
            .exec(&txn)
            .await?;
        if claimed.rows_affected == 0 {
            return Err(OrgError::InvitationNotFound.bad_request());
        }
        if members.iter().any(|m| m.user_id == current.user.id) {
            return Err(OrgError::AlreadyAMember.bad_request());
        }
        if members.len() as u64 >= self.cfg.org.membership_limit {
            return Err(OrgError::MembershipLimitReached.forbidden());
        }
        let new_member = member::ActiveModel {
            organization_id: Set(inv.organization_id.clone()),
            user_id: Set(current.user.id.clone()),
            role: Set(inv.role.clone().unwrap_or_else(|| "member".into())),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .map_err(|e| match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => OrgError::AlreadyAMember.bad_request(),
            _ => e.into(),
        })?;
        let team_ids: Vec<&str> = inv.team_id.as_deref().map(role_names).unwrap_or_default();
        for team_id in &team_ids {
            let in_org = team::Entity::find_by_id(*team_id)
                .filter(team::Column::OrganizationId.eq(&inv.organization_id))
                .count(&txn)
                .await?;
            if in_org == 0 {
                return Err(OrgError::TeamNotFound.bad_request());
            }
            self.check_team_capacity(&txn, team_id).await?;
            let row = team_member::ActiveModel {
                team_id: Set(team_id.to_string()),
                user_id: Set(current.user.id.clone()),
                created_at: Set(Some(now)),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
            self.cfg.columns.team_member_added(&txn, &row).await?;
        }
        let active_team = match team_ids.as_slice() {
            [only] => Some(only.to_string()),
            _ => None,
        };
        session::Entity::update_many()
            .col_expr(
                session::Column::ActiveOrganizationId,
                Expr::value(Some(inv.organization_id.clone())),
            )
            .col_expr(session::Column::ActiveTeamId, Expr::value(active_team))
            .filter(session::Column::Id.eq(&current.session.id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        crate::audit::event(
            "invitation_accepted",
            &current.user.id,
            Some(&inv.organization_id),
        );
        let mut accepted = inv;
        accepted.status = "accepted".into();
        Ok((accepted, new_member))
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
        let rejected = invitation::Entity::update_many()
            .col_expr(invitation::Column::Status, Expr::value("rejected"))
            .filter(invitation::Column::Id.eq(&inv.id))
            .filter(invitation::Column::Status.eq(PENDING))
            .exec(&self.db)
            .await?;
        if rejected.rows_affected == 0 {
            return Err(OrgError::InvitationNotFound.bad_request());
        }
        Ok(invitation::Model {
            status: "rejected".into(),
            ..inv
        })
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
            .ok_or_else(|| OrgError::InvitationNotFound.bad_request())?;
        let me = self
            .membership(&inv.organization_id, &current.user.id)
            .await?
            .ok_or_else(|| OrgError::MemberNotFound.bad_request())?;
        if !self.cfg.org.roles.can(&me.role, "invitation", "cancel") {
            return Err(OrgError::NotAllowedToCancel.forbidden());
        }
        let canceled = invitation::Entity::update_many()
            .col_expr(invitation::Column::Status, Expr::value("canceled"))
            .filter(invitation::Column::Id.eq(&inv.id))
            .filter(invitation::Column::Status.eq(PENDING))
            .exec(&self.db)
            .await?;
        if canceled.rows_affected == 0 {
            // Accepted, rejected or canceled already: its outcome stands.
            return Err(OrgError::InvitationNotFound.bad_request());
        }
        Ok(invitation::Model {
            status: "canceled".into(),
            ..inv
        })
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
            .ok_or_else(|| OrgError::OrganizationNotFound.bad_request())?;
        if self
            .membership(&inv.organization_id, &inv.inviter_id)
            .await?
            .is_none()
        {
            return Err(OrgError::InviterGone.bad_request());
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
        let org = organization_id
            .or_else(|| current.session.active_organization_id.clone())
            .ok_or_else(|| OrgError::NoActiveOrganization.bad_request())?;
        let me = self
            .membership(&org, &current.user.id)
            .await?
            .ok_or_else(|| OrgError::YouAreNotAMember.forbidden())?;
        if !roles.can(&me.role, "invitation", "create") {
            return Err(OrgError::NotAllowedToListInvitations.forbidden());
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
            return Err(OrgError::VerificationRequiredToView.forbidden());
        }
        Ok(invitation::Entity::find()
            .filter(invitation::Column::Email.eq(current.user.email.to_lowercase()))
            .filter(invitation::Column::Status.eq(PENDING))
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
