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

use crate::harness::{parts, TestServer, ORIGIN};

mod checks;
mod github;
mod linking;
mod oidc;
mod outage;
mod tokens;

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
        authorize_url: None,
    };
    cfg
}

fn sign_in_body(provider: &str) -> Value {
    json!({"provider": provider, "callbackURL": "/dashboard", "newUserCallbackURL": "/welcome",
           "errorCallbackURL": "/auth-error"})
}
