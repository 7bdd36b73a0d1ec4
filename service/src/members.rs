//! Members of an organization: reading roles, listing, leaving, removal and role changes. The
//! owner rules are decided inside one transaction that locks the organization's member rows, so
//! concurrent demotions, removals and departures can never leave an organization without an owner.

use entity::{member, team, team_member, user};
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

use crate::access::{role_names, Statements};
use crate::better_auth_columns::BetterAuthColumns;
use crate::error::OrgError;
use crate::organization::Target;
use crate::session::Current;
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

/// Normalises a requested role list and checks every role exists.
pub fn parse_roles(auth: &Auth, requested: &[String]) -> Result<String> {
    let names: Vec<&str> = requested.iter().flat_map(|r| role_names(r)).collect();
    if names.is_empty() {
        return Err(Error::Validation(
            "[body.role] At least one role is required".into(),
        ));
    }
    let unknown: Vec<&str> = names
        .iter()
        .copied()
        .filter(|r| !auth.cfg.org.roles.exists(r))
        .collect();
    if !unknown.is_empty() {
        return Err(Error::RoleNotFound(unknown.join(", ")));
    }
    Ok(names.join(","))
}

/// The organization's members, locked until the transaction ends (PostgreSQL `FOR UPDATE`;
/// SQLite serialises writers anyway).
pub(crate) async fn lock_members(
    txn: &DatabaseTransaction,
    organization_id: &str,
) -> Result<Vec<member::Model>> {
    Ok(member::Entity::find()
        .filter(member::Column::OrganizationId.eq(organization_id))
        .lock_exclusive()
        .all(txn)
        .await?)
}

/// Removes a membership and what hangs off it: the user's memberships of the organization's teams,
/// and the organization (and its teams) as active in any of the user's sessions.
async fn remove_membership(
    db: &impl ConnectionTrait,
    columns: &BetterAuthColumns,
    m: &member::Model,
) -> Result<()> {
    let org_teams = Query::select()
        .column(team::Column::Id)
        .from(team::Entity)
        .and_where(team::Column::OrganizationId.eq(&m.organization_id))
        .to_owned();
    let left: Vec<String> = team_member::Entity::find()
        .filter(team_member::Column::UserId.eq(&m.user_id))
        .filter(team_member::Column::TeamId.in_subquery(org_teams.clone()))
        .all(db)
        .await?
        .into_iter()
        .map(|tm| tm.team_id)
        .collect();
    team_member::Entity::delete_many()
        .filter(team_member::Column::UserId.eq(&m.user_id))
        .filter(team_member::Column::TeamId.in_subquery(org_teams))
        .exec(db)
        .await?;
    columns.sync_team_counts(db, &left).await?;
    // What they invited while they had access does not outlive it.
    entity::invitation::Entity::update_many()
        .col_expr(
            entity::invitation::Column::Status,
            sea_orm::sea_query::Expr::value("canceled"),
        )
        .filter(entity::invitation::Column::OrganizationId.eq(&m.organization_id))
        .filter(entity::invitation::Column::InviterId.eq(&m.user_id))
        .filter(entity::invitation::Column::Status.eq("pending"))
        .exec(db)
        .await?;
    member::Entity::delete_by_id(&m.id).exec(db).await?;
    crate::session::forget_organization(db, &m.organization_id, Some(&m.user_id)).await?;
    Ok(())
}

impl Auth {
    /// The organization id a request names: given, else the session's active one.
    fn organization_id(&self, current: &Current, given: Option<String>) -> Result<String> {
        given
            .or_else(|| current.session.active_organization_id.clone())
            .ok_or_else(|| OrgError::NoActiveOrganization.bad_request())
    }

    async fn resolve_target(&self, current: &Current, target: Target) -> Result<String> {
        match target {
            Target::Id(id) => Ok(id),
            Target::Active => self.organization_id(current, None),
            Target::Slug(slug) => Ok(self.organization_by_slug(&slug).await?.id),
        }
    }

