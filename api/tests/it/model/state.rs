//! The model's state: what the organization plugin's state should be after each step
//! (organizations, members and roles, teams and their members, invitations, each user's active
//! organization and team), and whether a step should succeed. Its rules are the contract's
//! (§9.4–9.8) as orgauth documents them (docs/organizations.md, the organization rows of
//! docs/compatibility.md): where orgauth deliberately differs from Better Auth, the model follows
//! orgauth.

use std::collections::{BTreeMap, BTreeSet};

pub use super::step::Step;

/// Users in a sequence, each signed in in one browser (one session).
pub const USERS: usize = 4;
/// The invitee index of an address nobody signed up with.
pub const OUTSIDER: usize = USERS;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pending,
    Accepted,
    Rejected,
    Canceled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
            Self::Canceled => "canceled",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Member {
    pub id: String,
    pub role: String,
}

#[derive(Clone, Debug)]
pub struct Team {
    pub id: String,
    pub alive: bool,
    pub members: BTreeSet<usize>,
}

#[derive(Clone, Debug)]
pub struct Org {
    pub id: String,
    pub alive: bool,
    pub members: BTreeMap<usize, Member>,
    pub teams: Vec<Team>,
}

#[derive(Clone, Debug)]
pub struct Invitation {
    pub id: String,
    pub org: usize,
    /// A user, or [`OUTSIDER`].
    pub invitee: usize,
    pub inviter: usize,
    pub role: String,
    /// Index into the organization's teams.
    pub team: Option<usize>,
    pub status: Status,
    /// The model's period it was sent (or last re-sent) in: it expires when the period ends.
    pub epoch: u32,
}

/// A session's active organization and team (an index into that organization's teams).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Active {
    pub org: Option<usize>,
    pub team: Option<usize>,
}

pub fn is_owner(roles: &str) -> bool {
    roles.split(',').any(|r| r == "owner")
}

/// Owner or admin: `invitation:create/cancel`, `member:update/delete`, `team:create/delete`.
pub fn manages(roles: &str) -> bool {
    roles.split(',').any(|r| r == "owner" || r == "admin")
}

/// What a successful step created, read from its answer (and the default team from the store).
#[derive(Debug, Default)]
pub struct Created {
    pub id: Option<String>,
    pub member_id: Option<String>,
    pub team_id: Option<String>,
}

#[derive(Debug, Default)]
pub struct Model {
    pub orgs: Vec<Org>,
    pub invitations: Vec<Invitation>,
    pub active: [Active; USERS],
    /// Every member id each user has held (to ask about memberships that are gone).
    pub member_ids: [Vec<String>; USERS],
    /// Periods of 49 hours passed (see [`Step::Wait`]).
    pub epoch: u32,
}

impl Model {
    pub fn member(&self, org: usize, user: usize) -> Option<&Member> {
        let o = &self.orgs[org];
        o.alive.then(|| o.members.get(&user)).flatten()
    }

    fn owners(&self, org: usize) -> usize {
        let members = self.orgs[org].members.values();
        members.filter(|m| is_owner(&m.role)).count()
    }

    fn team_alive(&self, org: usize, team: usize) -> bool {
        self.orgs[org].alive && self.orgs[org].teams[team].alive
    }

    /// The live invitation of `invitee` into `org`, if any.
    pub fn pending_for(&self, org: usize, invitee: usize) -> Option<usize> {
        self.invitations
            .iter()
            .position(|i| i.org == org && i.invitee == invitee && self.is_live(i))
    }

    /// Pending, in an organization that exists (which took its invitations with it).
    pub fn is_pending(&self, i: &Invitation) -> bool {
        i.status == Status::Pending && self.orgs[i.org].alive
    }

    /// Pending and not expired: what can be answered (and blocks a second invitation).
    pub fn is_live(&self, i: &Invitation) -> bool {
        self.is_pending(i) && i.epoch == self.epoch
    }

