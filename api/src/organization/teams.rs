//! The team routes: create-team, list-teams, update-team, remove-team, set-active-team,
//! list-user-teams, list-team-members, add-team-member, remove-team-member.

use poem::Request;
use poem_openapi::param::Query;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{Object, OpenApi};
use service::error::OrgError;

use crate::auth::dto::Timestamp;
use crate::auth::Caller;
use crate::error::{Errors, JsonBody, NoBody};
use crate::state::AppState;
use crate::wire::{success, Body, Nullable};

/// A team (without its member count, as Better Auth returns teams outside `get-full-organization`).
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct Team {
    /// The team's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The organization it belongs to.
    pub organization_id: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was last renamed, or null.
    pub updated_at: Nullable<Timestamp>,
}

impl From<&entity::team::Model> for Team {
    fn from(t: &entity::team::Model) -> Self {
        Self {
            id: t.id.clone(),
            name: t.name.clone(),
            organization_id: t.organization_id.clone(),
            created_at: t.created_at.into(),
            updated_at: t.updated_at.map(Timestamp::from).into(),
        }
    }
}

/// A user's membership of a team.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct TeamMember {
    /// The team membership's id.
    pub id: String,
    /// The team.
    pub team_id: String,
    /// The user.
    pub user_id: String,
    /// When they joined the team, or null.
    pub created_at: Nullable<Timestamp>,
}

impl From<&entity::team_member::Model> for TeamMember {
    fn from(m: &entity::team_member::Model) -> Self {
        Self {
            id: m.id.clone(),
            team_id: m.team_id.clone(),
            user_id: m.user_id.clone(),
            created_at: m.created_at.map(Timestamp::from).into(),
        }
    }
}

/// `create-team`'s body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct CreateTeamBody {
    /// The team's name: 1 to 256 characters.
    pub name: String,
    /// Default: the active organization.
    pub organization_id: Option<String>,
}

/// What `update-team` changes.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct UpdateTeamData {
    /// A new name: 1 to 256 characters.
    pub name: Option<String>,
    /// Which organization the team is looked up in (default: the active one); teams never move.
    pub organization_id: Option<String>,
}

/// `update-team`'s body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct UpdateTeamBody {
    /// The team.
    pub team_id: String,
    /// The changes.
    pub data: UpdateTeamData,
}

/// `remove-team`'s body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct TeamIdBody {
    /// The team.
    pub team_id: String,
    /// Default: the active organization.
    pub organization_id: Option<String>,
}

/// `set-active-team`'s body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SetActiveTeamBody {
    /// A team of the active organization the caller is in, or null to clear.
    #[oai(nullable)]
    pub team_id: MaybeUndefined<String>,
}

/// The body of `add-team-member` and `remove-team-member`.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct TeamMemberBody {
    /// The team.
    pub team_id: String,
    /// The user: a member of the team's organization.
    pub user_id: String,
    /// Default: the active organization.
    pub organization_id: Option<String>,
}

/// A confirmation, in words.
#[derive(Object, Debug)]
pub struct Message {
    /// What was done.
    pub message: String,
}

success! {
    /// The new team.
    pub TeamCreated(Team) + session
}

success! {
    /// The organization's teams.
    pub Teams(Vec<Team>) + session
}

success! {
    /// The renamed team.
    pub TeamUpdated(Team) + session
}

success! {
    /// `Team removed successfully.`
    pub TeamRemoved(Message) + session
}

success! {
    /// The now active team, or `null` when cleared.
    pub ActiveTeam(Nullable<Team>) + session
}

success! {
    /// The user's teams.
    pub UserTeams(Vec<Team>) + session
}

success! {
    /// The team's members.
    pub TeamMembers(Vec<TeamMember>) + session
}

success! {
    /// The team membership (the existing one when the user was already in the team).
    pub TeamMemberAdded(TeamMember) + session
}

success! {
    /// `Team member removed successfully.`
    pub TeamMemberRemoved(Message) + session
}

/// `update-team`'s validation errors name the field inside `data`, as Better Auth does.
fn within_data(e: service::Error) -> service::Error {
    match e {
        service::Error::Validation {
            field: Some("name"),
            message,
        } => service::Error::Validation {
            field: Some("data.name"),
            message,
        },
        e => e,
    }
}

pub struct TeamsApi {
    pub state: AppState,
}

#[OpenApi(prefix_path = "/api/auth/organization", tag = "super::Tag::Teams")]
impl TeamsApi {
    /// Create a team
    ///
    /// Needs `team:create`; at most `ORGAUTH_MAXIMUM_TEAMS`. The creator is not added to it.
    #[oai(path = "/create-team", method = "post", operation_id = "createTeam")]
    async fn create_team(
        &self,
        body: Body<CreateTeamBody>,
        caller: Caller,
    ) -> Result<TeamCreated, Errors<JsonBody>> {
        let body = body.0;
        let team = self
            .state
            .auth
            .create_team(&caller, body.organization_id, &body.name)
            .await?;
        Ok(Team::from(&team).into())
    }

    /// An organization's teams
    #[oai(path = "/list-teams", method = "get", operation_id = "listTeams")]
    async fn list_teams(
        &self,
        /// The organization's id (default: the active organization).
        #[oai(name = "organizationId")]
        organization_id: Query<Option<String>>,
        caller: Caller,
    ) -> Result<Teams, Errors<NoBody>> {
        let teams = self
            .state
            .auth
            .list_teams(&caller, organization_id.0)
            .await?;
        Ok(teams.iter().map(Team::from).collect::<Vec<_>>().into())
    }

