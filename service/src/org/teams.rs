//! Teams inside an organization, and their members. A team belongs to exactly one organization;
//! only members of that organization can be in it (admitting to a team happens with the
//! organization locked, as removing a member does); the session's active team is always a team of
//! its active organization that the user is in.

use entity::{member, team, team_member};
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Select, Set, TransactionTrait,
};

use super::access::Permission;
use super::organizations::{resolve, validate_name, Target};
use super::Locked;
use crate::error::OrgError;
use crate::session::{self, Current};
use crate::{Auth, Result};

/// The team `team_id` if it belongs to `organization_id`.
async fn team_in(
    db: &impl ConnectionTrait,
    organization_id: &str,
    team_id: &str,
) -> Result<team::Model> {
    Ok(team::Entity::find_by_id(team_id)
        .filter(team::Column::OrganizationId.eq(organization_id))
        .one(db)
        .await?
        .ok_or(OrgError::TeamNotFound)?)
}

/// The teams `query` finds, oldest first, at most 100 (as Better Auth lists them).
async fn oldest_first(
    db: &impl ConnectionTrait,
    query: Select<team::Entity>,
) -> Result<Vec<team::Model>> {
    Ok(query
        .order_by_asc(team::Column::CreatedAt)
        .limit(100)
        .all(db)
        .await?)
}

/// Putting a member in a team needs `member:update`; taking one out, `member:delete`.
const ADDING: (Permission, OrgError) = (
    Permission::UPDATE_MEMBER,
    OrgError::NotAllowedToAddTeamMember,
);
const REMOVING: (Permission, OrgError) = (
    Permission::DELETE_MEMBER,
    OrgError::NotAllowedToRemoveTeamMember,
);

/// How many teams organization `organization_id` has.
async fn count_teams(db: &impl ConnectionTrait, organization_id: &str) -> Result<u64> {
    Ok(team::Entity::find()
        .filter(team::Column::OrganizationId.eq(organization_id))
        .count(db)
        .await?)
}

impl Locked<'_> {
    /// The organization's team `team_id`.
    pub async fn team(&self, team_id: &str) -> Result<team::Model> {
        team_in(self.txn, self.id(), team_id).await
    }

    /// Refuses when team `team_id` has reached the maximum members per team.
    pub async fn check_room(&self, team_id: &str) -> Result<()> {
        if let Some(max) = self.cfg.maximum_members_per_team {
            let count = team_member::Entity::find()
                .filter(team_member::Column::TeamId.eq(team_id))
                .count(self.txn)
                .await?;
            if count >= max {
                return Err(OrgError::TeamMemberLimitReached.into());
            }
        }
        Ok(())
    }

    /// A new team of the organization named `name` (`updatedAt` set, as Better Auth sets it).
    pub async fn insert_team(&self, name: &str) -> Result<team::Model> {
        Ok(team::ActiveModel {
            name: Set(name.to_owned()),
            organization_id: Set(self.id().to_owned()),
            created_at: Set(self.now),
            updated_at: Set(Some(self.now)),
            ..Default::default()
        }
        .insert(self.txn)
        .await?)
    }

    /// Puts `user_id` (a member: the caller checks it under this lock) in the organization's team
    /// `team_id`, unless the team is full; one already in it keeps their team membership. Keeps
    /// Better Auth's `team_member` columns true. Every way into a team goes through here.
    pub async fn admit_to_team(&self, team_id: &str, user_id: &str) -> Result<team_member::Model> {
        let team = self.team(team_id).await?;
        let existing = team_member::Entity::find()
            .filter(team_member::Column::TeamId.eq(&team.id))
            .filter(team_member::Column::UserId.eq(user_id))
            .one(self.txn)
            .await?;
        if let Some(existing) = existing {
            return Ok(existing);
        }
        self.check_room(&team.id).await?;
        // Every insert into a team runs under the organization's lock, after the look-up above:
        // a duplicate cannot happen, and would be a failure of ours.
        let added = team_member::ActiveModel {
            team_id: Set(team.id),
            user_id: Set(user_id.to_owned()),
            created_at: Set(Some(self.now)),
            ..Default::default()
        }
        .insert(self.txn)
        .await?;
        self.columns.team_member_added(self.txn, &added).await?;
        Ok(added)
    }
}

impl Auth {
    /// The organization a teams route names: given, else the active one.
    async fn teams_organization(&self, current: &Current, given: Option<String>) -> Result<String> {
        Ok(
            resolve(&self.db, Some(current), Target::id_or_active(given))
                .await?
                .ok_or(OrgError::NoActiveOrganization)?,
        )
    }

