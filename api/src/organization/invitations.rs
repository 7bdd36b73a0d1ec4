//! The invitation routes: invite-member, accept-invitation, reject-invitation,
//! cancel-invitation, get-invitation, list-invitations, list-user-invitations.

use poem::Request;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use service::org::access::role_names;
use service::org::invitations::NewInvitation;

use super::members::Member;
use super::{RoleInput, TeamIdInput};
use crate::auth::dto::Timestamp;
use crate::auth::Caller;
use crate::error::{Errors, JsonBody, NoBody};
use crate::state::AppState;
use crate::wire::{lean_object, string_enum, success, Body, Count, Nullable};

/// An invitation to join an organization.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct Invitation {
    /// The invitation's id, which its link carries.
    pub id: String,
    /// The organization it invites to.
    pub organization_id: String,
    /// The invited address.
    pub email: String,
    /// The roles the new member gets, comma-joined.
    pub role: Nullable<String>,
    /// The teams the new member joins, comma-joined, or null.
    pub team_id: Nullable<String>,
    /// Where it stands.
    pub status: InvitationStatus,
    /// Until when it can be accepted.
    pub expires_at: Timestamp,
    /// When it was sent.
    pub created_at: Timestamp,
    /// The member who sent it.
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

lean_object!(Invitation, |i| {
    "createdAt": &i.created_at,
    "email": &i.email,
    "expiresAt": &i.expires_at,
    "id": &i.id,
    "inviterId": &i.inviter_id,
    "organizationId": &i.organization_id,
    "role": &i.role,
    "status": &i.status,
    "teamId": &i.team_id,
});

string_enum! {
    /// Where an invitation stands.
    pub InvitationStatus: "pending" | "accepted" | "rejected" | "canceled"
}

/// `invite-member`'s body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct InviteMemberBody {
    /// The address to invite.
    pub email: String,
    /// The roles the new member gets.
    pub role: RoleInput,
    /// Default: the active organization.
    pub organization_id: Option<String>,
    /// Extend a pending invitation's expiry and mail it again (its roles and teams stay).
    pub resend: Option<bool>,
    /// Teams of the organization the new member joins on acceptance.
    pub team_id: Option<TeamIdInput>,
}

/// The body of the routes that act on one invitation.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct InvitationIdBody {
    /// The invitation.
    pub invitation_id: String,
}

/// An accepted invitation and the membership it created.
#[derive(Object, Debug)]
pub struct AcceptedInvitation {
    /// The invitation, now accepted.
    pub invitation: Invitation,
    /// The new membership.
    pub member: Member,
}

/// A rejected invitation.
#[derive(Object, Debug)]
pub struct RejectedInvitation {
    /// The invitation, now rejected.
    pub invitation: Invitation,
    /// Always null.
    pub member: Nullable<Member>,
}

/// An invitation as its recipient sees it.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct InvitationWithOrganization {
    #[oai(flatten)]
    pub invitation: Invitation,
    /// The organization's name.
    pub organization_name: String,
    /// The organization's slug.
    pub organization_slug: String,
    /// The address of the member who sent it.
    pub inviter_email: String,
}

/// One of the caller's pending invitations.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct UserInvitation {
    #[oai(flatten)]
    pub invitation: Invitation,
    /// The organization's name.
    pub organization_name: String,
}

/// `list-invitations`: the page as Better Auth's array, the total in `X-Total-Count`, and
/// `set-auth-token` as `success!` documents it.
#[derive(ApiResponse)]
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

#[OpenApi(
    prefix_path = "/api/auth/organization",
    tag = "super::Tag::Invitations"
)]
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
        body: Body<InviteMemberBody>,
        caller: Caller,
    ) -> Result<InvitationSent, Errors<JsonBody>> {
        let body = body.0;
        let input = NewInvitation {
            email: body.email,
            roles: body.role.into_vec(),
            organization_id: body.organization_id,
            resend: body.resend.unwrap_or(false),
            team_ids: body.team_id.map(TeamIdInput::into_vec).unwrap_or_default(),
        };
        let inv = self.state.auth.invite_member(&caller, input).await?;
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
        body: Body<InvitationIdBody>,
        caller: Caller,
    ) -> Result<InvitationAccepted, Errors<JsonBody>> {
        let (inv, m) = self
            .state
            .auth
            .accept_invitation(&caller, &body.invitation_id)
            .await?;
        // Better Auth re-sends the cookie when the invitation made one team the active one.
        if role_names(inv.team_id.as_deref().unwrap_or("")).len() == 1 {
            self.state.resend_session_cookie(req, &caller);
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
        body: Body<InvitationIdBody>,
        caller: Caller,
    ) -> Result<InvitationRejected, Errors<JsonBody>> {
        let inv = self
            .state
            .auth
            .reject_invitation(&caller, &body.invitation_id)
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
        body: Body<InvitationIdBody>,
        caller: Caller,
    ) -> Result<InvitationCanceled, Errors<JsonBody>> {
        let inv = self
            .state
            .auth
            .cancel_invitation(&caller, &body.invitation_id)
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
        /// The invitation's id (from its link).
        id: Query<String>,
        caller: Caller,
    ) -> Result<InvitationDetails, Errors<NoBody>> {
        let d = self.state.auth.invitation_details(&caller, &id).await?;
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
        /// The organization's id (default: the active organization).
        #[oai(name = "organizationId")]
        organization_id: Query<Option<String>>,
        /// How many invitations at most (default: the invitation limit; at most 100).
        limit: Query<Option<Count>>,
        /// How many invitations to skip.
        offset: Query<Option<Count>>,
        caller: Caller,
    ) -> Result<InvitationsPage, Errors<NoBody>> {
        let (page, total) = self
            .state
            .auth
            .list_invitations(
                &caller,
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
        caller: Caller,
    ) -> Result<UserInvitations, Errors<NoBody>> {
        let list = self.state.auth.user_invitations(&caller).await?;
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
