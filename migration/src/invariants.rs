//! The store's invariants, as plain SQL in `invariants/`: each statement lists the rows that break
//! one (columns `invariant` and `detail`), so a sound store answers none. The files run as they are
//! under `psql` and `sqlite3`; `service::invariants` runs them through a connection. They live with
//! the schema they describe.

use sea_orm_migration::sea_orm::{ConnectionTrait, DbErr, Statement};

/// What holds in every orgauth store.
pub const STORE: &str = include_str!("invariants/store.sql");
/// What holds when orgauth alone writes the store in its default mode.
pub const EXCLUSIVE: &str = include_str!("invariants/exclusive.sql");
/// What holds where the database has Better Auth 1.7's `team.member_count`.
pub const MEMBER_COUNT: &str = include_str!("invariants/member_count.sql");

/// The rows `file`'s statements list in `db`, as `(invariant, detail)`, with `creator_role` in
/// place of `owner`.
pub async fn broken_rows<C: ConnectionTrait>(
    db: &C,
    file: &str,
    creator_role: &str,
) -> Result<Vec<(String, String)>, DbErr> {
    let role = creator_role.replace('\'', "''");
    let mut found = Vec::new();
    for sql in statements(file) {
        let sql = sql.replace("'%,owner,%'", &format!("'%,{role},%'"));
        let stmt = Statement::from_string(db.get_database_backend(), sql);
        for row in db.query_all_raw(stmt).await? {
            found.push((row.try_get("", "invariant")?, row.try_get("", "detail")?));
        }
    }
    Ok(found)
}

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
