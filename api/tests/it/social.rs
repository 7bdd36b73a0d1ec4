//! Social sign-in end to end: the real server, a standards-compliant OpenID provider
//! (oauth2-mock-server, started from `api/tests/oidc`) and a local server with GitHub's endpoint
//! shapes, driven through the whole redirect dance by a browser with a cookie jar that follows
//! every `Location` by hand.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Utc;
use entity::{account, user};
use migration::db_tests;
use migration::testing::TestDb;
use poem::web::{Data, Form, Json, Query, Redirect};
use poem::{handler, EndpointExt, IntoResponse, Request, Response, Route};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde::Deserialize;
use serde_json::{json, Value};
use service::clock::Clock;
use service::social::ProviderConfig;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use crate::fixtures::reset_token_of;
use crate::harness::{assert_error, parts, TestServer, ORIGIN};

// ---------------------------------------------------------------------------------------------
// The OpenID provider: oauth2-mock-server in a child process.

/// `npm ci` once per test run, if the provider's packages are missing.
fn oidc_dir() -> PathBuf {
    static INSTALL: Mutex<bool> = Mutex::new(false);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
    let mut done = INSTALL.lock().unwrap();
    if !*done && !dir.join("node_modules/oauth2-mock-server").exists() {
        let status = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .expect("npm runs");
        assert!(status.success(), "npm ci in {}", dir.display());
    }
    *done = true;
    dir
}

struct OidcProvider {
    issuer: String,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    _child: Child,
}

impl OidcProvider {
    async fn start() -> Self {
        let dir = oidc_dir();
        let mut child = tokio::process::Command::new("node")
            .args(["server.mjs", "0"])
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(60), stdout.next_line())
            .await
            .expect("the provider starts")
            .unwrap()
            .expect("a first line");
        let issuer = first
            .strip_prefix("listening ")
            .expect("listening <issuer>")
            .to_owned();
        Self {
            issuer,
            stdin,
            stdout,
            _child: child,
        }
    }

    fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }

    /// Tells the provider what to say from now on (see server.mjs).
    async fn control(&mut self, command: Value) {
        self.stdin
            .write_all(format!("{command}\n").as_bytes())
            .await
            .unwrap();
        self.stdin.flush().await.unwrap();
        assert_eq!(
            self.stdout.next_line().await.unwrap().as_deref(),
            Some("ok")
        );
    }

    async fn claims(&mut self, sub: &str, email: &str, verified: bool) {
        self.control(json!({"claims": {"sub": sub, "email": email, "email_verified": verified, "name": "Oidc User"}}))
            .await;
    }
}

// ---------------------------------------------------------------------------------------------
// GitHub: its authorize redirect, token endpoint and REST API, in process.

#[derive(Default)]
struct GithubState {
    email: String,
    verified: bool,
    /// Authorization codes and their PKCE challenges.
    codes: HashMap<String, String>,
    access_tokens: Vec<String>,
    refresh_tokens: Vec<String>,
    refreshes: u32,
    error: Option<String>,
}

type Gh = Arc<Mutex<GithubState>>;

#[derive(Deserialize)]
struct AuthorizeQuery {
    redirect_uri: String,
    state: String,
    code_challenge: String,
    code_challenge_method: String,
}

#[handler]
fn gh_authorize(Query(q): Query<AuthorizeQuery>, gh: Data<&Gh>) -> Redirect {
    let mut gh = gh.lock().unwrap();
    let mut url = url::Url::parse(&q.redirect_uri).unwrap();
    if let Some(error) = &gh.error {
        url.query_pairs_mut().append_pair("error", error);
    } else {
        assert_eq!(q.code_challenge_method, "S256");
        let code = service::token::generate(20);
        gh.codes.insert(code.clone(), q.code_challenge);
        url.query_pairs_mut().append_pair("code", &code);
    }
    url.query_pairs_mut().append_pair("state", &q.state);
    Redirect::see_other(url.as_str())
}

fn issue_tokens(gh: &mut GithubState) -> Value {
    let access = format!("gho_{}", service::token::generate(30));
    let refresh = format!("ghr_{}", service::token::generate(30));
    gh.access_tokens.push(access.clone());
    gh.refresh_tokens.push(refresh.clone());
    json!({"access_token": access, "token_type": "bearer", "scope": "read:user,user:email",
           "refresh_token": refresh, "expires_in": 28800})
}

#[handler]
fn gh_token(Form(form): Form<HashMap<String, String>>, gh: Data<&Gh>) -> Json<Value> {
    let mut gh = gh.lock().unwrap();
    // GitHub answers errors with 200 and an `error` field.
    let refused = Json(json!({"error": "bad_verification_code"}));
    if form.get("client_id").map(String::as_str) != Some("gh-client")
        || form.get("client_secret").map(String::as_str) != Some("gh-secret")
    {
        return Json(json!({"error": "incorrect_client_credentials"}));
    }
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let Some(challenge) = form.get("code").and_then(|c| gh.codes.remove(c)) else {
                return refused;
            };
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != challenge {
                return refused;
            }
            Json(issue_tokens(&mut gh))
        }
        Some("refresh_token") => {
            let Some(rt) = form.get("refresh_token") else {
                return refused;
            };
            if !gh.refresh_tokens.contains(rt) {
                return refused;
            }
            gh.refreshes += 1;
            Json(issue_tokens(&mut gh))
        }
        _ => refused,
    }
}