    /// Rename a team
    ///
    /// Needs `team:update` in the team's organization.
    #[oai(path = "/update-team", method = "post", operation_id = "updateTeam")]
    async fn update_team(
        &self,
        body: Body<UpdateTeamBody>,
        caller: Caller,
    ) -> Result<TeamUpdated, Errors<JsonBody>> {
        let body = body.0;
        let team = self
            .state
            .auth
            .update_team(
                &caller,
                body.data.organization_id,
                &body.team_id,
                body.data.name,
            )
            .await
            .map_err(within_data)?;
        Ok(Team::from(&team).into())
    }

    /// Remove a team
    ///
    /// Needs `team:delete`; not the caller's active team, and not the organization's last team
    /// unless `ORGAUTH_ALLOW_REMOVING_ALL_TEAMS`. Sessions that had it active forget it.
    #[oai(path = "/remove-team", method = "post", operation_id = "removeTeam")]
    async fn remove_team(
        &self,
        body: Body<TeamIdBody>,
        caller: Caller,
    ) -> Result<TeamRemoved, Errors<JsonBody>> {
        let body = body.0;
        self.state
            .auth
            .remove_team(&caller, body.organization_id, &body.team_id)
            .await?;
        Ok(Message {
            message: "Team removed successfully.".into(),
        }
        .into())
    }

    /// Set the session's active team
    ///
    /// A team of the active organization that the caller is in; `teamId: null` clears.
    #[oai(
        path = "/set-active-team",
        method = "post",
        operation_id = "setActiveTeam"
    )]
    async fn set_active_team(
        &self,
        req: &Request,
        body: Body<SetActiveTeamBody>,
        caller: Caller,
    ) -> Result<ActiveTeam, Errors<JsonBody>> {
        let team_id = match body.0.team_id {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(id) => Some(Some(id)),
        };
        let clearing = team_id == Some(None);
        let team = self
            .state
            .auth
            .set_active_team(&caller, team_id)
            .await
            .map_err(Errors::when(OrgError::NotATeamMember, 403))?;
        if team.is_some() || (clearing && caller.session.active_team_id.is_some()) {
            self.state.resend_session_cookie(req, &caller);
        }
        Ok(Nullable(team.as_ref().map(Team::from)).into())
    }

    /// The teams a user is in
    ///
    /// The caller's (in organizations they still belong to, or in `organizationId`); another
    /// member's with `userId`, for members allowed `member:update`.
    #[oai(
        path = "/list-user-teams",
        method = "get",
        operation_id = "listUserTeams"
    )]
    async fn list_user_teams(
        &self,
        /// Only teams of this organization (for another member: default the active one).
        #[oai(name = "organizationId")]
        organization_id: Query<Option<String>>,
        /// Whose teams (default: the caller's).
        #[oai(name = "userId")]
        user_id: Query<Option<String>>,
        caller: Caller,
    ) -> Result<UserTeams, Errors<NoBody>> {
        let teams = self
            .state
            .auth
            .user_teams(&caller, organization_id.0, user_id.0)
            .await?;
        Ok(teams.iter().map(Team::from).collect::<Vec<_>>().into())
    }

    /// A team's members
    ///
    /// For members of the team (default: the active team).
    #[oai(
        path = "/list-team-members",
        method = "get",
        operation_id = "listTeamMembers"
    )]
    async fn list_team_members(
        &self,
        /// The team (default: the active team).
        #[oai(name = "teamId")]
        team_id: Query<Option<String>>,
        caller: Caller,
    ) -> Result<TeamMembers, Errors<NoBody>> {
        let members = self.state.auth.team_members(&caller, team_id.0).await?;
        Ok(members
            .iter()
            .map(TeamMember::from)
            .collect::<Vec<_>>()
            .into())
    }

    /// Add a member of the organization to a team
    ///
    /// Needs `member:update`; at most `ORGAUTH_MAXIMUM_MEMBERS_PER_TEAM`. Adding an existing team
    /// member returns that membership.
    #[oai(
        path = "/add-team-member",
        method = "post",
        operation_id = "addTeamMember"
    )]
    async fn add_team_member(
        &self,
        body: Body<TeamMemberBody>,
        caller: Caller,
    ) -> Result<TeamMemberAdded, Errors<JsonBody>> {
        let body = body.0;
        let m = self
            .state
            .auth
            .add_team_member(&caller, body.organization_id, &body.team_id, &body.user_id)
            .await
            .map_err(Errors::when(OrgError::NotAMember, 400))?;
        Ok(TeamMember::from(&m).into())
    }

    /// Remove a member from a team
    ///
    /// Needs `member:delete`; their sessions forget the team.
    #[oai(
        path = "/remove-team-member",
        method = "post",
        operation_id = "removeTeamMember"
    )]
    async fn remove_team_member(
        &self,
        body: Body<TeamMemberBody>,
        caller: Caller,
    ) -> Result<TeamMemberRemoved, Errors<JsonBody>> {
        let body = body.0;
        self.state
            .auth
            .remove_team_member(&caller, body.organization_id, &body.team_id, &body.user_id)
            .await
            .map_err(Errors::when(OrgError::NotAMember, 400))?;
        Ok(Message {
            message: "Team member removed successfully.".into(),
        }
        .into())
    }
}
