//! The admin plugin's roles: platform-wide, held in `user.role` (comma-joined), unlike the
//! organization plugin's per-membership roles. A request is allowed when **one single role**
//! grants all of it, as Better Auth's `hasPermission` decides (roles are not merged); users named
//! in `adminUserIds` may do everything.
//!
//! Beyond Better Auth, roles are ranked: the order they are configured in, highest first. An
//! admin cannot grant a role ranked above their own, nor act on a user who outranks them, nor
//! change the role of a user of equal or higher rank (docs/compatibility.md, "Admin plugin").

use std::collections::BTreeSet;

use crate::access::Statements;
use crate::org::access::role_names;

/// The statements Better Auth's admin plugin declares (`defaultStatements`).
pub const USER_ACTIONS: [&str; 12] = [
    "create",
    "list",
    "set-role",
    "ban",
    "impersonate",
    "impersonate-admins",
    "delete",
    "set-password",
    "set-email",
    "set-phone",
    "get",
    "update",
];
pub const SESSION_ACTIONS: [&str; 3] = ["list", "revoke", "delete"];

/// One action on one resource, as a route asks for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdminPermission {
    pub resource: &'static str,
    pub action: &'static str,
}

impl AdminPermission {
    pub const fn user(action: &'static str) -> Self {
        Self {
            resource: "user",
            action,
        }
    }

    pub const fn session(action: &'static str) -> Self {
        Self {
            resource: "session",
            action,
        }
    }

    fn statements(self) -> Statements {
        Statements::from([(
            self.resource.to_owned(),
            BTreeSet::from([self.action.to_owned()]),
        )])
    }
}

/// The configured roles, highest rank first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminRoles {
    ranked: Vec<(String, Statements)>,
}

fn set(actions: &[&str]) -> BTreeSet<String> {
    actions.iter().map(|a| (*a).to_owned()).collect()
}

impl Default for AdminRoles {
    /// Better Auth's defaults: `admin` (every action but `impersonate-admins`), then `user`
    /// (nothing).
    fn default() -> Self {
        let admin_user: Vec<&str> = USER_ACTIONS
            .iter()
            .copied()
            .filter(|a| *a != "impersonate-admins")
            .collect();
        let admin = Statements::from([
            ("user".to_owned(), set(&admin_user)),
            ("session".to_owned(), set(&SESSION_ACTIONS)),
        ]);
        let user = Statements::from([
            ("user".to_owned(), BTreeSet::new()),
            ("session".to_owned(), BTreeSet::new()),
        ]);
        Self {
            ranked: vec![("admin".to_owned(), admin), ("user".to_owned(), user)],
        }
    }
}

impl AdminRoles {
    /// Roles in rank order, highest first. At least one; names unique, non-empty, without commas
    /// or surrounding spaces (they are stored comma-joined).
    pub fn new(ranked: Vec<(String, Statements)>) -> Result<Self, String> {
        if ranked.is_empty() {
            return Err("at least one role is needed".into());
        }
        let mut seen = BTreeSet::new();
        for (name, _) in &ranked {
            if name.is_empty() || name.contains(',') || name.trim() != name {
                return Err(format!(
                    "{name:?} is not a role name (no commas or surrounding spaces)"
                ));
            }
            if !seen.insert(name.as_str()) {
                return Err(format!("role {name:?} is listed twice"));
            }
        }
        Ok(Self { ranked })
    }

    /// The role names, highest first.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.ranked.iter().map(|(n, _)| n.as_str())
    }

    pub fn exists(&self, role: &str) -> bool {
        self.ranked.iter().any(|(n, _)| n == role)
    }

    /// `role`'s rank: 0 for the highest; `None` for a name that is not configured.
    pub fn rank_of_role(&self, role: &str) -> Option<usize> {
        self.ranked.iter().position(|(n, _)| n == role)
    }

    /// The rank of a stored or requested role list: that of its highest configured role; a list of
    /// unknown names only ranks below every configured role.
    pub fn rank(&self, roles: &str) -> usize {
        role_names(roles)
            .iter()
            .filter_map(|r| self.rank_of_role(r))
            .min()
            .unwrap_or(self.ranked.len())
    }

    /// Whether one of `roles` (comma-joined) grants every action of `request`. An empty request,
    /// an unknown resource, an empty action list and an unknown role grant nothing.
    pub fn allows(&self, roles: &str, request: &Statements) -> bool {
        if request.is_empty() || request.values().any(BTreeSet::is_empty) {
            return false;
        }
        role_names(roles).iter().any(|role| {
            self.ranked
                .iter()
                .find(|(n, _)| n == role)
                .is_some_and(|(_, granted)| {
                    request.iter().all(|(resource, actions)| {
                        granted
                            .get(resource)
                            .is_some_and(|allowed| actions.is_subset(allowed))
                    })
                })
        })
    }

    pub fn can(&self, roles: &str, permission: AdminPermission) -> bool {
        self.allows(roles, &permission.statements())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zero_starter() -> AdminRoles {
        let st = |u: &[&str]| Statements::from([("user".to_owned(), set(u))]);
        AdminRoles::new(vec![
            ("owner".into(), st(&USER_ACTIONS)),
            ("admin".into(), st(&["list", "ban", "set-role"])),
            ("member".into(), st(&["list"])),
            ("user".into(), st(&[])),
        ])
        .unwrap()
    }

    #[test]
    fn ranks_follow_the_configured_order() {
        let roles = zero_starter();
        assert_eq!(roles.rank("owner"), 0);
        assert_eq!(roles.rank("member, admin"), 1, "the highest role counts");
        assert_eq!(roles.rank("user"), 3);
        assert_eq!(roles.rank("constructor"), 4, "unknown ranks below all");
        assert_eq!(roles.rank(""), 4);
    }

    #[test]
    fn one_role_must_grant_everything() {
        let roles = AdminRoles::default();
        assert!(roles.can("admin", AdminPermission::user("ban")));
        assert!(!roles.can("admin", AdminPermission::user("impersonate-admins")));
        assert!(!roles.can("user", AdminPermission::user("list")));
        assert!(!roles.can("toString", AdminPermission::user("list")));
        let both = Statements::from([
            ("user".to_owned(), set(&["list"])),
            ("billing".to_owned(), set(&["read"])),
        ]);
        assert!(
            !roles.allows("admin", &both),
            "an unknown resource grants nothing"
        );
        assert!(!roles.allows("admin", &Statements::new()));
    }

    #[test]
    fn role_names_are_checked() {
        assert!(AdminRoles::new(vec![]).is_err());
        assert!(AdminRoles::new(vec![("a,b".into(), Statements::new())]).is_err());
        assert!(AdminRoles::new(vec![
            ("a".into(), Statements::new()),
            ("a".into(), Statements::new())
        ])
        .is_err());
    }
}
