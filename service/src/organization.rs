//! Organizations: create (with the creator as owner and a default team), look up, switch the
//! session's active organization, update, delete. Every operation that names an organization
//! checks the caller's membership of that organization, never only the session's active one.

use entity::{invitation, member, organization, session, team, team_member, user};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, Set, SqlErr, TransactionTrait,
};

use crate::access::role_names;
use crate::clock::db_time;
use crate::error::OrgError;
use crate::lookups::LISTED;
use crate::session::Current;
use crate::{Auth, Error, Result};

pub struct NewOrganization {
    pub name: String,
    pub slug: String,
    pub logo: Option<String>,
    /// Stored as a JSON string, as Better Auth does.
    pub metadata: Option<serde_json::Value>,
    pub keep_current_active: bool,
}

/// Fields `update` may change; `None` leaves a field as it is.
#[derive(Default)]
pub struct OrganizationUpdate {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub logo: Option<Option<String>>,
    pub metadata: Option<serde_json::Value>,
}

/// Which organization a request names.
pub enum Target {
    Id(String),
    Slug(String),
    /// The session's active organization.
    Active,
}

/// An organization with its members (and their users), teams (with member counts) and the
/// invitations the caller may see.
pub struct FullOrganization {
    pub organization: organization::Model,
    pub members: Vec<(member::Model, user::Model)>,
    pub teams: Vec<(team::Model, u64)>,
    pub invitations: Vec<invitation::Model>,
}

/// Slugs are 1 to 64 characters of `a-z`, `0-9` and `-`, not starting or ending with `-`, so they
/// are safe in URLs and unambiguous.
pub fn validate_slug(slug: &str) -> Result<()> {
    let ok = (1..=64).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(Error::Validation(
            "[body.slug] A slug is 1 to 64 characters of a-z, 0-9 and '-', not starting or ending with '-'".into(),
        ))
    }
}

fn validate_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.chars().count() > 256 {
        return Err(Error::Validation(
            "[body.name] A name is 1 to 256 characters".into(),
        ));
    }
    Ok(())
}

fn unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Points `session_id` at an organization and team (or at none).
async fn set_session_active(
    db: &impl ConnectionTrait,
    session_id: &str,
    organization_id: Option<&str>,
    team_id: Option<&str>,
) -> Result<()> {
    session::Entity::update_many()
        .col_expr(
            session::Column::ActiveOrganizationId,
            Expr::value(organization_id.map(str::to_owned)),
        )
        .col_expr(
            session::Column::ActiveTeamId,
            Expr::value(team_id.map(str::to_owned)),
        )
        .filter(session::Column::Id.eq(session_id))
        .exec(db)
        .await?;
    Ok(())
}

impl Auth {
    /// The user's membership of an organization (a batched lookup, see [`crate::lookups`]).
    pub async fn membership(
        &self,
        organization_id: &str,
        user_id: &str,
    ) -> Result<Option<member::Model>> {
        Ok(self
            .lookups
            .membership(organization_id.to_owned(), user_id.to_owned())
            .await?
            .map(|(_, m)| m))
    }

