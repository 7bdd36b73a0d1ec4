//! Members of an organization: admitting one (the step every way in shares), reading roles,
//! listing, leaving, removal and role changes. The owner rules are decided with the organization
//! and its member rows locked, so concurrent demotions, removals and departures can never leave an
//! organization without an owner.

use entity::{invitation, member, team, team_member, user};
use migration::constraints::MEMBER;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseTransaction, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

use super::access::{Permission, Statements};
use super::invitations::InvitationStatus;
use super::organizations::{resolve, Target};
use super::{lock_row, Locked};
use crate::error::{OnUnique, OrgError};
use crate::session::{self, Current};
use crate::{Auth, Error, Result};

/// How `list-members` pages and sorts.
#[derive(Clone, Debug, Default)]
pub struct MemberPage {
    pub limit: Option<u64>,
    pub offset: Option<u64>,
    /// `createdAt` (default) or `role`.
    pub sort_by: Option<String>,
    pub descending: bool,
    /// Only members whose role list contains this role.
    pub role: Option<String>,
}

/// The organization's members, locked until the transaction ends (PostgreSQL `FOR UPDATE`;
/// SQLite serialises writers anyway).
async fn members_for_update(
    txn: &DatabaseTransaction,
    organization_id: &str,
) -> Result<Vec<member::Model>> {
    Ok(member::Entity::find()
        .filter(member::Column::OrganizationId.eq(organization_id))
        .lock_exclusive()
        .all(txn)
        .await?)
}

/// The organization's members, with the organization and its member rows locked in that order
/// (the order every change to an organization takes them in); none when it does not exist.
pub(crate) async fn lock_members(
    txn: &DatabaseTransaction,
    organization_id: &str,
) -> Result<Vec<member::Model>> {
    match lock_row(txn, organization_id).await? {
        Some(_) => members_for_update(txn, organization_id).await,
        None => Ok(Vec::new()),
    }
}

impl Locked<'_> {
    /// The organization's members, their rows locked too.
    pub async fn members(&self) -> Result<Vec<member::Model>> {
        members_for_update(self.txn, self.id()).await
    }

    /// Admits `user_id` with `role`: refused when they are a member already, or when the
    /// organization has reached its membership limit. Every way in (creating the organization,
    /// accepting an invitation, the operator's `add-member`) goes through here.
    pub async fn admit(&self, user_id: &str, role: &str) -> Result<member::Model> {
        if self.member(user_id).await?.is_some() {
            return Err(OrgError::AlreadyAMember.into());
        }
        let count = member::Entity::find()
            .filter(member::Column::OrganizationId.eq(self.id()))
            .count(self.txn)
            .await?;
        if count >= self.cfg.membership_limit {
            return Err(OrgError::MembershipLimitReached.into());
        }
        member::ActiveModel {
            organization_id: Set(self.id().to_owned()),
            user_id: Set(user_id.to_owned()),
            role: Set(role.to_owned()),
            created_at: Set(self.now),
            ..Default::default()
        }
        .insert(self.txn)
        .await
        .on_unique(&MEMBER, OrgError::AlreadyAMember)
    }

    /// Ends membership `m` and what hangs off it: the user's memberships of the organization's
    /// teams, the invitations they sent that are still pending, and the organization (and its
    /// teams) as active in any of the user's sessions.
    async fn remove(&self, m: &member::Model) -> Result<()> {
        let org_teams = Query::select()
            .column(team::Column::Id)
            .from(team::Entity)
            .and_where(team::Column::OrganizationId.eq(self.id()))
            .to_owned();
        let left: Vec<String> = team_member::Entity::find()
            .filter(team_member::Column::UserId.eq(&m.user_id))
            .filter(team_member::Column::TeamId.in_subquery(org_teams.clone()))
            .all(self.txn)
            .await?
            .into_iter()
            .map(|tm| tm.team_id)
            .collect();
        team_member::Entity::delete_many()
            .filter(team_member::Column::UserId.eq(&m.user_id))
            .filter(team_member::Column::TeamId.in_subquery(org_teams))
            .exec(self.txn)
            .await?;
        self.columns.sync_team_counts(self.txn, &left).await?;
        // What they invited while they had access does not outlive it.
        invitation::Entity::update_many()
            .col_expr(
                invitation::Column::Status,
                Expr::value(InvitationStatus::Canceled),
            )
            .filter(invitation::Column::OrganizationId.eq(self.id()))
            .filter(invitation::Column::InviterId.eq(&m.user_id))
            .filter(invitation::Column::Status.eq(InvitationStatus::Pending))
            .exec(self.txn)
            .await?;
        member::Entity::delete_by_id(&m.id).exec(self.txn).await?;
        session::forget_organization(self.txn, self.id(), Some(&m.user_id)).await?;
        Ok(())
    }
}

