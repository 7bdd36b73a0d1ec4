//! The organization plugin's organization routes: create, check-slug, list, set-active,
//! get-organization, get-full-organization, update, delete.

use poem::Request;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{Object, OpenApi, Tags};
use service::organization::{FullOrganization, NewOrganization, OrganizationUpdate, Target};

use crate::auth::dto::{date, StatusTrue};
use crate::auth::SessionAuth;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

#[derive(Tags)]
pub enum Tag {
    /// Organizations and the caller's active organization.
    Organizations,
}

/// An organization; `metadata` as stored (a JSON string), as Better Auth returns it from reads.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub logo: Option<String>,
    pub created_at: String,
    /// The metadata object as a JSON string, or null.
    pub metadata: Option<String>,
}

impl From<&entity::organization::Model> for Organization {
    fn from(o: &entity::organization::Model) -> Self {
        Self {
            id: o.id.clone(),
            name: o.name.clone(),
            slug: o.slug.clone(),
            logo: o.logo.clone(),
            created_at: date(o.created_at),
            metadata: o.metadata.clone(),
        }
    }
}

/// An organization as `create` and `update` return it: `metadata` parsed, omitted when absent.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct OrganizationWithMetadata {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub logo: Option<String>,
    pub created_at: String,
    #[oai(skip_serializing_if_is_none)]
    pub metadata: Option<serde_json::Value>,
}

impl From<&entity::organization::Model> for OrganizationWithMetadata {
    fn from(o: &entity::organization::Model) -> Self {
        Self {
            id: o.id.clone(),
            name: o.name.clone(),
            slug: o.slug.clone(),
            logo: o.logo.clone(),
            created_at: date(o.created_at),
            metadata: o
                .metadata
                .as_deref()
                .and_then(|m| serde_json::from_str(m).ok()),
        }
    }
}

/// A membership. `role` is comma-joined when a member holds several.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct Member {
    pub id: String,
    pub organization_id: String,
    pub user_id: String,
    pub role: String,
    pub created_at: String,
}

impl From<&entity::member::Model> for Member {
    fn from(m: &entity::member::Model) -> Self {
        Self {
            id: m.id.clone(),
            organization_id: m.organization_id.clone(),
            user_id: m.user_id.clone(),
            role: m.role.clone(),
            created_at: date(m.created_at),
        }
    }
}

