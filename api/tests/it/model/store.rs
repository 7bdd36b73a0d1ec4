//! The store compared with the model after a step: organizations, members and roles, teams and
//! their members, invitation statuses, and each session's active organization and team.

use std::collections::{BTreeMap, BTreeSet};

use entity::{invitation, member, organization, session, team, team_member};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use serde_json::Value;

use super::state::{is_owner, manages, Model};
use super::steps::Cast;

/// The differences between the store and the model, in words (none when they agree).
pub async fn differences(db: &DatabaseConnection, model: &Model, cast: &Cast) -> Vec<String> {
    let mut found = Vec::new();
    let org_ids: Vec<String> = model.orgs.iter().map(|o| o.id.clone()).collect();
    let user_ids: Vec<String> = cast.users.iter().map(|u| u.id.clone()).collect();
    let user_of = |id: &str| user_ids.iter().position(|u| u == id);

    let orgs: BTreeSet<String> = organization::Entity::find()
        .filter(organization::Column::Id.is_in(org_ids.clone()))
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .collect();
    let members = member::Entity::find()
        .filter(member::Column::OrganizationId.is_in(org_ids.clone()))
        .all(db)
        .await
        .unwrap();
    let teams = team::Entity::find()
        .filter(team::Column::OrganizationId.is_in(org_ids.clone()))
        .all(db)
        .await
        .unwrap();
    let team_ids: Vec<String> = teams.iter().map(|t| t.id.clone()).collect();
    let team_members = team_member::Entity::find()
        .filter(team_member::Column::TeamId.is_in(team_ids))
        .all(db)
        .await
        .unwrap();
    let invitations: BTreeMap<String, String> = invitation::Entity::find()
        .filter(invitation::Column::OrganizationId.is_in(org_ids))
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|i| (i.id, i.status))
        .collect();
    let sessions = session::Entity::find()
        .filter(session::Column::UserId.is_in(user_ids.clone()))
        .all(db)
        .await
        .unwrap();

    for (o, org) in model.orgs.iter().enumerate() {
        if orgs.contains(&org.id) != org.alive {
            found.push(format!(
                "org{o}: alive in the model {}, in the store {}",
                org.alive, !org.alive
            ));
        }
        let stored: BTreeMap<Option<usize>, (String, String)> = members
            .iter()
            .filter(|m| m.organization_id == org.id)
            .map(|m| (user_of(&m.user_id), (m.id.clone(), m.role.clone())))
            .collect();
        let expected: BTreeMap<Option<usize>, (String, String)> = org
            .members
            .iter()
            .map(|(u, m)| (Some(*u), (m.id.clone(), m.role.clone())))
            .collect();
        if stored != expected {
            found.push(format!(
                "org{o} members: store {stored:?}, model {expected:?}"
            ));
        }
        let stored_teams: BTreeSet<&str> = teams
            .iter()
            .filter(|t| t.organization_id == org.id)
            .map(|t| t.id.as_str())
            .collect();
        let expected_teams: BTreeSet<&str> = org
            .teams
            .iter()
            .filter(|t| t.alive)
            .map(|t| t.id.as_str())
            .collect();
        if stored_teams != expected_teams {
            found.push(format!(
                "org{o} teams: store {stored_teams:?}, model {expected_teams:?}"
            ));
        }
        for (t, team) in org.teams.iter().enumerate() {
            let stored: BTreeSet<Option<usize>> = team_members
                .iter()
                .filter(|tm| tm.team_id == team.id)
                .map(|tm| user_of(&tm.user_id))
                .collect();
            let expected: BTreeSet<Option<usize>> = team.members.iter().map(|u| Some(*u)).collect();
            if stored != expected {
                found.push(format!(
                    "org{o} team{t} members: store {stored:?}, model {expected:?}"
                ));
            }
        }
    }
    let expected: BTreeMap<String, String> = model
        .invitations
        .iter()
        .filter(|i| model.orgs[i.org].alive)
        .map(|i| (i.id.clone(), i.status.as_str().to_owned()))
        .collect();
    if invitations != expected {
        found.push(format!(
            "invitations: store {invitations:?}, model {expected:?}"
        ));
    }

    let org_index = |id: &Option<String>| {
        id.as_ref().map(|id| {
            model
                .orgs
                .iter()
                .position(|o| &o.id == id)
                .ok_or(id.clone())
        })
    };
    for (u, active) in model.active.iter().enumerate() {
        let theirs: Vec<&session::Model> = sessions
            .iter()
            .filter(|s| s.user_id == user_ids[u])
            .collect();
        let [s] = theirs.as_slice() else {
            found.push(format!("user{u} has {} sessions", theirs.len()));
            continue;
        };
        let org = org_index(&s.active_organization_id);
        let team = s.active_team_id.as_ref().map(|id| {
            let team_of = active
                .org
                .and_then(|o| model.orgs[o].teams.iter().position(|t| &t.id == id));
            team_of.ok_or(id.clone())
        });
        if org != active.org.map(Ok) || team != active.team.map(Ok) {
            found.push(format!(
                "user{u} session: store org {org:?} team {team:?}, model {active:?}"
            ));
        }
    }
    found
}

/// The differences between `get-full-organization`'s answer to `actor` about `org` and the
/// model: members with their roles, teams with their member counts, and the invitations the
/// caller may see (all of them for owners and admins, those for the owner role only for owners).
pub fn full_organization(
    model: &Model,
    cast: &Cast,
    (actor, org): (usize, usize),
    body: &Value,
) -> Vec<String> {
    let o = &model.orgs[org];
    let mut found = Vec::new();
    let user_of = |id: &Value| {
        cast.users
            .iter()
            .position(|u| id.as_str() == Some(u.id.as_str()))
    };
    let list = |key: &str| body[key].as_array().cloned().unwrap_or_default();
    let members: BTreeMap<Option<usize>, (Value, Value)> = list("members")
        .iter()
        .map(|m| (user_of(&m["userId"]), (m["id"].clone(), m["role"].clone())))
        .collect();
    let expected: BTreeMap<Option<usize>, (Value, Value)> = o
        .members
        .iter()
        .map(|(u, m)| {
            (
                Some(*u),
                (Value::from(m.id.clone()), Value::from(m.role.clone())),
            )
        })
        .collect();
    if body["id"].as_str() != Some(o.id.as_str()) || members != expected {
        found.push(format!(
            "get-full-organization of org{org}: members {members:?}, model {expected:?}"
        ));
    }
    let teams: BTreeMap<String, Value> = list("teams")
        .iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap_or_default().to_owned(),
                t["memberCount"].clone(),
            )
        })
        .collect();
    let expected: BTreeMap<String, Value> = o
        .teams
        .iter()
        .filter(|t| t.alive)
        .map(|t| (t.id.clone(), Value::from(t.members.len())))
        .collect();
    if teams != expected {
        found.push(format!(
            "get-full-organization of org{org}: teams {teams:?}, model {expected:?}"
        ));
    }
    let role = &o.members[&actor].role;
    let invitations: BTreeMap<String, Value> = list("invitations")
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap_or_default().to_owned(),
                i["status"].clone(),
            )
        })
        .collect();
    let expected: BTreeMap<String, Value> = model
        .invitations
        .iter()
        .filter(|i| i.org == org && manages(role) && (is_owner(role) || !is_owner(&i.role)))
        .map(|i| (i.id.clone(), Value::from(i.status.as_str())))
        .collect();
    if invitations != expected {
        found.push(format!(
            "get-full-organization of org{org} for user{actor}: invitations {invitations:?}, model {expected:?}"
        ));
    }
    found
}