    /// Creates an organization, makes the caller its owner, creates the default team with the
    /// caller in it, and (unless asked not to) makes it the session's active organization and
    /// team, all in one transaction. A taken slug is decided by the unique constraint.
    pub async fn create_organization(
        &self,
        current: &Current,
        input: NewOrganization,
    ) -> Result<(organization::Model, member::Model)> {
        let cfg = &self.cfg.org;
        if !cfg.allow_user_to_create_organization {
            return Err(OrgError::NotAllowedToCreateOrganization.forbidden());
        }
        validate_name(&input.name)?;
        validate_slug(&input.slug)?;
        if let Some(limit) = cfg.organization_limit {
            let memberships = member::Entity::find()
                .filter(member::Column::UserId.eq(&current.user.id))
                .count(&self.db)
                .await?;
            if memberships >= limit {
                return Err(OrgError::OrganizationLimitReached.forbidden());
            }
        }
        let now = db_time(self.clock.now());
        let txn = self.db.begin().await?;
        let org = organization::ActiveModel {
            name: Set(input.name.clone()),
            slug: Set(input.slug),
            logo: Set(input.logo),
            metadata: Set(input.metadata.map(|m| m.to_string())),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .map_err(|e| {
            if unique_violation(&e) {
                OrgError::OrganizationAlreadyExists.bad_request()
            } else {
                e.into()
            }
        })?;
        let owner = member::ActiveModel {
            organization_id: Set(org.id.clone()),
            user_id: Set(current.user.id.clone()),
            role: Set(cfg.roles.creator_role.clone()),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        let default_team = if cfg.default_team {
            let team = team::ActiveModel {
                name: Set(input.name),
                organization_id: Set(org.id.clone()),
                created_at: Set(now),
                updated_at: Set(None),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
            let row = team_member::ActiveModel {
                team_id: Set(team.id.clone()),
                user_id: Set(current.user.id.clone()),
                created_at: Set(Some(now)),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
            self.cfg.columns.team_member_added(&txn, &row).await?;
            Some(team.id)
        } else {
            None
        };
        if !input.keep_current_active {
            set_session_active(
                &txn,
                &current.session.id,
                Some(&org.id),
                default_team.as_deref(),
            )
            .await?;
        }
        txn.commit().await?;
        Ok((org, owner))
    }

    /// The organization with `slug`, or 400 `ORGANIZATION_NOT_FOUND`.
    pub async fn organization_by_slug(&self, slug: &str) -> Result<organization::Model> {
        organization::Entity::find()
            .filter(organization::Column::Slug.eq(slug))
            .one(&self.db)
            .await?
            .ok_or_else(|| OrgError::OrganizationNotFound.bad_request())
    }

    /// `check-slug`: whether a slug is free (a hint only; `create` decides by the constraint).
    pub async fn check_slug(&self, slug: &str) -> Result<()> {
        validate_slug(slug)?;
        let taken = organization::Entity::find()
            .filter(organization::Column::Slug.eq(slug))
            .count(&self.db)
            .await?;
        if taken > 0 {
            return Err(OrgError::SlugAlreadyTaken.bad_request());
        }
        Ok(())
    }

    /// The organizations the user is a member of, oldest first (at most 100), batched with other
    /// requests' (see [`crate::lookups`]).
    pub async fn list_organizations(&self, user_id: &str) -> Result<Vec<organization::Model>> {
        self.lookups.organizations_of(user_id.to_owned()).await
    }

    /// Resolves `target` to an organization the caller is a member of, in one statement (the
    /// organization joined with the caller's membership; batched for ids, see [`crate::lookups`]). `Ok(None)` when the target is the
    /// active organization and there is none. An unknown organization is 400
    /// `ORGANIZATION_NOT_FOUND`; a non-member is refused with 403, and (as Better Auth does) their
    /// session's active organization is cleared if it pointed there.
    async fn member_organization(
        &self,
        current: &Current,
        target: Target,
    ) -> Result<Option<(organization::Model, member::Model)>> {
        let user_id = current.user.id.clone();
        let (found, named) = match target {
            Target::Slug(slug) => {
                let named = organization::Column::Slug.eq(slug);
                let found = organization::Entity::find()
                    .filter(named.clone())
                    .find_also_related(member::Entity)
                    .filter(member::Column::UserId.eq(&user_id))
                    .one(&self.db)
                    .await?
                    .and_then(|(org, m)| Some((org, m?)));
                (found, named)
            }
            Target::Id(id) => (
                self.lookups.membership(id.clone(), user_id).await?,
                organization::Column::Id.eq(id),
            ),
            Target::Active => match &current.session.active_organization_id {
                Some(id) => (
                    self.lookups.membership(id.clone(), user_id).await?,
                    organization::Column::Id.eq(id),
                ),
                None => return Ok(None),
            },
        };
        if let Some(found) = found {
            return Ok(Some(found));
        }
        let exists = organization::Entity::find()
            .filter(named)
            .count(&self.db)
            .await?
            > 0;
        if !exists {
            return Err(OrgError::OrganizationNotFound.bad_request());
        }
        if current.session.active_organization_id.is_some() {
            set_session_active(&self.db, &current.session.id, None, None).await?;
        }
        Err(OrgError::NotAMember.forbidden())
    }

    /// `set-active`: makes an organization the session's active one (`None` clears it). Moving
    /// to another organization clears the active team, which belonged to the old one.
    pub async fn set_active_organization(
        &self,
        current: &Current,
        target: Option<Target>,
    ) -> Result<Option<organization::Model>> {
        let Some(target) = target else {
            set_session_active(&self.db, &current.session.id, None, None).await?;
            return Ok(None);
        };
        let Some((org, _)) = self.member_organization(current, target).await? else {
            return Ok(None);
        };
        let team = if current.session.active_organization_id.as_deref() == Some(org.id.as_str()) {
            current.session.active_team_id.clone()
        } else {
            None
        };
        set_session_active(
            &self.db,
            &current.session.id,
            Some(&org.id),
            team.as_deref(),
        )
        .await?;
        Ok(Some(org))
    }

    /// `get-organization`: the named (or active) organization, if the caller is a member.
    pub async fn organization(
        &self,
        current: &Current,
        target: Target,
    ) -> Result<Option<organization::Model>> {
        Ok(self
            .member_organization(current, target)
            .await?
            .map(|(org, _)| org))
    }

    /// `get-full-organization`: the organization with members, teams and — only for those allowed
    /// to invite — its invitations (creator-role invitations only for holders of that role).
    pub async fn full_organization(
        &self,
        current: &Current,
        target: Target,
        members_limit: Option<u64>,
    ) -> Result<Option<FullOrganization>> {
        let Some((org, me)) = self.member_organization(current, target).await? else {
            return Ok(None);
        };
        let roles = &self.cfg.org.roles;
        let (members, contents) = tokio::try_join!(
            self.lookups.members(org.id.clone()),
            self.lookups.contents(org.id.clone())
        )?;
        let limit = members_limit.map_or(LISTED, |n| usize::try_from(n).unwrap_or(LISTED));
        let members = members.rows.iter().take(limit).cloned().collect();
        let teams = contents.teams.clone();
        let invitations = if roles.can(&me.role, "invitation", "create") {
            let creator = roles.is_creator(&me.role);
            contents
                .invitations
                .iter()
                .filter(|i| {
                    creator
                        || !role_names(i.role.as_deref().unwrap_or(""))
                            .contains(&roles.creator_role.as_str())
                })
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        Ok(Some(FullOrganization {
            organization: org,
            members,
            teams,
            invitations,
        }))
    }

    /// `update`: changes name, slug, logo or metadata; needs `organization:update`. A taken slug is
    /// decided by the unique constraint.
    pub async fn update_organization(
        &self,
        current: &Current,
        organization_id: Option<String>,
        update: OrganizationUpdate,
    ) -> Result<organization::Model> {
        let id = organization_id
            .or_else(|| current.session.active_organization_id.clone())
            .ok_or_else(|| OrgError::OrganizationNotFound.bad_request())?;
        let me = self
            .membership(&id, &current.user.id)
            .await?
            .ok_or_else(|| OrgError::NotAMember.bad_request())?;
        if !self.cfg.org.roles.can(&me.role, "organization", "update") {
            return Err(OrgError::NotAllowedToUpdateOrganization.forbidden());
        }
        if let Some(name) = &update.name {
            validate_name(name)?;
        }
        if let Some(slug) = &update.slug {
            validate_slug(slug)?;
        }
        let org = organization::Entity::find_by_id(&id)
            .one(&self.db)
            .await?
            .ok_or_else(|| OrgError::OrganizationNotFound.bad_request())?;
        let mut active = org.into_active_model();
        if let Some(name) = update.name {
            active.name = Set(name);
        }
        if let Some(slug) = update.slug {
            active.slug = Set(slug);
        }
        if let Some(logo) = update.logo {
            active.logo = Set(logo);
        }
        if let Some(metadata) = update.metadata {
            active.metadata = Set(Some(metadata.to_string()));
        }
        active.update(&self.db).await.map_err(|e| {
            if unique_violation(&e) {
                OrgError::SlugAlreadyTaken.bad_request()
            } else {
                e.into()
            }
        })
    }

    /// `delete`: needs `organization:delete`. Teams, members, team members and invitations go with
    /// it (cascades), and every session that had it (or one of its teams) active forgets it.
    pub async fn delete_organization(
        &self,
        current: &Current,
        organization_id: &str,
    ) -> Result<organization::Model> {
        if self.cfg.org.disable_organization_deletion {
            return Err(OrgError::DeletionDisabled.not_found());
        }
        let me = self
            .membership(organization_id, &current.user.id)
            .await?
            .ok_or_else(|| OrgError::NotAMember.bad_request())?;
        if !self.cfg.org.roles.can(&me.role, "organization", "delete") {
            return Err(OrgError::NotAllowedToDeleteOrganization.forbidden());
        }
        let txn = self.db.begin().await?;
        let org = organization::Entity::find_by_id(organization_id)
            .one(&txn)
            .await?
            .ok_or_else(|| OrgError::OrganizationNotFound.bad_request())?;
        crate::session::forget_organization(&txn, organization_id, None).await?;
        organization::Entity::delete_by_id(organization_id)
            .exec(&txn)
            .await?;
        txn.commit().await?;
        crate::audit::event("organization_deleted", &current.user.id, Some(&org.id));
        Ok(org)
    }
}
