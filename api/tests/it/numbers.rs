//! Numbers in query strings are bounded where they enter: a value out of range or not a whole
//! number is the contract's 400 `VALIDATION_ERROR`, never a failure further in (a number too large
//! for the database's integer used to panic and reset the connection).

use migration::db_tests;
use migration::testing::TestDb;
use serde_json::json;

use crate::fixtures::{Org, User};
use crate::harness::{parts, TestServer};

/// The largest count or offset a query accepts.
const MAX: &str = "2147483647";

async fn numeric_query_parameters_are_bounded(db: TestDb) {
    let server = TestServer::start(&db).await;
    let owner = User::sign_up(&server, "owner@example.com").await;
    let owner = Org::create(&server, owner, "N", "n").await.owner;

    // The routes and their numeric parameters; `sortBy=role` takes list-members to the database.
    let routes: [(&str, &[&str]); 4] = [
        ("/organization/list-members?", &["limit", "offset"]),
        (
            "/organization/list-members?sortBy=role&",
            &["limit", "offset"],
        ),
        ("/organization/list-invitations?", &["limit", "offset"]),
        ("/organization/get-full-organization?", &["membersLimit"]),
    ];
    for (route, params) in routes {
        for param in params {
            for ok in ["0", "1", MAX] {
                let path = format!("{route}{param}={ok}");
                let (s, body) = parts(owner.get(&path).await).await;
                assert_eq!(s, 200, "{path}: {body}");
            }
            for too_big in [
                "18446744073709551615",
                "18446744073709551616",
                "9223372036854775808",
                "9223372036854775807",
                "2147483648",
            ] {
                let path = format!("{route}{param}={too_big}");
                assert_eq!(
                    parts(owner.get(&path).await).await,
                    (
                        400,
                        json!({
                            "message": format!("[query.{param}] Too big: expected number to be <={MAX}"),
                            "code": "VALIDATION_ERROR",
                        })
                    ),
                    "{path}"
                );
            }
            for not_a_count in ["-1", "1.5", "1e3", "abc", "0x10"] {
                let path = format!("{route}{param}={not_a_count}");
                assert_eq!(
                    parts(owner.get(&path).await).await,
                    (
                        400,
                        json!({
                            "message": format!("[query.{param}] Invalid input: expected a whole number from 0 to {MAX}"),
                            "code": "VALIDATION_ERROR",
                        })
                    ),
                    "{path}"
                );
            }
        }
    }
    // The server is still serving.
    assert_eq!(owner.get("/ok").await.status(), 200);
}

db_tests!(numeric_query_parameters_are_bounded);