fn authorized(req: &Request, gh: &GithubState) -> bool {
    req.header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .is_some_and(|t| gh.access_tokens.iter().any(|a| a == t))
        && req.header("user-agent").is_some()
}

#[handler]
fn gh_user(req: &Request, gh: Data<&Gh>) -> Response {
    let gh = gh.lock().unwrap();
    if !authorized(req, &gh) {
        return poem::http::StatusCode::UNAUTHORIZED.into_response();
    }
    Json(
        json!({"id": 4242, "login": "octocat", "name": "Octo Cat", "email": null,
                "avatar_url": "https://avatars.example/4242"}),
    )
    .into_response()
}

#[handler]
fn gh_emails(req: &Request, gh: Data<&Gh>) -> Response {
    let gh = gh.lock().unwrap();
    if !authorized(req, &gh) {
        return poem::http::StatusCode::UNAUTHORIZED.into_response();
    }
    Json(json!([
        {"email": "octo-other@example.com", "primary": false, "verified": true},
        {"email": gh.email, "primary": true, "verified": gh.verified},
    ]))
    .into_response()
}

struct Github {
    base: String,
    state: Gh,
}

impl Github {
    async fn start() -> Self {
        let state: Gh = Arc::default();
        let app = Route::new()
            .at("/login/oauth/authorize", poem::get(gh_authorize))
            .at("/login/oauth/access_token", poem::post(gh_token))
            .at("/user", poem::get(gh_user))
            .at("/user/emails", poem::get(gh_emails))
            .data(state.clone());
        let acceptor = api::server::bind("127.0.0.1", 0).await.unwrap();
        let addr = api::server::local_addr(&acceptor).unwrap();
        tokio::spawn(api::server::run(
            acceptor,
            app,
            std::future::pending(),
            Duration::from_secs(1),
        ));
        Self {
            base: format!("http://{addr}"),
            state,
        }
    }

    fn config(&self) -> ProviderConfig {
        let mut cfg = ProviderConfig::github("gh-client", "gh-secret");
        cfg.kind = service::social::ProviderKind::Github {
            authorize_url: format!("{}/login/oauth/authorize", self.base),
            token_url: format!("{}/login/oauth/access_token", self.base),
            api_url: self.base.clone(),
        };
        cfg
    }

    fn profile(&self, email: &str, verified: bool) {
        let mut gh = self.state.lock().unwrap();
        gh.email = email.to_owned();
        gh.verified = verified;
    }
}

// ---------------------------------------------------------------------------------------------
// The browser and the dance.

/// A browser: its own cookie jar, the trusted Origin on every request, redirects not followed.
struct Browser {
    base: String,
    http: reqwest::Client,
}

impl Browser {
    fn new(server: &TestServer) -> Self {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("origin", ORIGIN.parse().unwrap());
        Self {
            base: server.base.clone(),
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .default_headers(headers)
                .build()
                .unwrap(),
        }
    }

