//! What must hold under stress and failure: linked-account safety, hashing overload, a lost
//! database, and sign-in timing that does not tell whether an email exists.

use std::time::Instant;

use entity::account;
use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set};
use serde_json::json;

use api::state::WebSettings;

use crate::harness::{assert_error, assert_error_for, parts, TestServer, ORIGIN};

async fn unlinking_keeps_a_way_to_sign_in(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = server.browser();
    let id = b.sign_up("yan@example.com", "password123").await["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let credential = b.json("/list-accounts").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_error(
        b.post("/unlink-account", json!({"accountId": credential}))
            .await,
        400,
        "FAILED_TO_UNLINK_LAST_ACCOUNT",
    )
    .await;
    let github = account::ActiveModel {
        account_id: Set("gh-42".into()),
        provider_id: Set("github".into()),
        user_id: Set(id.clone()),
        scope: Set(Some("read:user,user:email".into())),
        ..Default::default()
    }
    .insert(&server.db)
    .await
    .unwrap();
    let listed = b.json("/list-accounts").await;
    let gh = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["providerId"] == "github")
        .unwrap()
        .clone();
    assert_eq!(gh["scopes"], json!(["read:user", "user:email"]));
    assert_error(
        b.post("/unlink-account", json!({"accountId": "not-mine"}))
            .await,
        400,
        "ACCOUNT_NOT_FOUND",
    )
    .await;
    // Two concurrent unlinks of the last two accounts: at least one account survives.
    let (first, second) = tokio::join!(
        b.post("/unlink-account", json!({"accountId": credential})),
        b.post("/unlink-account", json!({"accountId": github.id})),
    );
    let statuses = [first.status().as_u16(), second.status().as_u16()];
    assert!(
        statuses.contains(&200) && statuses.contains(&400),
        "{statuses:?}"
    );
    assert_eq!(account::Entity::find().count(&server.db).await.unwrap(), 1);
}

