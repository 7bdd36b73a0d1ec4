//! Better Auth's session cookie: `<token>.<base64 HMAC-SHA256(secret, token)>`, percent-encoded as
//! `encodeURIComponent` does, named `better-auth.session_token` (with `__Secure-` before it when
//! the base URL is https; `better-auth` is Better Auth's `cookiePrefix`), `HttpOnly; SameSite=Lax;
//! Path=/`, with `Domain=` only for cookies shared across subdomains (`crossSubDomainCookies`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use cookie::{Cookie, SameSite};
use hmac::{Hmac, Mac};
use percent_encoding::percent_decode_str;
use poem::http::header::{HeaderValue, SET_COOKIE};
use service::token::encode_uri_component;
use sha2::Sha256;

use crate::outbox::Outbox;

/// Better Auth's default `cookiePrefix`.
pub const DEFAULT_PREFIX: &str = "better-auth";
const SESSION_TOKEN: &str = "session_token";
const SESSION_DATA: &str = "session_data";
const DONT_REMEMBER: &str = "dont_remember";
/// The impersonator's own session while they impersonate someone (the admin plugin): signed
/// `<token>:<flag>`, the flag being `true` when that session had `dont_remember`.
const ADMIN_SESSION: &str = "admin_session";
/// Binds a started social sign-in to the browser that started it (signed `state`).
const STATE: &str = "state";

