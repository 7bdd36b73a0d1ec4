//! The member routes: get-active-member, get-active-member-role, list-members, has-permission,
//! leave, remove-member, update-member-role.

use std::collections::BTreeMap;

use poem_openapi::param::Query;
use poem_openapi::{Object, OpenApi};
use service::error::OrgError;
use service::org::members::MemberPage;
use service::org::organizations::Target;

use super::RoleInput;
use crate::auth::dto::Timestamp;
use crate::auth::Caller;
use crate::error::{ApiError, Errors, JsonBody, NoBody};
use crate::state::AppState;
use crate::wire::{lean_object, string_enum, success, Body, Count, Nullable};

/// A membership. `role` is comma-joined when a member holds several.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct Member {
    /// The membership's id.
    pub id: String,
    /// The organization.
    pub organization_id: String,
    /// The member.
    pub user_id: String,
    /// The member's roles, comma-joined.
    pub role: String,
    /// When they joined.
    pub created_at: Timestamp,
}

impl From<&entity::member::Model> for Member {
    fn from(m: &entity::member::Model) -> Self {
        Self {
            id: m.id.clone(),
            organization_id: m.organization_id.clone(),
            user_id: m.user_id.clone(),
            role: m.role.clone(),
            created_at: m.created_at.into(),
        }
    }
}

/// The user behind a membership, as other members see them.
#[derive(Object, Debug)]
pub struct MemberUser {
    /// The user's id.
    pub id: String,
    /// Their name.
    pub name: String,
    /// Their e-mail address.
    pub email: String,
    /// A URL of their picture, or null.
    pub image: Nullable<String>,
}

/// A membership with its user.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct MemberWithUser {
    #[oai(flatten)]
    pub member: Member,
    /// The member's user.
    pub user: MemberUser,
}

impl From<(&entity::member::Model, &entity::user::Model)> for MemberWithUser {
    fn from((m, u): (&entity::member::Model, &entity::user::Model)) -> Self {
        Self {
            member: Member::from(m),
            user: MemberUser {
                id: u.id.clone(),
                name: u.name.clone(),
                email: u.email.clone(),
                image: u.image.clone().into(),
            },
        }
    }
}

impl From<&(entity::member::Model, entity::user::Model)> for MemberWithUser {
    fn from((m, u): &(entity::member::Model, entity::user::Model)) -> Self {
        Self::from((m, u))
    }
}

lean_object!(MemberUser, |u| {
    "email": &u.email,
    "id": &u.id,
    "image": &u.image,
    "name": &u.name,
});

lean_object!(MemberWithUser, |m| {
    "createdAt": &m.member.created_at,
    "id": &m.member.id,
    "organizationId": &m.member.organization_id,
    "role": &m.member.role,
    "user": &m.user,
    "userId": &m.member.user_id,
});

/// A member's roles.
#[derive(Object, Debug)]
pub struct RoleResponse {
    /// The roles, comma-joined when several.
    pub role: String,
}

/// A page of an organization's members.
#[derive(Object, Debug)]
pub struct MembersPage {
    /// The page, with the members' users.
    pub members: Vec<MemberWithUser>,
    /// All members matching the filter, whatever the page.
    pub total: u64,
}

lean_object!(MembersPage, |p| {
    "members": &p.members,
    "total": &p.total,
});

/// `has-permission`'s body: the permissions to check, under `permissions`.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct HasPermissionBody {
    /// Default: the active organization.
    pub organization_id: Option<String>,
    /// resource → actions, e.g. `{"member": ["delete"]}`.
    pub permissions: Option<BTreeMap<String, Vec<String>>>,
    /// Deprecated; always answers `success: false`, as Better Auth does.
    pub permission: Option<BTreeMap<String, Vec<String>>>,
}

/// Whether the caller has the permissions.
#[derive(Object, Debug)]
pub struct HasPermissionResponse {
    /// Always null.
    pub error: Nullable<String>,
    /// True when one of the caller's roles grants every requested action.
    pub success: bool,
}

/// `leave`'s body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct LeaveBody {
    /// The organization to leave.
    pub organization_id: String,
}

/// `remove-member`'s body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct RemoveMemberBody {
    /// A member id, or (containing `@`) the member's email.
    pub member_id_or_email: String,
    /// Default: the active organization.
    pub organization_id: Option<String>,
}

