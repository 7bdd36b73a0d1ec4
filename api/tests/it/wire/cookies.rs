//! Where the session cookie is resent, as Better Auth.

use migration::db_tests;
use migration::testing::TestDb;
use serde_json::json;

use serde_json::Value;

use crate::harness::{expect_ok, parts, set_cookies, Browser, TestServer};

/// The names of the cookies a response sets.
fn cookie_names(r: &reqwest::Response) -> Vec<String> {
    set_cookies(r)
        .iter()
        .map(|c| c.split('=').next().unwrap().to_owned())
        .collect()
}

const SESSION_COOKIE: [&str; 1] = ["better-auth.session_token"];
const NO_COOKIE: [&str; 0] = [];

/// A server where invitees accept without verifying; `cookies@` signs up and creates the
/// organization "Jar" and its team "Crumbs". Returns the owner, their user id, the organization,
/// the team and the cookies that create and create-team set.
async fn jar(db: &TestDb) -> (TestServer, Browser, Value, String, String, [Vec<String>; 2]) {
    let server = TestServer::start_with(db, |c| {
        c.org.require_email_verification_on_invitation = false
    })
    .await;
    let owner = server.browser();
    let me = owner.sign_up("cookies@example.com", "password123").await["user"]["id"].clone();
    let r = owner
        .post(
            "/organization/create",
            json!({"name": "Jar", "slug": "jar"}),
        )
        .await;
    let created = cookie_names(&r);
    let org = expect_ok(r).await["id"].as_str().unwrap().to_owned();
    let r = owner
        .post("/organization/create-team", json!({"name": "Crumbs"}))
        .await;
    let team_created = cookie_names(&r);
    let team = expect_ok(r).await["id"].as_str().unwrap().to_owned();
    (server, owner, me, org, team, [created, team_created])
}

/// Set-Cookie as Better Auth sends it: the session cookie again after `update-user`,
/// `set-active`, `set-active-team` (each also when clearing a value that was set); nothing after
/// the routes that only write rows.
async fn session_cookie_resent_where_better_auth_resends_it(db: TestDb) {
    let (_server, owner, me, org, team, [created, team_created]) = jar(&db).await;
    let (session, none) = (&SESSION_COOKIE[..], &NO_COOKIE[..]);
    assert_eq!(created, none, "create");
    assert_eq!(team_created, none, "create-team");

    let steps = [
        ("/update-user", json!({"name": "Cookie"}), session),
        (
            "/organization/add-team-member",
            json!({"teamId": team, "userId": me}),
            none,
        ),
        (
            "/organization/set-active",
            json!({"organizationId": org}),
            session,
        ),
        (
            "/organization/set-active-team",
            json!({"teamId": team}),
            session,
        ),
        (
            "/organization/set-active-team",
            json!({"teamId": null}),
            session,
        ),
        (
            "/organization/set-active-team",
            json!({"teamId": null}),
            none,
        ),
        (
            "/organization/update",
            json!({"data": {"name": "Jar 2"}}),
            none,
        ),
        (
            "/organization/set-active",
            json!({"organizationId": null}),
            session,
        ),
        (
            "/organization/set-active",
            json!({"organizationId": null}),
            none,
        ),
    ];
    for (path, body, expected) in steps {
        let r = owner.post(path, body.clone()).await;
        assert_eq!(r.status(), 200, "{path} {body}");
        assert_eq!(cookie_names(&r), expected, "{path} {body}");
    }
    let r = owner
        .post("/organization/set-active", json!({"organizationId": org}))
        .await;
    let max_age = set_cookies(&r)[0].contains("Max-Age=");
    assert!(max_age, "a remembered session's cookie keeps its Max-Age");
}

/// The owner invites `email` with `invitation` (the rest of the body); `email` signs up and
/// accepts. The answer to accept-invitation.
async fn invited_and_accepted(
    server: &TestServer,
    owner: &Browser,
    email: &str,
    mut invitation: Value,
) -> reqwest::Response {
    invitation["email"] = json!(email);
    invitation["role"] = json!("member");
    let (s, inv) = parts(owner.post("/organization/invite-member", invitation).await).await;
    assert_eq!(s, 200, "{inv}");
    let invitee = server.browser();
    invitee.sign_up(email, "password123").await;
    let r = invitee
        .post(
            "/organization/accept-invitation",
            json!({"invitationId": inv["id"]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    r
}

/// Accepting an invitation to one team sets the session cookie again (the team is active).
async fn accepting_into_one_team_resends_the_session_cookie(db: TestDb) {
    let (server, owner, _, _, team, _) = jar(&db).await;
    let r = invited_and_accepted(
        &server,
        &owner,
        "one-team@example.com",
        json!({"teamId": team}),
    )
    .await;
    assert_eq!(
        cookie_names(&r),
        SESSION_COOKIE,
        "accept-invitation to one team"
    );
}

async fn accepting_without_a_team_sets_no_cookie(db: TestDb) {
    let (server, owner, ..) = jar(&db).await;
    let r = invited_and_accepted(&server, &owner, "no-team@example.com", json!({})).await;
    assert_eq!(
        cookie_names(&r),
        NO_COOKIE,
        "accept-invitation without a team"
    );
}

db_tests!(
    session_cookie_resent_where_better_auth_resends_it,
    accepting_into_one_team_resends_the_session_cookie,
    accepting_without_a_team_sets_no_cookie,
);
