//! Teams inside an organization, and their members. A team belongs to exactly one organization;
//! only members of that organization can be in it; the session's active team is always a team of
//! its active organization that the user is in.

use entity::{member, organization, session, team, team_member};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, SqlErr, TransactionTrait,
};

use crate::clock::db_time;
use crate::error::OrgError;
use crate::session::Current;
use crate::{Auth, Result};

/// Sessions that have `team_id` active forget it — all of them, or only `user_id`'s.
async fn forget_team(
    db: &impl ConnectionTrait,
    team_id: &str,
    user_id: Option<&str>,
) -> Result<()> {
    let mut update = session::Entity::update_many()
        .col_expr(
            session::Column::ActiveTeamId,
            Expr::value(Option::<String>::None),
        )
        .filter(session::Column::ActiveTeamId.eq(team_id));
    if let Some(user_id) = user_id {
        update = update.filter(session::Column::UserId.eq(user_id));
    }
    update.exec(db).await?;
    Ok(())
}

impl Auth {
    fn team_org(&self, current: &Current, given: Option<String>) -> Result<String> {
        given
            .or_else(|| current.session.active_organization_id.clone())
            .ok_or_else(|| OrgError::NoActiveOrganization.bad_request())
    }

    /// The team `team_id` if it belongs to `organization_id`.
    async fn team_in(
        &self,
        db: &impl ConnectionTrait,
        organization_id: &str,
        team_id: &str,
    ) -> Result<team::Model> {
        team::Entity::find_by_id(team_id)
            .filter(team::Column::OrganizationId.eq(organization_id))
            .one(db)
            .await?
            .ok_or_else(|| OrgError::TeamNotFound.bad_request())
    }