/// The membership that was removed.
#[derive(Object, Debug)]
pub struct RemovedMember {
    /// The removed membership.
    pub member: Member,
}

/// `update-member-role`'s body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct UpdateMemberRoleBody {
    /// The membership to change.
    pub member_id: String,
    /// Its new roles (all of them: they replace the current ones).
    pub role: RoleInput,
    /// Default: the active organization.
    pub organization_id: Option<String>,
}

success! {
    /// The caller's membership, with the user.
    pub ActiveMember(MemberWithUser) + session
}

success! {
    /// The member's role (comma-joined when several).
    pub MemberRole(RoleResponse) + session
}

success! {
    /// A page of the members, with their users, and the number of all matches.
    pub Members(MembersPage) + session + lean
}

success! {
    /// `success`: whether the caller has every requested permission.
    pub PermissionCheck(HasPermissionResponse) + session
}

success! {
    /// The membership that ended, with the user.
    pub LeftOrganization(MemberWithUser) + session
}

success! {
    /// The removed membership, with the user.
    pub MemberRemoved(RemovedMember) + session
}

success! {
    /// The membership with its new roles.
    pub MemberUpdated(Member) + session
}

string_enum! {
    /// `list-members`' sort key.
    pub SortBy: "createdAt" | "role"
}

string_enum! {
    /// `list-members`' sort order.
    pub SortDirection: "asc" | "desc"
}

string_enum! {
    /// `list-members`' filter: only by role.
    pub FilterField: "role"
}

pub struct MembersApi {
    pub state: AppState,
}