#[derive(Object, Debug)]
pub struct MemberUser {
    pub id: String,
    pub name: String,
    pub email: String,
    pub image: Option<String>,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct MemberWithUser {
    #[oai(flatten)]
    pub member: Member,
    pub user: MemberUser,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct TeamWithCount {
    #[oai(flatten)]
    pub team: Team,
    pub member_count: u64,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct Invitation {
    pub id: String,
    pub organization_id: String,
    pub email: String,
    pub role: Option<String>,
    pub team_id: Option<String>,
    pub status: String,
    pub expires_at: String,
    pub created_at: String,
    pub inviter_id: String,
}

impl From<&entity::invitation::Model> for Invitation {
    fn from(i: &entity::invitation::Model) -> Self {
        Self {
            id: i.id.clone(),
            organization_id: i.organization_id.clone(),
            email: i.email.clone(),
            role: i.role.clone(),
            team_id: i.team_id.clone(),
            status: i.status.clone(),
            expires_at: date(i.expires_at),
            created_at: date(i.created_at),
            inviter_id: i.inviter_id.clone(),
        }
    }
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct CreatedOrganization {
    #[oai(flatten)]
    pub organization: OrganizationWithMetadata,
    pub members: Vec<Member>,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct FullOrganizationResponse {
    #[oai(flatten)]
    pub organization: Organization,
    pub invitations: Vec<Invitation>,
    pub members: Vec<MemberWithUser>,
    pub teams: Vec<TeamWithCount>,
}

impl From<FullOrganization> for FullOrganizationResponse {
    fn from(f: FullOrganization) -> Self {
        Self {
            organization: Organization::from(&f.organization),
            invitations: f.invitations.iter().map(Invitation::from).collect(),
            members: f
                .members
                .iter()
                .map(|(m, u)| member_with_user(m, u))
                .collect(),
            teams: f
                .teams
                .iter()
                .map(|(t, n)| TeamWithCount {
                    team: Team::from(t),
                    member_count: *n,
                })
                .collect(),
        }
    }
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct CreateOrganizationBody {
    pub name: String,
    /// 1 to 64 characters of a-z, 0-9 and '-'.
    pub slug: String,
    pub logo: Option<String>,
    /// Any JSON object; stored as a JSON string.
    pub metadata: Option<serde_json::Value>,
    /// Leave the session's active organization as it is.
    pub keep_current_active_organization: Option<bool>,
}

#[derive(Object, Debug)]
pub struct CheckSlugBody {
    pub slug: String,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct UpdateOrganizationData {
    pub name: Option<String>,
    pub slug: Option<String>,
    /// A URL, or null to remove the logo.
    pub logo: MaybeUndefined<String>,
    pub metadata: Option<serde_json::Value>,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct UpdateOrganizationBody {
    pub data: UpdateOrganizationData,
    /// Default: the active organization.
    pub organization_id: Option<String>,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct DeleteOrganizationBody {
    pub organization_id: String,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SetActiveBody {
    /// An organization id, or null to clear the active organization.
    pub organization_id: MaybeUndefined<String>,
    pub organization_slug: Option<String>,
}

fn metadata_object(value: Option<serde_json::Value>) -> ApiResult<Option<serde_json::Value>> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) if v.is_object() => Ok(Some(v)),
        Some(_) => Err(ApiError::BadRequest(Json(ErrorBody::new(
            "VALIDATION_ERROR",
            "[body.metadata] Expected an object",
        )))),
    }
}

fn target(id: Option<String>, slug: Option<String>) -> Target {
    match (id, slug) {
        (Some(id), _) => Target::Id(id),
        (None, Some(slug)) => Target::Slug(slug),
        (None, None) => Target::Active,
    }
}

pub struct OrganizationApi {
    pub state: AppState,
}

#[OpenApi(prefix_path = "/api/auth/organization", tag = "Tag::Organizations")]
impl OrganizationApi {
    /// Create an organization
    ///
    /// The caller becomes its owner and a member of its default team; it becomes the session's
    /// active organization unless `keepCurrentActiveOrganization`. A taken slug answers 400
    /// `ORGANIZATION_ALREADY_EXISTS`.
    #[oai(path = "/create", method = "post", operation_id = "createOrganization")]
    async fn create(
        &self,
        req: &Request,
        _auth: SessionAuth,
        body: Json<CreateOrganizationBody>,
    ) -> ApiResult<Json<CreatedOrganization>> {
        let current = self.state.require(req).await?;
        let body = body.0;
        let input = NewOrganization {
            name: body.name,
            slug: body.slug,
            logo: body.logo,
            metadata: metadata_object(body.metadata)?,
            keep_current_active: body.keep_current_active_organization.unwrap_or(false),
        };
        let (org, owner) = self.state.auth.create_organization(&current, input).await?;
        Ok(Json(CreatedOrganization {
            organization: OrganizationWithMetadata::from(&org),
            members: vec![Member::from(&owner)],
        }))
    }

    /// Is a slug free?
    ///
    /// `{"status":true}` when free; 400 `ORGANIZATION_SLUG_ALREADY_TAKEN` when not. A hint only:
    /// `create` decides.
    #[oai(
        path = "/check-slug",
        method = "post",
        operation_id = "checkOrganizationSlug"
    )]
    async fn check_slug(
        &self,
        req: &Request,
        _auth: SessionAuth,
        body: Json<CheckSlugBody>,
    ) -> ApiResult<Json<StatusTrue>> {
        self.state.require(req).await?;
        self.state.auth.check_slug(&body.slug).await?;
        Ok(Json(StatusTrue { status: true }))
    }

    /// The caller's organizations
    #[oai(path = "/list", method = "get", operation_id = "listOrganizations")]
    async fn list(&self, req: &Request, _auth: SessionAuth) -> ApiResult<Json<Vec<Organization>>> {
        let current = self.state.require(req).await?;
        let orgs = self.state.auth.list_organizations(&current.user.id).await?;
        Ok(Json(orgs.iter().map(Organization::from).collect()))
    }

    /// Set the session's active organization
    ///
    /// By id or slug; `organizationId: null` clears it; neither re-checks the current one. Moving
    /// to another organization clears the active team. A non-member gets 403 (and the session's
    /// active organization is cleared).
    #[oai(
        path = "/set-active",
        method = "post",
        operation_id = "setActiveOrganization"
    )]
    async fn set_active(
        &self,
        req: &Request,
        _auth: SessionAuth,
        body: Json<SetActiveBody>,
    ) -> ApiResult<Json<Option<Organization>>> {
        let current = self.state.require(req).await?;
        let body = body.0;
        let target = match (body.organization_id, body.organization_slug) {
            (MaybeUndefined::Null, _) => None,
            (MaybeUndefined::Value(id), _) => Some(Target::Id(id)),
            (MaybeUndefined::Undefined, Some(slug)) => Some(Target::Slug(slug)),
            (MaybeUndefined::Undefined, None) => Some(Target::Active),
        };
        let org = self
            .state
            .auth
            .set_active_organization(&current, target)
            .await?;
        Ok(Json(org.as_ref().map(Organization::from)))
    }

    /// An organization the caller belongs to
    ///
    /// By id or slug, else the active one; `null` when none is named and none is active.
    #[oai(
        path = "/get-organization",
        method = "get",
        operation_id = "getOrganization"
    )]
    async fn get_organization(
        &self,
        req: &Request,
        _auth: SessionAuth,
        #[oai(name = "organizationId")] organization_id: Query<Option<String>>,
        #[oai(name = "organizationSlug")] organization_slug: Query<Option<String>>,
    ) -> ApiResult<Json<Option<Organization>>> {
        let current = self.state.require(req).await?;
        let org = self
            .state
            .auth
            .organization(&current, target(organization_id.0, organization_slug.0))
            .await?;
        Ok(Json(org.as_ref().map(Organization::from)))
    }

    /// An organization with its members, teams and invitations
    ///
    /// Invitations only for members allowed to invite (invitations for the owner role only for
    /// owners). `membersLimit` caps the members listed (at most 100).
    #[oai(
        path = "/get-full-organization",
        method = "get",
        operation_id = "getFullOrganization"
    )]
    async fn get_full_organization(
        &self,
        req: &Request,
        _auth: SessionAuth,
        #[oai(name = "organizationId")] organization_id: Query<Option<String>>,
        #[oai(name = "organizationSlug")] organization_slug: Query<Option<String>>,
        #[oai(name = "membersLimit")] members_limit: Query<Option<u64>>,
    ) -> ApiResult<Json<Option<FullOrganizationResponse>>> {
        let current = self.state.require(req).await?;
        let full = self
            .state
            .auth
            .full_organization(
                &current,
                target(organization_id.0, organization_slug.0),
                members_limit.0,
            )
            .await?;
        Ok(Json(full.map(FullOrganizationResponse::from)))
    }

    /// Update an organization
    ///
    /// Needs `organization:update`. A slug taken by another organization answers 400
    /// `ORGANIZATION_SLUG_ALREADY_TAKEN`.
    #[oai(path = "/update", method = "post", operation_id = "updateOrganization")]
    async fn update(
        &self,
        req: &Request,
        _auth: SessionAuth,
        body: Json<UpdateOrganizationBody>,
    ) -> ApiResult<Json<OrganizationWithMetadata>> {
        let current = self.state.require(req).await?;
        let body = body.0;
        let logo = match body.data.logo {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(v) => Some(Some(v)),
        };
        let update = OrganizationUpdate {
            name: body.data.name,
            slug: body.data.slug,
            logo,
            metadata: metadata_object(body.data.metadata)?,
        };
        let org = self
            .state
            .auth
            .update_organization(&current, body.organization_id, update)
            .await?;
        Ok(Json(OrganizationWithMetadata::from(&org)))
    }

    /// Delete an organization
    ///
    /// Needs `organization:delete` (owners). Its teams, members and invitations go with it, and
    /// every session that had it active forgets it.
    #[oai(path = "/delete", method = "post", operation_id = "deleteOrganization")]
    async fn delete(
        &self,
        req: &Request,
        _auth: SessionAuth,
        body: Json<DeleteOrganizationBody>,
    ) -> ApiResult<Json<Organization>> {
        let current = self.state.require(req).await?;
        let org = self
            .state
            .auth
            .delete_organization(&current, &body.organization_id)
            .await?;
        Ok(Json(Organization::from(&org)))
    }
}