    /// Whether the server should carry `step` out (else refuse it with a 4xx).
    pub fn predict(&self, step: &Step) -> bool {
        let manager =
            |org: usize, user: usize| self.member(org, user).is_some_and(|m| manages(&m.role));
        match *step {
            Step::CreateOrg { .. } | Step::SetActiveOrg { org: None, .. } | Step::Wait => true,
            Step::SetActiveTeam { team: None, .. } => true,
            Step::Invite {
                actor,
                org,
                invitee,
                role,
                team,
                resend,
            } => {
                let Some(me) = self.member(org, actor).filter(|m| manages(&m.role)) else {
                    return false;
                };
                if is_owner(role) && !is_owner(&me.role) {
                    return false;
                }
                if invitee != OUTSIDER && self.member(org, invitee).is_some() {
                    return false;
                }
                if let Some(existing) = self.pending_for(org, invitee) {
                    // Re-sending renews it as it is, for a role the sender may grant.
                    let existing_owner = is_owner(&self.invitations[existing].role);
                    return resend && (!existing_owner || is_owner(&me.role));
                }
                team.is_none_or(|t| self.team_alive(org, t))
            }
            Step::Accept { actor, invitation } => {
                let inv = &self.invitations[invitation];
                self.is_live(inv)
                    && inv.invitee == actor
                    && self.member(inv.org, actor).is_none()
                    && inv.team.is_none_or(|t| self.team_alive(inv.org, t))
            }
            Step::Reject { actor, invitation } => {
                let inv = &self.invitations[invitation];
                self.is_live(inv) && inv.invitee == actor
            }
            Step::Cancel { actor, invitation } => {
                let inv = &self.invitations[invitation];
                manager(inv.org, actor) && self.is_pending(inv)
            }
            Step::Leave { actor, org } => self
                .member(org, actor)
                .is_some_and(|m| !is_owner(&m.role) || self.owners(org) >= 2),
            Step::RemoveMember {
                actor, org, target, ..
            } => {
                let (Some(me), Some(them)) = (self.member(org, actor), self.member(org, target))
                else {
                    return false;
                };
                if is_owner(&them.role) && !(is_owner(&me.role) && self.owners(org) >= 2) {
                    return false;
                }
                target == actor || manages(&me.role)
            }
            Step::UpdateRole {
                actor,
                org,
                target,
                role,
            } => {
                let (Some(me), Some(them)) = (self.member(org, actor), self.member(org, target))
                else {
                    return false;
                };
                let i_am_owner = is_owner(&me.role);
                if !i_am_owner && (is_owner(&them.role) || is_owner(role)) {
                    return false;
                }
                if is_owner(&them.role) && !is_owner(role) && self.owners(org) <= 1 {
                    return false;
                }
                i_am_owner || manages(&me.role)
            }
            Step::CreateTeam { actor, org } => manager(org, actor),
            Step::RemoveTeam { actor, org, team } => {
                let own_active = self.active[actor]
                    == Active {
                        org: Some(org),
                        team: Some(team),
                    };
                let alive_teams = self.orgs[org].teams.iter().filter(|t| t.alive).count();
                manager(org, actor) && !own_active && self.team_alive(org, team) && alive_teams >= 2
            }
            Step::AddTeamMember {
                actor,
                org,
                team,
                target,
            } => {
                manager(org, actor)
                    && self.member(org, target).is_some()
                    && self.team_alive(org, team)
            }
            Step::RemoveTeamMember {
                actor,
                org,
                team,
                target,
            } => {
                manager(org, actor)
                    && self.member(org, target).is_some()
                    && self.team_alive(org, team)
                    && self.orgs[org].teams[team].members.contains(&target)
            }
            Step::SetActiveOrg {
                actor,
                org: Some(org),
            }
            | Step::GetFullOrg { actor, org } => self.member(org, actor).is_some(),
            Step::SetActiveTeam {
                actor,
                team: Some((org, team)),
            } => {
                self.active[actor].org == Some(org)
                    && self.team_alive(org, team)
                    && self.orgs[org].teams[team].members.contains(&actor)
            }
            Step::DeleteOrg { actor, org } => {
                self.member(org, actor).is_some_and(|m| is_owner(&m.role))
            }
        }
    }

    /// What a refused step still changes: naming an organization the caller is not a member of
    /// (to switch to it or read it) clears the session's active organization and team.
    pub fn refused(&mut self, step: &Step) {
        if let Step::SetActiveOrg {
            actor,
            org: Some(org),
        }
        | Step::GetFullOrg { actor, org } = *step
        {
            if self.orgs[org].alive {
                self.active[actor] = Active::default();
            }
        }
    }