    async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.http
            .post(format!("{}/api/auth{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}/api/auth{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    /// A URL the server handed out (built on BETTER_AUTH_URL), sent to the test server instead.
    async fn visit(&self, url: &str) -> reqwest::Response {
        let url = url.replacen(ORIGIN, &self.base, 1);
        self.http.get(url).send().await.unwrap()
    }

    async fn session_user(&self) -> Value {
        let (status, body) = parts(self.get("/get-session").await).await;
        assert_eq!(status, 200);
        body["user"].clone()
    }

    async fn sign_up(&self, email: &str) -> Value {
        let r = self
            .post(
                "/sign-up/email",
                json!({"name": "Pw User", "email": email, "password": "password123"}),
            )
            .await;
        assert_eq!(r.status(), 200, "sign-up of {email}");
        r.json::<Value>().await.unwrap()["user"].clone()
    }

    /// Starts at `start_path` with `body`, follows the provider's redirect back to our callback,
    /// and returns the callback's URL and where the callback finally sends the browser.
    async fn dance(&self, start_path: &str, body: Value) -> (String, String) {
        let (callback, landed) = self.dance_to_callback(start_path, body).await;
        (callback, location(&landed))
    }

    /// As [`Browser::dance`], returning the callback's URL and its response.
    async fn dance_to_callback(
        &self,
        start_path: &str,
        body: Value,
    ) -> (String, reqwest::Response) {
        let (status, started) = parts(self.post(start_path, body).await).await;
        assert_eq!(status, 200, "{started}");
        assert_eq!(started["redirect"], true);
        let at_provider = self
            .http
            .get(started["url"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert!(
            at_provider.status().is_redirection(),
            "{}",
            at_provider.status()
        );
        let callback = location(&at_provider);
        assert!(
            callback.starts_with(&format!("{ORIGIN}/api/auth/callback/")),
            "{callback}"
        );
        let landed = self.visit(&callback).await;
        assert_eq!(landed.status(), 302);
        (callback, landed)
    }
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .unwrap()
        .to_owned()
}

/// The test server with `providers`, its clock at the real time (ID tokens carry real times).
async fn server(db: &TestDb, providers: Vec<ProviderConfig>) -> TestServer {
    let server = TestServer::start_with(db, |cfg| cfg.social = providers).await;
    server.clock.advance(Utc::now() - server.clock.now());
    server
}

async fn users(server: &TestServer) -> u64 {
    user::Entity::find().count(&server.db).await.unwrap()
}

async fn accounts_of(server: &TestServer, user_id: &str) -> Vec<account::Model> {
    account::Entity::find()
        .filter(account::Column::UserId.eq(user_id))
        .all(&server.db)
        .await
        .unwrap()
}

fn google(provider: &OidcProvider) -> ProviderConfig {
    let mut cfg = ProviderConfig::google("google-client", "google-secret");
    cfg.kind = service::social::ProviderKind::Oidc {
        discovery_url: provider.discovery_url(),
    };
    cfg
}

fn sign_in_body(provider: &str) -> Value {
    json!({"provider": provider, "callbackURL": "/dashboard", "newUserCallbackURL": "/welcome",
           "errorCallbackURL": "/auth-error"})
}

// ---------------------------------------------------------------------------------------------
// OpenID Connect (Google's configuration pointed at the loopback provider).

async fn oidc_new_user_then_returning_user(db: TestDb) {
    let mut op = OidcProvider::start().await;
    let server = server(&db, vec![google(&op)]).await;
    op.claims("sub-new-1", "New@Example.com", true).await;

    let browser = Browser::new(&server);
    let (_, landed) = browser
        .dance("/sign-in/social", sign_in_body("google"))
        .await;
    assert_eq!(landed, "/welcome", "a new user lands on newUserCallbackURL");
    let me = browser.session_user().await;
    assert_eq!(me["email"], "new@example.com");
    assert_eq!(me["emailVerified"], true);
    assert_eq!(me["name"], "Oidc User");
    let accounts = accounts_of(&server, me["id"].as_str().unwrap()).await;
    assert_eq!(accounts.len(), 1);
    assert_eq!(
        (
            accounts[0].provider_id.as_str(),
            accounts[0].account_id.as_str()
        ),
        ("google", "sub-new-1")
    );
    for sealed in [
        &accounts[0].access_token,
        &accounts[0].refresh_token,
        &accounts[0].id_token,
    ] {
        assert!(
            sealed.as_deref().unwrap().starts_with("enc.v1."),
            "{sealed:?}"
        );
    }
    // The tokens handed back are not what is stored.
    let (status, token) = parts(
        browser
            .post("/get-access-token", json!({"providerId": "google"}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{token}");
    let access = token["accessToken"].as_str().unwrap();
    assert!(
        access.len() > 20
            && !accounts[0]
                .access_token
                .as_deref()
                .unwrap()
                .contains(access)
    );
    let (_, listed) = parts(browser.get("/list-accounts").await).await;
    assert_eq!(listed[0]["providerId"], "google");
    assert!(listed[0].get("accessToken").is_none());

    // Signing in again, in another browser: the same user, no new rows, the plain callback URL.
    let again = Browser::new(&server);
    let (_, landed) = again.dance("/sign-in/social", sign_in_body("google")).await;
    assert_eq!(landed, "/dashboard");
    assert_eq!(again.session_user().await["id"], me["id"]);
    assert_eq!(users(&server).await, 1);
    assert_eq!(
        accounts_of(&server, me["id"].as_str().unwrap()).await.len(),
        1
    );
}

async fn oidc_links_a_verified_email_only(db: TestDb) {
    let mut op = OidcProvider::start().await;
    let server = server(&db, vec![google(&op)]).await;
    let owner = Browser::new(&server);
    let alice = owner.sign_up("alice@example.com").await;
    let alice_id = alice["id"].as_str().unwrap();

    // The provider does not vouch for the address: refused, nothing linked, no session.
    op.claims("sub-alice", "alice@example.com", false).await;
    let stranger = Browser::new(&server);
    let (_, landed) = stranger
        .dance("/sign-in/social", sign_in_body("google"))
        .await;
    assert_eq!(landed, "/auth-error?error=account_not_linked");
    assert_eq!(stranger.session_user().await, Value::Null);
    assert_eq!(accounts_of(&server, alice_id).await.len(), 1);
    assert_eq!(users(&server).await, 1);

    // It does: linked to Alice, signed in as Alice, her address now verified. It was never
    // verified before, so the password and session set up before this proof are gone (see
    // github_proof_revokes_a_pre_registration).
    op.claims("sub-alice", "alice@example.com", true).await;
    let (_, landed) = stranger
        .dance("/sign-in/social", sign_in_body("google"))
        .await;
    assert_eq!(landed, "/dashboard");
    let me = stranger.session_user().await;
    assert_eq!(me["id"], alice_id);
    assert_eq!(me["emailVerified"], true);
    let providers: Vec<String> = accounts_of(&server, alice_id)
        .await
        .into_iter()
        .map(|a| a.provider_id)
        .collect();
    assert_eq!(providers, vec!["google".to_owned()]);
    assert_eq!(owner.session_user().await, Value::Null);
}

async fn oidc_linking_by_email_can_be_switched_off(db: TestDb) {
    let mut op = OidcProvider::start().await;
    let mut acme = ProviderConfig::oidc("acme", &op.discovery_url(), "acme-client", "acme-secret");
    acme.trust_email = false;
    let server = server(&db, vec![acme]).await;
    let alice = Browser::new(&server).sign_up("alice@example.com").await;
    op.claims("sub-alice", "alice@example.com", true).await;
    let browser = Browser::new(&server);
    let (_, landed) = browser.dance("/sign-in/social", sign_in_body("acme")).await;
    assert_eq!(landed, "/auth-error?error=account_not_linked");
    assert_eq!(
        accounts_of(&server, alice["id"].as_str().unwrap())
            .await
            .len(),
        1
    );

    // A new address still signs up, but unverified: the provider is not trusted to say so.
    op.claims("sub-carol", "carol@example.com", true).await;
    let (_, landed) = browser.dance("/sign-in/social", sign_in_body("acme")).await;
    assert_eq!(landed, "/welcome");
    assert_eq!(browser.session_user().await["emailVerified"], false);
}

async fn state_is_single_use_and_bound_to_the_browser(db: TestDb) {
    let mut op = OidcProvider::start().await;
    let server = server(&db, vec![google(&op)]).await;
    op.claims("sub-1", "one@example.com", true).await;
    let browser = Browser::new(&server);
    let (callback, landed) = browser
        .dance("/sign-in/social", sign_in_body("google"))
        .await;
    assert_eq!(landed, "/welcome");

    // Replayed: the state is used up.
    let attacker = Browser::new(&server);
    let replay = attacker.visit(&callback).await;
    assert_eq!(
        location(&replay),
        format!("{ORIGIN}/api/auth/error?error=please_restart_the_process")
    );
    assert_eq!(attacker.session_user().await, Value::Null);

    // A fresh authorization completed in another browser (no state cookie there): refused.
    let (status, started) = parts(
        browser
            .post("/sign-in/social", sign_in_body("google"))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    let at_provider = browser
        .http
        .get(started["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let stolen = attacker.visit(&location(&at_provider)).await;
    assert_eq!(
        location(&stolen),
        format!("{ORIGIN}/api/auth/error?error=state_mismatch")
    );
    assert_eq!(attacker.session_user().await, Value::Null);
    // And its owner cannot use it afterwards either.
    let late = browser.visit(&location(&at_provider)).await;
    assert_eq!(
        location(&late),
        format!("{ORIGIN}/api/auth/error?error=please_restart_the_process")
    );
    assert_eq!(users(&server).await, 1);
}

async fn a_wrong_nonce_is_rejected(db: TestDb) {
    let mut op = OidcProvider::start().await;
    let server = server(&db, vec![google(&op)]).await;
    op.claims("sub-1", "one@example.com", true).await;
    op.control(json!({"tamperNonce": true})).await;
    let browser = Browser::new(&server);
    let (_, landed) = browser
        .dance("/sign-in/social", sign_in_body("google"))
        .await;
    assert_eq!(landed, "/auth-error?error=invalid_id_token");
    assert_eq!(browser.session_user().await, Value::Null);
    assert_eq!(users(&server).await, 0);
}

async fn provider_errors_reach_the_error_callback(db: TestDb) {
    let mut op = OidcProvider::start().await;
    let server = server(&db, vec![google(&op)]).await;
    op.control(json!({"error": "access_denied"})).await;
    let browser = Browser::new(&server);
    let (_, landed) = browser
        .dance("/sign-in/social", sign_in_body("google"))
        .await;
    assert_eq!(landed, "/auth-error?error=access_denied");

    // Without errorCallbackURL: orgauth's own error page.
    let (_, landed) = browser
        .dance("/sign-in/social", json!({"provider": "google"}))
        .await;
    assert_eq!(
        landed,
        format!("{ORIGIN}/api/auth/error?error=access_denied")
    );
    let page = browser.visit(&landed).await;
    assert_eq!(page.status(), 200);
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("<code>access_denied</code>"));
    assert_eq!(users(&server).await, 0);
}

async fn oidc_tokens_refresh_and_account_info(db: TestDb) {
    let mut op = OidcProvider::start().await;
    let server = server(&db, vec![google(&op)]).await;
    op.claims("sub-tok", "tok@example.com", true).await;
    let browser = Browser::new(&server);
    browser
        .dance("/sign-in/social", sign_in_body("google"))
        .await;
    let select = json!({"providerId": "google"});

    let (_, first) = parts(browser.post("/get-access-token", select.clone()).await).await;
    let (_, again) = parts(browser.post("/get-access-token", select.clone()).await).await;
    assert_eq!(
        first["accessToken"], again["accessToken"],
        "not expired: not refreshed"
    );
    assert!(first["accessTokenExpiresAt"].is_string());

    // Expired: get-access-token refreshes it.
    server.clock.advance(chrono::Duration::hours(2));
    let (status, refreshed) = parts(browser.post("/get-access-token", select.clone()).await).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_ne!(refreshed["accessToken"], first["accessToken"]);

    // refresh-token refreshes whatever the expiry.
    let (status, forced) = parts(browser.post("/refresh-token", select.clone()).await).await;
    assert_eq!(status, 200, "{forced}");
    assert_ne!(forced["accessToken"], refreshed["accessToken"]);
    assert!(forced["refreshToken"].is_string());
    assert_eq!(forced["providerId"], "google");
    assert_eq!(forced["accountId"], "sub-tok");

    let (status, info) = parts(browser.get("/account-info?providerId=google").await).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["user"]["id"], "sub-tok");
    assert_eq!(info["user"]["email"], "tok@example.com");
    assert_eq!(info["account"]["providerId"], "google");

    op.control(json!({"failRefresh": true})).await;
    assert_error(
        browser.post("/refresh-token", select.clone()).await,
        400,
        "FAILED_TO_REFRESH_ACCESS_TOKEN",
    )
    .await;
    let (status, _) = parts(
        browser
            .post("/get-access-token", json!({"providerId": "github"}))
            .await,
    )
    .await;
    assert_eq!(status, 400, "no such account");
    let (status, _) = parts(
        Browser::new(&server)
            .post("/get-access-token", select)
            .await,
    )
    .await;
    assert_eq!(status, 401);
}

// ---------------------------------------------------------------------------------------------
// GitHub.

async fn github_sign_in_tokens_and_last_account(db: TestDb) {
    let gh = Github::start().await;
    let server = server(&db, vec![gh.config()]).await;
    gh.profile("octo@example.com", true);
    let browser = Browser::new(&server);
    let (_, landed) = browser
        .dance("/sign-in/social", sign_in_body("github"))
        .await;
    assert_eq!(landed, "/welcome");
    let me = browser.session_user().await;
    assert_eq!(
        (&me["email"], &me["name"]),
        (&json!("octo@example.com"), &json!("Octo Cat"))
    );
    assert_eq!(me["emailVerified"], true);
    let (_, listed) = parts(browser.get("/list-accounts").await).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["accountId"], "4242");
    assert_eq!(listed[0]["scopes"], json!(["read:user", "user:email"]));

    // The only way to sign in cannot be unlinked.
    assert_error(
        browser
            .post("/unlink-account", json!({"accountId": listed[0]["id"]}))
            .await,
        400,
        "FAILED_TO_UNLINK_LAST_ACCOUNT",
    )
    .await;

    let select = json!({"accountId": "4242"});
    let (_, first) = parts(browser.post("/get-access-token", select.clone()).await).await;
    assert!(first["accessToken"].as_str().unwrap().starts_with("gho_"));
    server.clock.advance(chrono::Duration::hours(9));
    let (status, refreshed) = parts(browser.post("/get-access-token", select.clone()).await).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_ne!(refreshed["accessToken"], first["accessToken"]);
    assert_eq!(gh.state.lock().unwrap().refreshes, 1);

    let (status, info) = parts(browser.get("/account-info?accountId=4242").await).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["user"]["id"], "4242");
    assert_eq!(info["user"]["email"], "octo@example.com");
    assert_eq!(info["data"]["login"], "octocat");
}

/// The callback that signs the user in (its cookie carries the session token) and the routes that
/// answer with a provider's tokens are never stored by a cache.
async fn token_responses_are_not_stored(db: TestDb) {
    use crate::no_store::{caching, no_store};
    let gh = Github::start().await;
    let server = server(&db, vec![gh.config()]).await;
    gh.profile("cache@example.com", true);
    let browser = Browser::new(&server);
    let (_, landed) = browser
        .dance_to_callback("/sign-in/social", sign_in_body("github"))
        .await;
    assert!(landed
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap().contains("session_token=")));
    assert_eq!(caching(&landed), no_store(), "the callback");
    let select = json!({"accountId": "4242"});
    let r = browser.post("/get-access-token", select.clone()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(caching(&r), no_store(), "get-access-token");
    let r = browser.post("/refresh-token", select).await;
    assert_eq!(r.status(), 200);
    assert_eq!(caching(&r), no_store(), "refresh-token");
    // A callback that signs nobody in (a replayed state) is not stored either.
    let r = Browser::new(&server)
        .get("/callback/github?code=x&state=unknown")
        .await;
    assert_eq!(r.status(), 302);
    assert_eq!(caching(&r), no_store(), "a failed callback");
}

async fn github_unverified_email_is_not_linked(db: TestDb) {
    let gh = Github::start().await;
    let server = server(&db, vec![gh.config()]).await;
    let victim = Browser::new(&server).sign_up("victim@example.com").await;
    gh.profile("victim@example.com", false);
    let attacker = Browser::new(&server);
    let (_, landed) = attacker
        .dance("/sign-in/social", sign_in_body("github"))
        .await;
    assert_eq!(landed, "/auth-error?error=account_not_linked");
    assert_eq!(attacker.session_user().await, Value::Null);
    assert_eq!(
        accounts_of(&server, victim["id"].as_str().unwrap())
            .await
            .len(),
        1
    );
}

/// A banned user (the admin plugin's columns) signing in with a provider lands on the error
/// callback with Better Auth's `BANNED_USER`, without a session and without a new account row.
async fn github_sign_in_of_a_banned_user(db: TestDb) {
    crate::adoption::prepared(&db, &crate::adoption::ADMIN_COLUMNS).await;
    let gh = Github::start().await;
    let server = server(&db, vec![gh.config()]).await;
    let user = Browser::new(&server).sign_up("banned@example.com").await;
    sea_orm::ConnectionTrait::execute_unprepared(
        &server.db,
        "UPDATE \"user\" SET banned = true, ban_reason = 'spam'",
    )
    .await
    .unwrap();
    gh.profile("banned@example.com", true);
    let b = Browser::new(&server);
    let (_, landed) = b.dance("/sign-in/social", sign_in_body("github")).await;
    assert_eq!(landed, "/auth-error?error=BANNED_USER");
    assert_eq!(b.session_user().await, Value::Null);
    assert_eq!(
        accounts_of(&server, user["id"].as_str().unwrap())
            .await
            .len(),
        1,
        "the refused sign-in linked nothing"
    );
}

async fn link_social_then_unlink(db: TestDb) {
    let gh = Github::start().await;
    let server = server(&db, vec![gh.config()]).await;
    let bob = Browser::new(&server);
    let bob_user = bob.sign_up("bob@example.com").await;
    let bob_id = bob_user["id"].as_str().unwrap();

    // GitHub says another address: not linked.
    gh.profile("someone-else@example.com", true);
    let body = json!({"provider": "github", "callbackURL": "/settings", "errorCallbackURL": "/settings/error"});
    let (_, landed) = bob.dance("/link-social", body.clone()).await;
    assert_eq!(landed, "/settings/error?error=email_doesn't_match");
    assert_eq!(accounts_of(&server, bob_id).await.len(), 1);

    gh.profile("bob@example.com", false);
    let (_, landed) = bob.dance("/link-social", body.clone()).await;
    assert_eq!(landed, "/settings");
    assert_eq!(
        bob.session_user().await["id"],
        bob_id,
        "still signed in as Bob"
    );
    let (_, listed) = parts(bob.get("/list-accounts").await).await;
    let listed = listed.as_array().unwrap().clone();
    assert_eq!(listed.len(), 2);

    // Someone else cannot link the same GitHub account.
    let carol = Browser::new(&server);
    carol.sign_up("bob-too@example.com").await;
    let (_, landed) = carol.dance("/link-social", body.clone()).await;
    assert_eq!(
        landed,
        "/settings/error?error=account_already_linked_to_different_user"
    );

    // Two ways to sign in: either may go, the last may not.
    let id_of =
        |provider: &str| listed.iter().find(|a| a["providerId"] == provider).unwrap()["id"].clone();
    let (status, _) = parts(
        bob.post("/unlink-account", json!({"accountId": id_of("github")}))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_error(
        bob.post("/unlink-account", json!({"accountId": id_of("credential")}))
            .await,
        400,
        "FAILED_TO_UNLINK_LAST_ACCOUNT",
    )
    .await;

    // link-social needs a session.
    let (status, _) = parts(
        Browser::new(&server)
            .post("/link-social", json!({"provider": "github"}))
            .await,
    )
    .await;
    assert_eq!(status, 401);
}

/// The first mail to `to` whose text contains `needle`, waiting up to 10 s (other notices may
/// reach the same address in any order).
async fn mail_with(server: &TestServer, to: &str, needle: &str) -> crate::smtp::Delivered {
    for _ in 0..200 {
        if let Some(m) = server
            .mail
            .to(to)
            .into_iter()
            .find(|m| m.text.contains(needle))
        {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no mail to {to} with {needle:?}: {:?}", server.mail.to(to));
}

/// A password sign-in's status, from a fresh client.
async fn password_sign_in(server: &TestServer, email: &str, password: &str) -> u16 {
    Browser::new(server)
        .post(
            "/sign-in/email",
            json!({"email": email, "password": password}),
        )
        .await
        .status()
        .as_u16()
}

/// The user a raw session token opens, or null.
async fn user_of_token(server: &TestServer, token: &str) -> Value {
    let r = server
        .http
        .get(server.url("/api/auth/get-session"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    parts(r).await.1["user"].clone()
}

/// Signs up `email` with `password` in `browser`; the user and the session token.
async fn sign_up_with(browser: &Browser, email: &str, password: &str) -> (Value, String) {
    let (status, body) = parts(
        browser
            .post(
                "/sign-up/email",
                json!({"name": "Someone", "email": email, "password": password}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    (
        body["user"].clone(),
        body["token"].as_str().unwrap().to_owned(),
    )
}

/// Someone signs up with the victim's address and a password of theirs (verification is not
/// required), and starts moving the account to their own address. The victim later signs in
/// with GitHub, which vouches for the address: they keep the account, and everything the
/// pre-registrant set up before the address was proven stops working.
async fn github_proof_revokes_a_pre_registration(db: TestDb) {
    let gh = Github::start().await;
    let server = server(&db, vec![gh.config()]).await;
    let attacker = Browser::new(&server);
    let (user, attacker_token) =
        sign_up_with(&attacker, "victim@example.com", "attacker-pass-1").await;
    let user_id = user["id"].as_str().unwrap().to_owned();
    assert_eq!(user["emailVerified"], false);
    let (status, _) = parts(
        attacker
            .post(
                "/change-email",
                json!({"newEmail": "attacker@example.com", "callbackURL": "/moved"}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 200);
    let change = server.mail.wait("attacker@example.com", 1).await;
    let change_link =
        crate::smtp::MailSink::link(&change, &format!("{ORIGIN}/api/auth/verify-email"));
    let (status, _) = parts(
        Browser::new(&server)
            .post(
                "/request-password-reset",
                json!({"email": "victim@example.com"}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 200);
    let reset_prefix = format!("{ORIGIN}/api/auth/reset-password/");
    let reset = mail_with(&server, "victim@example.com", &reset_prefix).await;
    let reset_token = reset_token_of(&crate::fixtures::reset_link(&reset));

    gh.profile("victim@example.com", true);
    let victim = Browser::new(&server);
    let (_, landed) = victim
        .dance("/sign-in/social", sign_in_body("github"))
        .await;
    assert_eq!(landed, "/dashboard", "an existing user, not a new one");
    let me = victim.session_user().await;
    assert_eq!(me["id"], user_id.as_str(), "the victim keeps the account");
    assert_eq!(me["emailVerified"], true);

    // The pre-registrant's password, session and pending links no longer work.
    assert_eq!(
        password_sign_in(&server, "victim@example.com", "attacker-pass-1").await,
        401
    );
    assert_eq!(attacker.session_user().await, Value::Null);
    assert_eq!(user_of_token(&server, &attacker_token).await, Value::Null);
    let followed = attacker.visit(&change_link).await;
    assert_eq!(
        location(&followed),
        "/moved?error=INVALID_TOKEN",
        "the address change the pre-registrant asked for is void"
    );
    assert_error(
        attacker
            .post(
                "/reset-password",
                json!({"newPassword": "attacker-pass-2", "token": reset_token}),
            )
            .await,
        400,
        "INVALID_TOKEN",
    )
    .await;
    let providers: Vec<String> = accounts_of(&server, &user_id)
        .await
        .into_iter()
        .map(|a| a.provider_id)
        .collect();
    assert_eq!(providers, vec!["github".to_owned()]);
    let stored = user::Entity::find_by_id(&user_id)
        .one(&server.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.email, "victim@example.com");

    // The victim still gets in, and was told a sign-in method was linked.
    assert_eq!(victim.session_user().await["id"], user_id.as_str());
    let notice = mail_with(
        &server,
        "victim@example.com",
        "A new sign-in method was linked",
    )
    .await;
    assert!(notice.text.contains("GitHub") || notice.text.contains("github"));
}

/// A user whose address was verified keeps their password and sessions when a provider that
/// vouches for the address is linked at sign-in; they are told by mail.
async fn a_verified_user_is_linked_as_before(db: TestDb) {
    let mut op = OidcProvider::start().await;
    let server = server(&db, vec![google(&op)]).await;
    let owner = Browser::new(&server);
    let (user, token) = sign_up_with(&owner, "vera@example.com", "vera-pass-123").await;
    let user_id = user["id"].as_str().unwrap().to_owned();
    sea_orm::ConnectionTrait::execute_unprepared(
        &server.db,
        "UPDATE \"user\" SET email_verified = true",
    )
    .await
    .unwrap();
    op.claims("sub-vera", "vera@example.com", true).await;
    let other = Browser::new(&server);
    let (_, landed) = other.dance("/sign-in/social", sign_in_body("google")).await;
    assert_eq!(landed, "/dashboard");
    assert_eq!(other.session_user().await["id"], user_id.as_str());
    assert_eq!(user_of_token(&server, &token).await["id"], user_id.as_str());
    assert_eq!(
        password_sign_in(&server, "vera@example.com", "vera-pass-123").await,
        200
    );
    assert_eq!(accounts_of(&server, &user_id).await.len(), 2);
    mail_with(
        &server,
        "vera@example.com",
        "A new sign-in method was linked",
    )
    .await;
}

/// The proof also counts when it comes later: through a provider account linked while it did
/// not vouch for the address and that now does, or through `link-social` (where the caller's own
/// session and password stay).
async fn a_later_proof_revokes_unproven_access(db: TestDb) {
    let gh = Github::start().await;
    let server = server(&db, vec![gh.config()]).await;

    // Linked while GitHub did not vouch: nothing revoked, nothing verified.
    let bob = Browser::new(&server);
    let (bob_user, bob_token) = sign_up_with(&bob, "bob@example.com", "bob-pass-1234").await;
    let bob_id = bob_user["id"].as_str().unwrap().to_owned();
    gh.profile("bob@example.com", false);
    let body = json!({"provider": "github", "callbackURL": "/settings"});
    let (_, landed) = bob.dance("/link-social", body.clone()).await;
    assert_eq!(landed, "/settings");
    assert_eq!(accounts_of(&server, &bob_id).await.len(), 2);
    assert_eq!(bob.session_user().await["emailVerified"], false);
    assert_eq!(
        password_sign_in(&server, "bob@example.com", "bob-pass-1234").await,
        200
    );
    // GitHub now vouches; signing in with it proves the address.
    gh.profile("bob@example.com", true);
    let again = Browser::new(&server);
    let (_, landed) = again.dance("/sign-in/social", sign_in_body("github")).await;
    assert_eq!(landed, "/dashboard");
    assert_eq!(again.session_user().await["emailVerified"], true);
    assert_eq!(user_of_token(&server, &bob_token).await, Value::Null);
    assert_eq!(bob.session_user().await, Value::Null);
    assert_eq!(
        password_sign_in(&server, "bob@example.com", "bob-pass-1234").await,
        401
    );
    assert_eq!(accounts_of(&server, &bob_id).await.len(), 1);

    // link-social with a provider that vouches: the proof comes to the browser holding the
    // session, so that session and the password stay; other sessions and other provider accounts
    // (linked while the address was unproven) go.
    // Bob goes, and with him the GitHub account Carol's link will name.
    sea_orm::ConnectionTrait::execute_unprepared(
        &server.db,
        &format!("DELETE FROM \"user\" WHERE id = '{bob_id}'"),
    )
    .await
    .unwrap();
    let carol = Browser::new(&server);
    let (carol_user, carol_token) =
        sign_up_with(&carol, "carol@example.com", "carol-pass-12").await;
    let carol_id = carol_user["id"].as_str().unwrap().to_owned();
    sea_orm::ActiveModelTrait::insert(
        account::ActiveModel {
            account_id: sea_orm::Set("acme-carol".into()),
            provider_id: sea_orm::Set("acme".into()),
            user_id: sea_orm::Set(carol_id.clone()),
            ..Default::default()
        },
        &server.db,
    )
    .await
    .unwrap();
    let elsewhere = Browser::new(&server);
    assert_eq!(
        elsewhere
            .post(
                "/sign-in/email",
                json!({"email": "carol@example.com", "password": "carol-pass-12"})
            )
            .await
            .status(),
        200
    );
    gh.profile("carol@example.com", true);
    let (_, landed) = carol.dance("/link-social", body).await;
    assert_eq!(landed, "/settings");
    let me = carol.session_user().await;
    assert_eq!(me["id"], carol_id.as_str(), "still signed in");
    assert_eq!(me["emailVerified"], true);
    assert_eq!(
        user_of_token(&server, &carol_token).await["id"],
        carol_id.as_str()
    );
    assert_eq!(elsewhere.session_user().await, Value::Null);
    assert_eq!(
        password_sign_in(&server, "carol@example.com", "carol-pass-12").await,
        200
    );
    let mut providers: Vec<String> = accounts_of(&server, &carol_id)
        .await
        .into_iter()
        .map(|a| a.provider_id)
        .collect();
    providers.sort();
    assert_eq!(
        providers,
        vec!["credential".to_owned(), "github".to_owned()]
    );
    mail_with(
        &server,
        "carol@example.com",
        "A new sign-in method was linked",
    )
    .await;
}

/// A `link-social` the pre-registrant started before the address was proven cannot finish after
/// it: the session that started it is gone, so their provider account is not linked.
async fn a_link_started_before_the_proof_fails(db: TestDb) {
    let gh = Github::start().await;
    let mut op = OidcProvider::start().await;
    let mut acme = ProviderConfig::oidc("acme", &op.discovery_url(), "acme-client", "acme-secret");
    acme.trust_email = false;
    let server = server(&db, vec![gh.config(), acme]).await;
    let attacker = Browser::new(&server);
    let (user, _) = sign_up_with(&attacker, "target@example.com", "attacker-pass-1").await;
    let user_id = user["id"].as_str().unwrap().to_owned();
    // The pre-registrant starts linking an account of theirs that carries the address.
    op.claims("sub-attacker", "target@example.com", false).await;
    let (status, started) = parts(
        attacker
            .post(
                "/link-social",
                json!({"provider": "acme", "callbackURL": "/settings", "errorCallbackURL": "/settings/error"}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 200, "{started}");
    // Meanwhile the owner proves the address with GitHub.
    gh.profile("target@example.com", true);
    let owner = Browser::new(&server);
    let (_, landed) = owner.dance("/sign-in/social", sign_in_body("github")).await;
    assert_eq!(landed, "/dashboard");
    // The pre-registrant finishes: refused, nothing linked.
    let at_provider = attacker
        .http
        .get(started["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let landed = attacker.visit(&location(&at_provider)).await;
    assert_eq!(
        location(&landed),
        "/settings/error?error=unable_to_link_account"
    );
    let providers: Vec<String> = accounts_of(&server, &user_id)
        .await
        .into_iter()
        .map(|a| a.provider_id)
        .collect();
    assert_eq!(providers, vec!["github".to_owned()]);
}

async fn start_is_checked(db: TestDb) {
    let gh = Github::start().await;
    let server = server(&db, vec![gh.config()]).await;
    let browser = Browser::new(&server);
    assert_error(
        browser
            .post("/sign-in/social", json!({"provider": "gitlab"}))
            .await,
        404,
        "PROVIDER_NOT_FOUND",
    )
    .await;
    assert_error(
        browser
            .post(
                "/sign-in/social",
                json!({"provider": "github", "callbackURL": "https://evil.example/x"}),
            )
            .await,
        403,
        "INVALID_CALLBACK_URL",
    )
    .await;
    assert_error(
        browser
            .post(
                "/sign-in/social",
                json!({"provider": "github", "errorCallbackURL": "https://evil.example/x"}),
            )
            .await,
        403,
        "INVALID_ERROR_CALLBACK_URL",
    )
    .await;

    // The answer: the provider's URL with PKCE S256 and the state; Location as well; a state cookie.
    let r = browser
        .post("/sign-in/social", json!({"provider": "github"}))
        .await;
    let cookies = crate::harness::set_cookies(&r);
    let header = location(&r);
    let (status, body) = parts(r).await;
    assert_eq!(status, 200);
    assert_eq!(body["url"], header.as_str());
    let url = url::Url::parse(&header).unwrap();
    let q: HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(
        q["redirect_uri"],
        format!("{ORIGIN}/api/auth/callback/github")
    );
    assert!(q["state"].len() >= 32);
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("better-auth.state=") && c.contains("HttpOnly")),
        "{cookies:?}"
    );

    // A form_post callback goes to the GET form with the same fields.
    let form = browser
        .http
        .post(format!("{}/api/auth/callback/github", server.base))
        .form(&[("code", "abc"), ("state", "xyz")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 302);
    assert_eq!(
        location(&form),
        format!("{ORIGIN}/api/auth/callback/github?code=abc&state=xyz")
    );
}

db_tests!(
    github_sign_in_of_a_banned_user,
    oidc_new_user_then_returning_user,
    oidc_links_a_verified_email_only,
    oidc_linking_by_email_can_be_switched_off,
    state_is_single_use_and_bound_to_the_browser,
    a_wrong_nonce_is_rejected,
    provider_errors_reach_the_error_callback,
    oidc_tokens_refresh_and_account_info,
    github_sign_in_tokens_and_last_account,
    github_unverified_email_is_not_linked,
    token_responses_are_not_stored,
    link_social_then_unlink,
    start_is_checked,
    github_proof_revokes_a_pre_registration,
    a_verified_user_is_linked_as_before,
    a_later_proof_revokes_unproven_access,
    a_link_started_before_the_proof_fails,
);
