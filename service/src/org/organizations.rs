//! Organizations: create (the creator as owner and in the default team), resolve what a request
//! names, read, switch the session's active organization, update, delete. Every operation that
//! names an organization checks the caller's membership of that organization, never only the
//! session's active one.

use entity::{invitation, member, organization, team, user};
use migration::constraints::ORGANIZATION_SLUG;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, Set, TransactionTrait,
};

use super::access::{role_names, Permission};
use crate::error::{OnUnique, OrgError};
use crate::lookups::LISTED;
use crate::session::{self, Current};
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Id(String),
    Slug(String),
    /// The operator names an organization by id or by slug.
    IdOrSlug(String),
    /// The session's active organization.
    Active,
}

impl Target {
    /// Organization `id`, else the session's active one.
    pub fn id_or_active(id: Option<String>) -> Self {
        id.map_or(Target::Active, Target::Id)
    }

    /// The condition on `organization` that names it (for the active organization, in
    /// `current`'s view: none when it has none).
    fn condition(self, current: Option<&Current>) -> Condition {
        let (id, slug) = (organization::Column::Id, organization::Column::Slug);
        match self {
            Target::Id(key) => Condition::all().add(id.eq(key)),
            Target::Slug(key) => Condition::all().add(slug.eq(key)),
            Target::IdOrSlug(key) => Condition::any().add(id.eq(key.clone())).add(slug.eq(key)),
            Target::Active => {
                match current.and_then(|c| c.session.active_organization_id.clone()) {
                    Some(key) => Condition::all().add(id.eq(key)),
                    None => Condition::any(),
                }
            }
        }
    }

    /// By id if given, else by slug, else the session's active one.
    pub fn of(id: Option<String>, slug: Option<String>) -> Self {
        match (id, slug) {
            (Some(id), _) => Target::Id(id),
            (None, Some(slug)) => Target::Slug(slug),
            (None, None) => Target::Active,
        }
    }
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
        Err(Error::invalid(
            "slug",
            "A slug is 1 to 64 characters of a-z, 0-9 and '-', not starting or ending with '-'",
        ))
    }
}

/// Names of organizations and teams: 1 to 256 characters, not only white space.
pub(crate) fn validate_name(field: &'static str, what: &str, name: &str) -> Result<()> {
    if name.trim().is_empty() || name.chars().count() > 256 {
        return Err(Error::invalid(
            field,
            format!("{what} is 1 to 256 characters"),
        ));
    }
    Ok(())
}

