//! A Better Auth deployment's database, served: the admin plugin's ban, the organization plugin's
//! team counts and membership keys, coexistence with a running Better Auth server, and the
//! conversion of plain session tokens that logs nobody out.

use entity::{account, session, verification};
use migration::testing::{Backend, TestDb};
use migration::{db_tests, Migrator, MigratorTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::{json, Value};

use crate::harness::{parts, Browser, TestServer, SECRET};

/// Runs `sql` on the test database after migrating it, before a server starts on it (so the
/// server finds the columns, as it would on an adopted database).
pub(crate) async fn prepared(db: &TestDb, sql: &[&str]) {
    let conn = db.connect().await;
    Migrator::up(&conn, None).await.unwrap();
    for s in sql {
        conn.execute_unprepared(s)
            .await
            .unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    conn.close().await.unwrap();
}

/// Better Auth 1.7's team columns (SQLite cannot add a UNIQUE column, hence the index).
const TEAM_COLUMNS: [&str; 3] = [
    "ALTER TABLE team ADD COLUMN member_count integer NOT NULL DEFAULT 0",
    "ALTER TABLE team_member ADD COLUMN membership_key text",
    "CREATE UNIQUE INDEX team_member_membership_key_unique ON team_member (membership_key)",
];

async fn exec(db: &DatabaseConnection, sql: &str) {
    db.execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn one_text(db: &DatabaseConnection, sql: &str) -> Option<String> {
    db.query_one_raw(sea_orm::Statement::from_string(
        db.get_database_backend(),
        sql,
    ))
    .await
    .unwrap()
    .map(|r| r.try_get_by_index::<Option<String>>(0).unwrap())
    .unwrap_or_default()
}

/// The session cookie's value for `token`, signed as Better Auth signs it.
fn cookie(token: &str) -> String {
    format!(
        "better-auth.session_token={}",
        api::cookies::sign(SECRET, token)
    )
}

async fn session_user(server: &TestServer, token: &str) -> serde_json::Value {
    let r = server
        .http
        .get(server.url("/api/auth/get-session"))
        .header("cookie", cookie(token))
        .send()
        .await
        .unwrap();
    let (_, body) = parts(r).await;
    body["user"]["email"].clone()
}

/// A banned user cannot sign in (Better Auth's 403 and message) and their existing sessions
/// stop working; an expired ban is lifted at the next sign-in, as Better Auth lifts it.
async fn banned_users_are_refused(db: TestDb) {
    // The admin plugin's columns come with migration 5.
    let server = TestServer::start(&db).await;
    let b = server.browser();
    b.sign_up("ban@example.com", "password123").await;
    assert_eq!(
        b.json("/get-session").await["user"]["email"],
        "ban@example.com"
    );
    exec(
        &server.db,
        "UPDATE \"user\" SET banned = true, ban_reason = 'spam' WHERE email = 'ban@example.com'",
    )
    .await;
    server.settle().await;
    assert!(
        b.json("/get-session").await.is_null(),
        "a banned user's session stops working"
    );
    let sign_in = json!({"email": "ban@example.com", "password": "password123"});
    let (status, body) = parts(b.post("/sign-in/email", sign_in.clone()).await).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "BANNED_USER");
    assert_eq!(
        body["message"],
        "You have been banned from this application. Please contact support if you believe this is an error."
    );
    // A wrong password is still just a wrong password.
    let (status, _) = parts(
        b.post(
            "/sign-in/email",
            json!({"email": "ban@example.com", "password": "wrong-password"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 401);
    // A ban with a future expiry holds; one whose expiry has passed is lifted.
    exec(
        &server.db,
        "UPDATE \"user\" SET ban_expires = '2099-01-01 00:00:00'",
    )
    .await;
    assert_eq!(
        b.post("/sign-in/email", sign_in.clone()).await.status(),
        403
    );
    exec(
        &server.db,
        "UPDATE \"user\" SET ban_expires = '2020-01-01 00:00:00'",
    )
    .await;
    let r = b.post("/sign-in/email", sign_in).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        one_text(
            &server.db,
            "SELECT CAST(banned AS TEXT) || '/' || COALESCE(ban_reason, '-') || '/' || \
             COALESCE(CAST(ban_expires AS TEXT), '-') FROM \"user\""
        )
        .await
        .as_deref(),
        Some(match db.backend {
            Backend::Postgres => "false/-/-",
            Backend::Sqlite => "0/-/-",
        })
    );
    assert_eq!(
        b.json("/get-session").await["user"]["email"],
        "ban@example.com"
    );
}

/// Every team's `member_count` equals its rows, and every row has Better Auth's key.
async fn assert_team_columns(db: &DatabaseConnection) {
    assert_eq!(
        one_text(
            db,
            "SELECT CAST(COUNT(*) AS TEXT) FROM team \
             WHERE member_count <> (SELECT COUNT(*) FROM team_member WHERE team_id = team.id)"
        )
        .await
        .as_deref(),
        Some("0"),
        "member_count drifted"
    );
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT team_id, user_id, membership_key FROM team_member",
        ))
        .await
        .unwrap();
    for r in rows {
        let (team, user, key): (String, String, Option<String>) = (
            r.try_get_by_index(0).unwrap(),
            r.try_get_by_index(1).unwrap(),
            r.try_get_by_index(2).unwrap(),
        );
        assert_eq!(
            key.as_deref(),
            Some(service::better_auth_columns::membership_key(&team, &user).as_str())
        );
    }
}

async fn team_count(db: &DatabaseConnection, team: &str) -> String {
    one_text(
        db,
        &format!("SELECT CAST(member_count AS TEXT) FROM team WHERE id = '{team}'"),
    )
    .await
    .unwrap()
}

/// Better Auth 1.7's `team.member_count` and `team_member.membership_key` stay true through
/// every write that adds or removes team members, including deleting a user.
async fn team_columns_are_kept_true(db: TestDb) {
    prepared(&db, &TEAM_COLUMNS).await;
    let server = TestServer::start_with(&db, |cfg| {
        cfg.org.require_email_verification_on_invitation = false;
    })
    .await;
    let owner = server.browser();
    owner.sign_up("owner@example.com", "password123").await;
    let (s, org) = parts(
        owner
            .post(
                "/organization/create",
                json!({"name": "Acme", "slug": "acme"}),
            )
            .await,
    )
    .await;
    assert_eq!(s, 200, "{org}");
    let (_, team) = parts(
        owner
            .post("/organization/create-team", json!({"name": "Extra"}))
            .await,
    )
    .await;
    let extra = team["id"].as_str().unwrap().to_owned();
    assert_team_columns(&server.db).await;
    assert_eq!(team_count(&server.db, &extra).await, "0");

    // An invitation into the extra team, accepted.
    let member = server.browser();
    let member_id = member.sign_up("member@example.com", "password123").await["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, inv) = parts(
        owner
            .post(
                "/organization/invite-member",
                json!({"email": "member@example.com", "role": "member", "teamId": extra}),
            )
            .await,
    )
    .await;
    assert_eq!(s, 200, "{inv}");
    let (s, body) = parts(
        member
            .post(
                "/organization/accept-invitation",
                json!({"invitationId": inv["id"]}),
            )
            .await,
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(team_count(&server.db, &extra).await, "1");
    assert_team_columns(&server.db).await;

    // add-team-member and remove-team-member.
    let owner_id = owner.json("/get-session").await["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = owner
        .post(
            "/organization/add-team-member",
            json!({"teamId": extra, "userId": owner_id}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(team_count(&server.db, &extra).await, "2");
    assert_team_columns(&server.db).await;
    let r = owner
        .post(
            "/organization/remove-team-member",
            json!({"teamId": extra, "userId": owner_id}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(team_count(&server.db, &extra).await, "1");
    assert_team_columns(&server.db).await;

    // remove-member takes the member out of their teams.
    let r = owner
        .post(
            "/organization/remove-member",
            json!({"memberIdOrEmail": "member@example.com"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(team_count(&server.db, &extra).await, "0");
    assert_team_columns(&server.db).await;

    // Deleting a user (their rows cascade) keeps the counts too.
    let carol = server.browser();
    let carol_id = carol.sign_up("carol@example.com", "password123").await["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    exec(
        &server.db,
        &format!(
            "INSERT INTO member (id, organization_id, user_id, role, created_at) \
             VALUES ('m-carol', '{}', '{carol_id}', 'member', '2026-11-01 12:00:00')",
            org["id"].as_str().unwrap()
        ),
    )
    .await;
    let r = owner
        .post(
            "/organization/add-team-member",
            json!({"teamId": extra, "userId": carol_id}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(team_count(&server.db, &extra).await, "1");
    let _ = member_id;
    let r = carol
        .post("/delete-user", json!({"password": "password123"}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(team_count(&server.db, &extra).await, "0");
    assert_team_columns(&server.db).await;
}

// With coexistence on, what orgauth writes is what Better Auth reads: plain session tokens,
// scrypt password hashes (kept on sign-in), and reset links named Better Auth's way.

/// A server in coexistence mode writing Better Auth's formats (plain session tokens, scrypt
/// hashes), where `co@` signed up. Returns the server, their browser and the sign-up answer.
async fn coexisting(db: &TestDb) -> (TestServer, Browser, Value) {
    let hasher = service::password::Hasher::new(2, 16).writing_better_auth_hashes();
    let server = TestServer::start_hashing(
        db,
        |cfg| {
            cfg.coexistence = true;
            cfg.session_tokens = service::config::TokenStorage::Plain;
        },
        api::state::WebSettings {
            base_url: crate::harness::ORIGIN.to_owned(),
            ..Default::default()
        },
        hasher,
    )
    .await;
    let b = server.browser();
    let signed_up = b.sign_up("co@example.com", "password123").await;
    (server, b, signed_up)
}

/// Better Auth's scrypt format: hex salt and key.
fn scrypt_shape(h: &str) -> bool {
    h.len() == 161
        && h.split_once(':').is_some_and(|(s, k)| {
            s.len() == 32 && k.len() == 128 && h.chars().all(|c| c == ':' || c.is_ascii_hexdigit())
        })
}

/// The stored password hash (there is one account).
async fn stored_password(server: &TestServer) -> String {
    account::Entity::find()
        .one(&server.db)
        .await
        .unwrap()
        .unwrap()
        .password
        .unwrap()
}

async fn coexistence_stores_session_tokens_plain(db: TestDb) {
    let (server, _, signed_up) = coexisting(&db).await;
    let token = signed_up["token"].as_str().unwrap().to_owned();
    let stored = session::Entity::find()
        .one(&server.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.token, token, "the session token is stored plain");
}

/// New passwords are hashed in Better Auth's scrypt format; Better Auth's own hash verifies,
/// and stays as it is.
async fn coexistence_hashes_passwords_as_better_auth(db: TestDb) {
    let (server, b, _) = coexisting(&db).await;
    let hash = stored_password(&server).await;
    assert!(scrypt_shape(&hash), "{hash}");
    // Better Auth's own hash verifies, and stays as it is.
    exec(
        &server.db,
        &format!(
            "UPDATE account SET password = '{}'",
            crate::BETTER_AUTH_SCRYPT
        ),
    )
    .await;
    let r = b
        .post(
            "/sign-in/email",
            json!({"email": "co@example.com", "password": "password123"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(stored_password(&server).await, crate::BETTER_AUTH_SCRYPT);
}

/// A reset link is a row Better Auth would find: `reset-password:<token>` -> user id; a link of
/// that shape is accepted, and the new password is stored in Better Auth's format.
async fn coexistence_writes_reset_links_as_better_auth(db: TestDb) {
    let (server, b, signed_up) = coexisting(&db).await;
    let r = b
        .post(
            "/request-password-reset",
            json!({"email": "co@example.com", "redirectTo": "/reset"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    // The link is issued in the background; it is stored before it is mailed.
    server.mail.wait("co@example.com", 1).await;
    let row = verification::Entity::find()
        .filter(verification::Column::Identifier.starts_with("reset-password:"))
        .one(&server.db)
        .await
        .unwrap()
        .unwrap();
    let secret = row.identifier.trim_start_matches("reset-password:");
    assert_eq!(secret.len(), 32);
    assert!(secret.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(row.value, signed_up["user"]["id"].as_str().unwrap());
    let r = b
        .post(
            "/reset-password",
            json!({"token": secret, "newPassword": "another-password"}),
        )
        .await;
    assert_eq!(
        r.status(),
        200,
        "orgauth accepts the Better Auth-shaped link"
    );
    assert!(scrypt_shape(&stored_password(&server).await));
}

/// Plain session tokens (Better Auth's) open sessions on a hashed-mode server; the conversion
/// turns them into digests without ending them, is idempotent, and a digest read from the
/// database does not open the session it names.
async fn plain_tokens_survive_the_conversion(db: TestDb) {
    let plain = TestServer::start_with(&db, |cfg| {
        cfg.session_tokens = service::config::TokenStorage::Plain;
    })
    .await;
    let token = plain
        .browser()
        .sign_up("p@example.com", "password123")
        .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let hashed = TestServer::start(&db).await;
    assert_eq!(session_user(&hashed, &token).await, "p@example.com");
    assert_eq!(
        service::session::convert_plain_tokens(&hashed.db)
            .await
            .unwrap(),
        1
    );
    let digest = session::Entity::find()
        .one(&hashed.db)
        .await
        .unwrap()
        .unwrap()
        .token;
    assert_eq!(digest, service::token::digest(&token));
    assert_eq!(session_user(&hashed, &token).await, "p@example.com");
    assert_eq!(
        session_user(&plain, &token).await,
        "p@example.com",
        "a plain-mode server still finds the converted session"
    );
    assert!(
        session_user(&hashed, &digest).await.is_null(),
        "a stored digest is not a token"
    );
    assert_eq!(
        service::session::convert_plain_tokens(&hashed.db)
            .await
            .unwrap(),
        0
    );
}

db_tests!(
    banned_users_are_refused,
    team_columns_are_kept_true,
    coexistence_stores_session_tokens_plain,
    coexistence_hashes_passwords_as_better_auth,
    coexistence_writes_reset_links_as_better_auth,
    plain_tokens_survive_the_conversion
);