    /// `create-team`: needs `team:create`; at most `maximumTeams`. The creator is not added.
    pub async fn create_team(
        &self,
        current: &Current,
        organization_id: Option<String>,
        name: &str,
    ) -> Result<team::Model> {
        let org = self.teams_organization(current, organization_id).await?;
        let txn = self.db.begin().await?;
        let (locked, _) = self
            .lock_as(
                &txn,
                &org,
                &current.user.id,
                Permission::CREATE_TEAM,
                // Better Auth's words for a non-member here.
                (
                    OrgError::NotAllowedToInvite,
                    OrgError::NotAllowedToCreateTeams,
                ),
            )
            .await?;
        validate_name("name", "A team name", name)?;
        if let Some(max) = self.cfg.org.maximum_teams {
            if count_teams(&txn, &org).await? >= max {
                return Err(OrgError::TeamLimitReached.into());
            }
        }
        let created = locked.insert_team(name).await?;
        txn.commit().await?;
        Ok(created)
    }

    /// `list-teams`: the organization's teams, for its members.
    pub async fn list_teams(
        &self,
        current: &Current,
        organization_id: Option<String>,
    ) -> Result<Vec<team::Model>> {
        let org = self.teams_organization(current, organization_id).await?;
        self.membership(&org, &current.user.id)
            .await?
            .ok_or(OrgError::NotAllowedToAccessOrganization)?;
        let teams = team::Entity::find().filter(team::Column::OrganizationId.eq(&org));
        oldest_first(&self.db, teams).await
    }

    /// `update-team`: renames a team of the organization; needs `team:update`. A team never moves
    /// to another organization.
    pub async fn update_team(
        &self,
        current: &Current,
        organization_id: Option<String>,
        team_id: &str,
        name: Option<String>,
    ) -> Result<team::Model> {
        let org = self.teams_organization(current, organization_id).await?;
        let txn = self.db.begin().await?;
        let refused = OrgError::NotAllowedToUpdateTeam;
        let (locked, _) = self
            .lock_as(
                &txn,
                &org,
                &current.user.id,
                Permission::UPDATE_TEAM,
                (refused, refused),
            )
            .await?;
        let team = locked.team(team_id).await?;
        let Some(name) = name else { return Ok(team) };
        validate_name("name", "A team name", &name)?;
        let mut active = team.into_active_model();
        active.name = Set(name);
        active.updated_at = Set(Some(locked.now));
        let updated = active.update(&txn).await?;
        txn.commit().await?;
        Ok(updated)
    }

