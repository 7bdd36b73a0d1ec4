//! The organization plugin's organization routes: create, check-slug, list, set-active,
//! get-organization, get-full-organization, update, delete.

use std::borrow::Cow;

use poem::Request;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{MaybeUndefined, ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use poem_openapi::{Object, OpenApi, Tags};
use serde_json::Value;
use service::organization::{FullOrganization, NewOrganization, OrganizationUpdate, Target};

use crate::auth::dto::{StatusTrue, Timestamp};
use crate::auth::SessionAuth;
use crate::error::{ApiError, ApiResult, ErrorBody, Errors, JsonBody, NoBody};
use crate::state::AppState;
use crate::wire::{string_enum, success, Count, JsonObject, Nullable};

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
    pub logo: Nullable<String>,
    pub created_at: Timestamp,
    /// The metadata object as a JSON string, or null.
    pub metadata: Nullable<String>,
}

impl From<&entity::organization::Model> for Organization {
    fn from(o: &entity::organization::Model) -> Self {
        Self {
            id: o.id.clone(),
            name: o.name.clone(),
            slug: o.slug.clone(),
            logo: o.logo.clone().into(),
            created_at: o.created_at.into(),
            metadata: o.metadata.clone().into(),
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
    pub logo: Nullable<String>,
    pub created_at: Timestamp,
    /// The metadata object; omitted when there is none.
    #[oai(skip_serializing_if_is_none)]
    pub metadata: Option<JsonObject>,
}

impl From<&entity::organization::Model> for OrganizationWithMetadata {
    fn from(o: &entity::organization::Model) -> Self {
        Self {
            id: o.id.clone(),
            name: o.name.clone(),
            slug: o.slug.clone(),
            logo: o.logo.clone().into(),
            created_at: o.created_at.into(),
            metadata: o
                .metadata
                .as_deref()
                .and_then(|m| serde_json::from_str(m).ok())
                .map(JsonObject),
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

#[derive(Object, Debug)]
pub struct MemberUser {
    pub id: String,
    pub name: String,
    pub email: String,
    pub image: Nullable<String>,
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
    pub role: Nullable<String>,
    pub team_id: Nullable<String>,
    pub status: InvitationStatus,
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
    pub inviter_id: String,
}

impl From<&entity::invitation::Model> for Invitation {
    fn from(i: &entity::invitation::Model) -> Self {
        Self {
            id: i.id.clone(),
            organization_id: i.organization_id.clone(),
            email: i.email.clone(),
            role: i.role.clone().into(),
            team_id: i.team_id.clone().into(),
            status: InvitationStatus(i.status.clone()),
            expires_at: i.expires_at.into(),
            created_at: i.created_at.into(),
            inviter_id: i.inviter_id.clone(),
        }
    }
}

string_enum! {
    /// Where an invitation stands.
    pub InvitationStatus: "pending" | "accepted" | "rejected" | "canceled"
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
    pub metadata: Option<JsonObject>,
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
    #[oai(nullable)]
    pub logo: MaybeUndefined<String>,
    /// Any JSON object; replaces the stored one.
    pub metadata: Option<JsonObject>,
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
    #[oai(nullable)]
    pub organization_id: MaybeUndefined<String>,
    pub organization_slug: Option<String>,
}

fn metadata_object(value: Option<JsonObject>) -> ApiResult<Option<Value>> {
    match value.map(|m| m.0) {
        None | Some(Value::Null) => Ok(None),
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

/// As [`target`], but a slug wins over an id, as Better Auth's `get-organization` and
/// `get-full-organization` decide.
fn target_by_slug_first(id: Option<String>, slug: Option<String>) -> Target {
    match slug {
        Some(slug) => Target::Slug(slug),
        None => target(id, None),
    }
}

success! {
    /// The organization, with the caller as its one member (the owner).
    pub OrganizationCreated(CreatedOrganization) + session
}

success! {
    /// The slug is free: `{"status": true}`.
    pub SlugFree(StatusTrue) + session
}

success! {
    /// The organizations the caller is a member of.
    pub Organizations(Vec<Organization>) + session
}

success! {
    /// The now active organization, or `null` when cleared.
    pub ActiveOrganization(Nullable<Organization>) + session
}

success! {
    /// The organization, or `null` when none is named and none is active.
    pub OrganizationFound(Nullable<Organization>) + session
}

success! {
    /// The organization with its members, teams and invitations, or `null` when none is named and
    /// none is active.
    pub OrganizationDetails(Nullable<FullOrganizationResponse>) + session
}

success! {
    /// The updated organization.
    pub OrganizationUpdated(OrganizationWithMetadata) + session
}

success! {
    /// The deleted organization.
    pub OrganizationDeleted(Organization) + session
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
    ) -> Result<OrganizationCreated, Errors<JsonBody>> {
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
        Ok(CreatedOrganization {
            organization: OrganizationWithMetadata::from(&org),
            members: vec![Member::from(&owner)],
        }
        .into())
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
    ) -> Result<SlugFree, Errors<JsonBody>> {
        self.state.require(req).await?;
        self.state.auth.check_slug(&body.slug).await?;
        Ok(StatusTrue { status: true }.into())
    }

    /// The caller's organizations
    #[oai(path = "/list", method = "get", operation_id = "listOrganizations")]
    async fn list(
        &self,
        req: &Request,
        _auth: SessionAuth,
    ) -> Result<Organizations, Errors<NoBody>> {
        let current = self.state.require(req).await?;
        let orgs = self.state.auth.list_organizations(&current.user.id).await?;
        Ok(orgs
            .iter()
            .map(Organization::from)
            .collect::<Vec<_>>()
            .into())
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
    ) -> Result<ActiveOrganization, Errors<JsonBody>> {
        let current = self.state.require(req).await?;
        let body = body.0;
        let target = match (body.organization_id, body.organization_slug) {
            (MaybeUndefined::Null, _) => None,
            (MaybeUndefined::Value(id), _) => Some(Target::Id(id)),
            (MaybeUndefined::Undefined, Some(slug)) => Some(Target::Slug(slug)),
            (MaybeUndefined::Undefined, None) => Some(Target::Active),
        };
        let clearing = target.is_none();
        let org = self
            .state
            .auth
            .set_active_organization(&current, target)
            .await?;
        if org.is_some() || (clearing && current.session.active_organization_id.is_some()) {
            self.state.resend_session_cookie(req, &current);
        }
        Ok(Nullable(org.as_ref().map(Organization::from)).into())
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
    ) -> Result<OrganizationFound, Errors<NoBody>> {
        let current = self.state.require(req).await?;
        let org = self
            .state
            .auth
            .organization(
                &current,
                target_by_slug_first(organization_id.0, organization_slug.0),
            )
            .await?;
        Ok(Nullable(org.as_ref().map(Organization::from)).into())
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
        #[oai(name = "membersLimit")] members_limit: Query<Option<Count>>,
    ) -> Result<OrganizationDetails, Errors<NoBody>> {
        let current = self.state.require(req).await?;
        let full = self
            .state
            .auth
            .full_organization(
                &current,
                target_by_slug_first(organization_id.0, organization_slug.0),
                members_limit.0.map(Count::get),
            )
            .await?;
        Ok(Nullable(full.map(FullOrganizationResponse::from)).into())
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
    ) -> Result<OrganizationUpdated, Errors<JsonBody>> {
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
        Ok(OrganizationWithMetadata::from(&org).into())
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
    ) -> Result<OrganizationDeleted, Errors<JsonBody, 404>> {
        let current = self.state.require(req).await?;
        let org = self
            .state
            .auth
            .delete_organization(&current, &body.organization_id)
            .await?;
        Ok(Organization::from(&org).into())
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
            image: u.image.clone().into(),
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
    pub error: Nullable<String>,
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

/// Declares `$name`: one string or a list of them, documented as `anyOf: [string, array]`
/// (poem-openapi's `Union` derive adds a `"type": "object"` that neither branch matches).
macro_rules! string_or_list {
    ($name:ident, $description:literal) => {
        #[doc = $description]
        #[derive(Debug)]
        pub enum $name {
            One(String),
            Many(Vec<String>),
        }

        impl $name {
            fn into_vec(self) -> Vec<String> {
                match self {
                    Self::One(s) => vec![s],
                    Self::Many(v) => v,
                }
            }
        }

        impl Type for $name {
            const IS_REQUIRED: bool = true;

            type RawValueType = Self;

            type RawElementValueType = Self;

            fn name() -> Cow<'static, str> {
                stringify!($name).into()
            }

            fn schema_ref() -> MetaSchemaRef {
                MetaSchemaRef::Reference(Self::name().into_owned())
            }

            fn register(registry: &mut Registry) {
                registry.create_schema::<Self, _>(Self::name().into_owned(), |_| MetaSchema {
                    description: Some($description),
                    any_of: vec![String::schema_ref(), <Vec<String>>::schema_ref()],
                    ..MetaSchema::ANY
                });
            }

            fn as_raw_value(&self) -> Option<&Self> {
                Some(self)
            }

            fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
                Box::new(std::iter::once(self))
            }
        }

        impl ParseFromJSON for $name {
            fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
                let value = value.unwrap_or_default();
                if let Ok(one) = String::parse_from_json(Some(value.clone())) {
                    return Ok(Self::One(one));
                }
                if let Ok(many) = <Vec<String>>::parse_from_json(Some(value.clone())) {
                    return Ok(Self::Many(many));
                }
                Err(ParseError::expected_type(value))
            }
        }

        impl ToJSON for $name {
            fn to_json(&self) -> Option<Value> {
                match self {
                    Self::One(s) => s.to_json(),
                    Self::Many(v) => v.to_json(),
                }
            }
        }
    };
}

string_or_list!(RoleInput, "A role name or a list of them.");
string_or_list!(TeamIdInput, "One team id or a list of them.");

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct UpdateMemberRoleBody {
    pub member_id: String,
    pub role: RoleInput,
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
    pub Members(MembersPage) + session
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
    ) -> Result<ActiveMember, Errors<NoBody>> {
        let current = self.state.require(req).await?;
        let (m, u) = self.state.auth.active_member(&current).await?;
        Ok(member_with_user(&m, &u).into())
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
    ) -> Result<MemberRole, Errors<NoBody>> {
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
        req: &Request,
        _auth: SessionAuth,
        #[oai(name = "organizationId")] organization_id: Query<Option<String>>,
        #[oai(name = "organizationSlug")] organization_slug: Query<Option<String>>,
        limit: Query<Option<Count>>,
        offset: Query<Option<Count>>,
        #[oai(name = "sortBy")] sort_by: Query<Option<SortBy>>,
        #[oai(name = "sortDirection")] sort_direction: Query<Option<SortDirection>>,
        #[oai(name = "filterField")] filter_field: Query<Option<FilterField>>,
        #[oai(name = "filterValue")] filter_value: Query<Option<String>>,
    ) -> Result<Members, Errors<NoBody>> {
        let current = self.state.require(req).await?;
        let role = match (
            filter_field.0.as_ref().map(|f| f.0.as_str()),
            filter_value.0,
        ) {
            (None, _) => None,
            (Some("role"), Some(v)) => Some(v),
            _ => {
                return Err(ApiError::BadRequest(Json(ErrorBody::new(
                    "VALIDATION_ERROR",
                    "[query.filterField] Only filterField=role with a filterValue is supported",
                )))
                .into())
            }
        };
        let descending = match sort_direction.0.as_ref().map(|d| d.0.as_str()) {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(_) => {
                return Err(ApiError::BadRequest(Json(ErrorBody::new(
                    "VALIDATION_ERROR",
                    "[query.sortDirection] Use asc or desc",
                )))
                .into())
            }
        };
        let page = service::members::MemberPage {
            limit: limit.0.map(Count::get),
            offset: offset.0.map(Count::get),
            sort_by: sort_by.0.map(|s| s.0),
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
        Ok(MembersPage {
            members: members
                .iter()
                .map(|(m, u)| member_with_user(m, u))
                .collect(),
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
        req: &Request,
        _auth: SessionAuth,
        body: Json<HasPermissionBody>,
    ) -> Result<PermissionCheck, Errors<JsonBody>> {
        let current = self.state.require(req).await?;
        let body = body.0;
        let request = match (body.permissions, body.permission) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(ApiError::BadRequest(Json(ErrorBody::new(
                    "VALIDATION_ERROR",
                    "[body] Give exactly one of permissions and permission",
                )))
                .into())
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
        Ok(HasPermissionResponse {
            error: Nullable(None),
            success: allowed,
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
        req: &Request,
        _auth: SessionAuth,
        body: Json<LeaveBody>,
    ) -> Result<LeftOrganization, Errors<JsonBody>> {
        let current = self.state.require(req).await?;
        let m = self
            .state
            .auth
            .leave_organization(&current, &body.organization_id)
            .await?;
        Ok(member_with_user(&m, &current.user).into())
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
    ) -> Result<MemberRemoved, Errors<JsonBody>> {
        let current = self.state.require(req).await?;
        let body = body.0;
        let (m, u) = self
            .state
            .auth
            .remove_member(&current, body.organization_id, &body.member_id_or_email)
            .await?;
        Ok(RemovedMember {
            member: member_with_user(&m, &u),
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
        req: &Request,
        _auth: SessionAuth,
        body: Json<UpdateMemberRoleBody>,
    ) -> Result<MemberUpdated, Errors<JsonBody>> {
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
        Ok(Member::from(&m).into())
    }
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
    pub member: Nullable<Member>,
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

/// `list-invitations`: the page as Better Auth's array, the total in `X-Total-Count`, and
/// `set-auth-token` as `success!` documents it.
#[derive(poem_openapi::ApiResponse)]
pub enum InvitationsPage {
    /// A page of the organization's invitations.
    #[oai(
        status = 200,
        header(
            name = "set-auth-token",
            ty = "Option<String>",
            description = "The session's signed token (`token.signature`) for \
                           `Authorization: Bearer`; sent when this call opened or renewed the \
                           session."
        )
    )]
    Ok(
        Json<Vec<Invitation>>,
        /// The number of all the organization's invitations.
        #[oai(header = "X-Total-Count")]
        u64,
    ),
}

success! {
    /// The pending invitation, mailed to the address.
    pub InvitationSent(Invitation) + session
}

success! {
    /// The accepted invitation and the new membership.
    pub InvitationAccepted(AcceptedInvitation) + session
}

success! {
    /// The rejected invitation.
    pub InvitationRejected(RejectedInvitation) + session
}

success! {
    /// The canceled invitation.
    pub InvitationCanceled(Invitation) + session
}

success! {
    /// The invitation, with its organization's name and slug and the inviter's email.
    pub InvitationDetails(InvitationWithOrganization) + session
}

success! {
    /// The caller's pending invitations, with their organizations' names.
    pub UserInvitations(Vec<UserInvitation>) + session
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
    ) -> Result<InvitationSent, Errors<JsonBody>> {
        let current = self.state.require(req).await?;
        let body = body.0;
        let input = service::invitations::NewInvitation {
            email: body.email,
            roles: body.role.into_vec(),
            organization_id: body.organization_id,
            resend: body.resend.unwrap_or(false),
            team_ids: body.team_id.map(TeamIdInput::into_vec).unwrap_or_default(),
        };
        let inv = self.state.auth.invite_member(&current, input).await?;
        Ok(Invitation::from(&inv).into())
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
    ) -> Result<InvitationAccepted, Errors<JsonBody>> {
        let current = self.state.require(req).await?;
        let (inv, m) = self
            .state
            .auth
            .accept_invitation(&current, &body.invitation_id)
            .await?;
        // Better Auth re-sends the cookie when the invitation made one team the active one.
        let teams = inv.team_id.as_deref().unwrap_or("");
        if teams.split(',').filter(|t| !t.trim().is_empty()).count() == 1 {
            self.state.resend_session_cookie(req, &current);
        }
        Ok(AcceptedInvitation {
            invitation: Invitation::from(&inv),
            member: Member::from(&m),
        }
        .into())
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
    ) -> Result<InvitationRejected, Errors<JsonBody>> {
        let current = self.state.require(req).await?;
        let inv = self
            .state
            .auth
            .reject_invitation(&current, &body.invitation_id)
            .await?;
        Ok(RejectedInvitation {
            invitation: Invitation::from(&inv),
            member: Nullable(None),
        }
        .into())
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
    ) -> Result<InvitationCanceled, Errors<JsonBody>> {
        let current = self.state.require(req).await?;
        let inv = self
            .state
            .auth
            .cancel_invitation(&current, &body.invitation_id)
            .await?;
        Ok(Invitation::from(&inv).into())
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
    ) -> Result<InvitationDetails, Errors<NoBody>> {
        let current = self.state.require(req).await?;
        let d = self.state.auth.invitation_details(&current, &id).await?;
        Ok(InvitationWithOrganization {
            invitation: Invitation::from(&d.invitation),
            organization_name: d.organization_name,
            organization_slug: d.organization_slug,
            inviter_email: d.inviter_email,
        }
        .into())
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
        limit: Query<Option<Count>>,
        offset: Query<Option<Count>>,
    ) -> Result<InvitationsPage, Errors<NoBody>> {
        let current = self.state.require(req).await?;
        let (page, total) = self
            .state
            .auth
            .list_invitations(
                &current,
                organization_id.0,
                limit.0.map(Count::get),
                offset.0.map(Count::get),
            )
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
    ) -> Result<UserInvitations, Errors<NoBody>> {
        let current = self.state.require(req).await?;
        let list = self.state.auth.user_invitations(&current).await?;
        Ok(list
            .iter()
            .map(|(i, name)| UserInvitation {
                invitation: Invitation::from(i),
                organization_name: name.clone(),
            })
            .collect::<Vec<_>>()
            .into())
    }
}

/// A team (without its member count, as Better Auth returns teams outside `get-full-organization`).
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct Team {
    pub id: String,
    pub name: String,
    pub organization_id: String,
    pub created_at: Timestamp,
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

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct TeamMember {
    pub id: String,
    pub team_id: String,
    pub user_id: String,
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
    #[oai(nullable)]
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
    ) -> Result<TeamCreated, Errors<JsonBody>> {
        let current = self.state.require(req).await?;
        let team = self
            .state
            .auth
            .create_team(&current, body.0.organization_id, &body.0.name)
            .await?;
        Ok(Team::from(&team).into())
    }

    /// An organization's teams
    #[oai(path = "/list-teams", method = "get", operation_id = "listTeams")]
    async fn list_teams(
        &self,
        req: &Request,
        _auth: SessionAuth,
        #[oai(name = "organizationId")] organization_id: Query<Option<String>>,
    ) -> Result<Teams, Errors<NoBody>> {
        let current = self.state.require(req).await?;
        let teams = self
            .state
            .auth
            .list_teams(&current, organization_id.0)
            .await?;
        Ok(teams.iter().map(Team::from).collect::<Vec<_>>().into())
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
    ) -> Result<TeamUpdated, Errors<JsonBody>> {
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
        Ok(Team::from(&team).into())
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
    ) -> Result<TeamRemoved, Errors<JsonBody>> {
        let current = self.state.require(req).await?;
        self.state
            .auth
            .remove_team(&current, body.0.organization_id, &body.0.team_id)
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
        _auth: SessionAuth,
        body: Json<SetActiveTeamBody>,
    ) -> Result<ActiveTeam, Errors<JsonBody>> {
        let current = self.state.require(req).await?;
        let team_id = match body.0.team_id {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(id) => Some(Some(id)),
        };
        let clearing = team_id == Some(None);
        let team = self.state.auth.set_active_team(&current, team_id).await?;
        if team.is_some() || (clearing && current.session.active_team_id.is_some()) {
            self.state.resend_session_cookie(req, &current);
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
        req: &Request,
        _auth: SessionAuth,
        #[oai(name = "organizationId")] organization_id: Query<Option<String>>,
        #[oai(name = "userId")] user_id: Query<Option<String>>,
    ) -> Result<UserTeams, Errors<NoBody>> {
        let current = self.state.require(req).await?;
        let teams = self
            .state
            .auth
            .user_teams(&current, organization_id.0, user_id.0)
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
        req: &Request,
        _auth: SessionAuth,
        #[oai(name = "teamId")] team_id: Query<Option<String>>,
    ) -> Result<TeamMembers, Errors<NoBody>> {
        let current = self.state.require(req).await?;
        let members = self.state.auth.team_members(&current, team_id.0).await?;
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
        req: &Request,
        _auth: SessionAuth,
        body: Json<TeamMemberBody>,
    ) -> Result<TeamMemberAdded, Errors<JsonBody>> {
        let current = self.state.require(req).await?;
        let body = body.0;
        let m = self
            .state
            .auth
            .add_team_member(&current, body.organization_id, &body.team_id, &body.user_id)
            .await?;
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
        req: &Request,
        _auth: SessionAuth,
        body: Json<TeamMemberBody>,
    ) -> Result<TeamMemberRemoved, Errors<JsonBody>> {
        let current = self.state.require(req).await?;
        let body = body.0;
        self.state
            .auth
            .remove_team_member(&current, body.organization_id, &body.team_id, &body.user_id)
            .await?;
        Ok(Message {
            message: "Team member removed successfully.".into(),
        }
        .into())
    }
}
