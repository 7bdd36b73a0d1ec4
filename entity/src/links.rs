//! Many-to-many traversals through the membership tables, which have their own ids and so are
//! not detected as junctions by the generator.

use sea_orm::entity::prelude::*;

use crate::{member, organization, team, team_member, user};

/// A user's organizations, through `member`.
pub struct UserToOrganizations;

impl Linked for UserToOrganizations {
    type FromEntity = user::Entity;
    type ToEntity = organization::Entity;

    fn link(&self) -> Vec<RelationDef> {
        vec![
            member::Relation::User.def().rev(),
            member::Relation::Organization.def(),
        ]
    }
}

/// An organization's users, through `member`.
pub struct OrganizationToUsers;

impl Linked for OrganizationToUsers {
    type FromEntity = organization::Entity;
    type ToEntity = user::Entity;

    fn link(&self) -> Vec<RelationDef> {
        vec![
            member::Relation::Organization.def().rev(),
            member::Relation::User.def(),
        ]
    }
}

/// A team's users, through `team_member`.
pub struct TeamToUsers;

impl Linked for TeamToUsers {
    type FromEntity = team::Entity;
    type ToEntity = user::Entity;

    fn link(&self) -> Vec<RelationDef> {
        vec![
            team_member::Relation::Team.def().rev(),
            team_member::Relation::User.def(),
        ]
    }
}

/// A user's teams, through `team_member`.
pub struct UserToTeams;

impl Linked for UserToTeams {
    type FromEntity = user::Entity;
    type ToEntity = team::Entity;

    fn link(&self) -> Vec<RelationDef> {
        vec![
            team_member::Relation::User.def().rev(),
            team_member::Relation::Team.def(),
        ]
    }
}
