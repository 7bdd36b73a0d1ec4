//! Random steps, drawn from a seeded RNG with a bias towards requests that can succeed (a member
//! of the organization acting, a pending invitation, its own recipient), and each step sent to
//! the server as the actor's browser sends it.

use entity::team;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

use super::state::{Created, Model, Step, OUTSIDER, USERS};
use crate::fixtures::User;
use crate::harness::{parts, TestServer};

/// Roles asked for in invitations and role changes, the owner role rarer.
const ROLES: &[(&str, u32)] = &[
    ("member", 4),
    ("admin", 3),
    ("owner", 1),
    ("member,admin", 1),
];

/// How often each kind of step is drawn.
const KINDS: &[(&str, u32)] = &[
    ("create", 1),
    ("invite", 4),
    ("accept", 5),
    ("reject", 1),
    ("cancel", 1),
    ("leave", 1),
    ("remove-member", 2),
    ("update-role", 2),
    ("create-team", 2),
    ("remove-team", 2),
    ("add-team-member", 2),
    ("remove-team-member", 1),
    ("set-active", 2),
    ("set-active-team", 2),
    ("delete", 1),
    ("get-full-organization", 2),
    ("wait", 1),
];

fn weighted<T: Copy>(rng: &mut StdRng, choices: &[(T, u32)]) -> T {
    choices
        .choose_weighted(rng, |(_, w)| *w)
        .expect("weights")
        .0
}

/// An organization: mostly one that exists, sometimes any (a deleted one must refuse everything).
fn pick_org(model: &Model, rng: &mut StdRng) -> usize {
    let alive: Vec<usize> = (0..model.orgs.len())
        .filter(|&o| model.orgs[o].alive)
        .collect();
    match alive.choose(rng) {
        Some(&o) if rng.gen_bool(0.9) => o,
        _ => rng.gen_range(0..model.orgs.len()),
    }
}

/// A user: mostly a member of `org` (when it has any), else anyone.
fn pick_user(model: &Model, rng: &mut StdRng, org: usize, member_bias: f64) -> usize {
    let members: Vec<usize> = model.orgs[org].members.keys().copied().collect();
    match members.choose(rng) {
        Some(&u) if model.orgs[org].alive && rng.gen_bool(member_bias) => u,
        _ => rng.gen_range(0..USERS),
    }
}

/// Someone for `actor` to act on in `org`: mostly another member.
fn pick_target(model: &Model, rng: &mut StdRng, org: usize, actor: usize) -> usize {
    let others: Vec<usize> = model.orgs[org]
        .members
        .keys()
        .copied()
        .filter(|&u| u != actor)
        .collect();
    match others.choose(rng) {
        Some(&u) if rng.gen_bool(0.7) => u,
        _ => pick_user(model, rng, org, 0.85),
    }
}

/// A team of `org`: mostly one that exists.
fn pick_team(model: &Model, rng: &mut StdRng, org: usize) -> usize {
    let teams = &model.orgs[org].teams;
    let alive: Vec<usize> = (0..teams.len()).filter(|&t| teams[t].alive).collect();
    match alive.choose(rng) {
        Some(&t) if rng.gen_bool(0.9) => t,
        _ => rng.gen_range(0..teams.len()),
    }
}

/// An invitation: mostly a pending one.
fn pick_invitation(model: &Model, rng: &mut StdRng) -> usize {
    let pending: Vec<usize> = (0..model.invitations.len())
        .filter(|&i| model.is_pending(&model.invitations[i]))
        .collect();
    match pending.choose(rng) {
        Some(&i) if rng.gen_bool(0.8) => i,
        _ => rng.gen_range(0..model.invitations.len()),
    }
}

