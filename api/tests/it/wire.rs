//! Answers that follow Better Auth 1.7.25 where orgauth used to differ (issue 17).

use migration::db_tests;
use migration::testing::TestDb;
use serde_json::json;

use api::rate_limit::RateLimitConfig;
use serde_json::Value;

use crate::fixtures::{Org, User};
use crate::harness::{
    assert_error, assert_error_for, expect_ok, parts, set_cookies, Browser, TestServer, ORIGIN,
};

/// `email` signs up and creates the organization `slug`.
async fn organization(server: &TestServer, email: &str, slug: &str) -> Org {
    Org::create(server, User::sign_up(server, email).await, slug, slug).await
}

/// With both `organizationId` and `organizationSlug`, the slug wins, as in Better Auth.
async fn the_slug_wins_over_the_id(db: TestDb) {
    let server = TestServer::start(&db).await;
    let Org { owner, id, .. } = organization(&server, "slug@example.com", "slug-wins").await;
    for route in ["get-full-organization", "get-organization"] {
        let (s, body) = parts(
            owner
                .get(&format!(
                    "/organization/{route}?organizationId=no-such-id&organizationSlug=slug-wins"
                ))
                .await,
        )
        .await;
        assert_eq!(
            (s, body["id"].as_str()),
            (200, Some(id.as_str())),
            "{route}: {body}"
        );
    }
}

/// An admin naming a member of another organization in `update-member-role`: 403
/// `YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER`, as Better Auth; an unknown id stays 400.
async fn updating_a_member_of_another_organization(db: TestDb) {
    let server = TestServer::start(&db).await;
    let Org {
        owner: alice,
        id: mine,
        ..
    } = organization(&server, "alice-w@example.com", "alice-org").await;
    let bob = organization(&server, "bob-w@example.com", "bob-org")
        .await
        .owner;
    let (_, members) = parts(
        bob.get("/organization/list-members?organizationSlug=bob-org")
            .await,
    )
    .await;
    let bobs_member = members["members"][0]["id"].as_str().unwrap().to_owned();
    assert_error(
        alice
            .post(
                "/organization/update-member-role",
                json!({"memberId": bobs_member, "role": "member", "organizationId": mine}),
            )
            .await,
        403,
        "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER",
    )
    .await;
    assert_error(
        alice
            .post(
                "/organization/update-member-role",
                json!({"memberId": "nobody", "role": "member", "organizationId": mine}),
            )
            .await,
        400,
        "MEMBER_NOT_FOUND",
    )
    .await;
    let (_, still) = parts(
        bob.get("/organization/list-members?organizationSlug=bob-org")
            .await,
    )
    .await;
    assert_eq!(still["members"][0]["role"], "owner");
}