/// A member with the user, as `get-active-member` and `leave` return it.
fn member_with_user(m: &entity::member::Model, u: &entity::user::Model) -> MemberWithUser {
    MemberWithUser {
        member: Member::from(m),
        user: MemberUser {
            id: u.id.clone(),
            name: u.name.clone(),
            email: u.email.clone(),
            image: u.image.clone(),
        },
    }
}

#[derive(Object, Debug)]
pub struct RoleResponse {
    pub role: String,
}

#[derive(Object, Debug)]
pub struct MembersPage {
    pub members: Vec<MemberWithUser>,
    /// All members matching the filter, whatever the page.
    pub total: u64,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct HasPermissionBody {
    pub organization_id: Option<String>,
    /// resource → actions, e.g. `{"member": ["delete"]}`.
    pub permissions: Option<std::collections::BTreeMap<String, Vec<String>>>,
    /// Deprecated; always answers `success: false`, as Better Auth does.
    pub permission: Option<std::collections::BTreeMap<String, Vec<String>>>,
}

#[derive(Object, Debug)]
pub struct HasPermissionResponse {
    /// Always null.
    pub error: Option<String>,
    pub success: bool,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct LeaveBody {
    pub organization_id: String,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct RemoveMemberBody {
    /// A member id, or (containing `@`) the member's email.
    pub member_id_or_email: String,
    pub organization_id: Option<String>,
}

#[derive(Object, Debug)]
pub struct RemovedMember {
    pub member: MemberWithUser,
}

/// A role name or a list of them.
#[derive(poem_openapi::Union, Debug)]
pub enum RoleInput {
    One(String),
    Many(Vec<String>),
}

impl RoleInput {
    fn into_vec(self) -> Vec<String> {
        match self {
            RoleInput::One(r) => vec![r],
            RoleInput::Many(v) => v,
        }
    }
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct UpdateMemberRoleBody {
    pub member_id: String,
    pub role: RoleInput,
    pub organization_id: Option<String>,
}

pub struct MembersApi {
    pub state: AppState,
}

#[OpenApi(prefix_path = "/api/auth/organization", tag = "Tag::Organizations")]
impl MembersApi {
    /// The caller's membership of the active organization
    #[oai(
        path = "/get-active-member",
        method = "get",
        operation_id = "getActiveMember"
    )]
    async fn get_active_member(
        &self,
        req: &Request,
        _auth: SessionAuth,
    ) -> ApiResult<Json<MemberWithUser>> {
        let current = self.state.require(req).await?;
        let (m, u) = self.state.auth.active_member(&current).await?;
        Ok(Json(member_with_user(&m, &u)))
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
        req: &Request,
        _auth: SessionAuth,
        #[oai(name = "userId")] user_id: Query<Option<String>>,
        #[oai(name = "organizationId")] organization_id: Query<Option<String>>,
        #[oai(name = "organizationSlug")] organization_slug: Query<Option<String>>,
    ) -> ApiResult<Json<RoleResponse>> {
        let current = self.state.require(req).await?;
        let role = self
            .state
            .auth
            .member_role(
                &current,
                target(organization_id.0, organization_slug.0),
                user_id.0,
            )
            .await?;
        Ok(Json(RoleResponse { role }))
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
        req: &Request,
        _auth: SessionAuth,
        #[oai(name = "organizationId")] organization_id: Query<Option<String>>,
        #[oai(name = "organizationSlug")] organization_slug: Query<Option<String>>,
        limit: Query<Option<u64>>,
        offset: Query<Option<u64>>,
        #[oai(name = "sortBy")] sort_by: Query<Option<String>>,
        #[oai(name = "sortDirection")] sort_direction: Query<Option<String>>,
        #[oai(name = "filterField")] filter_field: Query<Option<String>>,
        #[oai(name = "filterValue")] filter_value: Query<Option<String>>,
    ) -> ApiResult<Json<MembersPage>> {
        let current = self.state.require(req).await?;
        let role = match (filter_field.0.as_deref(), filter_value.0) {
            (None, _) => None,
            (Some("role"), Some(v)) => Some(v),
            _ => {
                return Err(ApiError::BadRequest(Json(ErrorBody::new(
                    "VALIDATION_ERROR",
                    "[query.filterField] Only filterField=role with a filterValue is supported",
                ))))
            }
        };
        let descending = match sort_direction.0.as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(_) => {
                return Err(ApiError::BadRequest(Json(ErrorBody::new(
                    "VALIDATION_ERROR",
                    "[query.sortDirection] Use asc or desc",
                ))))
            }
        };
        let page = service::members::MemberPage {
            limit: limit.0,
            offset: offset.0,
            sort_by: sort_by.0,
            descending,
            role,
        };
        let (members, total) = self
            .state
            .auth
            .list_members(
                &current,
                target(organization_id.0, organization_slug.0),
                page,
            )
            .await?;
        Ok(Json(MembersPage {
            members: members
                .iter()
                .map(|(m, u)| member_with_user(m, u))
                .collect(),
            total,
        }))
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
        req: &Request,
        _auth: SessionAuth,
        body: Json<HasPermissionBody>,
    ) -> ApiResult<Json<HasPermissionResponse>> {
        let current = self.state.require(req).await?;
        let body = body.0;
        let request = match (body.permissions, body.permission) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(ApiError::BadRequest(Json(ErrorBody::new(
                    "VALIDATION_ERROR",
                    "[body] Give exactly one of permissions and permission",
                ))))
            }
            (None, Some(_)) => None,
            (Some(p), None) => Some(
                p.into_iter()
                    .map(|(k, v)| (k, v.into_iter().collect()))
                    .collect(),
            ),
        };
        let allowed = match request {
            // The deprecated key never grants anything.
            None => {
                self.state
                    .auth
                    .has_permission(&current, body.organization_id, &Default::default())
                    .await?;
                false
            }
            Some(request) => {
                self.state
                    .auth
                    .has_permission(&current, body.organization_id, &request)
                    .await?
            }
        };
        Ok(Json(HasPermissionResponse {
            error: None,
            success: allowed,
        }))
    }

    /// Leave an organization
    ///
    /// The last owner cannot leave. The caller's team memberships in it end, and no session of the
    /// caller keeps it active.
    #[oai(path = "/leave", method = "post", operation_id = "leaveOrganization")]
    async fn leave(
        &self,
        req: &Request,
        _auth: SessionAuth,
        body: Json<LeaveBody>,
    ) -> ApiResult<Json<MemberWithUser>> {
        let current = self.state.require(req).await?;
        let m = self
            .state
            .auth
            .leave_organization(&current, &body.organization_id)
            .await?;
        Ok(Json(member_with_user(&m, &current.user)))
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
        req: &Request,
        _auth: SessionAuth,
        body: Json<RemoveMemberBody>,
    ) -> ApiResult<Json<RemovedMember>> {
        let current = self.state.require(req).await?;
        let body = body.0;
        let (m, u) = self
            .state
            .auth
            .remove_member(&current, body.organization_id, &body.member_id_or_email)
            .await?;
        Ok(Json(RemovedMember {
            member: member_with_user(&m, &u),
        }))
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
        req: &Request,
        _auth: SessionAuth,
        body: Json<UpdateMemberRoleBody>,
    ) -> ApiResult<Json<Member>> {
        let current = self.state.require(req).await?;
        let body = body.0;
        let m = self
            .state
            .auth
            .update_member_role(
                &current,
                body.organization_id,
                &body.member_id,
                &body.role.into_vec(),
            )
            .await?;
        Ok(Json(Member::from(&m)))
    }
}