/// The next step.
pub fn generate(model: &Model, rng: &mut StdRng) -> Step {
    let any_user = |rng: &mut StdRng| rng.gen_range(0..USERS);
    let alive = model.orgs.iter().filter(|o| o.alive).count();
    let mut kind = weighted(rng, KINDS);
    if alive == 0 || (alive == 1 && rng.gen_bool(0.1)) {
        kind = "create";
    }
    if model.invitations.is_empty() && ["accept", "reject", "cancel"].contains(&kind) {
        kind = "invite";
    }
    // Sessions last 7 days from their last renewal: three waits of 49 hours at most.
    if kind == "wait" && model.epoch < 3 {
        return Step::Wait;
    }
    if kind == "wait" {
        kind = "get-full-organization";
    }
    // Deleting is half as likely again, so that organizations grow.
    if kind == "delete" && rng.gen_bool(0.5) {
        kind = "invite";
    }
    if kind == "create" {
        let actor = any_user(rng);
        return Step::CreateOrg {
            actor,
            keep_active: rng.gen_bool(0.2),
        };
    }
    if ["accept", "reject", "cancel"].contains(&kind) {
        let invitation = pick_invitation(model, rng);
        let inv = &model.invitations[invitation];
        let actor = match kind {
            "cancel" => pick_user(model, rng, inv.org, 0.8),
            _ if inv.invitee != OUTSIDER && rng.gen_bool(0.75) => inv.invitee,
            _ => any_user(rng),
        };
        return match kind {
            "accept" => Step::Accept { actor, invitation },
            "reject" => Step::Reject { actor, invitation },
            _ => Step::Cancel { actor, invitation },
        };
    }
    if kind == "set-active" {
        let actor = any_user(rng);
        let org = (!rng.gen_bool(0.15)).then(|| pick_org(model, rng));
        return Step::SetActiveOrg { actor, org };
    }
    if kind == "set-active-team" {
        let actor = any_user(rng);
        if rng.gen_bool(0.15) {
            return Step::SetActiveTeam { actor, team: None };
        }
        let org = match model.active[actor].org {
            Some(o) if rng.gen_bool(0.8) => o,
            _ => pick_org(model, rng),
        };
        let team = pick_team(model, rng, org);
        return Step::SetActiveTeam {
            actor,
            team: Some((org, team)),
        };
    }
    let org = pick_org(model, rng);
    let actor = pick_user(model, rng, org, 0.8);
    match kind {
        "invite" => {
            let newcomers: Vec<usize> = (0..USERS)
                .filter(|&u| model.member(org, u).is_none())
                .collect();
            let invitee = match newcomers.choose(rng) {
                Some(&u) if rng.gen_bool(0.8) => u,
                _ => rng.gen_range(0..=OUTSIDER),
            };
            Step::Invite {
                actor,
                org,
                invitee,
                role: weighted(rng, ROLES),
                team: rng.gen_bool(0.3).then(|| pick_team(model, rng, org)),
                resend: rng.gen_bool(0.15),
            }
        }
        "leave" => Step::Leave { actor, org },
        "remove-member" => Step::RemoveMember {
            actor,
            org,
            target: pick_target(model, rng, org, actor),
            by_email: rng.gen_bool(0.3),
        },
        "update-role" => Step::UpdateRole {
            actor,
            org,
            target: pick_target(model, rng, org, actor),
            role: weighted(rng, ROLES),
        },
        "create-team" => Step::CreateTeam { actor, org },
        "remove-team" => Step::RemoveTeam {
            actor,
            org,
            team: pick_team(model, rng, org),
        },
        "add-team-member" => Step::AddTeamMember {
            actor,
            org,
            team: pick_team(model, rng, org),
            target: pick_user(model, rng, org, 0.85),
        },
        "remove-team-member" => {
            let team = pick_team(model, rng, org);
            let in_team: Vec<usize> = model.orgs[org].teams[team]
                .members
                .iter()
                .copied()
                .collect();
            let target = match in_team.choose(rng) {
                Some(&u) if rng.gen_bool(0.8) => u,
                _ => pick_user(model, rng, org, 0.85),
            };
            Step::RemoveTeamMember {
                actor,
                org,
                team,
                target,
            }
        }
        "delete" => Step::DeleteOrg { actor, org },
        "get-full-organization" => Step::GetFullOrg { actor, org },
        other => unreachable!("{other}"),
    }
}

/// The users of one sequence and the addresses it invites.
pub struct Cast {
    pub users: Vec<User>,
    /// `USERS` users' addresses, then the outsider's.
    pub emails: Vec<String>,
    /// Distinguishes this sequence's slugs from other sequences' in the same store.
    pub tag: String,
}

/// A member id to name `target` by in `org`: theirs, else one they held elsewhere or before
/// (which the server must not accept here), else an id nobody has.
fn member_id(model: &Model, org: usize, target: usize) -> String {
    match model.orgs[org].members.get(&target) {
        Some(m) if model.orgs[org].alive => m.id.clone(),
        _ => model.member_ids[target]
            .last()
            .cloned()
            .unwrap_or_else(|| "no-such-member".into()),
    }
}