/// The id of the organization `target` names, in `current`'s view (its active organization);
/// `None` when it names the active organization and there is none. A slug is looked up, and an
/// unknown one is `ORGANIZATION_NOT_FOUND`; an id is taken as it is (membership decides).
pub(crate) async fn resolve(
    db: &impl ConnectionTrait,
    current: Option<&Current>,
    target: Target,
) -> Result<Option<String>> {
    let named = match target {
        Target::Id(id) => return Ok(Some(id)),
        Target::Active => {
            return Ok(current.and_then(|c| c.session.active_organization_id.clone()));
        }
        by_key => by_key.condition(current),
    };
    let found = organization::Entity::find().filter(named).one(db).await?;
    Ok(Some(found.ok_or(OrgError::OrganizationNotFound)?.id))
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
            return Err(OrgError::NotAllowedToCreateOrganization.into());
        }
        validate_name("name", "A name", &input.name)?;
        validate_slug(&input.slug)?;
        if let Some(limit) = cfg.organization_limit {
            let memberships = member::Entity::find()
                .filter(member::Column::UserId.eq(&current.user.id))
                .count(&self.db)
                .await?;
            if memberships >= limit {
                return Err(OrgError::OrganizationLimitReached.into());
            }
        }
        let txn = self.db.begin().await?;
        let now = crate::clock::db_time(self.clock.now());
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
        .on_unique(&ORGANIZATION_SLUG, OrgError::OrganizationAlreadyExists)?;
        let locked = self.locked(&txn, org);
        let owner = locked
            .admit(&current.user.id, &cfg.roles.creator_role)
            .await?;
        let default_team = match cfg.default_team {
            true => {
                let team = locked.insert_team(&input.name).await?;
                locked.admit_to_team(&team.id, &current.user.id).await?;
                Some(team.id)
            }
            false => None,
        };
        if !input.keep_current_active {
            session::set_active(
                &txn,
                &current.session.id,
                Some(locked.id()),
                default_team.as_deref(),
            )
            .await?;
        }
        let org = locked.organization;
        txn.commit().await?;
        Ok((org, owner))
    }

    /// `check-slug`: whether a slug is free (a hint only; `create` decides by the constraint).
    pub async fn check_slug(&self, slug: &str) -> Result<()> {
        validate_slug(slug)?;
        let taken = organization::Entity::find()
            .filter(organization::Column::Slug.eq(slug))
            .count(&self.db)
            .await?;
        if taken > 0 {
            return Err(OrgError::SlugAlreadyTaken.into());
        }
        Ok(())
    }

    /// The organizations the user is a member of, oldest first (at most 100), batched with other
    /// requests' (see [`crate::lookups`]).
    pub async fn list_organizations(&self, user_id: &str) -> Result<Vec<organization::Model>> {
        self.lookups.organizations_of(user_id.to_owned()).await
    }

    /// Resolves `target` to an organization the caller is a member of, in one statement (the
    /// organization joined with the caller's membership; batched for ids, see
    /// [`crate::lookups`]). `Ok(None)` when the target is the active organization and there is
    /// none. An unknown organization is `ORGANIZATION_NOT_FOUND`; a non-member is refused, and (as
    /// Better Auth does) their session's active organization is cleared if it pointed there.
    async fn member_organization(
        &self,
        current: &Current,
        target: Target,
    ) -> Result<Option<(organization::Model, member::Model)>> {
        let user_id = current.user.id.clone();
        let found = match &target {
            Target::Id(id) => self.lookups.membership(id.clone(), user_id).await?,
            Target::Active => match &current.session.active_organization_id {
                Some(id) => self.lookups.membership(id.clone(), user_id).await?,
                None => return Ok(None),
            },
            by_key => organization::Entity::find()
                .filter(by_key.clone().condition(Some(current)))
                .find_also_related(member::Entity)
                .filter(member::Column::UserId.eq(&user_id))
                .one(&self.db)
                .await?
                .and_then(|(org, m)| Some((org, m?))),
        };
        if let Some(found) = found {
            return Ok(Some(found));
        }
        let exists = organization::Entity::find()
            .filter(target.condition(Some(current)))
            .count(&self.db)
            .await?
            > 0;
        if !exists {
            return Err(OrgError::OrganizationNotFound.into());
        }
        if current.session.active_organization_id.is_some() {
            session::set_active(&self.db, &current.session.id, None, None).await?;
        }
        Err(OrgError::NotAMember.into())
    }

    /// `set-active`: makes an organization the session's active one (`None` clears it). Moving
    /// to another organization clears the active team, which belonged to the old one.
    pub async fn set_active_organization(
        &self,
        current: &Current,
        target: Option<Target>,
    ) -> Result<Option<organization::Model>> {
        let Some(target) = target else {
            session::set_active(&self.db, &current.session.id, None, None).await?;
            return Ok(None);
        };
        let Some((org, _)) = self.member_organization(current, target).await? else {
            return Ok(None);
        };
        let team = if current.session.active_organization_id.as_deref() == Some(org.id.as_str()) {
            current.session.active_team_id.as_deref()
        } else {
            None
        };
        session::set_active(&self.db, &current.session.id, Some(&org.id), team).await?;
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
        let members = members.iter().take(limit).cloned().collect();
        let teams = contents.teams.clone();
        let invitations = if roles.can(&me.role, Permission::CREATE_INVITATION) {
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
        let id = resolve(
            &self.db,
            Some(current),
            Target::id_or_active(organization_id),
        )
        .await?
        .ok_or(OrgError::OrganizationNotFound)?;
        let txn = self.db.begin().await?;
        let (locked, _) = self
            .lock_as(
                &txn,
                &id,
                &current.user.id,
                Permission::UPDATE_ORGANIZATION,
                (
                    OrgError::NotAMember,
                    OrgError::NotAllowedToUpdateOrganization,
                ),
            )
            .await?;
        if let Some(name) = &update.name {
            validate_name("name", "A name", name)?;
        }
        if let Some(slug) = &update.slug {
            validate_slug(slug)?;
        }
        let mut active = locked.organization.into_active_model();
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
        let updated = active
            .update(&txn)
            .await
            .on_unique(&ORGANIZATION_SLUG, OrgError::SlugAlreadyTaken)?;
        txn.commit().await?;
        Ok(updated)
    }

    /// `delete`: needs `organization:delete`. Teams, members, team members and invitations go with
    /// it (cascades), and every session that had it (or one of its teams) active forgets it.
    pub async fn delete_organization(
        &self,
        current: &Current,
        organization_id: &str,
    ) -> Result<organization::Model> {
        if self.cfg.org.disable_organization_deletion {
            return Err(OrgError::DeletionDisabled.into());
        }
        let txn = self.db.begin().await?;
        let (locked, _) = self
            .lock_as(
                &txn,
                organization_id,
                &current.user.id,
                Permission::DELETE_ORGANIZATION,
                (
                    OrgError::NotAMember,
                    OrgError::NotAllowedToDeleteOrganization,
                ),
            )
            .await?;
        session::forget_organization(&txn, organization_id, None).await?;
        organization::Entity::delete_by_id(organization_id)
            .exec(&txn)
            .await?;
        let org = locked.organization;
        txn.commit().await?;
        crate::audit::event("organization_deleted", &current.user.id, Some(&org.id));
        Ok(org)
    }
}
