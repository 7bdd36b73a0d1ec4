//! Property test of the pagination and sort parameters over HTTP (proptest, driven from the async
//! test): whatever `limit`, `offset`, `sortBy`, `sortDirection`, `filterField` and `filterValue`
//! hold, `list-members` answers the page the stored rows give — ordered by the key, ties by id,
//! `total` counting every match — or 400 `VALIDATION_ERROR`; `list-invitations` likewise for
//! `limit` and `offset`. Never another status.

use entity::{invitation, member};
use migration::db_tests;
use migration::testing::TestDb;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;

use crate::fixtures::{Org, User};
use crate::harness::{parts, TestServer};

/// A count as the contract reads it: digits only, at most 2^31 - 1.
fn count(text: &str) -> Option<u64> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let value = text.trim_start_matches('0');
    let value: u64 = if value.is_empty() {
        0
    } else {
        value.parse().ok().filter(|_| value.len() <= 10)?
    };
    (digits && value <= i32::MAX as u64).then_some(value)
}

/// A parameter: left out, a value that means something, a number in or out of range, or text.
fn param(meaningful: &'static [&'static str]) -> impl Strategy<Value = Option<String>> {
    proptest::option::of(prop_oneof![
        3 => proptest::sample::select(meaningful).prop_map(str::to_owned),
        2 => (0u64..12).prop_map(|n| n.to_string()),
        1 => "[0-9]{9,12}|0{1,5}[0-9]{1,3}|-[0-9]{1,3}|[0-9]\\.[0-9]|1e3| 1|",
        1 => "\\PC{0,12}",
    ])
}

#[derive(Debug, Clone)]
struct Page {
    limit: Option<String>,
    offset: Option<String>,
    sort_by: Option<String>,
    direction: Option<String>,
    filter_field: Option<String>,
    filter_value: Option<String>,
}

fn pages() -> impl Strategy<Value = Page> {
    (
        param(&["0", "1", "2", "3", "100", "101", "2147483647", "2147483648"]),
        param(&["0", "1", "5", "6", "2147483647"]),
        param(&["createdAt", "role", "email", "id"]),
        param(&["asc", "desc", "ASC", "up"]),
        param(&["role", "email"]),
        param(&["member", "admin", "owner", "member,admin", "nobody"]),
    )
        .prop_map(
            |(limit, offset, sort_by, direction, filter_field, filter_value)| Page {
                limit,
                offset,
                sort_by,
                direction,
                filter_field,
                filter_value,
            },
        )
}

fn query(pairs: &[(&str, &Option<String>)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if let Some(v) = v {
            q.append_pair(k, v);
        }
    }
    q.finish()
}

/// The member ids of the page the stored rows give, and how many match; `None` when the
/// parameters must be refused.
fn expected_members(mut rows: Vec<member::Model>, p: &Page) -> Option<(Vec<String>, u64)> {
    let all = [
        &p.limit,
        &p.offset,
        &p.sort_by,
        &p.direction,
        &p.filter_field,
        &p.filter_value,
    ];
    if all
        .iter()
        .any(|v| v.as_deref().is_some_and(|v| v.contains('\0')))
    {
        return None;
    }
    let limit = match &p.limit {
        Some(l) => count(l)?.min(100),
        None => 100,
    };
    let offset = match &p.offset {
        Some(o) => count(o)?,
        None => 0,
    };
    let by_role = match p.sort_by.as_deref() {
        None | Some("createdAt") => false,
        Some("role") => true,
        Some(_) => return None,
    };
    let descending = match p.direction.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return None,
    };
    match (p.filter_field.as_deref(), &p.filter_value) {
        (None, _) => {}
        // An element of the role list (or a run of them, as the stored text holds it).
        (Some("role"), Some(role)) => {
            rows.retain(|m| format!(",{},", m.role).contains(&format!(",{role},")))
        }
        _ => return None,
    }
    rows.sort_by(|a, b| {
        let key = if by_role {
            a.role.cmp(&b.role)
        } else {
            a.created_at.cmp(&b.created_at)
        };
        let key = if descending { key.reverse() } else { key };
        key.then_with(|| a.id.cmp(&b.id))
    });
    let total = rows.len() as u64;
    let page = rows
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|m| m.id)
        .collect();
    Some((page, total))
}