/// Sends `step` as its actor; the answer's status and body. Waiting moves the server's clock.
pub async fn send(server: &TestServer, cast: &Cast, model: &Model, step: &Step) -> (u16, Value) {
    let org_id = |o: usize| model.orgs[o].id.clone();
    let team_id = |o: usize, t: usize| model.orgs[o].teams[t].id.clone();
    let inv_id = |i: usize| model.invitations[i].id.clone();
    let role_list = |role: &str| json!(role.split(',').collect::<Vec<_>>());
    let actor = &cast.users[step.actor()];
    let (path, body) = match *step {
        Step::Wait => {
            server.clock.advance(chrono::Duration::hours(49));
            return (200, Value::Null);
        }
        Step::GetFullOrg { org, .. } => {
            let path = format!(
                "/organization/get-full-organization?organizationId={}",
                org_id(org)
            );
            return parts(actor.get(&path).await).await;
        }
        Step::CreateOrg { keep_active, .. } => {
            let n = model.orgs.len();
            let body = json!({
                "name": format!("Org {n}"),
                "slug": format!("{}-{n}", cast.tag),
                "keepCurrentActiveOrganization": keep_active,
            });
            ("/organization/create", body)
        }
        Step::Invite {
            org,
            invitee,
            role,
            team,
            resend,
            ..
        } => {
            let mut body = json!({
                "email": cast.emails[invitee],
                "role": role_list(role),
                "organizationId": org_id(org),
            });
            if let Some(t) = team {
                body["teamId"] = json!(team_id(org, t));
            }
            if resend {
                body["resend"] = json!(true);
            }
            ("/organization/invite-member", body)
        }
        Step::Accept { invitation, .. } => (
            "/organization/accept-invitation",
            json!({"invitationId": inv_id(invitation)}),
        ),
        Step::Reject { invitation, .. } => (
            "/organization/reject-invitation",
            json!({"invitationId": inv_id(invitation)}),
        ),
        Step::Cancel { invitation, .. } => (
            "/organization/cancel-invitation",
            json!({"invitationId": inv_id(invitation)}),
        ),
        Step::Leave { org, .. } => (
            "/organization/leave",
            json!({"organizationId": org_id(org)}),
        ),
        Step::RemoveMember {
            org,
            target,
            by_email,
            ..
        } => {
            let who = match by_email {
                true => cast.emails[target].clone(),
                false => member_id(model, org, target),
            };
            let body = json!({"memberIdOrEmail": who, "organizationId": org_id(org)});
            ("/organization/remove-member", body)
        }
        Step::UpdateRole {
            org, target, role, ..
        } => {
            let body = json!({
                "memberId": member_id(model, org, target),
                "role": role_list(role),
                "organizationId": org_id(org),
            });
            ("/organization/update-member-role", body)
        }
        Step::CreateTeam { org, .. } => {
            let name = format!("Team {}", model.orgs[org].teams.len());
            let body = json!({"name": name, "organizationId": org_id(org)});
            ("/organization/create-team", body)
        }
        Step::RemoveTeam { org, team, .. } => {
            let body = json!({"teamId": team_id(org, team), "organizationId": org_id(org)});
            ("/organization/remove-team", body)
        }
        Step::AddTeamMember {
            org, team, target, ..
        } => {
            let body = json!({
                "teamId": team_id(org, team),
                "userId": cast.users[target].id,
                "organizationId": org_id(org),
            });
            ("/organization/add-team-member", body)
        }
        Step::RemoveTeamMember {
            org, team, target, ..
        } => {
            let body = json!({
                "teamId": team_id(org, team),
                "userId": cast.users[target].id,
                "organizationId": org_id(org),
            });
            ("/organization/remove-team-member", body)
        }
        Step::SetActiveOrg { org, .. } => (
            "/organization/set-active",
            json!({"organizationId": org.map(org_id)}),
        ),
        Step::SetActiveTeam { team, .. } => {
            let id = team.map(|(o, t)| team_id(o, t));
            ("/organization/set-active-team", json!({"teamId": id}))
        }
        Step::DeleteOrg { org, .. } => (
            "/organization/delete",
            json!({"organizationId": org_id(org)}),
        ),
    };
    parts(actor.post(path, body).await).await
}

/// What a successful step created, from its answer (and the new organization's default team
/// from the store).
pub async fn created(server: &TestServer, step: &Step, body: &Value) -> Created {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    match step {
        Step::CreateOrg { .. } => {
            let id = text(&body["id"]).expect("organization id");
            let team = team::Entity::find()
                .filter(team::Column::OrganizationId.eq(&id))
                .one(&server.db)
                .await
                .unwrap()
                .map(|t| t.id);
            Created {
                member_id: text(&body["members"][0]["id"]),
                team_id: team,
                id: Some(id),
            }
        }
        Step::Invite { .. } | Step::CreateTeam { .. } => Created {
            id: text(&body["id"]),
            ..Created::default()
        },
        Step::Accept { .. } => Created {
            member_id: text(&body["member"]["id"]),
            ..Created::default()
        },
        _ => Created::default(),
    }
}

/// The step in words, with the ids it names.
pub fn describe(model: &Model, step: &Step) -> String {
    let org = |o: usize| {
        format!(
            "org{o}({})",
            if model.orgs[o].alive {
                "alive"
            } else {
                "deleted"
            }
        )
    };
    match *step {
        Step::Accept { invitation: i, .. }
        | Step::Reject { invitation: i, .. }
        | Step::Cancel { invitation: i, .. } => {
            let inv = &model.invitations[i];
            format!(
                "{step:?} — invitation {i} of {} to {} as {} (team {:?}), {}",
                org(inv.org),
                inv.invitee,
                inv.role,
                inv.team,
                inv.status.as_str()
            )
        }
        _ => format!("{step:?}"),
    }
}