    /// Ends `user`'s membership of `org`: their teams there, the invitations they sent that are
    /// still pending, and the organization as active on their session.
    fn remove(&mut self, org: usize, user: usize) {
        let o = &mut self.orgs[org];
        for team in &mut o.teams {
            team.members.remove(&user);
        }
        o.members.remove(&user);
        for inv in &mut self.invitations {
            if inv.org == org && inv.inviter == user && inv.status == Status::Pending {
                inv.status = Status::Canceled;
            }
        }
        if self.active[user].org == Some(org) {
            self.active[user] = Active::default();
        }
    }

    /// Carries out a step the server carried out.
    pub fn apply(&mut self, step: &Step, created: Created) {
        match *step {
            Step::CreateOrg { actor, keep_active } => {
                let member = Member {
                    id: created.member_id.expect("member id"),
                    role: "owner".into(),
                };
                self.member_ids[actor].push(member.id.clone());
                self.orgs.push(Org {
                    id: created.id.expect("organization id"),
                    alive: true,
                    members: BTreeMap::from([(actor, member)]),
                    teams: vec![Team {
                        id: created.team_id.expect("default team id"),
                        alive: true,
                        members: BTreeSet::from([actor]),
                    }],
                });
                if !keep_active {
                    self.active[actor] = Active {
                        org: Some(self.orgs.len() - 1),
                        team: Some(0),
                    };
                }
            }
            Step::Invite {
                actor,
                org,
                invitee,
                role,
                team,
                ..
            } => {
                let epoch = self.epoch;
                if let Some(resent) = self.pending_for(org, invitee) {
                    self.invitations[resent].epoch = epoch;
                } else {
                    self.invitations.push(Invitation {
                        id: created.id.expect("invitation id"),
                        org,
                        invitee,
                        inviter: actor,
                        role: role.into(),
                        team,
                        status: Status::Pending,
                        epoch,
                    });
                }
            }
            Step::Accept { actor, invitation } => {
                let inv = &mut self.invitations[invitation];
                inv.status = Status::Accepted;
                let (org, team, role) = (inv.org, inv.team, inv.role.clone());
                let id = created.member_id.expect("member id");
                self.member_ids[actor].push(id.clone());
                self.orgs[org].members.insert(actor, Member { id, role });
                if let Some(t) = team {
                    self.orgs[org].teams[t].members.insert(actor);
                }
                self.active[actor] = Active {
                    org: Some(org),
                    team,
                };
            }
            Step::Reject { invitation, .. } => {
                self.invitations[invitation].status = Status::Rejected
            }
            Step::Cancel { invitation, .. } => {
                self.invitations[invitation].status = Status::Canceled
            }
            Step::Leave { actor, org } => self.remove(org, actor),
            Step::RemoveMember { org, target, .. } => self.remove(org, target),
            Step::UpdateRole {
                org, target, role, ..
            } => {
                self.orgs[org]
                    .members
                    .get_mut(&target)
                    .expect("a member")
                    .role = role.into();
            }
            Step::CreateTeam { org, .. } => self.orgs[org].teams.push(Team {
                id: created.id.expect("team id"),
                alive: true,
                members: BTreeSet::new(),
            }),
            Step::RemoveTeam { org, team, .. } => {
                let t = &mut self.orgs[org].teams[team];
                t.alive = false;
                t.members.clear();
                for active in &mut self.active {
                    if *active
                        == (Active {
                            org: Some(org),
                            team: Some(team),
                        })
                    {
                        active.team = None;
                    }
                }
            }
            Step::AddTeamMember {
                org, team, target, ..
            } => {
                self.orgs[org].teams[team].members.insert(target);
            }
            Step::RemoveTeamMember {
                org, team, target, ..
            } => {
                self.orgs[org].teams[team].members.remove(&target);
                if self.active[target]
                    == (Active {
                        org: Some(org),
                        team: Some(team),
                    })
                {
                    self.active[target].team = None;
                }
            }
            Step::SetActiveOrg { actor, org } => {
                let a = &mut self.active[actor];
                if org.is_none() || a.org != org {
                    a.team = None;
                }
                a.org = org;
            }
            Step::SetActiveTeam { actor, team } => self.active[actor].team = team.map(|(_, t)| t),
            Step::GetFullOrg { .. } => {}
            Step::Wait => self.epoch += 1,
            Step::DeleteOrg { org, .. } => {
                let o = &mut self.orgs[org];
                o.alive = false;
                o.members.clear();
                for t in &mut o.teams {
                    t.alive = false;
                    t.members.clear();
                }
                for active in &mut self.active {
                    if active.org == Some(org) {
                        *active = Active::default();
                    }
                }
            }
        }
    }
}
