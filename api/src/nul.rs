//! Text holding the NUL character (U+0000) is refused before any route sees it: PostgreSQL cannot
//! store it in a text column and fails the whole statement, which would surface as a 500 on one
//! database and not the other. A request carrying NUL anywhere a route reads text — the path, the
//! query string, a JSON string (`\u0000`) or a form field (`%00`) — gets 400 `VALIDATION_ERROR`.

use poem::http::Uri;

/// The percent-encoded path or query holds `%00`.
pub fn in_uri(uri: &Uri) -> bool {
    uri.path_and_query()
        .is_some_and(|pq| pq.as_str().contains("%00"))
}

/// The body holds a raw NUL byte or, read as JSON, the escape `\u0000` (not itself escaped, as in
/// `\\u0000`, which is the six characters `\u0000`); in a form body, `%00`.
pub fn in_body(bytes: &[u8], form: bool) -> bool {
    if bytes.contains(&0) || form && bytes.windows(3).any(|w| w == b"%00") {
        return true;
    }
    let mut backslashes = 0usize;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\\' {
            backslashes += 1;
            continue;
        }
        if b == b'u' && backslashes % 2 == 1 && bytes[i + 1..].starts_with(b"0000") {
            return true;
        }
        backslashes = 0;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes() {
        assert!(in_body(br#"{"name":"a\u0000b"}"#, false));
        assert!(in_body(br#"{"a\u0000":1}"#, false));
        assert!(in_body(br#"{"name":"\\\u0000"}"#, false));
        assert!(!in_body(br#"{"name":"\\u0000"}"#, false));
        assert!(!in_body(br#"{"name":"\u0001 %00 u0000"}"#, false));
        assert!(in_body(br#"{"name":"\u00000"}"#, false));
        assert!(!in_body(br#"\u000"#, false));
        assert!(in_body(b"{\"name\":\"a\0\"}", false));
    }

    #[test]
    fn forms_and_uris() {
        assert!(in_body(b"code=a%00b&state=x", true));
        assert!(!in_body(b"code=a%2500b", true));
        assert!(in_uri(&"/api/auth/x?email=a%00".parse().unwrap()));
        assert!(in_uri(&"/api/auth/a%00b".parse().unwrap()));
        assert!(!in_uri(&"/api/auth/x?email=a%2500".parse().unwrap()));
    }
}
