//! The schema's unique constraints and indexes, by the names the migrations give them, so that the
//! service can tell which one an insert or update broke (and turn it into a domain error where the
//! statement runs) instead of guessing from "some unique violation".

/// A unique constraint or index. PostgreSQL names the one a statement violated; SQLite names its
/// table and columns instead (`UNIQUE constraint failed: member.organization_id, member.user_id`),
/// so both are kept.
#[derive(Debug, PartialEq, Eq)]
pub struct Unique {
    /// Its names: the constraint and any unique index over the same columns.
    pub names: &'static [&'static str],
    pub table: &'static str,
    pub columns: &'static [&'static str],
}

impl Unique {
    /// The name the migrations create it under.
    pub const fn name(&self) -> &'static str {
        self.names[0]
    }

    /// Whether a violation reported as `constraint` (PostgreSQL) or as the message `message`
    /// (SQLite, which names no constraint) is of this one.
    pub fn is(&self, constraint: Option<&str>, message: &str) -> bool {
        match constraint {
            Some(name) => self.names.contains(&name),
            None => message
                .strip_prefix("UNIQUE constraint failed: ")
                .is_some_and(|failed| {
                    let mut columns = failed.split(", ");
                    self.columns.iter().all(|c| {
                        columns.next().and_then(|f| f.split_once('.')) == Some((self.table, *c))
                    }) && columns.next().is_none()
                }),
        }
    }
}

/// One account per email address (the seed's).
pub const USER_EMAIL: Unique = Unique {
    names: &["user_email_unique"],
    table: "user",
    columns: &["email"],
};

/// Session tokens are unique (the seed's).
pub const SESSION_TOKEN: Unique = Unique {
    names: &["session_token_unique"],
    table: "session",
    columns: &["token"],
};

/// One organization per slug: the seed's constraint and its unique index.
pub const ORGANIZATION_SLUG: Unique = Unique {
    names: &["organization_slug_unique", "organization_slug_uidx"],
    table: "organization",
    columns: &["slug"],
};

/// One membership per (organization, user) (migration 2).
pub const MEMBER: Unique = Unique {
    names: &["member_organizationId_userId_uidx"],
    table: "member",
    columns: &["organization_id", "user_id"],
};

/// One team membership per (team, user) (migration 2).
pub const TEAM_MEMBER: Unique = Unique {
    names: &["teamMember_teamId_userId_uidx"],
    table: "team_member",
    columns: &["team_id", "user_id"],
};

/// One account row per provider account (migration 3).
pub const ACCOUNT: Unique = Unique {
    names: &["account_providerId_accountId_uidx"],
    table: "account",
    columns: &["provider_id", "account_id"],
};

/// Every unique constraint of the schema.
pub const ALL: &[&Unique] = &[
    &USER_EMAIL,
    &SESSION_TOKEN,
    &ORGANIZATION_SLUG,
    &MEMBER,
    &TEAM_MEMBER,
    &ACCOUNT,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_by_postgres_or_by_columns_on_sqlite() {
        assert!(MEMBER.is(Some("member_organizationId_userId_uidx"), ""));
        assert!(ORGANIZATION_SLUG.is(Some("organization_slug_uidx"), ""));
        assert!(!MEMBER.is(Some("teamMember_teamId_userId_uidx"), ""));
        let sqlite = "UNIQUE constraint failed: member.organization_id, member.user_id";
        assert!(MEMBER.is(None, sqlite));
        assert!(!TEAM_MEMBER.is(None, sqlite));
        assert!(!USER_EMAIL.is(None, "UNIQUE constraint failed: user.email, user.id"));
        assert!(USER_EMAIL.is(None, "UNIQUE constraint failed: user.email"));
        assert!(!USER_EMAIL.is(None, "NOT NULL constraint failed: user.email"));
    }
}