/// One team id or a list of them.
#[derive(poem_openapi::Union, Debug)]
pub enum TeamIdInput {
    One(String),
    Many(Vec<String>),
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct InviteMemberBody {
    pub email: String,
    pub role: RoleInput,
    pub organization_id: Option<String>,
    /// Extend a pending invitation's expiry and mail it again (its roles and teams stay).
    pub resend: Option<bool>,
    /// Teams of the organization the new member joins on acceptance.
    pub team_id: Option<TeamIdInput>,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct InvitationIdBody {
    pub invitation_id: String,
}

#[derive(Object, Debug)]
pub struct AcceptedInvitation {
    pub invitation: Invitation,
    pub member: Member,
}

#[derive(Object, Debug)]
pub struct RejectedInvitation {
    pub invitation: Invitation,
    /// Always null.
    pub member: Option<Member>,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct InvitationWithOrganization {
    #[oai(flatten)]
    pub invitation: Invitation,
    pub organization_name: String,
    pub organization_slug: String,
    pub inviter_email: String,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct UserInvitation {
    #[oai(flatten)]
    pub invitation: Invitation,
    pub organization_name: String,
}

/// `list-invitations`: the page as Better Auth's array, the total in `X-Total-Count`.
#[derive(poem_openapi::ApiResponse)]
pub enum InvitationsPage {
    #[oai(status = 200)]
    Ok(Json<Vec<Invitation>>, #[oai(header = "X-Total-Count")] u64),
}

pub struct InvitationsApi {
    pub state: AppState,
}

#[OpenApi(prefix_path = "/api/auth/organization", tag = "Tag::Organizations")]
impl InvitationsApi {
    /// Invite an e-mail address
    ///
    /// Needs `invitation:create`; only an owner invites owners. Mails the invitation link.
    /// `resend` extends a pending invitation instead of failing with
    /// `USER_IS_ALREADY_INVITED_TO_THIS_ORGANIZATION`.
    #[oai(
        path = "/invite-member",
        method = "post",
        operation_id = "inviteMember"
    )]
    async fn invite_member(
        &self,
        req: &Request,
        _auth: SessionAuth,
        body: Json<InviteMemberBody>,
    ) -> ApiResult<Json<Invitation>> {
        let current = self.state.require(req).await?;
        let body = body.0;
        let team_ids = match body.team_id {
            None => Vec::new(),
            Some(TeamIdInput::One(t)) => vec![t],
            Some(TeamIdInput::Many(v)) => v,
        };
        let input = service::invitations::NewInvitation {
            email: body.email,
            roles: body.role.into_vec(),
            organization_id: body.organization_id,
            resend: body.resend.unwrap_or(false),
            team_ids,
        };
        let inv = self.state.auth.invite_member(&current, input).await?;
        Ok(Json(Invitation::from(&inv)))
    }

    /// Accept an invitation
    ///
    /// Only the invited address (verified, unless switched off), before expiry, once — even under
    /// concurrent requests. The organization becomes the session's active one.
    #[oai(
        path = "/accept-invitation",
        method = "post",
        operation_id = "acceptInvitation"
    )]
    async fn accept(
        &self,
        req: &Request,
        _auth: SessionAuth,
        body: Json<InvitationIdBody>,
    ) -> ApiResult<Json<AcceptedInvitation>> {
        let current = self.state.require(req).await?;
        let (inv, m) = self
            .state
            .auth
            .accept_invitation(&current, &body.invitation_id)
            .await?;
        Ok(Json(AcceptedInvitation {
            invitation: Invitation::from(&inv),
            member: Member::from(&m),
        }))
    }

    /// Reject an invitation
    #[oai(
        path = "/reject-invitation",
        method = "post",
        operation_id = "rejectInvitation"
    )]
    async fn reject(
        &self,
        req: &Request,
        _auth: SessionAuth,
        body: Json<InvitationIdBody>,
    ) -> ApiResult<Json<RejectedInvitation>> {
        let current = self.state.require(req).await?;
        let inv = self
            .state
            .auth
            .reject_invitation(&current, &body.invitation_id)
            .await?;
        Ok(Json(RejectedInvitation {
            invitation: Invitation::from(&inv),
            member: None,
        }))
    }

    /// Cancel an invitation
    ///
    /// Needs `invitation:cancel` in the invitation's organization.
    #[oai(
        path = "/cancel-invitation",
        method = "post",
        operation_id = "cancelInvitation"
    )]
    async fn cancel(
        &self,
        req: &Request,
        _auth: SessionAuth,
        body: Json<InvitationIdBody>,
    ) -> ApiResult<Json<Invitation>> {
        let current = self.state.require(req).await?;
        let inv = self
            .state
            .auth
            .cancel_invitation(&current, &body.invitation_id)
            .await?;
        Ok(Json(Invitation::from(&inv)))
    }

    /// An invitation, for its recipient
    #[oai(
        path = "/get-invitation",
        method = "get",
        operation_id = "getInvitation"
    )]
    async fn get_invitation(
        &self,
        req: &Request,
        _auth: SessionAuth,
        id: Query<String>,
    ) -> ApiResult<Json<InvitationWithOrganization>> {
        let current = self.state.require(req).await?;
        let d = self.state.auth.invitation_details(&current, &id).await?;
        Ok(Json(InvitationWithOrganization {
            invitation: Invitation::from(&d.invitation),
            organization_name: d.organization_name,
            organization_slug: d.organization_slug,
            inviter_email: d.inviter_email,
        }))
    }

    /// An organization's invitations
    ///
    /// For members allowed to invite. Paginated with `limit` (at most 100) and `offset`; the body
    /// is the page (an array, as Better Auth), `X-Total-Count` the number of all invitations.
    #[oai(
        path = "/list-invitations",
        method = "get",
        operation_id = "listInvitations"
    )]
    async fn list_invitations(
        &self,
        req: &Request,
        _auth: SessionAuth,
        #[oai(name = "organizationId")] organization_id: Query<Option<String>>,
        limit: Query<Option<u64>>,
        offset: Query<Option<u64>>,
    ) -> ApiResult<InvitationsPage> {
        let current = self.state.require(req).await?;
        let (page, total) = self
            .state
            .auth
            .list_invitations(&current, organization_id.0, limit.0, offset.0)
            .await?;
        Ok(InvitationsPage::Ok(
            Json(page.iter().map(Invitation::from).collect()),
            total,
        ))
    }

    /// The caller's pending invitations
    ///
    /// Needs a verified e-mail address.
    #[oai(
        path = "/list-user-invitations",
        method = "get",
        operation_id = "listUserInvitations"
    )]
    async fn list_user_invitations(
        &self,
        req: &Request,
        _auth: SessionAuth,
    ) -> ApiResult<Json<Vec<UserInvitation>>> {
        let current = self.state.require(req).await?;
        let list = self.state.auth.user_invitations(&current).await?;
        Ok(Json(
            list.iter()
                .map(|(i, name)| UserInvitation {
                    invitation: Invitation::from(i),
                    organization_name: name.clone(),
                })
                .collect(),
        ))
    }
}