    /// `create-team`: needs `team:create`; at most `maximumTeams`. The creator is not added.
    pub async fn create_team(
        &self,
        current: &Current,
        organization_id: Option<String>,
        name: &str,
    ) -> Result<team::Model> {
        let org = self.team_org(current, organization_id)?;
        let me = self
            .membership(&org, &current.user.id)
            .await?
            .ok_or_else(|| OrgError::NotAllowedToInvite.forbidden())?;
        if !self.cfg.org.roles.can(&me.role, "team", "create") {
            return Err(OrgError::NotAllowedToCreateTeams.forbidden());
        }
        if name.trim().is_empty() || name.chars().count() > 256 {
            return Err(crate::Error::Validation(
                "[body.name] A team name is 1 to 256 characters".into(),
            ));
        }
        let txn = self.db.begin().await?;
        organization::Entity::find_by_id(&org)
            .lock_exclusive()
            .one(&txn)
            .await?
            .ok_or_else(|| OrgError::OrganizationNotFound.bad_request())?;
        if let Some(max) = self.cfg.org.maximum_teams {
            let teams = team::Entity::find()
                .filter(team::Column::OrganizationId.eq(&org))
                .count(&txn)
                .await?;
            if teams >= max {
                return Err(OrgError::TeamLimitReached.bad_request());
            }
        }
        let now = db_time(self.clock.now());
        let created = team::ActiveModel {
            name: Set(name.to_owned()),
            organization_id: Set(org),
            created_at: Set(now),
            updated_at: Set(Some(now)),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(created)
    }

    /// `list-teams`: the organization's teams, for its members.
    pub async fn list_teams(
        &self,
        current: &Current,
        organization_id: Option<String>,
    ) -> Result<Vec<team::Model>> {
        let org = self.team_org(current, organization_id)?;
        self.membership(&org, &current.user.id)
            .await?
            .ok_or_else(|| OrgError::NotAllowedToAccessOrganization.forbidden())?;
        Ok(team::Entity::find()
            .filter(team::Column::OrganizationId.eq(&org))
            .order_by_asc(team::Column::CreatedAt)
            .limit(100)
            .all(&self.db)
            .await?)
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
        let org = self.team_org(current, organization_id)?;
        let me = self.membership(&org, &current.user.id).await?;
        if !me.is_some_and(|m| self.cfg.org.roles.can(&m.role, "team", "update")) {
            return Err(OrgError::NotAllowedToUpdateTeam.forbidden());
        }
        let team = self.team_in(&self.db, &org, team_id).await?;
        let Some(name) = name else { return Ok(team) };
        if name.trim().is_empty() || name.chars().count() > 256 {
            return Err(crate::Error::Validation(
                "[body.data.name] A team name is 1 to 256 characters".into(),
            ));
        }
        let mut active = team.into_active_model();
        active.name = Set(name);
        active.updated_at = Set(Some(db_time(self.clock.now())));
        Ok(active.update(&self.db).await?)
    }

    /// `remove-team`: needs `team:delete`; not the caller's active team, not the last team (unless
    /// allowed). Its team members go with it; sessions that had it active forget it.
    pub async fn remove_team(
        &self,
        current: &Current,
        organization_id: Option<String>,
        team_id: &str,
    ) -> Result<()> {
        let org = self.team_org(current, organization_id)?;
        let Some(me) = self.membership(&org, &current.user.id).await? else {
            return Err(OrgError::NotAllowedToDeleteThisTeam.forbidden());
        };
        if current.session.active_team_id.as_deref() == Some(team_id) {
            return Err(OrgError::NotAllowedToDeleteThisTeam.forbidden());
        }
        if !self.cfg.org.roles.can(&me.role, "team", "delete") {
            return Err(OrgError::NotAllowedToDeleteTeams.forbidden());
        }
        let txn = self.db.begin().await?;
        organization::Entity::find_by_id(&org)
            .lock_exclusive()
            .one(&txn)
            .await?;
        let team = self.team_in(&txn, &org, team_id).await?;
        if !self.cfg.org.allow_removing_all_teams {
            let teams = team::Entity::find()
                .filter(team::Column::OrganizationId.eq(&org))
                .count(&txn)
                .await?;
            if teams <= 1 {
                return Err(OrgError::UnableToRemoveLastTeam.bad_request());
            }
        }
        forget_team(&txn, &team.id, None).await?;
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
                session::Entity::update_many()
                    .col_expr(
                        session::Column::ActiveTeamId,
                        Expr::value(Option::<String>::None),
                    )
                    .filter(session::Column::Id.eq(&current.session.id))
                    .exec(&self.db)
                    .await?;
                return Ok(None);
            }
            Some(Some(id)) => id,
            None => match &current.session.active_team_id {
                Some(id) => id.clone(),
                None => return Ok(None),
            },
        };
        let org = current
            .session
            .active_organization_id
            .clone()
            .ok_or_else(|| OrgError::NoActiveOrganization.bad_request())?;
        self.membership(&org, &current.user.id)
            .await?
            .ok_or_else(|| OrgError::NotAMember.forbidden())?;
        let team = self.team_in(&self.db, &org, &team_id).await?;
        let in_team = team_member::Entity::find()
            .filter(team_member::Column::TeamId.eq(&team.id))
            .filter(team_member::Column::UserId.eq(&current.user.id))
            .count(&self.db)
            .await?;
        if in_team == 0 {
            return Err(OrgError::NotATeamMember.forbidden());
        }
        session::Entity::update_many()
            .col_expr(
                session::Column::ActiveTeamId,
                Expr::value(Some(team.id.clone())),
            )
            .filter(session::Column::Id.eq(&current.session.id))
            .exec(&self.db)
            .await?;
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
                    .ok_or_else(|| OrgError::NotAMember.forbidden())?;
            }
            organization_id
        } else {
            let org = self.team_org(current, organization_id)?;
            let mine = self
                .membership(&org, &me)
                .await?
                .ok_or_else(|| OrgError::NotAMember.forbidden())?;
            if !self.cfg.org.roles.can(&mine.role, "member", "update") {
                return Err(OrgError::NotAllowedToUpdateMember.forbidden());
            }
            self.membership(&org, &target)
                .await?
                .ok_or_else(|| OrgError::NotAMember.bad_request())?;
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
        Ok(query
            .order_by_asc(team::Column::CreatedAt)
            .limit(100)
            .all(&self.db)
            .await?)
    }

    /// `list-team-members`: the members of a team (default: the active team), for its members.
    pub async fn team_members(
        &self,
        current: &Current,
        team_id: Option<String>,
    ) -> Result<Vec<team_member::Model>> {
        let team_id = team_id
            .or_else(|| current.session.active_team_id.clone())
            .ok_or_else(|| OrgError::NoActiveTeam.bad_request())?;
        let team = team::Entity::find_by_id(&team_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| OrgError::TeamNotFound.bad_request())?;
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
            return Err(OrgError::NotATeamMember.bad_request());
        }
        Ok(members)
    }

    /// `add-team-member`: needs `member:update`; the user must be a member of the team's
    /// organization; at most `maximumMembersPerTeam`. Adding an existing team member returns it.
    pub async fn add_team_member(
        &self,
        current: &Current,
        organization_id: Option<String>,
        team_id: &str,
        user_id: &str,
    ) -> Result<team_member::Model> {
        let org = self.team_org(current, organization_id)?;
        let me = self
            .membership(&org, &current.user.id)
            .await?
            .ok_or_else(|| OrgError::NotAMember.bad_request())?;
        if !self.cfg.org.roles.can(&me.role, "member", "update") {
            return Err(OrgError::NotAllowedToAddTeamMember.forbidden());
        }
        self.membership(&org, user_id)
            .await?
            .ok_or_else(|| OrgError::NotAMember.bad_request())?;
        let txn = self.db.begin().await?;
        organization::Entity::find_by_id(&org)
            .lock_exclusive()
            .one(&txn)
            .await?;
        // Decided again under the member row's lock, which `remove-member` takes too: a member
        // removed meanwhile is never left in a team.
        entity::member::Entity::find()
            .filter(entity::member::Column::OrganizationId.eq(&org))
            .filter(entity::member::Column::UserId.eq(user_id))
            .lock_exclusive()
            .one(&txn)
            .await?
            .ok_or_else(|| OrgError::NotAMember.bad_request())?;
        let team = self.team_in(&txn, &org, team_id).await?;
        let existing = team_member::Entity::find()
            .filter(team_member::Column::TeamId.eq(&team.id))
            .filter(team_member::Column::UserId.eq(user_id))
            .one(&txn)
            .await?;
        if let Some(existing) = existing {
            return Ok(existing);
        }
        if let Some(max) = self.cfg.org.maximum_members_per_team {
            let count = team_member::Entity::find()
                .filter(team_member::Column::TeamId.eq(&team.id))
                .count(&txn)
                .await?;
            if count >= max {
                return Err(OrgError::TeamMemberLimitReached.forbidden());
            }
        }
        let added = team_member::ActiveModel {
            team_id: Set(team.id),
            user_id: Set(user_id.to_owned()),
            created_at: Set(Some(db_time(self.clock.now()))),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .map_err(|e| match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => {
                OrgError::TeamMemberLimitReached.forbidden()
            }
            _ => e.into(),
        })?;
        self.cfg.columns.team_member_added(&txn, &added).await?;
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
        let org = self.team_org(current, organization_id)?;
        let me = self
            .membership(&org, &current.user.id)
            .await?
            .ok_or_else(|| OrgError::NotAMember.bad_request())?;
        if !self.cfg.org.roles.can(&me.role, "member", "delete") {
            return Err(OrgError::NotAllowedToRemoveTeamMember.forbidden());
        }
        self.membership(&org, user_id)
            .await?
            .ok_or_else(|| OrgError::NotAMember.bad_request())?;
        let team = self.team_in(&self.db, &org, team_id).await?;
        let txn = self.db.begin().await?;
        let removed = team_member::Entity::delete_many()
            .filter(team_member::Column::TeamId.eq(&team.id))
            .filter(team_member::Column::UserId.eq(user_id))
            .exec(&txn)
            .await?;
        if removed.rows_affected == 0 {
            return Err(OrgError::NotATeamMember.bad_request());
        }
        self.cfg
            .columns
            .sync_team_counts(&txn, std::slice::from_ref(&team.id))
            .await?;
        forget_team(&txn, &team.id, Some(user_id)).await?;
        txn.commit().await?;
        Ok(())
    }
}
