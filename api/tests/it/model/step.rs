//! The steps of a sequence: one request each (or the passing of time), by a user index.

/// One request, by `actor` (a user index). Organizations, teams and invitations are indices
/// into the model, including deleted ones: asking about those must fail.
#[derive(Clone, Debug)]
pub enum Step {
    CreateOrg {
        actor: usize,
        keep_active: bool,
    },
    Invite {
        actor: usize,
        org: usize,
        invitee: usize,
        role: &'static str,
        team: Option<usize>,
        resend: bool,
    },
    Accept {
        actor: usize,
        invitation: usize,
    },
    Reject {
        actor: usize,
        invitation: usize,
    },
    Cancel {
        actor: usize,
        invitation: usize,
    },
    Leave {
        actor: usize,
        org: usize,
    },
    RemoveMember {
        actor: usize,
        org: usize,
        target: usize,
        by_email: bool,
    },
    UpdateRole {
        actor: usize,
        org: usize,
        target: usize,
        role: &'static str,
    },
    CreateTeam {
        actor: usize,
        org: usize,
    },
    RemoveTeam {
        actor: usize,
        org: usize,
        team: usize,
    },
    AddTeamMember {
        actor: usize,
        org: usize,
        team: usize,
        target: usize,
    },
    RemoveTeamMember {
        actor: usize,
        org: usize,
        team: usize,
        target: usize,
    },
    SetActiveOrg {
        actor: usize,
        org: Option<usize>,
    },
    /// `team`: an organization and one of its teams, or `None` to clear.
    SetActiveTeam {
        actor: usize,
        team: Option<(usize, usize)>,
    },
    DeleteOrg {
        actor: usize,
        org: usize,
    },
    /// `get-full-organization`: its members, teams and the invitations the caller may see.
    GetFullOrg {
        actor: usize,
        org: usize,
    },
    /// 49 hours pass (every invitation sent so far expires); no request.
    Wait,
}

impl Step {
    pub fn actor(&self) -> usize {
        match *self {
            Step::CreateOrg { actor, .. }
            | Step::Invite { actor, .. }
            | Step::Accept { actor, .. }
            | Step::Reject { actor, .. }
            | Step::Cancel { actor, .. }
            | Step::Leave { actor, .. }
            | Step::RemoveMember { actor, .. }
            | Step::UpdateRole { actor, .. }
            | Step::CreateTeam { actor, .. }
            | Step::RemoveTeam { actor, .. }
            | Step::AddTeamMember { actor, .. }
            | Step::RemoveTeamMember { actor, .. }
            | Step::SetActiveOrg { actor, .. }
            | Step::SetActiveTeam { actor, .. }
            | Step::DeleteOrg { actor, .. }
            | Step::GetFullOrg { actor, .. } => actor,
            Step::Wait => 0,
        }
    }

    /// The step's kind, for the run's tally.
    pub fn kind(&self) -> &'static str {
        match self {
            Step::CreateOrg { .. } => "create",
            Step::Invite { .. } => "invite",
            Step::Accept { .. } => "accept",
            Step::Reject { .. } => "reject",
            Step::Cancel { .. } => "cancel",
            Step::Leave { .. } => "leave",
            Step::RemoveMember { .. } => "remove-member",
            Step::UpdateRole { .. } => "update-role",
            Step::CreateTeam { .. } => "create-team",
            Step::RemoveTeam { .. } => "remove-team",
            Step::AddTeamMember { .. } => "add-team-member",
            Step::RemoveTeamMember { .. } => "remove-team-member",
            Step::SetActiveOrg { .. } => "set-active",
            Step::SetActiveTeam { .. } => "set-active-team",
            Step::DeleteOrg { .. } => "delete",
            Step::GetFullOrg { .. } => "get-full-organization",
            Step::Wait => "wait",
        }
    }
}