    /// `remove-team`: needs `team:delete`; not the caller's active team, not the last team (unless
    /// allowed). Its team members go with it; sessions that had it active forget it.
    pub async fn remove_team(
        &self,
        current: &Current,
        organization_id: Option<String>,
        team_id: &str,
    ) -> Result<()> {
        let org = self.teams_organization(current, organization_id).await?;
        let txn = self.db.begin().await?;
        let not_allowed = OrgError::NotAllowedToDeleteThisTeam;
        let locked = self.lock(&txn, &org).await?.ok_or(not_allowed)?;
        let me = locked.member(&current.user.id).await?.ok_or(not_allowed)?;
        if current.session.active_team_id.as_deref() == Some(team_id) {
            return Err(not_allowed.into());
        }
        if !self.cfg.org.roles.can(&me.role, Permission::DELETE_TEAM) {
            return Err(OrgError::NotAllowedToDeleteTeams.into());
        }
        let team = locked.team(team_id).await?;
        if !self.cfg.org.allow_removing_all_teams && count_teams(&txn, &org).await? <= 1 {
            return Err(OrgError::UnableToRemoveLastTeam.into());
        }
        session::forget_team(&txn, &team.id, None).await?;
        team::Entity::delete_by_id(&team.id).exec(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    /// `set-active-team`: a team of the session's active organization that the caller is in, or
    /// `None` to clear; `Err` leaves the session as it was.
    pub async fn set_active_team(
        &self,
        current: &Current,
        team_id: Option<Option<String>>,
    ) -> Result<Option<team::Model>> {
        let team_id = match team_id {
            Some(None) => {
                session::set_active_team(&self.db, &current.session.id, None).await?;
                return Ok(None);
            }
            Some(Some(id)) => id,
            None => match &current.session.active_team_id {
                Some(id) => id.clone(),
                None => return Ok(None),
            },
        };
        let org = self.teams_organization(current, None).await?;
        self.membership(&org, &current.user.id)
            .await?
            .ok_or(OrgError::NotAMember)?;
        let team = team_in(&self.db, &org, &team_id).await?;
        let in_team = team_member::Entity::find()
            .filter(team_member::Column::TeamId.eq(&team.id))
            .filter(team_member::Column::UserId.eq(&current.user.id))
            .count(&self.db)
            .await?;
        if in_team == 0 {
            return Err(OrgError::NotATeamMember.into());
        }
        session::set_active_team(&self.db, &current.session.id, Some(&team.id)).await?;
        Ok(Some(team))
    }

    /// `list-user-teams`: the caller's teams (in organizations they still belong to, or in one
    /// organization), or — for a member allowed `member:update` — another member's teams there.
    pub async fn user_teams(
        &self,
        current: &Current,
        organization_id: Option<String>,
        user_id: Option<String>,
    ) -> Result<Vec<team::Model>> {
        let me = current.user.id.clone();
        let target = user_id.unwrap_or_else(|| me.clone());
        let org = if target == me {
            if let Some(org) = &organization_id {
                self.membership(org, &me)
                    .await?
                    .ok_or(OrgError::NotAMember)?;
            }
            organization_id
        } else {
            let org = self.teams_organization(current, organization_id).await?;
            let mine = self
                .membership(&org, &me)
                .await?
                .ok_or(OrgError::NotAMember)?;
            if !self
                .cfg
                .org
                .roles
                .can(&mine.role, Permission::UPDATE_MEMBER)
            {
                return Err(OrgError::NotAllowedToUpdateMember.into());
            }
            self.membership(&org, &target)
                .await?
                .ok_or(OrgError::UserNotAMember)?;
            Some(org)
        };
        let member_orgs = Query::select()
            .column(member::Column::OrganizationId)
            .from(member::Entity)
            .and_where(member::Column::UserId.eq(&target))
            .to_owned();
        let their_teams = Query::select()
            .column(team_member::Column::TeamId)
            .from(team_member::Entity)
            .and_where(team_member::Column::UserId.eq(&target))
            .to_owned();
        let mut query = team::Entity::find()
            .filter(team::Column::Id.in_subquery(their_teams))
            .filter(team::Column::OrganizationId.in_subquery(member_orgs));
        if let Some(org) = org {
            query = query.filter(team::Column::OrganizationId.eq(org));
        }
        oldest_first(&self.db, query).await
    }

    /// `list-team-members`: the members of a team (default: the active team), for its members.
    pub async fn team_members(
        &self,
        current: &Current,
        team_id: Option<String>,
    ) -> Result<Vec<team_member::Model>> {
        let team_id = team_id
            .or_else(|| current.session.active_team_id.clone())
            .ok_or(OrgError::NoActiveTeam)?;
        let team = team::Entity::find_by_id(&team_id)
            .one(&self.db)
            .await?
            .ok_or(OrgError::TeamNotFound)?;
        let org_member = self
            .membership(&team.organization_id, &current.user.id)
            .await?
            .is_some();
        let members = team_member::Entity::find()
            .filter(team_member::Column::TeamId.eq(&team.id))
            .order_by_asc(team_member::Column::CreatedAt)
            .limit(100)
            .all(&self.db)
            .await?;
        if !org_member || !members.iter().any(|m| m.user_id == current.user.id) {
            return Err(OrgError::NotATeamMember.into());
        }
        Ok(members)
    }

    /// The organization a team-membership route names, locked, with the caller allowed
    /// `permission` there and `user_id` a member of it.
    async fn lock_for_team_member<'a>(
        &'a self,
        txn: &'a sea_orm::DatabaseTransaction,
        current: &Current,
        organization_id: Option<String>,
        user_id: &str,
        (permission, refused): (Permission, OrgError),
    ) -> Result<Locked<'a>> {
        let org = self.teams_organization(current, organization_id).await?;
        let (locked, _) = self
            .lock_as(
                txn,
                &org,
                &current.user.id,
                permission,
                (OrgError::NotAMember, refused),
            )
            .await?;
        locked
            .member(user_id)
            .await?
            .ok_or(OrgError::UserNotAMember)?;
        Ok(locked)
    }

    /// `add-team-member`: needs `member:update`; the user must be a member of the team's
    /// organization; at most `maximumMembersPerTeam`. Adding an existing team member returns it.
    /// Decided with the organization locked, as `remove-member` and `leave` lock it: a member
    /// removed meanwhile is never left in a team.
    pub async fn add_team_member(
        &self,
        current: &Current,
        organization_id: Option<String>,
        team_id: &str,
        user_id: &str,
    ) -> Result<team_member::Model> {
        let txn = self.db.begin().await?;
        let locked = self
            .lock_for_team_member(&txn, current, organization_id, user_id, ADDING)
            .await?;
        let added = locked.admit_to_team(team_id, user_id).await?;
        txn.commit().await?;
        Ok(added)
    }

    /// `remove-team-member`: needs `member:delete`; the user's sessions forget the team.
    pub async fn remove_team_member(
        &self,
        current: &Current,
        organization_id: Option<String>,
        team_id: &str,
        user_id: &str,
    ) -> Result<()> {
        let txn = self.db.begin().await?;
        let locked = self
            .lock_for_team_member(&txn, current, organization_id, user_id, REMOVING)
            .await?;
        let team = locked.team(team_id).await?;
        let removed = team_member::Entity::delete_many()
            .filter(team_member::Column::TeamId.eq(&team.id))
            .filter(team_member::Column::UserId.eq(user_id))
            .exec(&txn)
            .await?;
        if removed.rows_affected == 0 {
            return Err(OrgError::NotATeamMember.into());
        }
        self.cfg
            .columns
            .sync_team_counts(&txn, std::slice::from_ref(&team.id))
            .await?;
        session::forget_team(&txn, &team.id, Some(user_id)).await?;
        txn.commit().await?;
        Ok(())
    }
}
