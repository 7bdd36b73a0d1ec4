//! The core auth routes over HTTP, on both databases.

mod list_sessions;
mod profile;
mod sessions;
mod sign_up;

fn is_contract_date(v: &serde_json::Value) -> bool {
    let s = v.as_str().unwrap_or_default();
    s.len() == 24
        && s.ends_with('Z')
        && s.as_bytes()[19] == b'.'
        && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

/// The token inside a `better-auth.session_token=<token>.<sig>` Set-Cookie.
fn cookie_token(cookies: &[String]) -> String {
    let c = cookies
        .iter()
        .find(|c| c.starts_with("better-auth.session_token="))
        .expect("session cookie");
    let value = c.split(';').next().unwrap().split_once('=').unwrap().1;
    let decoded = percent_encoding::percent_decode_str(value)
        .decode_utf8()
        .unwrap()
        .into_owned();
    decoded.rsplit_once('.').unwrap().0.to_owned()
}