#[OpenApi(prefix_path = "/api/auth/organization", tag = "super::Tag::Members")]
impl MembersApi {
    /// The caller's membership of the active organization
    #[oai(
        path = "/get-active-member",
        method = "get",
        operation_id = "getActiveMember"
    )]
    async fn get_active_member(&self, caller: Caller) -> Result<ActiveMember, Errors<NoBody>> {
        let (m, u) = self.state.auth.active_member(&caller).await?;
        Ok(MemberWithUser::from((&m, &u)).into())
    }

    /// A member's role
    ///
    /// The caller's, or `userId`'s; for members of the organization only.
    #[oai(
        path = "/get-active-member-role",
        method = "get",
        operation_id = "getActiveMemberRole"
    )]
    async fn get_active_member_role(
        &self,
        /// Whose role (default: the caller's).
        #[oai(name = "userId")]
        user_id: Query<Option<String>>,
        /// The organization's id (default: the active organization).
        #[oai(name = "organizationId")]
        organization_id: Query<Option<String>>,
        /// The organization's slug, when no id is given.
        #[oai(name = "organizationSlug")]
        organization_slug: Query<Option<String>>,
        caller: Caller,
    ) -> Result<MemberRole, Errors<NoBody>> {
        let target = Target::of(organization_id.0, organization_slug.0);
        let role = self
            .state
            .auth
            .member_role(&caller, target, user_id.0)
            .await?;
        Ok(RoleResponse { role }.into())
    }

    /// A page of an organization's members
    ///
    /// `limit` (default and at most the membership limit, 100), `offset`, `sortBy` (`createdAt` or
    /// `role`), `sortDirection`; `filterField=role` with `filterValue` keeps members holding that
    /// role. `total` counts every match, so nothing is cut off silently.
    #[oai(path = "/list-members", method = "get", operation_id = "listMembers")]
    #[allow(clippy::too_many_arguments)]
    async fn list_members(
        &self,
        /// The organization's id (default: the active organization).
        #[oai(name = "organizationId")]
        organization_id: Query<Option<String>>,
        /// The organization's slug, when no id is given.
        #[oai(name = "organizationSlug")]
        organization_slug: Query<Option<String>>,
        /// How many members at most (default and at most: the membership limit).
        limit: Query<Option<Count>>,
        /// How many matching members to skip.
        offset: Query<Option<Count>>,
        /// The sort key (default `createdAt`).
        #[oai(name = "sortBy")]
        sort_by: Query<Option<SortBy>>,
        /// The sort order (default `asc`).
        #[oai(name = "sortDirection")]
        sort_direction: Query<Option<SortDirection>>,
        /// `role`, to keep only members holding `filterValue`.
        #[oai(name = "filterField")]
        filter_field: Query<Option<FilterField>>,
        /// The role `filterField=role` keeps.
        #[oai(name = "filterValue")]
        filter_value: Query<Option<String>>,
        caller: Caller,
    ) -> Result<Members, Errors<NoBody>> {
        let role = match (
            filter_field.0.as_ref().map(|f| f.0.as_str()),
            filter_value.0,
        ) {
            (None, _) => None,
            (Some("role"), Some(v)) => Some(v),
            _ => {
                let refused = "Only filterField=role with a filterValue is supported";
                return Err(ApiError::invalid("query.filterField", refused).into());
            }
        };
        let descending = match sort_direction.0.as_ref().map(|d| d.0.as_str()) {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(_) => {
                return Err(ApiError::invalid("query.sortDirection", "Use asc or desc").into())
            }
        };
        let page = MemberPage {
            limit: limit.0.map(Count::get),
            offset: offset.0.map(Count::get),
            sort_by: sort_by.0.map(|s| s.0),
            descending,
            role,
        };
        let target = Target::of(organization_id.0, organization_slug.0);
        let (members, total) = self.state.auth.list_members(&caller, target, page).await?;
        Ok(MembersPage {
            members: members.iter().map(MemberWithUser::from).collect(),
            total,
        }
        .into())
    }

    /// Does the caller have these permissions?
    ///
    /// True when one of the caller's roles grants every requested action.
    #[oai(
        path = "/has-permission",
        method = "post",
        operation_id = "hasPermission"
    )]
    async fn has_permission(
        &self,
        body: Body<HasPermissionBody>,
        caller: Caller,
    ) -> Result<PermissionCheck, Errors<JsonBody>> {
        let body = body.0;
        let request = match (body.permissions, body.permission) {
            (Some(_), Some(_)) | (None, None) => {
                let refused = "Give exactly one of permissions and permission";
                return Err(ApiError::invalid("body", refused).into());
            }
            // The deprecated key never grants anything; membership is still required.
            (None, Some(_)) => None,
            (Some(p), None) => Some(
                p.into_iter()
                    .map(|(k, v)| (k, v.into_iter().collect()))
                    .collect(),
            ),
        };
        let allowed = self
            .state
            .auth
            .has_permission(
                &caller,
                body.organization_id,
                request.as_ref().unwrap_or(&Default::default()),
            )
            .await
            .map_err(Errors::when(OrgError::NotAMember, 401))?;
        Ok(HasPermissionResponse {
            error: Nullable(None),
            success: request.is_some() && allowed,
        }
        .into())
    }

    /// Leave an organization
    ///
    /// The last owner cannot leave. The caller's team memberships in it end, and no session of the
    /// caller keeps it active.
    #[oai(path = "/leave", method = "post", operation_id = "leaveOrganization")]
    async fn leave(
        &self,
        body: Body<LeaveBody>,
        caller: Caller,
    ) -> Result<LeftOrganization, Errors<JsonBody>> {
        let m = self
            .state
            .auth
            .leave_organization(&caller, &body.organization_id)
            .await?;
        Ok(MemberWithUser::from((&m, &caller.user)).into())
    }

    /// Remove a member
    ///
    /// Needs `member:delete`; only an owner removes an owner, and never the last one. The removed
    /// user's team memberships in the organization end and their sessions forget it.
    #[oai(
        path = "/remove-member",
        method = "post",
        operation_id = "removeMember"
    )]
    async fn remove_member(
        &self,
        body: Body<RemoveMemberBody>,
        caller: Caller,
    ) -> Result<MemberRemoved, Errors<JsonBody>> {
        let body = body.0;
        let (m, _) = self
            .state
            .auth
            .remove_member(&caller, body.organization_id, &body.member_id_or_email)
            .await?;
        Ok(RemovedMember {
            member: Member::from(&m),
        }
        .into())
    }

    /// Change a member's roles
    ///
    /// Needs `member:update`. Only an owner grants the owner role or changes an owner; the last
    /// owner cannot be demoted.
    #[oai(
        path = "/update-member-role",
        method = "post",
        operation_id = "updateMemberRole"
    )]
    async fn update_member_role(
        &self,
        body: Body<UpdateMemberRoleBody>,
        caller: Caller,
    ) -> Result<MemberUpdated, Errors<JsonBody>> {
        let body = body.0;
        let roles = body.role.into_vec();
        let m = self
            .state
            .auth
            .update_member_role(&caller, body.organization_id, &body.member_id, &roles)
            .await?;
        Ok(Member::from(&m).into())
    }
}