async fn one_page(server: &TestServer, o: &Org, p: &Page) -> Result<(), TestCaseError> {
    // Known fault, left out here (reported, not fixed): the role filter is SQL `LIKE`, so `%` and
    // `_` in `filterValue` act as wildcards, and on SQLite `LIKE` ignores ASCII case.
    let like_meta = |v: &str| v.contains(['%', '_']) || v.bytes().any(|b| b.is_ascii_uppercase());
    prop_assume!(!p.filter_value.as_deref().is_some_and(like_meta));
    let rows = member::Entity::find()
        .filter(member::Column::OrganizationId.eq(&o.id))
        .all(&server.db)
        .await
        .unwrap();
    let q = query(&[
        ("limit", &p.limit),
        ("offset", &p.offset),
        ("sortBy", &p.sort_by),
        ("sortDirection", &p.direction),
        ("filterField", &p.filter_field),
        ("filterValue", &p.filter_value),
    ]);
    let path = format!("/organization/list-members?organizationId={}&{q}", o.id);
    let (status, body) = parts(o.owner.get(&path).await).await;
    match expected_members(rows, p) {
        Some((ids, total)) => {
            prop_assert_eq!(status, 200, "{} {}", q, body);
            let got: Vec<&str> = body["members"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap())
                .collect();
            prop_assert_eq!(
                got,
                ids.iter().map(String::as_str).collect::<Vec<_>>(),
                "{}",
                q
            );
            prop_assert_eq!(body["total"].as_u64(), Some(total), "{}", q);
        }
        None => {
            prop_assert_eq!(
                (status, body["code"].as_str()),
                (400, Some("VALIDATION_ERROR")),
                "{} {}",
                q,
                body
            );
        }
    }
    // The invitations' pages read the same two counts.
    let invitations = invitation::Entity::find()
        .filter(invitation::Column::OrganizationId.eq(&o.id))
        .all(&server.db)
        .await
        .unwrap();
    let q = query(&[("limit", &p.limit), ("offset", &p.offset)]);
    let path = format!("/organization/list-invitations?organizationId={}&{q}", o.id);
    let r = o.owner.get(&path).await;
    let header = r
        .headers()
        .get("x-total-count")
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = parts(r).await;
    let bounds = [&p.limit, &p.offset].map(|v| v.as_deref().map(|v| (v.contains('\0'), count(v))));
    if bounds
        .iter()
        .any(|b| matches!(b, Some((true, _)) | Some((_, None))))
    {
        prop_assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("VALIDATION_ERROR")),
            "{} {}",
            q,
            body
        );
        return Ok(());
    }
    let mut rows: Vec<(chrono::NaiveDateTime, String)> = invitations
        .into_iter()
        .map(|i| (i.created_at, i.id))
        .collect();
    rows.sort();
    let limit = bounds[0].and_then(|b| b.1).unwrap_or(100).min(100) as usize;
    let offset = bounds[1].and_then(|b| b.1).unwrap_or(0) as usize;
    let ids: Vec<Value> = rows
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(_, id)| Value::from(id.as_str()))
        .collect();
    let got: Vec<Value> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].clone())
        .collect();
    prop_assert_eq!((status, got), (200, ids), "{}", q);
    prop_assert_eq!(header, Some(rows.len().to_string()));
    Ok(())
}

async fn pages_are_the_stored_rows_or_a_validation_error(db: TestDb) {
    let server = TestServer::start(&db).await;
    let o = Org::new(&server, "paging").await;
    // Members added directly get the wall clock's time, those who accept the server's (the same
    // instant as the owner's): ties in `createdAt` must fall back to the id.
    for (i, role) in ["admin", "member", "member,admin"].into_iter().enumerate() {
        o.join(&server, &format!("joined{i}@example.com"), role)
            .await;
    }
    for (i, role) in ["member", "owner"].into_iter().enumerate() {
        o.accepted(&server, &format!("accepted{i}@example.com"), role)
            .await;
    }
    for i in 0..4 {
        o.invitation(
            &format!("pending{i}@example.com"),
            ["member", "owner"][i % 2],
        )
        .await;
    }
    let _outsider = User::sign_up(&server, "outsider@example.com").await;
    let handle = tokio::runtime::Handle::current();
    let mut runner = TestRunner::new(Config {
        cases: 96,
        failure_persistence: None,
        ..Config::default()
    });
    let outcome = tokio::task::block_in_place(|| {
        runner
            .run(&pages(), |p| handle.block_on(one_page(&server, &o, &p)))
            .map_err(|e| e.to_string())
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
}

db_tests!(pages_are_the_stored_rows_or_a_validation_error);