/// When hashing is saturated, sign-ins are refused with 503 and Retry-After — never a 401 that
/// would look like a wrong password.
async fn a_saturated_hasher_answers_503(db: TestDb) {
    let web = WebSettings {
        base_url: ORIGIN.to_owned(),
        ..Default::default()
    };
    // One account signing in 16 times at once: the per-account limit on checks under way is
    // not what this is about.
    let no_account_throttle = |c: &mut service::config::AuthConfig| {
        c.account_guessing.free_failures = 0;
    };
    let server = TestServer::start_hashing(
        &db,
        no_account_throttle,
        web,
        service::password::Hasher::new(1, 1),
    )
    .await;
    let b = server.browser();
    b.sign_up("zoe@example.com", "password123").await;
    let attempts: Vec<_> = (0..16)
        .map(|_| {
            let http = server.http.clone();
            let url = server.url("/api/auth/sign-in/email");
            tokio::spawn(async move {
                let r = http
                    .post(url)
                    .json(&json!({"email": "zoe@example.com", "password": "password123"}))
                    .send()
                    .await
                    .unwrap();
                let retry = r
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_owned());
                (
                    r.status().as_u16(),
                    retry,
                    r.json::<serde_json::Value>().await.unwrap(),
                )
            })
        })
        .collect();
    let mut refused = 0;
    for a in attempts {
        let (status, retry, body) = a.await.unwrap();
        match status {
            200 => {}
            503 => {
                refused += 1;
                assert_eq!(retry.as_deref(), Some("1"));
                assert_eq!(body["code"], "SERVICE_UNAVAILABLE");
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(
        refused > 0,
        "16 concurrent sign-ins on one permit with a queue of one must refuse some"
    );
}

/// With the database gone, authenticated routes fail closed with 503, never 200.
async fn a_lost_database_fails_closed(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = server.browser();
    b.sign_up("abe@example.com", "password123").await;
    server.db.close_by_ref().await.unwrap();
    for path in ["/get-session", "/list-sessions", "/list-accounts"] {
        assert_error_for(b.get(path).await, 503, "SERVICE_UNAVAILABLE", &path).await;
    }
    let (s, _) = parts(
        b.post(
            "/sign-in/email",
            json!({"email": "abe@example.com", "password": "password123"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 503);
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Mann-Whitney U, two-sided p-value by the normal approximation (no tie correction).
fn mann_whitney_p(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let u: f64 = a
        .iter()
        .map(|x| {
            b.iter()
                .map(|y| {
                    if x > y {
                        1.0
                    } else if x == y {
                        0.5
                    } else {
                        0.0
                    }
                })
                .sum::<f64>()
        })
        .sum();
    let mean = n1 * n2 / 2.0;
    let sd = (n1 * n2 * (n1 + n2 + 1.0) / 12.0).sqrt();
    let z = ((u - mean).abs()) / sd;
    // 2 * (1 - Phi(z)), with Phi from the complementary error function's series-free bound.
    2.0 * 0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// erfc by Abramowitz-Stegun 7.1.26 (absolute error below 1.5e-7).
fn erfc(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    poly * (-x * x).exp()
}

/// Whether two sets of timings (ms) are indistinguishable: medians within max(5 ms, 25 %) and a
/// Mann-Whitney p above 0.001. `Err` says how they differ.
fn indistinguishable(a: &[f64], b: &[f64]) -> Result<(), String> {
    let p = mann_whitney_p(a, b);
    let (ma, mb) = (median(&mut a.to_vec()), median(&mut b.to_vec()));
    let close = (ma - mb).abs() < (0.25 * ma.max(mb)).max(5.0);
    if close && p > 0.001 {
        Ok(())
    } else {
        Err(format!("medians {ma:.2} ms vs {mb:.2} ms, p = {p:.4}"))
    }
}

/// What a timed request leaves running after its answer: a mail to the known address.
struct Background<'a> {
    mail: &'a crate::smtp::MailSink,
    known: &'a str,
}

/// Times 40 requests to `path` for each of `emails`, interleaved, all expected to answer
/// `status`; returns one set of timings (ms) per email. With `background`, each request is timed
/// alone: before the next one starts, the mail the known address's request queued has arrived,
/// so what is compared is the answers, not the work they leave behind.
async fn time_requests(
    server: &TestServer,
    path: &str,
    emails: &[&str],
    body: impl Fn(&str, usize) -> serde_json::Value,
    status: u16,
    background: Option<&Background<'_>>,
) -> Vec<Vec<f64>> {
    let mut timings = vec![Vec::new(); emails.len()];
    let mut mailed = background.map_or(0, |bg| bg.mail.to(bg.known).len());
    for i in 0..40 {
        for (email, into) in emails.iter().zip(timings.iter_mut()) {
            let started = Instant::now();
            let r = server
                .http
                .post(server.url(path))
                .json(&body(email, i))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), status, "{path} for {email}");
            r.bytes().await.unwrap();
            into.push(started.elapsed().as_secs_f64() * 1000.0);
            if let Some(bg) = background {
                if *email == bg.known {
                    mailed += 1;
                    bg.mail.wait(bg.known, mailed).await;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
    timings
}

/// Checks that, on `path`, every known address answers as fast as the unknown one (the last of
/// `emails`); one retry, the machines are noisy. Not a performance assertion: it compares paths
/// measured in the same run.
async fn assert_timing_reveals_nothing(
    server: &TestServer,
    path: &str,
    emails: &[&str],
    body: impl Fn(&str, usize) -> serde_json::Value,
    status: u16,
    background: Option<&Background<'_>>,
) {
    let mut last = String::new();
    for _attempt in 0..2 {
        let timings = time_requests(server, path, emails, &body, status, background).await;
        let (unknown, known) = timings.split_last().unwrap();
        let verdicts: Vec<_> = known
            .iter()
            .zip(emails)
            .map(|(k, email)| indistinguishable(k, unknown).map_err(|e| format!("{email}: {e}")))
            .collect();
        if verdicts.iter().all(Result::is_ok) {
            return;
        }
        last = verdicts
            .into_iter()
            .filter_map(Result::err)
            .collect::<Vec<_>>()
            .join("; ");
    }
    panic!("{path} timing differs: {last}");
}

/// An unknown email, a wrong password for an Argon2id user and one for a user still on Better
/// Auth's scrypt hash (as right after adopting a Better Auth database) take statistically
/// indistinguishable time.
async fn sign_in_timing_does_not_reveal_accounts(db: TestDb) {
    use sea_orm::{ColumnTrait, IntoActiveModel, QueryFilter};
    // 40 wrong passwords per account: the per-account throttle would answer most of them.
    let server = TestServer::start_with(&db, |c| c.account_guessing.free_failures = 0).await;
    server
        .browser()
        .sign_up("timing@example.com", "password123")
        .await;
    let scrypt_user = server
        .browser()
        .sign_up("scrypt@example.com", "whatever-123")
        .await;
    let acct = account::Entity::find()
        .filter(account::Column::UserId.eq(scrypt_user["user"]["id"].as_str().unwrap()))
        .one(&server.db)
        .await
        .unwrap()
        .unwrap();
    let mut active = acct.into_active_model();
    active.password = Set(Some(crate::BETTER_AUTH_SCRYPT.into()));
    active.update(&server.db).await.unwrap();
    let wrong = |email: &str, i: usize| json!({"email": email, "password": format!("wrong-{i}")});
    assert_timing_reveals_nothing(
        &server,
        "/api/auth/sign-in/email",
        &[
            "timing@example.com",
            "scrypt@example.com",
            "nobody-here@example.com",
        ],
        wrong,
        401,
        None,
    )
    .await;
}

/// `request-password-reset` and `send-verification-email` (without a session) answer a known
/// address as fast as an unknown one, though only the known one gets a mail.
async fn mail_route_timing_does_not_reveal_accounts(db: TestDb) {
    let server = TestServer::start(&db).await;
    server
        .browser()
        .sign_up("mailtiming@example.com", "password123")
        .await;
    let emails = ["mailtiming@example.com", "nobody-here@example.com"];
    let background = Background {
        mail: &server.mail,
        known: emails[0],
    };
    let background = Some(&background);
    assert_timing_reveals_nothing(
        &server,
        "/api/auth/request-password-reset",
        &emails,
        |email, _| json!({"email": email}),
        200,
        background,
    )
    .await;
    assert_timing_reveals_nothing(
        &server,
        "/api/auth/send-verification-email",
        &emails,
        |email, _| json!({"email": email}),
        200,
        background,
    )
    .await;
    assert!(!server.mail.to("mailtiming@example.com").is_empty());
    assert!(server.mail.to("nobody-here@example.com").is_empty());
}

db_tests!(
    unlinking_keeps_a_way_to_sign_in,
    a_saturated_hasher_answers_503,
    a_lost_database_fails_closed,
    sign_in_timing_does_not_reveal_accounts,
    mail_route_timing_does_not_reveal_accounts,
);