impl Auth {
    /// How many members `organization_id` has: from the session cache when it holds the count
    /// (kept until a member joins or leaves), else counted, and kept there.
    async fn member_count(&self, organization_id: &str) -> Result<u64> {
        let cache = self.session_cache.as_ref();
        if let Some(count) = cache.and_then(|c| c.member_count(organization_id)) {
            return Ok(count);
        }
        let ticket = cache.and_then(crate::session_cache::SessionCache::ticket);
        let count = self
            .lookups
            .member_count(organization_id.to_owned())
            .await?;
        if let (Some(cache), Some(ticket)) = (cache, ticket) {
            cache.fill_member_count(ticket, organization_id, count);
        }
        Ok(count)
    }

    /// The organization a members route names: `ORGANIZATION_NOT_FOUND` for an unknown slug,
    /// `NO_ACTIVE_ORGANIZATION` when it names the active one and there is none.
    async fn members_organization(&self, current: &Current, target: Target) -> Result<String> {
        Ok(resolve(&self.db, Some(current), target)
            .await?
            .ok_or(OrgError::NoActiveOrganization)?)
    }

    /// The organization locked in `txn`, with its members (their rows locked too) and
    /// `user_id`'s membership among them: `MEMBER_NOT_FOUND` when they have none (or there is no
    /// such organization).
    async fn lock_members_as<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        organization_id: &str,
        user_id: &str,
    ) -> Result<(Locked<'a>, Vec<member::Model>, member::Model)> {
        let locked = self
            .lock(txn, organization_id)
            .await?
            .ok_or(OrgError::MemberNotFound)?;
        let members = locked.members().await?;
        let me = members
            .iter()
            .find(|m| m.user_id == user_id)
            .cloned()
            .ok_or(OrgError::MemberNotFound)?;
        Ok((locked, members, me))
    }

    /// `get-active-member`: the caller's membership of the active organization, with the user.
    pub async fn active_member(&self, current: &Current) -> Result<(member::Model, user::Model)> {
        let org = self.members_organization(current, Target::Active).await?;
        let m = self
            .membership(&org, &current.user.id)
            .await?
            .ok_or(OrgError::MemberNotFound)?;
        Ok((m, current.user.clone()))
    }

    /// `get-active-member-role`: a member's role (the caller's, or `user_id`'s), for members only.
    pub async fn member_role(
        &self,
        current: &Current,
        target: Target,
        user_id: Option<String>,
    ) -> Result<String> {
        let org = self.members_organization(current, target).await?;
        let me = self
            .membership(&org, &current.user.id)
            .await?
            .ok_or(OrgError::YouAreNotAMember)?;
        match user_id {
            Some(uid) if uid != current.user.id => Ok(self
                .membership(&org, &uid)
                .await?
                .ok_or(OrgError::YouAreNotAMember)?
                .role),
            _ => Ok(me.role),
        }
    }

    /// `list-members`: a page of members with their users, and how many there are in all.
    pub async fn list_members(
        &self,
        current: &Current,
        target: Target,
        page: MemberPage,
    ) -> Result<(Vec<(member::Model, user::Model)>, u64)> {
        let org = self.members_organization(current, target).await?;
        self.membership(&org, &current.user.id)
            .await?
            .ok_or(OrgError::YouAreNotAMember)?;
        let limit = page
            .limit
            .unwrap_or(self.cfg.org.membership_limit)
            .min(self.cfg.org.membership_limit);
        let by_creation = matches!(page.sort_by.as_deref(), None | Some("createdAt"));
        let mut counted = None;
        if page.role.is_none() && by_creation {
            // The common page: from the batched read of the organization's first members, when
            // it holds them all or the page lies within them.
            let members = self.lookups.members(org.clone()).await?;
            let held = members.len() as u64;
            // Fewer than the lookup takes: these are all of them, and no count is needed.
            let total = if members.len() < crate::lookups::LISTED {
                held
            } else {
                self.member_count(&org).await?
            };
            counted = Some(total);
            let end = page.offset.unwrap_or(0).saturating_add(limit);
            if total == held || (!page.descending && end <= held) {
                // Only the page's rows are cloned out of the shared read.
                let mut rows: Vec<_> = members.iter().collect();
                if page.descending {
                    // Stable: equal times keep their id order, as in the statement below.
                    rows.sort_by_key(|(m, _)| std::cmp::Reverse(m.created_at));
                }
                let rows = rows
                    .into_iter()
                    .skip(usize::try_from(page.offset.unwrap_or(0)).unwrap_or(usize::MAX))
                    .take(usize::try_from(limit).unwrap_or(usize::MAX))
                    .cloned()
                    .collect();
                return Ok((rows, total));
            }
        }
        let mut query = member::Entity::find().filter(member::Column::OrganizationId.eq(&org));
        if let Some(role) = &page.role {
            // An exact element of the comma-joined list.
            query = query.filter(
                Condition::any()
                    .add(member::Column::Role.eq(role))
                    .add(member::Column::Role.starts_with(format!("{role},")))
                    .add(member::Column::Role.ends_with(format!(",{role}")))
                    .add(member::Column::Role.contains(format!(",{role},"))),
            );
        }
        let total = match counted {
            Some(total) => total,
            None => query.clone().count(&self.db).await?,
        };
        let column = match page.sort_by.as_deref() {
            None | Some("createdAt") => member::Column::CreatedAt,
            Some("role") => member::Column::Role,
            Some(other) => {
                return Err(Error::invalid(
                    "sortBy",
                    format!("Cannot sort by {other}: use createdAt or role"),
                ))
            }
        };
        let query = if page.descending {
            query.order_by_desc(column)
        } else {
            query.order_by_asc(column)
        };
        // The page's members alone first, so the range is taken from the index order (a join
        // with users would let the planner sort the whole organization), then their users.
        let page_members = query
            .order_by_asc(member::Column::Id)
            .limit(limit)
            .offset(page.offset.unwrap_or(0))
            .all(&self.db)
            .await?;
        let ids: Vec<&str> = page_members.iter().map(|m| m.user_id.as_str()).collect();
        let mut users: std::collections::HashMap<String, user::Model> = user::Entity::find()
            .filter(user::Column::Id.is_in(ids))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|u| (u.id.clone(), u))
            .collect();
        let rows = page_members
            .into_iter()
            // A user is a member once, so each user is taken once.
            .filter_map(|m| users.remove(&m.user_id).map(|u| (m, u)))
            .collect();
        Ok((rows, total))
    }

    /// `has-permission`: whether one of the caller's roles grants every requested action.
    pub async fn has_permission(
        &self,
        current: &Current,
        organization_id: Option<String>,
        request: &Statements,
    ) -> Result<bool> {
        let target = Target::id_or_active(organization_id);
        let org = self.members_organization(current, target).await?;
        let me = self
            .membership(&org, &current.user.id)
            .await?
            .ok_or(OrgError::NotAMember)?;
        Ok(self.cfg.org.roles.allows(&me.role, request))
    }

    /// `leave`: the caller leaves; the last owner cannot.
    pub async fn leave_organization(
        &self,
        current: &Current,
        organization_id: &str,
    ) -> Result<member::Model> {
        let roles = &self.cfg.org.roles;
        let txn = self.db.begin().await?;
        let (locked, members, me) = self
            .lock_members_as(&txn, organization_id, &current.user.id)
            .await?;
        let owners = members.iter().filter(|m| roles.is_creator(&m.role)).count();
        if roles.is_creator(&me.role) && owners <= 1 {
            return Err(OrgError::OnlyOwner.into());
        }
        locked.remove(&me).await?;
        txn.commit().await?;
        crate::audit::event("member_left", &me.user_id, Some(&me.organization_id));
        Ok(me)
    }

    /// `remove-member`: by member id or (with `@`) email. Needs `member:delete`; only an owner
    /// removes an owner, and never the last one.
    pub async fn remove_member(
        &self,
        current: &Current,
        organization_id: Option<String>,
        member_id_or_email: &str,
    ) -> Result<(member::Model, user::Model)> {
        let roles = &self.cfg.org.roles;
        let target = Target::id_or_active(organization_id);
        let org = self.members_organization(current, target).await?;
        let txn = self.db.begin().await?;
        let (locked, members, me) = self.lock_members_as(&txn, &org, &current.user.id).await?;
        let target = if member_id_or_email.contains('@') {
            let email = member_id_or_email.trim().to_lowercase();
            let u = user::Entity::find()
                .filter(user::Column::Email.eq(email))
                .one(&txn)
                .await?;
            u.and_then(|u| members.iter().find(|m| m.user_id == u.id))
        } else {
            members.iter().find(|m| m.id == member_id_or_email)
        }
        .ok_or(OrgError::MemberNotFound)?;
        if roles.is_creator(&target.role) {
            let owners = members.iter().filter(|m| roles.is_creator(&m.role)).count();
            if !roles.is_creator(&me.role) || owners <= 1 {
                return Err(OrgError::OnlyOwner.into());
            }
        }
        if target.id != me.id && !roles.can(&me.role, Permission::DELETE_MEMBER) {
            return Err(OrgError::NotAllowedToDeleteMember.into());
        }
        let target_user = user::Entity::find_by_id(&target.user_id)
            .one(&txn)
            .await?
            .ok_or(Error::UserNotFound)?;
        locked.remove(target).await?;
        let target = target.clone();
        txn.commit().await?;
        tracing::info!(
            target: "orgauth::security",
            event = "member_removed",
            user_id = %target.user_id,
            organization_id = %target.organization_id,
            by_user_id = %current.user.id,
            "security event"
        );
        Ok((target, target_user))
    }

    /// `update-member-role`: needs `member:update` (the creator role always may). Only an owner
    /// grants the owner role or changes an owner, and the last owner cannot be demoted.
    pub async fn update_member_role(
        &self,
        current: &Current,
        organization_id: Option<String>,
        member_id: &str,
        requested: &[String],
    ) -> Result<member::Model> {
        let roles = &self.cfg.org.roles;
        let new_role = roles.parse(requested)?;
        let target = Target::id_or_active(organization_id);
        let org = self.members_organization(current, target).await?;
        let txn = self.db.begin().await?;
        let (_, members, me) = self.lock_members_as(&txn, &org, &current.user.id).await?;
        let Some(target) = members.iter().find(|m| m.id == member_id).cloned() else {
            // A member of another organization is not the caller's to update (Better Auth's
            // refusal); an id nobody has is not found.
            let elsewhere = member::Entity::find_by_id(member_id).one(&txn).await?;
            return Err(match elsewhere {
                Some(_) => OrgError::NotAllowedToUpdateMember,
                None => OrgError::MemberNotFound,
            }
            .into());
        };
        let i_am_owner = roles.is_creator(&me.role);
        if !i_am_owner && (roles.is_creator(&target.role) || roles.is_creator(&new_role)) {
            return Err(OrgError::NotAllowedToUpdateMember.into());
        }
        if roles.is_creator(&target.role) && !roles.is_creator(&new_role) {
            let owners = members.iter().filter(|m| roles.is_creator(&m.role)).count();
            if owners <= 1 {
                return Err(OrgError::WithoutAnOwner.into());
            }
        }
        if !i_am_owner && !roles.can(&me.role, Permission::UPDATE_MEMBER) {
            return Err(OrgError::NotAllowedToUpdateMember.into());
        }
        let mut active = target.into_active_model();
        active.role = Set(new_role);
        let updated = active.update(&txn).await?;
        txn.commit().await?;
        tracing::info!(
            target: "orgauth::security",
            event = "role_changed",
            user_id = %updated.user_id,
            organization_id = %updated.organization_id,
            role = %updated.role,
            by_user_id = %current.user.id,
            "security event"
        );
        Ok(updated)
    }

    /// Adds an existing user to an organization (by id or slug) directly, without an invitation,
    /// through the same admission as every other way in. Not an HTTP route: it is the operator's
    /// tool (`orgauth add-member`), for seeding and support.
    pub async fn add_member(
        &self,
        organization: &str,
        email: &str,
        requested_roles: &[String],
    ) -> Result<member::Model> {
        let role = self.cfg.org.roles.parse(requested_roles)?;
        let email = crate::credentials::normalize_email(email).ok_or(Error::InvalidEmail)?;
        let target = Target::IdOrSlug(organization.to_owned());
        let org = resolve(&self.db, None, target)
            .await?
            .ok_or(OrgError::OrganizationNotFound)?;
        let txn = self.db.begin().await?;
        let locked = self
            .lock(&txn, &org)
            .await?
            .ok_or(OrgError::OrganizationNotFound)?;
        let user = user::Entity::find()
            .filter(user::Column::Email.eq(&email))
            .one(&txn)
            .await?
            .ok_or(Error::UserNotFound)?;
        let added = locked.admit(&user.id, &role).await?;
        txn.commit().await?;
        Ok(added)
    }
}