/// The HMAC signature of `value`: standard base64 with padding (44 characters).
pub fn signature(secret: &str, value: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(value.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// `value.signature`, not yet percent-encoded (the form of the `set-auth-token` header).
pub fn sign(secret: &str, value: &str) -> String {
    format!("{value}.{}", signature(secret, value))
}

/// The value inside a signed cookie or bearer token, if the signature is right. Accepts the
/// percent-encoded and the raw form.
pub fn verify(secret: &str, raw: &str) -> Option<String> {
    let decoded = if raw.contains('%') {
        percent_decode_str(raw).decode_utf8().ok()?.into_owned()
    } else {
        raw.to_owned()
    };
    let decoded = decoded.trim_matches('"');
    let (value, sig) = decoded.rsplit_once('.')?;
    if sig.len() != 44 || !sig.ends_with('=') {
        return None;
    }
    let expected = STANDARD.decode(sig).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(value.as_bytes());
    mac.verify_slice(&expected).ok()?;
    Some(value.to_owned())
}

/// Cookie names and attributes for this deployment.
#[derive(Clone, Debug)]
pub struct CookieSettings {
    /// `__Secure-` names and the `Secure` attribute (when the base URL is https).
    pub secure: bool,
    pub secret: service::config::Secret,
    /// `ORGAUTH_COOKIE_PREFIX` (Better Auth's `advanced.cookiePrefix`): names are
    /// `<prefix>.session_token` and so on.
    pub prefix: String,
    /// The `Domain` attribute, set only when cookies are shared across subdomains
    /// (`ORGAUTH_CROSS_SUB_DOMAIN_COOKIES`).
    pub domain: Option<String>,
}

impl CookieSettings {
    fn name(&self, base: &str) -> String {
        let secure = if self.secure { "__Secure-" } else { "" };
        format!("{secure}{}.{base}", self.prefix)
    }

    /// The first cookie named `name` in the `Cookie` header, as Better Auth reads it.
    fn read<'a>(&self, cookie_header: Option<&'a str>, base: &str) -> Option<&'a str> {
        let name = self.name(base);
        cookie_header?
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    /// The session token of a valid signed session cookie.
    pub fn session_token(&self, cookie_header: Option<&str>) -> Option<String> {
        verify(
            self.secret.expose(),
            self.read(cookie_header, SESSION_TOKEN)?,
        )
    }

    /// Whether the request carries a valid `dont_remember` cookie (a `rememberMe: false` session).
    pub fn dont_remember(&self, cookie_header: Option<&str>) -> bool {
        self.read(cookie_header, DONT_REMEMBER)
            .and_then(|v| verify(self.secret.expose(), v))
            .is_some_and(|v| v == "true")
    }

    /// The `state` of the social sign-in this browser started, if its cookie is validly signed.
    pub fn state(&self, cookie_header: Option<&str>) -> Option<String> {
        verify(self.secret.expose(), self.read(cookie_header, STATE)?)
    }

    /// Remembers the `state` of a started social sign-in for as long as the state lives.
    pub fn set_state(&self, outbox: &Outbox, state: &str, max_age: i64) {
        let signed = sign(self.secret.expose(), state);
        outbox.push(SET_COOKIE, self.cookie(STATE, &signed, Some(max_age)));
    }

    pub fn clear_state(&self, outbox: &Outbox) {
        outbox.push(SET_COOKIE, self.cookie(STATE, "", Some(0)));
    }

    /// A `Set-Cookie` value; `value` is percent-encoded as `encodeURIComponent` does.
    fn cookie(&self, base: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
        let value = encode_uri_component(value);
        let mut cookie = Cookie::new(self.name(base), value);
        cookie.set_path("/");
        cookie.set_http_only(true);
        cookie.set_same_site(SameSite::Lax);
        if let Some(domain) = &self.domain {
            cookie.set_domain(domain.clone());
        }
        if self.secure {
            cookie.set_secure(true);
        }
        if let Some(seconds) = max_age {
            cookie.set_max_age(cookie::time::Duration::seconds(seconds.max(0)));
        }
        HeaderValue::from_str(&cookie.to_string()).expect("cookie values are ASCII")
    }

    /// Sets the session cookie (and `dont_remember` for a session that must not outlive the
    /// browser), plus `set-auth-token` for bearer clients.
    pub fn set_session(&self, outbox: &Outbox, token: &str, max_age: i64, remember: bool) {
        let signed = sign(self.secret.expose(), token);
        let max_age = remember.then_some(max_age);
        outbox.push(SET_COOKIE, self.cookie(SESSION_TOKEN, &signed, max_age));
        if !remember {
            let flag = sign(self.secret.expose(), "true");
            outbox.push(SET_COOKIE, self.cookie(DONT_REMEMBER, &flag, None));
        }
        outbox.push(
            "set-auth-token".parse().expect("header name"),
            HeaderValue::from_str(&signed).expect("ASCII"),
        );
        outbox.push(
            "access-control-expose-headers"
                .parse()
                .expect("header name"),
            HeaderValue::from_static("set-auth-token"),
        );
    }

    /// The impersonator's session token in a valid `admin_session` cookie, and whether that
    /// session had `dont_remember`.
    pub fn admin_session(&self, cookie_header: Option<&str>) -> Option<(String, bool)> {
        let value = verify(
            self.secret.expose(),
            self.read(cookie_header, ADMIN_SESSION)?,
        )?;
        let (token, flag) = value.rsplit_once(':')?;
        Some((token.to_owned(), flag == "true"))
    }

    /// Keeps the impersonator's session (`token`, and whether it was `dont_remember`) while they
    /// impersonate, for `max_age` seconds, as Better Auth's `admin_session` cookie.
    pub fn set_admin_session(
        &self,
        outbox: &Outbox,
        token: &str,
        dont_remember: bool,
        max_age: i64,
    ) {
        let flag = if dont_remember { "true" } else { "" };
        let signed = sign(self.secret.expose(), &format!("{token}:{flag}"));
        outbox.push(
            SET_COOKIE,
            self.cookie(ADMIN_SESSION, &signed, Some(max_age)),
        );
    }

    pub fn clear_admin_session(&self, outbox: &Outbox) {
        outbox.push(SET_COOKIE, self.cookie(ADMIN_SESSION, "", Some(0)));
    }

    pub fn clear_dont_remember(&self, outbox: &Outbox) {
        outbox.push(SET_COOKIE, self.cookie(DONT_REMEMBER, "", Some(0)));
    }

    /// Clears the session, cache and `dont_remember` cookies, as Better Auth's sign-out does.
    pub fn clear(&self, outbox: &Outbox) {
        for base in [SESSION_TOKEN, SESSION_DATA, DONT_REMEMBER] {
            outbox.push(SET_COOKIE, self.cookie(base, "", Some(0)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recomputed independently (Python's hmac) for the contract's recorded token.
    #[test]
    fn signature_matches_an_independent_computation() {
        assert_eq!(
            signature(
                "better-auth-secret-12345678901234567890",
                "cf0iChjinoTWDaiWThwc4XJjrr9VlyGt"
            ),
            "uNZcUPUzdzDQr3wRr1ySqCAyfP74uL8LPAhLcnLvGjc="
        );
    }

    #[test]
    fn verify_accepts_encoded_and_raw_and_rejects_tampering() {
        let secret = "s3cret-s3cret-s3cret-s3cret-s3cret";
        let signed = sign(secret, "abc");
        let encoded = encode_uri_component(&signed);
        assert!(encoded.contains("%"), "{encoded}");
        assert_eq!(verify(secret, &signed).as_deref(), Some("abc"));
        assert_eq!(verify(secret, &encoded).as_deref(), Some("abc"));
        assert_eq!(verify(secret, &signed.replace("abc", "abd")), None);
        assert_eq!(verify("other-secret", &signed), None);
        assert_eq!(verify(secret, "abc"), None);
        assert_eq!(verify(secret, "abc.short="), None);
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;
    use service::config::Secret;

    use super::*;

    fn settings(secret: &str) -> CookieSettings {
        CookieSettings {
            secure: false,
            secret: Secret::new(secret),
            prefix: DEFAULT_PREFIX.to_owned(),
            domain: None,
        }
    }

    proptest! {
        /// What the server signs (tokens, states: letters and digits) verifies, raw or
        /// percent-encoded as the cookie carries it, and only under the same secret.
        #[test]
        fn signed_values_verify_under_their_secret_only(
            secret in "\\PC{1,64}",
            other in "\\PC{1,64}",
            value in "[A-Za-z0-9]{0,64}",
        ) {
            let signed = sign(&secret, &value);
            prop_assert_eq!(verify(&secret, &signed), Some(value.clone()));
            prop_assert_eq!(verify(&secret, &encode_uri_component(&signed)), Some(value.clone()));
            if other != secret {
                prop_assert_eq!(verify(&other, &signed), None);
            }
        }

        /// Any value survives the percent-encoded form the cookie carries, except one starting
        /// with `"` (quotes around a cookie value are taken off before the check).
        #[test]
        fn any_value_round_trips_encoded(value in "\\PC{0,64}") {
            prop_assume!(!value.starts_with('"'));
            let signed = encode_uri_component(&sign("k", &value));
            prop_assert_eq!(verify("k", &signed), Some(value));
        }

        /// Changing one character of the token, the dot or the signature is refused.
        #[test]
        fn one_changed_character_is_refused(
            value in "[A-Za-z0-9]{1,64}",
            at in any::<prop::sample::Index>(),
            by in "[A-Za-z0-9+/=.%_\"-]",
        ) {
            let signed = sign("k", &value);
            let i = at.index(signed.len());
            prop_assume!(signed[i..=i] != by);
            let mut tampered = signed.clone();
            tampered.replace_range(i..=i, &by);
            prop_assert_eq!(verify("k", &tampered), None, "{}", tampered);
            prop_assert_eq!(verify("k", &encode_uri_component(&tampered)), None);
        }

        /// Cutting the signed text short, or appending a character other than a closing quote,
        /// is refused.
        #[test]
        fn cut_or_extended_is_refused(
            value in "[A-Za-z0-9]{1,64}",
            keep in any::<prop::sample::Index>(),
            extra in "[A-Za-z0-9+/=.]{1,4}",
        ) {
            let signed = sign("k", &value);
            let cut = &signed[..keep.index(signed.len())];
            prop_assert_eq!(verify("k", cut), None);
            prop_assert_eq!(verify("k", &format!("{signed}{extra}")), None);
        }

        /// Arbitrary text never panics and never verifies (a signature cannot be guessed).
        #[test]
        fn arbitrary_text_never_verifies(raw in "\\PC{0,120}|[A-Za-z0-9%.=+/\"]{40,60}") {
            prop_assert_eq!(verify("k", &raw), None);
        }

        /// Any `Cookie` header: no panic, and a session token only from a validly signed cookie.
        #[test]
        fn any_cookie_header_is_read_safely(
            header in "\\PC{0,160}",
            token in "[A-Za-z0-9]{32}",
            before in "\\PC{0,20}",
        ) {
            let s = settings("k");
            prop_assert_eq!(s.session_token(Some(&header)), None);
            prop_assert!(!s.dont_remember(Some(&header)));
            prop_assert_eq!(s.state(Some(&header)), None);
            // A real cookie after arbitrary other pairs is still found (when the junk before it
            // does not itself name the session cookie).
            prop_assume!(!before.contains(SESSION_TOKEN));
            let signed = encode_uri_component(&sign("k", &token));
            let header = format!("{}; better-auth.{SESSION_TOKEN}={signed}", before.replace(';', ","));
            prop_assert_eq!(s.session_token(Some(&header)), Some(token));
        }
    }
}