/// A POST with a raw body and content type, with the browser's cookies and Origin.
async fn post_raw(b: &Browser, path: &str, content_type: &str, body: &str) -> (u16, Value) {
    parts(
        b.http
            .post(format!("{}/api/auth{path}", b.base))
            .header("content-type", content_type)
            .body(body.to_owned())
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn signed_in(b: &Browser) -> bool {
    !b.json("/get-session").await.is_null()
}

/// `verify-password`: `{"status":true}` for the right password, Better Auth's 400
/// `INVALID_PASSWORD` otherwise, 401 without a session; wrong guesses count against the account.
async fn verify_password_checks_the_callers_password(db: TestDb) {
    let server = TestServer::start(&db).await;
    let anonymous = server.browser();
    assert_error(
        anonymous
            .post("/verify-password", json!({"password": "password123"}))
            .await,
        401,
        "UNAUTHORIZED",
    )
    .await;

    let user = server.browser();
    user.sign_up("verify@example.com", "password123").await;
    let (s, body) = parts(
        user.post("/verify-password", json!({"password": "password123"}))
            .await,
    )
    .await;
    assert_eq!((s, body), (200, json!({"status": true})));
    assert_error(
        user.post("/verify-password", json!({})).await,
        400,
        "VALIDATION_ERROR",
    )
    .await;
    let long = "x".repeat(129);
    assert_error(
        user.post("/verify-password", json!({"password": long}))
            .await,
        400,
        "PASSWORD_TOO_LONG",
    )
    .await;
    for i in 0..5 {
        let (s, body) = parts(
            user.post(
                "/verify-password",
                json!({"password": format!("guess-{i}")}),
            )
            .await,
        )
        .await;
        assert_eq!(
            (s, body),
            (
                400,
                json!({"message": "Invalid password", "code": "INVALID_PASSWORD"})
            ),
            "guess {i}"
        );
    }
    // The sixth check waits, right password or not: the same throttle as sign-in.
    assert_error(
        user.post("/verify-password", json!({"password": "password123"}))
            .await,
        429,
        "TOO_MANY_REQUESTS",
    )
    .await;
    assert!(signed_in(&user).await, "a wrong password ends no session");
}

/// `verify-password` is rate limited as sign-in is: three per ten seconds per client.
async fn verify_password_is_rate_limited_as_sign_in(db: TestDb) {
    let server = TestServer::start_rate_limited(&db, RateLimitConfig::default(), None).await;
    let user = server.browser();
    user.sign_up("verify-rl@example.com", "password123").await;
    for _ in 0..3 {
        let r = user
            .post("/verify-password", json!({"password": "password123"}))
            .await;
        assert_eq!(r.status(), 200);
    }
    let r = user
        .post("/verify-password", json!({"password": "password123"}))
        .await;
    assert_eq!(r.status(), 429);
}

/// `update-session`: the body is checked before the session; with one, nothing can be set
/// (`No fields to update`), and the organization plugin's fields are `FIELD_NOT_ALLOWED`.
async fn update_session_sets_nothing_the_server_manages(db: TestDb) {
    let server = TestServer::start(&db).await;
    let anonymous = server.browser();
    let (s, body) = post_raw(&anonymous, "/update-session", "application/json", "[]").await;
    assert_eq!(
        (s, body),
        (
            400,
            json!({"message": "[body] Invalid input: expected record, received array", "code": "VALIDATION_ERROR"})
        )
    );
    assert_error(
        anonymous.post("/update-session", json!({})).await,
        401,
        "UNAUTHORIZED",
    )
    .await;

    let Org {
        owner: user,
        id: org,
        ..
    } = organization(&server, "update-session@example.com", "update-session").await;
    for body in [
        json!({}),
        json!({"unknown": 1}),
        json!({"activeOrganizationId": null}),
    ] {
        let (s, answer) = parts(user.post("/update-session", body.clone()).await).await;
        assert_eq!(
            (s, answer),
            (400, json!({"message": "No fields to update"})),
            "{body}"
        );
    }
    for field in ["activeOrganizationId", "activeTeamId"] {
        let (s, body) = parts(user.post("/update-session", json!({field: "other"})).await).await;
        assert_eq!(
            (s, body),
            (
                400,
                json!({"message": format!("{field} is not allowed to be set"), "code": "FIELD_NOT_ALLOWED"})
            )
        );
    }
    let session = user.json("/get-session").await;
    assert_eq!(session["session"]["activeOrganizationId"], org.as_str());
}

/// `sign-out` refuses a body that is not JSON (415) or not an object (400) before it touches the
/// session, which stays signed in; without a body it signs out.
async fn sign_out_refuses_a_malformed_body_first(db: TestDb) {
    let server = TestServer::start(&db).await;
    let user = server.browser();
    user.sign_up("sign-out@example.com", "password123").await;
    let (s, body) = post_raw(&user, "/sign-out", "text/plain", "x").await;
    assert_eq!(
        (s, body["code"].as_str()),
        (415, Some("UNSUPPORTED_MEDIA_TYPE"))
    );
    for (raw, kind) in [
        ("[]", "array"),
        ("\"x\"", "string"),
        ("1", "number"),
        ("null", "null"),
    ] {
        let (s, body) = post_raw(&user, "/sign-out", "application/json", raw).await;
        assert_eq!(
            (s, body),
            (
                400,
                json!({"message": format!("[body] Invalid input: expected object, received {kind}"), "code": "VALIDATION_ERROR"})
            ),
            "{raw}"
        );
    }
    let (s, _) = post_raw(&user, "/sign-out", "application/json", "{oops").await;
    assert_eq!(s, 400);
    assert!(
        signed_in(&user).await,
        "a refused sign-out leaves the session"
    );
    let r = user
        .http
        .post(format!("{}/api/auth/sign-out", user.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(set_cookies(&r)
        .iter()
        .any(|c| c.starts_with("better-auth.session_token=;")));
    assert!(!signed_in(&user).await);
}

/// `update-user` with a body that is not an object: zod's message for a record, as Better Auth.
async fn update_user_refuses_a_body_that_is_not_an_object(db: TestDb) {
    let server = TestServer::start(&db).await;
    let user = server.browser();
    user.sign_up("update-user@example.com", "password123").await;
    for (raw, kind) in [
        ("[]", "array"),
        ("\"x\"", "string"),
        ("1", "number"),
        ("null", "null"),
    ] {
        let (s, body) = post_raw(&user, "/update-user", "application/json", raw).await;
        assert_eq!(
            (s, body),
            (
                400,
                json!({"message": format!("[body] Invalid input: expected record, received {kind}"), "code": "VALIDATION_ERROR"})
            ),
            "{raw}"
        );
    }
    let (s, _) = parts(user.post("/update-user", json!({"name": "Renamed"})).await).await;
    assert_eq!(s, 200);
    assert_eq!(user.json("/get-session").await["user"]["name"], "Renamed");
}

/// `get-full-organization` lists invitations of every status to those who may invite.
async fn full_organization_lists_invitations_of_every_status(db: TestDb) {
    // Invitees accept without verifying their address here (Better Auth's default).
    let server = TestServer::start_with(&db, |c| {
        c.org.require_email_verification_on_invitation = false
    })
    .await;
    let Org { owner, id: org, .. } =
        organization(&server, "full-owner@example.com", "full-statuses").await;
    let mut ids = Vec::new();
    for who in ["accepts", "rejects", "canceled", "pending"] {
        let (s, inv) = parts(
            owner
                .post(
                    "/organization/invite-member",
                    json!({"email": format!("{who}@example.com"), "role": "member", "organizationId": org}),
                )
                .await,
        )
        .await;
        assert_eq!(s, 200, "{inv}");
        ids.push(inv["id"].as_str().unwrap().to_owned());
    }
    for (who, route, id) in [
        ("accepts", "accept-invitation", &ids[0]),
        ("rejects", "reject-invitation", &ids[1]),
    ] {
        let invitee = server.browser();
        invitee
            .sign_up(&format!("{who}@example.com"), "password123")
            .await;
        let r = invitee
            .post(
                &format!("/organization/{route}"),
                json!({"invitationId": id}),
            )
            .await;
        assert_eq!(r.status(), 200, "{route}");
    }
    let r = owner
        .post(
            "/organization/cancel-invitation",
            json!({"invitationId": ids[2]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let full = owner
        .json(&format!(
            "/organization/get-full-organization?organizationId={org}"
        ))
        .await;
    let mut seen: Vec<(String, String)> = full["invitations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_owned(),
                i["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    seen.sort();
    let mut expected: Vec<(String, String)> = ids
        .iter()
        .cloned()
        .zip(["accepted", "rejected", "canceled", "pending"].map(str::to_owned))
        .collect();
    expected.sort();
    assert_eq!(seen, expected);
}

/// Redirect targets: on a POST the body's `callbackURL` wins over the query's, and the query's
/// other targets are not looked at; a Referer that is not a URL is an untrusted origin.
async fn redirect_targets_and_referer_as_better_auth(db: TestDb) {
    let server = TestServer::start(&db).await;
    let user = server.browser();
    user.sign_up("targets@example.com", "password123").await;
    let sign_in = |query: &'static str, body: Value| {
        let server = &server;
        async move {
            parts(
                server
                    .http
                    .post(server.url(&format!("/api/auth/sign-in/email{query}")))
                    .header("origin", ORIGIN)
                    .json(&body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let creds = |extra: Value| {
        let mut body = json!({"email": "targets@example.com", "password": "password123"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let (s, body) = sign_in(
        "?callbackURL=https://evil.example/x",
        creds(json!({"callbackURL": "/home"})),
    )
    .await;
    assert_eq!(
        (s, body["url"].as_str()),
        (200, Some("/home")),
        "the body's callbackURL wins"
    );
    let (s, _) = sign_in(
        "?errorCallbackURL=https://evil.example&newUserCallbackURL=https://evil.example&redirectTo=https://evil.example",
        creds(json!({})),
    )
    .await;
    assert_eq!(s, 200, "other query targets are not targets");
    let (s, body) = sign_in("?callbackURL=https://evil.example/x", creds(json!({}))).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (403, Some("INVALID_CALLBACK_URL")),
        "without one in the body, the query's counts"
    );
    let (s, body) = sign_in(
        "",
        creds(json!({"errorCallbackURL": "https://evil.example"})),
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (403, Some("INVALID_ERROR_CALLBACK_URL"))
    );

    // A cookie-bearing POST without Origin and with a Referer that is not a URL.
    for referer in ["not a url", "https://evil.example/page"] {
        assert_error_for(
            server
                .http
                .post(server.url("/api/auth/update-user"))
                .header("cookie", "better-auth.session_token=x")
                .header("referer", referer)
                .json(&json!({"name": "x"}))
                .send()
                .await
                .unwrap(),
            403,
            "INVALID_ORIGIN",
            &referer,
        )
        .await;
    }
}

/// The account token routes read Better Auth's selection (`accountId`, or `useAccountCookie`)
/// before the session, with zod's messages.
async fn account_token_routes_read_the_selection_first(db: TestDb) {
    let server = TestServer::start(&db).await;
    let anonymous = server.browser();
    let (s, body) = parts(anonymous.post("/get-access-token", json!({})).await).await;
    assert_eq!(
        (s, body),
        (
            400,
            json!({"message": "[body] Invalid input", "code": "VALIDATION_ERROR"})
        )
    );
    assert_error(
        anonymous
            .post("/get-access-token", json!({"accountId": "x"}))
            .await,
        401,
        "UNAUTHORIZED",
    )
    .await;
}

/// Alice and Bob, each with a password account. Returns Alice, Bob's user id, and the two
/// account ids.
async fn alice_and_bob_accounts(server: &TestServer) -> (User, String, String, String) {
    let alice = User::sign_up(server, "alice-acct@example.com").await;
    let bob = User::sign_up(server, "bob-acct@example.com").await;
    let account_of = |b: &Browser| {
        let b = b.clone();
        async move {
            b.json("/list-accounts").await[0]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let (alices, bobs) = (account_of(&alice).await, account_of(&bob).await);
    (alice, bob.id, alices, bobs)
}

/// On the token routes, another user's account is not found, and the password account has no
/// provider to ask.
async fn account_token_routes_take_the_callers_social_accounts(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (alice, bob_id, alices, bobs) = alice_and_bob_accounts(&server).await;
    for route in ["/get-access-token", "/refresh-token"] {
        let (s, body) = parts(
            alice
                .post(route, json!({"accountId": alices, "providerId": "google"}))
                .await,
        )
        .await;
        assert_eq!(
            (s, body),
            (
                400,
                json!({"message": "[body] Unrecognized key: \"providerId\"", "code": "VALIDATION_ERROR"})
            ),
            "{route}"
        );
        assert_error_for(
            alice
                .post(route, json!({"accountId": bobs, "userId": bob_id}))
                .await,
            400,
            "ACCOUNT_NOT_FOUND",
            &route,
        )
        .await;
        assert_error_for(
            alice.post(route, json!({"useAccountCookie": true})).await,
            400,
            "ACCOUNT_NOT_FOUND",
            &route,
        )
        .await;
        let (s, body) = parts(alice.post(route, json!({"accountId": alices})).await).await;
        assert_eq!(
            (s, body),
            (
                400,
                json!({"message": "Provider credential is not supported.", "code": "PROVIDER_NOT_SUPPORTED"})
            ),
            "{route}"
        );
    }
}

/// `account-info` needs an account id, of the caller's, for a configured social provider.
async fn account_info_selects_as_better_auth(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (alice, _, alices, bobs) = alice_and_bob_accounts(&server).await;
    let (s, body) = parts(alice.get("/account-info").await).await;
    assert_eq!(
        (s, body),
        (
            400,
            json!({"message": "[query] Invalid input", "code": "VALIDATION_ERROR"})
        )
    );
    assert_error(
        alice.get(&format!("/account-info?accountId={bobs}")).await,
        400,
        "ACCOUNT_NOT_FOUND",
    )
    .await;
    let (s, body) = parts(
        alice
            .get(&format!("/account-info?accountId={alices}"))
            .await,
    )
    .await;
    assert_eq!(
        (s, body),
        (
            400,
            json!({"message": "Account is not associated with a configured social provider.", "code": "PROVIDER_NOT_CONFIGURED"})
        )
    );
}

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

/// A POST without a body (and without a content type) is an `undefined` body to Better Auth:
/// 400 `VALIDATION_ERROR` where a body is needed, not 415.
async fn a_missing_body_is_undefined_not_the_wrong_type(db: TestDb) {
    let server = TestServer::start(&db).await;
    let user = server.browser();
    user.sign_up("no-body@example.com", "password123").await;
    for (path, expected) in [
        ("/verify-password", "object"),
        ("/update-user", "record"),
        ("/update-session", "record"),
        ("/organization/create", "object"),
    ] {
        let r = user
            .http
            .post(format!("{}/api/auth{path}", user.base))
            .send()
            .await
            .unwrap();
        let (s, body) = parts(r).await;
        assert_eq!(
            (s, body),
            (
                400,
                json!({"message": format!("[body] Invalid input: expected {expected}, received undefined"), "code": "VALIDATION_ERROR"})
            ),
            "{path}"
        );
    }
    assert!(signed_in(&user).await);
}

db_tests!(
    a_missing_body_is_undefined_not_the_wrong_type,
    session_cookie_resent_where_better_auth_resends_it,
    accepting_into_one_team_resends_the_session_cookie,
    accepting_without_a_team_sets_no_cookie,
    account_token_routes_read_the_selection_first,
    account_token_routes_take_the_callers_social_accounts,
    account_info_selects_as_better_auth,
    the_slug_wins_over_the_id,
    updating_a_member_of_another_organization,
    verify_password_checks_the_callers_password,
    verify_password_is_rate_limited_as_sign_in,
    update_session_sets_nothing_the_server_manages,
    sign_out_refuses_a_malformed_body_first,
    update_user_refuses_a_body_that_is_not_an_object,
    full_organization_lists_invitations_of_every_status,
    redirect_targets_and_referer_as_better_auth
);