/// A team (without its member count, as Better Auth returns teams outside `get-full-organization`).
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct Team {
    pub id: String,
    pub name: String,
    pub organization_id: String,
    pub created_at: String,
    pub updated_at: Option<String>,
}

impl From<&entity::team::Model> for Team {
    fn from(t: &entity::team::Model) -> Self {
        Self {
            id: t.id.clone(),
            name: t.name.clone(),
            organization_id: t.organization_id.clone(),
            created_at: date(t.created_at),
            updated_at: t.updated_at.map(date),
        }
    }
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct TeamMember {
    pub id: String,
    pub team_id: String,
    pub user_id: String,
    pub created_at: Option<String>,
}

impl From<&entity::team_member::Model> for TeamMember {
    fn from(m: &entity::team_member::Model) -> Self {
        Self {
            id: m.id.clone(),
            team_id: m.team_id.clone(),
            user_id: m.user_id.clone(),
            created_at: m.created_at.map(date),
        }
    }
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct CreateTeamBody {
    pub name: String,
    pub organization_id: Option<String>,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct UpdateTeamData {
    pub name: Option<String>,
    /// Which organization the team is looked up in (default: the active one); teams never move.
    pub organization_id: Option<String>,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct UpdateTeamBody {
    pub team_id: String,
    pub data: UpdateTeamData,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct TeamIdBody {
    pub team_id: String,
    pub organization_id: Option<String>,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SetActiveTeamBody {
    /// A team of the active organization the caller is in, or null to clear.
    pub team_id: MaybeUndefined<String>,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct TeamMemberBody {
    pub team_id: String,
    pub user_id: String,
    pub organization_id: Option<String>,
}

#[derive(Object, Debug)]
pub struct Message {
    pub message: String,
}

pub struct TeamsApi {
    pub state: AppState,
}

#[OpenApi(prefix_path = "/api/auth/organization", tag = "Tag::Organizations")]
impl TeamsApi {
    /// Create a team
    ///
    /// Needs `team:create`; at most `ORGAUTH_MAXIMUM_TEAMS`. The creator is not added to it.
    #[oai(path = "/create-team", method = "post", operation_id = "createTeam")]
    async fn create_team(
        &self,
        req: &Request,
        _auth: SessionAuth,
        body: Json<CreateTeamBody>,
    ) -> ApiResult<Json<Team>> {
        let current = self.state.require(req).await?;
        let team = self
            .state
            .auth
            .create_team(&current, body.0.organization_id, &body.0.name)
            .await?;
        Ok(Json(Team::from(&team)))
    }

    /// An organization's teams
    #[oai(path = "/list-teams", method = "get", operation_id = "listTeams")]
    async fn list_teams(
        &self,
        req: &Request,
        _auth: SessionAuth,
        #[oai(name = "organizationId")] organization_id: Query<Option<String>>,
    ) -> ApiResult<Json<Vec<Team>>> {
        let current = self.state.require(req).await?;
        let teams = self
            .state
            .auth
            .list_teams(&current, organization_id.0)
            .await?;
        Ok(Json(teams.iter().map(Team::from).collect()))
    }

    /// Rename a team
    ///
    /// Needs `team:update` in the team's organization.
    #[oai(path = "/update-team", method = "post", operation_id = "updateTeam")]
    async fn update_team(
        &self,
        req: &Request,
        _auth: SessionAuth,
        body: Json<UpdateTeamBody>,
    ) -> ApiResult<Json<Team>> {
        let current = self.state.require(req).await?;
        let body = body.0;
        let team = self
            .state
            .auth
            .update_team(
                &current,
                body.data.organization_id,
                &body.team_id,
                body.data.name,
            )
            .await?;
        Ok(Json(Team::from(&team)))
    }

    /// Remove a team
    ///
    /// Needs `team:delete`; not the caller's active team, and not the organization's last team
    /// unless `ORGAUTH_ALLOW_REMOVING_ALL_TEAMS`. Sessions that had it active forget it.
    #[oai(path = "/remove-team", method = "post", operation_id = "removeTeam")]
    async fn remove_team(
        &self,
        req: &Request,
        _auth: SessionAuth,
        body: Json<TeamIdBody>,
    ) -> ApiResult<Json<Message>> {
        let current = self.state.require(req).await?;
        self.state
            .auth
            .remove_team(&current, body.0.organization_id, &body.0.team_id)
            .await?;
        Ok(Json(Message {
            message: "Team removed successfully.".into(),
        }))
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
        _auth: SessionAuth,
        body: Json<SetActiveTeamBody>,
    ) -> ApiResult<Json<Option<Team>>> {
        let current = self.state.require(req).await?;
        let team_id = match body.0.team_id {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(id) => Some(Some(id)),
        };
        let team = self.state.auth.set_active_team(&current, team_id).await?;
        Ok(Json(team.as_ref().map(Team::from)))
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
        req: &Request,
        _auth: SessionAuth,
        #[oai(name = "organizationId")] organization_id: Query<Option<String>>,
        #[oai(name = "userId")] user_id: Query<Option<String>>,
    ) -> ApiResult<Json<Vec<Team>>> {
        let current = self.state.require(req).await?;
        let teams = self
            .state
            .auth
            .user_teams(&current, organization_id.0, user_id.0)
            .await?;
        Ok(Json(teams.iter().map(Team::from).collect()))
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
        req: &Request,
        _auth: SessionAuth,
        #[oai(name = "teamId")] team_id: Query<Option<String>>,
    ) -> ApiResult<Json<Vec<TeamMember>>> {
        let current = self.state.require(req).await?;
        let members = self.state.auth.team_members(&current, team_id.0).await?;
        Ok(Json(members.iter().map(TeamMember::from).collect()))
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
        req: &Request,
        _auth: SessionAuth,
        body: Json<TeamMemberBody>,
    ) -> ApiResult<Json<TeamMember>> {
        let current = self.state.require(req).await?;
        let body = body.0;
        let m = self
            .state
            .auth
            .add_team_member(&current, body.organization_id, &body.team_id, &body.user_id)
            .await?;
        Ok(Json(TeamMember::from(&m)))
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
        req: &Request,
        _auth: SessionAuth,
        body: Json<TeamMemberBody>,
    ) -> ApiResult<Json<Message>> {
        let current = self.state.require(req).await?;
        let body = body.0;
        self.state
            .auth
            .remove_team_member(&current, body.organization_id, &body.team_id, &body.user_id)
            .await?;
        Ok(Json(Message {
            message: "Team member removed successfully.".into(),
        }))
    }
}
