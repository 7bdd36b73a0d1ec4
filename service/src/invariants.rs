//! Checks a store against its invariants (`migration/src/invariants/*.sql`, see
//! [`migration::invariants`]): for `orgauth check-invariants`, the fault runs and the organization
//! model test. The test databases are checked after every test (`migration::testing`).

use migration::invariants::{broken_rows, EXCLUSIVE, MEMBER_COUNT, STORE};
use sea_orm::{ConnectionTrait, DbErr};

/// Which statements apply to a store.
#[derive(Clone, Debug)]
pub struct Scope {
    /// orgauth alone writes the store, hashing its secrets (not coexistence or plain tokens).
    pub exclusive: bool,
    /// The role that must remain in every organization with members (`owner` by default).
    pub creator_role: String,
}

/// One row that breaks an invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The invariant's name, as the SQL files name it.
    pub invariant: String,
    /// The row: an id, or the duplicated key.
    pub detail: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.invariant, self.detail)
    }
}

/// Every violation in the store `db` holds (none when it is sound).
pub async fn check(db: &impl ConnectionTrait, scope: &Scope) -> Result<Vec<Violation>, DbErr> {
    let columns = crate::better_auth_columns::discover(db)
        .await
        .map_err(|e| DbErr::Custom(e.to_string()))?;
    let mut files = vec![STORE];
    if scope.exclusive {
        files.push(EXCLUSIVE);
    }
    if columns.team_member_count {
        files.push(MEMBER_COUNT);
    }
    let mut found = Vec::new();
    for file in files {
        for (invariant, detail) in broken_rows(db, file, &scope.creator_role).await? {
            found.push(Violation { invariant, detail });
        }
    }
    Ok(found)
}
