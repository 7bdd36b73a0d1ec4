//! The store's invariants, as plain SQL in `invariants/`: each statement lists the rows that break
//! one (columns `invariant` and `detail`), so a sound store answers none. The files run as they are
//! under `psql` and `sqlite3`; `service::invariants` runs them through a connection. They live with
//! the schema they describe.

/// What holds in every orgauth store.
pub const STORE: &str = include_str!("invariants/store.sql");
/// What holds when orgauth alone writes the store in its default mode.
pub const EXCLUSIVE: &str = include_str!("invariants/exclusive.sql");
/// What holds where the database has Better Auth 1.7's `team.member_count`.
pub const MEMBER_COUNT: &str = include_str!("invariants/member_count.sql");

/// The statements of a file: its comment lines left out, the rest split at `;`.
pub fn statements(file: &str) -> Vec<String> {
    let code: Vec<&str> = file
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect();
    code.join("\n")
        .split(';')
        .map(str::trim)
        .filter(|sql| !sql.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_statement_names_its_invariant() {
        for file in [STORE, EXCLUSIVE, MEMBER_COUNT] {
            let all = statements(file);
            assert!(!all.is_empty());
            for sql in all {
                assert!(sql.starts_with("SELECT '"), "{sql}");
                assert!(
                    sql.contains(" AS invariant, ") && sql.contains(" AS detail"),
                    "{sql}"
                );
            }
        }
    }
}
