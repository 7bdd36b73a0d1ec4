//! The organization routes: create, check-slug, list, set-active, get-organization,
//! get-full-organization, update, delete.

use poem::Request;
use poem_openapi::param::Query;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{Object, OpenApi};
use serde_json::Value;
use service::error::OrgError;
use service::org::organizations::{FullOrganization, NewOrganization, OrganizationUpdate, Target};

use super::invitations::Invitation;
use super::members::{Member, MemberWithUser};
use super::teams::Team;
use crate::auth::dto::{StatusTrue, Timestamp};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Errors, JsonBody, NoBody};
use crate::state::AppState;
use crate::wire::{lean_object, success, Body, Count, JsonObject, Nullable};

/// An organization; `metadata` as stored (a JSON string), as Better Auth returns it from reads.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct Organization {
    /// The organization's id.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// Its unique, URL-safe name.
    pub slug: String,
    /// A URL of its logo, or null.
    pub logo: Nullable<String>,
    /// When it was created.
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
    /// The organization's id.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// Its unique, URL-safe name.
    pub slug: String,
    /// A URL of its logo, or null.
    pub logo: Nullable<String>,
    /// When it was created.
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

/// A new organization with its one member, the caller as its owner.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct CreatedOrganization {
    #[oai(flatten)]
    pub organization: OrganizationWithMetadata,
    /// The owner's membership.
    pub members: Vec<Member>,
}

/// A team with how many members it has.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct TeamWithCount {
    #[oai(flatten)]
    pub team: Team,
    /// How many members the team has.
    pub member_count: u64,
}

/// An organization with its members, teams and the invitations the caller may see.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct FullOrganizationResponse {
    #[oai(flatten)]
    pub organization: Organization,
    /// Its invitations, for members allowed to invite (empty for the others).
    pub invitations: Vec<Invitation>,
    /// Its members with their users, oldest first (at most `membersLimit`, 100).
    pub members: Vec<MemberWithUser>,
    /// Its teams with their member counts, oldest first (at most 100).
    pub teams: Vec<TeamWithCount>,
}

impl From<FullOrganization> for FullOrganizationResponse {
    fn from(f: FullOrganization) -> Self {
        Self {
            organization: Organization::from(&f.organization),
            invitations: f.invitations.iter().map(Invitation::from).collect(),
            members: f.members.iter().map(MemberWithUser::from).collect(),
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

lean_object!(TeamWithCount, |t| {
    "createdAt": &t.team.created_at,
    "id": &t.team.id,
    "memberCount": &t.member_count,
    "name": &t.team.name,
    "organizationId": &t.team.organization_id,
    "updatedAt": &t.team.updated_at,
});

lean_object!(FullOrganizationResponse, |f| {
    "createdAt": &f.organization.created_at,
    "id": &f.organization.id,
    "invitations": &f.invitations,
    "logo": &f.organization.logo,
    "members": &f.members,
    "metadata": &f.organization.metadata,
    "name": &f.organization.name,
    "slug": &f.organization.slug,
    "teams": &f.teams,
});

/// `create`'s body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct CreateOrganizationBody {
    /// Its display name: 1 to 256 characters.
    pub name: String,
    /// 1 to 64 characters of a-z, 0-9 and '-'.
    pub slug: String,
    /// A URL of its logo.
    pub logo: Option<String>,
    /// Any JSON object; stored as a JSON string.
    pub metadata: Option<JsonObject>,
    /// Leave the session's active organization as it is.
    pub keep_current_active_organization: Option<bool>,
}

/// `check-slug`'s body.
#[derive(Object, Debug)]
pub struct CheckSlugBody {
    /// The slug to check.
    pub slug: String,
}

/// What `update` changes; a field left out stays as it is.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct UpdateOrganizationData {
    /// A new display name: 1 to 256 characters.
    pub name: Option<String>,
    /// A new slug, free and 1 to 64 characters of a-z, 0-9 and '-'.
    pub slug: Option<String>,
    /// A URL, or null to remove the logo.
    #[oai(nullable)]
    pub logo: MaybeUndefined<String>,
    /// Any JSON object; replaces the stored one.
    pub metadata: Option<JsonObject>,
}

/// `update`'s body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct UpdateOrganizationBody {
    /// The changes.
    pub data: UpdateOrganizationData,
    /// Default: the active organization.
    pub organization_id: Option<String>,
}

/// `delete`'s body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct DeleteOrganizationBody {
    /// The organization to delete.
    pub organization_id: String,
}

/// `set-active`'s body: an id, a slug, or `organizationId: null`.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SetActiveBody {
    /// An organization id, or null to clear the active organization.
    #[oai(nullable)]
    pub organization_id: MaybeUndefined<String>,
    /// An organization's slug, when no id is given.
    pub organization_slug: Option<String>,
}

fn metadata_object(value: Option<JsonObject>) -> ApiResult<Option<Value>> {
    match value.map(|m| m.0) {
        None | Some(Value::Null) => Ok(None),
        Some(v) if v.is_object() => Ok(Some(v)),
        Some(_) => Err(ApiError::invalid("body.metadata", "Expected an object")),
    }
}

