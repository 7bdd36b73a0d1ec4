//! Mail-driven flows over HTTP with real SMTP delivery to a local sink: password reset, e-mail
//! verification and change, account deletion, magic-link sign-in.

use crate::harness::{TestServer, ORIGIN};

mod change_email;
mod deletion;
mod email_verification;
mod magic_link;
mod reset;
mod templates;

/// A link from a mail, pointed at the test server (mails use the configured base URL).
fn local(server: &TestServer, link: &str) -> String {
    assert!(
        link.starts_with(ORIGIN),
        "links are built from BETTER_AUTH_URL: {link}"
    );
    format!("{}{}", server.base, &link[ORIGIN.len()..])
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}
