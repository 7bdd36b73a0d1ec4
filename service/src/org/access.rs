//! Roles and what they may do, as Better Auth's organization plugin defines them: a role is a set
//! of statements (resource → actions); a member holds one or more roles (comma-joined in
//! `member.role`); a request is allowed when **one single role** grants every requested action
//! (roles are not merged). Deployments can add roles or replace the built-in ones.

use std::collections::{BTreeMap, BTreeSet};

use crate::{Error, Result};

/// resource → actions
pub type Statements = BTreeMap<String, BTreeSet<String>>;

/// One action on one resource, as the rules ask for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Permission {
    pub resource: &'static str,
    pub action: &'static str,
}

impl Permission {
    pub const UPDATE_ORGANIZATION: Self = Self::new("organization", "update");
    pub const DELETE_ORGANIZATION: Self = Self::new("organization", "delete");
    pub const UPDATE_MEMBER: Self = Self::new("member", "update");
    pub const DELETE_MEMBER: Self = Self::new("member", "delete");
    pub const CREATE_INVITATION: Self = Self::new("invitation", "create");
    pub const CANCEL_INVITATION: Self = Self::new("invitation", "cancel");
    pub const CREATE_TEAM: Self = Self::new("team", "create");
    pub const UPDATE_TEAM: Self = Self::new("team", "update");
    pub const DELETE_TEAM: Self = Self::new("team", "delete");

    pub const fn new(resource: &'static str, action: &'static str) -> Self {
        Self { resource, action }
    }

    /// As a request of statements.
    fn statements(self) -> Statements {
        statements(&[(self.resource, &[self.action])])
    }
}

#[derive(Clone, Debug)]
pub struct Roles {
    roles: BTreeMap<String, Statements>,
    /// The role the creator of an organization gets, with its special protections.
    pub creator_role: String,
}

fn statements(entries: &[(&str, &[&str])]) -> Statements {
    entries
        .iter()
        .map(|(resource, actions)| {
            (
                resource.to_string(),
                actions.iter().map(|a| a.to_string()).collect(),
            )
        })
        .collect()
}

impl Default for Roles {
    /// owner, admin and member with Better Auth's statements.
    fn default() -> Self {
        let all_ac: &[&str] = &["create", "read", "update", "delete"];
        let mut roles = BTreeMap::new();
        roles.insert(
            "owner".into(),
            statements(&[
                ("organization", &["update", "delete"]),
                ("member", &["create", "update", "delete"]),
                ("invitation", &["create", "cancel"]),
                ("team", &["create", "update", "delete"]),
                ("ac", all_ac),
            ]),
        );
        roles.insert(
            "admin".into(),
            statements(&[
                ("organization", &["update"]),
                ("member", &["create", "update", "delete"]),
                ("invitation", &["create", "cancel"]),
                ("team", &["create", "update", "delete"]),
                ("ac", all_ac),
            ]),
        );
        roles.insert("member".into(), statements(&[("ac", &["read"])]));
        Self {
            roles,
            creator_role: "owner".into(),
        }
    }
}

/// The role names in a stored or requested role list: comma-separated, trimmed, no empties.
pub fn role_names(raw: &str) -> Vec<&str> {
    raw.split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .collect()
}

impl Roles {
    /// The built-in roles plus `custom` (a role of the same name replaces the built-in one).
    pub fn with_custom(custom: BTreeMap<String, Statements>) -> Self {
        let mut roles = Self::default();
        roles.roles.extend(custom);
        roles
    }

    pub fn exists(&self, role: &str) -> bool {
        self.roles.contains_key(role)
    }

    /// Whether a member holding `member_roles` (comma-joined) holds the creator role.
    pub fn is_creator(&self, member_roles: &str) -> bool {
        role_names(member_roles).contains(&self.creator_role.as_str())
    }

    /// Whether one of `member_roles` grants every action of `request`. An empty request, an
    /// unknown resource, an empty action list and an unknown role grant nothing.
    pub fn allows(&self, member_roles: &str, request: &Statements) -> bool {
        if request.is_empty() || request.values().any(BTreeSet::is_empty) {
            return false;
        }
        role_names(member_roles).iter().any(|role| {
            self.roles.get(*role).is_some_and(|granted| {
                request.iter().all(|(resource, actions)| {
                    granted
                        .get(resource)
                        .is_some_and(|allowed| actions.is_subset(allowed))
                })
            })
        })
    }

    /// Whether one of `member_roles` grants `permission`.
    pub fn can(&self, member_roles: &str, permission: Permission) -> bool {
        self.allows(member_roles, &permission.statements())
    }

    /// A requested role list (each entry may itself be comma-joined) as stored: trimmed and
    /// comma-joined. At least one role, and every one of them exists.
    pub fn parse(&self, requested: &[String]) -> Result<String> {
        let names: Vec<&str> = requested.iter().flat_map(|r| role_names(r)).collect();
        if names.is_empty() {
            return Err(Error::invalid("role", "At least one role is required"));
        }
        let unknown: Vec<&str> = names.iter().copied().filter(|r| !self.exists(r)).collect();
        if !unknown.is_empty() {
            return Err(Error::RoleNotFound(unknown.join(", ")));
        }
        Ok(names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_table() {
        let roles = Roles::default();
        let table: &[(&str, &str, &str, bool)] = &[
            ("owner", "organization", "delete", true),
            ("admin", "organization", "delete", false),
            ("admin", "organization", "update", true),
            ("member", "organization", "update", false),
            ("member", "ac", "read", true),
            ("member", "invitation", "create", false),
            ("admin", "invitation", "cancel", true),
            ("admin", "team", "delete", true),
            ("owner", "unknown", "read", false),
            ("superuser", "organization", "update", false),
        ];
        for (role, resource, action, expected) in table {
            assert_eq!(
                roles.can(role, Permission::new(resource, action)),
                *expected,
                "{role} {resource}:{action}"
            );
        }
    }

    #[test]
    fn roles_are_not_merged() {
        let roles = Roles::default();
        let both = statements(&[("organization", &["delete"]), ("ac", &["read"])]);
        assert!(
            !roles.allows("member,admin", &both),
            "no single role has both"
        );
        assert!(roles.allows("member, owner", &both));
        assert!(!roles.allows("owner", &Statements::new()));
        assert!(!roles.allows("owner", &statements(&[("organization", &[])])));
        assert!(roles.is_creator("member,owner") && !roles.is_creator("admin"));
    }

    #[test]
    fn custom_roles_extend_the_defaults() {
        let custom = BTreeMap::from([(
            "billing".to_owned(),
            statements(&[("organization", &["update"])]),
        )]);
        let roles = Roles::with_custom(custom);
        assert!(roles.exists("billing") && roles.exists("owner"));
        assert!(roles.can("billing", Permission::UPDATE_ORGANIZATION));
        assert!(!roles.can("billing", Permission::DELETE_MEMBER));
    }

    #[test]
    fn requested_roles_are_parsed() {
        let roles = Roles::default();
        let parse = |r: &[&str]| roles.parse(&r.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(parse(&["admin", " member "]).unwrap(), "admin,member");
        assert_eq!(parse(&["admin,member"]).unwrap(), "admin,member");
        assert!(matches!(
            parse(&[" , "]),
            Err(Error::Validation {
                field: Some("role"),
                ..
            })
        ));
        assert!(
            matches!(parse(&["admin", "boss", "chief"]), Err(Error::RoleNotFound(r)) if r == "boss, chief")
        );
    }
}