/// The organization a read names: a slug wins over an id, as Better Auth's `get-organization`
/// and `get-full-organization` decide; neither is the active one.
fn slug_first(id: Option<String>, slug: Option<String>) -> Target {
    match slug {
        Some(slug) => Target::Slug(slug),
        None => Target::id_or_active(id),
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
    pub OrganizationDetails(Nullable<FullOrganizationResponse>) + session + lean
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

#[OpenApi(
    prefix_path = "/api/auth/organization",
    tag = "super::Tag::Organizations"
)]
impl OrganizationApi {
    /// Create an organization
    ///
    /// The caller becomes its owner and a member of its default team; it becomes the session's
    /// active organization unless `keepCurrentActiveOrganization`. A taken slug answers 400
    /// `ORGANIZATION_ALREADY_EXISTS`.
    #[oai(path = "/create", method = "post", operation_id = "createOrganization")]
    async fn create(
        &self,
        body: Body<CreateOrganizationBody>,
        caller: Caller,
    ) -> Result<OrganizationCreated, Errors<JsonBody>> {
        let body = body.0;
        let input = NewOrganization {
            name: body.name,
            slug: body.slug,
            logo: body.logo,
            metadata: metadata_object(body.metadata)?,
            keep_current_active: body.keep_current_active_organization.unwrap_or(false),
        };
        let (org, owner) = self.state.auth.create_organization(&caller, input).await?;
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
        body: Body<CheckSlugBody>,
        _caller: Caller,
    ) -> Result<SlugFree, Errors<JsonBody>> {
        self.state.auth.check_slug(&body.slug).await?;
        Ok(StatusTrue { status: true }.into())
    }

    /// The caller's organizations
    #[oai(path = "/list", method = "get", operation_id = "listOrganizations")]
    async fn list(&self, caller: Caller) -> Result<Organizations, Errors<NoBody>> {
        let orgs = self.state.auth.list_organizations(&caller.user.id).await?;
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
        body: Body<SetActiveBody>,
        caller: Caller,
    ) -> Result<ActiveOrganization, Errors<JsonBody>> {
        let body = body.0;
        let target = match (body.organization_id, body.organization_slug) {
            (MaybeUndefined::Null, _) => None,
            (MaybeUndefined::Value(id), _) => Some(Target::Id(id)),
            (MaybeUndefined::Undefined, slug) => Some(Target::of(None, slug)),
        };
        let clearing = target.is_none();
        let org = self
            .state
            .auth
            .set_active_organization(&caller, target)
            .await?;
        if org.is_some() || (clearing && caller.session.active_organization_id.is_some()) {
            self.state.resend_session_cookie(req, &caller);
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
        /// The organization's id (default: the active organization).
        #[oai(name = "organizationId")]
        organization_id: Query<Option<String>>,
        /// The organization's slug; wins over `organizationId`.
        #[oai(name = "organizationSlug")]
        organization_slug: Query<Option<String>>,
        caller: Caller,
    ) -> Result<OrganizationFound, Errors<NoBody>> {
        let target = slug_first(organization_id.0, organization_slug.0);
        let org = self.state.auth.organization(&caller, target).await?;
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
        /// The organization's id (default: the active organization).
        #[oai(name = "organizationId")]
        organization_id: Query<Option<String>>,
        /// The organization's slug; wins over `organizationId`.
        #[oai(name = "organizationSlug")]
        organization_slug: Query<Option<String>>,
        /// How many members to list at most (and at most 100).
        #[oai(name = "membersLimit")]
        members_limit: Query<Option<Count>>,
        caller: Caller,
    ) -> Result<OrganizationDetails, Errors<NoBody>> {
        let target = slug_first(organization_id.0, organization_slug.0);
        let limit = members_limit.0.map(Count::get);
        let full = self
            .state
            .auth
            .full_organization(&caller, target, limit)
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
        body: Body<UpdateOrganizationBody>,
        caller: Caller,
    ) -> Result<OrganizationUpdated, Errors<JsonBody>> {
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
            .update_organization(&caller, body.organization_id, update)
            .await
            .map_err(Errors::when(OrgError::NotAMember, 400))?;
        Ok(OrganizationWithMetadata::from(&org).into())
    }

    /// Delete an organization
    ///
    /// Needs `organization:delete` (owners). Its teams, members and invitations go with it, and
    /// every session that had it active forgets it.
    #[oai(path = "/delete", method = "post", operation_id = "deleteOrganization")]
    async fn delete(
        &self,
        body: Body<DeleteOrganizationBody>,
        caller: Caller,
    ) -> Result<OrganizationDeleted, Errors<JsonBody, 404>> {
        let org = self
            .state
            .auth
            .delete_organization(&caller, &body.organization_id)
            .await
            .map_err(Errors::when(OrgError::NotAMember, 400))?;
        Ok(Organization::from(&org).into())
    }
}