    /// `get-active-member`: the caller's membership of the active organization, with the user.
    pub async fn active_member(&self, current: &Current) -> Result<(member::Model, user::Model)> {
        let org = self.organization_id(current, None)?;
        let m = self
            .membership(&org, &current.user.id)
            .await?
            .ok_or_else(|| OrgError::MemberNotFound.bad_request())?;
        Ok((m, current.user.clone()))
    }

    /// `get-active-member-role`: a member's role (the caller's, or `user_id`'s), for members only.
    pub async fn member_role(
        &self,
        current: &Current,
        target: Target,
        user_id: Option<String>,
    ) -> Result<String> {
        let org = self.resolve_target(current, target).await?;
        let not_member = || OrgError::YouAreNotAMember.forbidden();
        let me = self
            .membership(&org, &current.user.id)
            .await?
            .ok_or_else(not_member)?;
        match user_id {
            Some(uid) if uid != current.user.id => Ok(self
                .membership(&org, &uid)
                .await?
                .ok_or_else(not_member)?
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
        let org = self.resolve_target(current, target).await?;
        self.membership(&org, &current.user.id)
            .await?
            .ok_or_else(|| OrgError::YouAreNotAMember.forbidden())?;
        let limit = page
            .limit
            .unwrap_or(self.cfg.org.membership_limit)
            .min(self.cfg.org.membership_limit);
        let by_creation = matches!(page.sort_by.as_deref(), None | Some("createdAt"));
        if page.role.is_none() && by_creation {
            // The common page: from the batched read of the organization's first members, when
            // it holds them all or the page lies within them.
            let members = self.lookups.members(org.clone()).await?;
            let held = members.rows.len() as u64;
            let end = page.offset.unwrap_or(0).saturating_add(limit);
            if members.total == held || (!page.descending && end <= held) {
                // Only the page's rows are cloned out of the shared read.
                let mut rows: Vec<_> = members.rows.iter().collect();
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
                return Ok((rows, members.total));
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
        let total = query.clone().count(&self.db).await?;
        let column = match page.sort_by.as_deref() {
            None | Some("createdAt") => member::Column::CreatedAt,
            Some("role") => member::Column::Role,
            Some(other) => {
                return Err(Error::Validation(format!(
                    "[query.sortBy] Cannot sort by {other}: use createdAt or role"
                )))
            }
        };
        let query = if page.descending {
            query.order_by_desc(column)
        } else {
            query.order_by_asc(column)
        };
        let rows = query
            .order_by_asc(member::Column::Id)
            .find_also_related(user::Entity)
            .limit(limit)
            .offset(page.offset.unwrap_or(0))
            .all(&self.db)
            .await?;
        Ok((
            rows.into_iter()
                .filter_map(|(m, u)| u.map(|u| (m, u)))
                .collect(),
            total,
        ))
    }

    /// `has-permission`: whether one of the caller's roles grants every requested action.
    pub async fn has_permission(
        &self,
        current: &Current,
        organization_id: Option<String>,
        request: &Statements,
    ) -> Result<bool> {
        let org = self.organization_id(current, organization_id)?;
        let me = self
            .membership(&org, &current.user.id)
            .await?
            .ok_or_else(|| OrgError::NotAMember.unauthorized())?;
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
        let members = lock_members(&txn, organization_id).await?;
        let me = members
            .iter()
            .find(|m| m.user_id == current.user.id)
            .cloned()
            .ok_or_else(|| OrgError::MemberNotFound.bad_request())?;
        let owners = members.iter().filter(|m| roles.is_creator(&m.role)).count();
        if roles.is_creator(&me.role) && owners <= 1 {
            return Err(OrgError::OnlyOwner.bad_request());
        }
        remove_membership(&txn, &self.cfg.columns, &me).await?;
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
        let org = self.organization_id(current, organization_id)?;
        let txn = self.db.begin().await?;
        let members = lock_members(&txn, &org).await?;
        let me = members
            .iter()
            .find(|m| m.user_id == current.user.id)
            .ok_or_else(|| OrgError::MemberNotFound.bad_request())?;
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
        .cloned()
        .ok_or_else(|| OrgError::MemberNotFound.bad_request())?;
        if roles.is_creator(&target.role) {
            let owners = members.iter().filter(|m| roles.is_creator(&m.role)).count();
            if !roles.is_creator(&me.role) || owners <= 1 {
                return Err(OrgError::OnlyOwner.bad_request());
            }
        }
        if target.id != me.id && !roles.can(&me.role, "member", "delete") {
            return Err(OrgError::NotAllowedToDeleteMember.unauthorized());
        }
        let target_user = user::Entity::find_by_id(&target.user_id)
            .one(&txn)
            .await?
            .ok_or(Error::UserNotFound)?;
        remove_membership(&txn, &self.cfg.columns, &target).await?;
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
        let new_role = parse_roles(self, requested)?;
        let org = self.organization_id(current, organization_id)?;
        let txn = self.db.begin().await?;
        let members = lock_members(&txn, &org).await?;
        let me = members
            .iter()
            .find(|m| m.user_id == current.user.id)
            .ok_or_else(|| OrgError::MemberNotFound.bad_request())?;
        let Some(target) = members.iter().find(|m| m.id == member_id).cloned() else {
            // A member of another organization is not the caller's to update (Better Auth's 403);
            // an id nobody has is not found.
            let elsewhere = member::Entity::find_by_id(member_id).one(&txn).await?;
            return Err(match elsewhere {
                Some(_) => OrgError::NotAllowedToUpdateMember.forbidden(),
                None => OrgError::MemberNotFound.bad_request(),
            });
        };
        let i_am_owner = roles.is_creator(&me.role);
        if !i_am_owner && (roles.is_creator(&target.role) || roles.is_creator(&new_role)) {
            return Err(OrgError::NotAllowedToUpdateMember.forbidden());
        }
        if roles.is_creator(&target.role) && !roles.is_creator(&new_role) {
            let owners = members.iter().filter(|m| roles.is_creator(&m.role)).count();
            if owners <= 1 {
                return Err(OrgError::WithoutAnOwner.bad_request());
            }
        }
        if !i_am_owner && !roles.can(&me.role, "member", "update") {
            return Err(OrgError::NotAllowedToUpdateMember.forbidden());
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
}

impl Auth {
    /// Adds an existing user to an organization directly, without an invitation. Not an HTTP
    /// route: it is the operator's tool (`orgauth add-member`), for seeding and support.
    pub async fn add_member(
        &self,
        organization: &str,
        email: &str,
        requested_roles: &[String],
    ) -> Result<member::Model> {
        use entity::organization;
        let role = parse_roles(self, requested_roles)?;
        let email = crate::credentials::normalize_email(email).ok_or(Error::InvalidEmail)?;
        let txn = self.db.begin().await?;
        let org = organization::Entity::find()
            .filter(
                Condition::any()
                    .add(organization::Column::Id.eq(organization))
                    .add(organization::Column::Slug.eq(organization)),
            )
            .lock_exclusive()
            .one(&txn)
            .await?
            .ok_or_else(|| OrgError::OrganizationNotFound.bad_request())?;
        let user = user::Entity::find()
            .filter(user::Column::Email.eq(&email))
            .one(&txn)
            .await?
            .ok_or(Error::UserNotFound)?;
        let count = member::Entity::find()
            .filter(member::Column::OrganizationId.eq(&org.id))
            .count(&txn)
            .await?;
        if count >= self.cfg.org.membership_limit {
            return Err(OrgError::MembershipLimitReached.forbidden());
        }
        let added = member::ActiveModel {
            organization_id: Set(org.id),
            user_id: Set(user.id),
            role: Set(role),
            created_at: Set(crate::clock::db_time(self.clock.now())),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .map_err(|e| match e.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
                OrgError::AlreadyAMember.bad_request()
            }
            _ => e.into(),
        })?;
        txn.commit().await?;
        Ok(added)
    }
}
