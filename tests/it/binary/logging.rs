//! The JSON log: structured security events, and no secrets.

use migration::testing::Backend;

use super::{get_json, orgauth, start};

/// The seed names its variable POSTGRES_URL; it is read when DATABASE_URL is absent. Logs can be JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_postgres_url_and_logs_json() {
    migration::testing::run(Backend::Postgres, |db| async move {
        let mut cmd = orgauth();
        cmd.env("POSTGRES_URL", &db.url)
            .env("ORGAUTH_LOG_FORMAT", "json");
        let mut server = start(cmd);
        assert_eq!(
            get_json(format!("{}/healthz", server.base)).await["status"],
            "ok"
        );
        let (status, lines) = server.terminate();
        assert!(status.success(), "{status}: {lines:#?}");
        let response = lines
            .iter()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("every log line is JSON"))
            .find(|v| v["fields"]["message"] == "response")
            .expect("a response was logged");
        assert_eq!(response["fields"]["status"], 200);
        assert_eq!(response["span"]["path"], "/healthz");
        assert!(response["span"]["request_id"].is_string());
    })
    .await;
}

/// Security events are one structured line each, with the user, the client address (from the
/// request's span) and no secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_events_are_structured_lines_without_secrets() {
    migration::testing::run(Backend::Sqlite, |db| async move {
        let mut cmd = orgauth();
        cmd.env("DATABASE_URL", &db.url)
            .env("ORGAUTH_LOG_FORMAT", "json")
            .env("ORGAUTH_RATE_LIMIT", "off")
            .env("BETTER_AUTH_TRUSTED_ORIGINS", "http://localhost:3000");
        let mut server = start(cmd);
        let http = reqwest::Client::builder().cookie_store(true).build().unwrap();
        let post = |path: &str, body: serde_json::Value| {
            http.post(format!("{}/api/auth{path}", server.base))
                .header("origin", "http://localhost:3000")
                .json(&body)
                .send()
        };
        let signed_up: serde_json::Value = post(
            "/sign-up/email",
            serde_json::json!({"name": "Log", "email": "log@example.com", "password": "first-secret-pw"}),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        let token = signed_up["token"].as_str().unwrap().to_owned();
        let r = post(
            "/change-password",
            serde_json::json!({"currentPassword": "first-secret-pw", "newPassword": "second-secret-pw"}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 200);
        // Sign-ins: a wrong password for the user and for an unknown address, then the right one.
        for (email, password, status) in [
            ("log@example.com", "third-secret-pw", 401),
            ("nobody@example.com", "third-secret-pw", 401),
            ("log@example.com", "second-secret-pw", 200),
        ] {
            let r = post("/sign-in/email", serde_json::json!({"email": email, "password": password}))
                .await
                .unwrap();
            assert_eq!(r.status(), status, "{email}");
        }
        let (status, lines) = server.terminate();
        assert!(status.success(), "{status}: {lines:#?}");
        for secret in ["first-secret-pw", "second-secret-pw", "third-secret-pw", token.as_str()] {
            assert!(
                !lines.iter().any(|l| l.contains(secret)),
                "a secret reached the log"
            );
        }
        let event = lines
            .iter()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON lines"))
            .find(|v| v["target"] == "orgauth::security" && v["fields"]["event"] == "password_changed")
            .expect("the password change is logged");
        assert_eq!(event["fields"]["user_id"], signed_up["user"]["id"]);
        assert_eq!(event["span"]["client_ip"], "127.0.0.1");
        assert!(event["span"]["request_id"].is_string());
        let security: Vec<serde_json::Value> = lines
            .iter()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v["target"] == "orgauth::security")
            .collect();
        let named = |name: &str| -> Vec<&serde_json::Value> {
            security.iter().filter(|v| v["fields"]["event"] == name).collect()
        };
        let failed = named("sign_in_failed");
        assert_eq!(failed.len(), 2, "{security:?}");
        assert_eq!(failed[0]["fields"]["user_id"], signed_up["user"]["id"]);
        assert!(failed[1]["fields"].get("user_id").is_none(), "no user for an unknown address");
        for line in &failed {
            assert_eq!(line["fields"]["reason"], "invalid_credentials");
            assert_eq!(line["span"]["client_ip"], "127.0.0.1");
        }
        let succeeded = named("sign_in_succeeded");
        assert_eq!(succeeded.len(), 1, "{security:?}");
        assert_eq!(succeeded[0]["fields"]["user_id"], signed_up["user"]["id"]);
        assert_eq!(succeeded[0]["fields"]["method"], "password");
        assert_eq!(succeeded[0]["span"]["client_ip"], "127.0.0.1");
        assert!(
            security.iter().all(|v| !v.to_string().contains("@example.com")),
            "no address in a security event"
        );
    })
    .await;
}

/// After sign-up, sign-in and authenticated requests at the most verbose log level, the log holds
/// neither the password nor any session token or cookie signature.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_the_log() {
    migration::testing::run(Backend::Sqlite, |db| async move {
        let mut cmd = orgauth();
        cmd.env("DATABASE_URL", &db.url).env("RUST_LOG", "trace").env("ORGAUTH_RATE_LIMIT", "off");
        let mut server = start(cmd);
        let http = reqwest::Client::new();
        let password = "Marker-Passw0rd-7731";
        let signed_up: serde_json::Value = http
            .post(format!("{}/api/auth/sign-up/email", server.base))
            .json(&serde_json::json!({"name": "Log", "email": "log@example.com", "password": password}))
            .send().await.unwrap().json().await.unwrap();
        let signed_in = http
            .post(format!("{}/api/auth/sign-in/email", server.base))
            .json(&serde_json::json!({"email": "log@example.com", "password": password}))
            .send().await.unwrap();
        let auth_token = signed_in.headers()["set-auth-token"].to_str().unwrap().to_owned();
        let cookie = signed_in.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
        let me: serde_json::Value = http.get(format!("{}/api/auth/get-session", server.base)).bearer_auth(&auth_token).send().await.unwrap().json().await.unwrap();
        assert_eq!(me["user"]["email"], "log@example.com");
        let wrong = "Wrong-Marker-Passw0rd-9914";
        for email in ["log@example.com", "nobody@example.com"] {
            let refused = http
                .post(format!("{}/api/auth/sign-in/email", server.base))
                .json(&serde_json::json!({"email": email, "password": wrong}))
                .send().await.unwrap();
            assert_eq!(refused.status(), 401);
        }
        let (status, lines) = server.terminate();
        assert!(status.success(), "{status}: {lines:#?}");
        let log = lines.join("\n");
        assert!(log.contains("/api/auth/sign-in/email"), "the requests were logged");
        assert!(!log.contains(wrong), "a wrong password is a secret too");
        let token = signed_up["token"].as_str().unwrap();
        let (session_token, signature) = auth_token.split_once('.').unwrap();
        for secret in [password, &password[..8], token, session_token, signature, cookie.split_once('=').unwrap().1] {
            assert!(!log.contains(secret), "the log contains a secret: {secret}");
        }
    })
    .await;
}
