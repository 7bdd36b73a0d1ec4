//! Provider tokens at rest: access, refresh and ID tokens are sealed with XChaCha20-Poly1305 under
//! a key derived from `BETTER_AUTH_SECRET` (HKDF-SHA256), so a copy of the database does not hand
//! out access to the users' GitHub or Google accounts. Better Auth stores them in clear by default;
//! see docs/compatibility.md.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::Sha256;

/// Marks a sealed value; anything else in a token column was written in clear (by Better Auth).
const PREFIX: &str = "enc.v1.";
const NONCE_LEN: usize = 24;

/// Which column a value belongs to; bound into the seal so values cannot be swapped between columns.
#[derive(Clone, Copy, Debug)]
pub enum Field {
    AccessToken,
    RefreshToken,
    IdToken,
    /// The server-side state of an authorization in progress (verification table).
    FlowState,
}

impl Field {
    fn label(self) -> &'static [u8] {
        match self {
            Field::AccessToken => b"account.accessToken",
            Field::RefreshToken => b"account.refreshToken",
            Field::IdToken => b"account.idToken",
            Field::FlowState => b"verification.oauthState",
        }
    }
}

pub struct TokenCipher {
    aead: XChaCha20Poly1305,
    /// Store tokens as they are, as Better Auth does by default (`ORGAUTH_COEXISTENCE`).
    plain: bool,
}

impl TokenCipher {
    pub fn new(secret: &str) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(b"orgauth"), secret.as_bytes());
        let mut key = [0u8; 32];
        hk.expand(b"orgauth provider token encryption v1", &mut key)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Self {
            aead: XChaCha20Poly1305::new(&key.into()),
            plain: false,
        }
    }

    /// A cipher whose `seal` stores tokens in the clear, so a Better Auth server sharing the
    /// database can use them; sealed ones still open.
    pub fn storing_plain(mut self) -> Self {
        self.plain = true;
        self
    }

    pub fn seal(&self, field: Field, plain: &str) -> String {
        if self.plain {
            return plain.to_owned();
        }
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .aead
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: field.label(),
                },
            )
            .expect("encryption of an in-memory value cannot fail");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The clear value; an unsealed value (from Better Auth) is returned as it is. `None` when the
    /// seal does not open (another secret, or tampering).
    pub fn open(&self, field: Field, stored: &str) -> Option<String> {
        let Some(encoded) = stored.strip_prefix(PREFIX) else {
            return Some(stored.to_owned());
        };
        let bytes = URL_SAFE_NO_PAD.decode(encoded).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let plain = self
            .aead
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: field.label(),
                },
            )
            .ok()?;
        String::from_utf8(plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_open_only_with_the_same_secret_and_field() {
        let cipher = TokenCipher::new("secret-one-secret-one-secret-one!");
        let sealed = cipher.seal(Field::AccessToken, "gho_abc");
        assert!(sealed.starts_with(PREFIX) && !sealed.contains("gho_abc"));
        assert_ne!(
            sealed,
            cipher.seal(Field::AccessToken, "gho_abc"),
            "fresh nonce"
        );
        assert_eq!(
            cipher.open(Field::AccessToken, &sealed).as_deref(),
            Some("gho_abc")
        );
        assert_eq!(cipher.open(Field::RefreshToken, &sealed), None);
        let other = TokenCipher::new("secret-two-secret-two-secret-two!");
        assert_eq!(other.open(Field::AccessToken, &sealed), None);
        assert_eq!(
            cipher.open(Field::AccessToken, "plain").as_deref(),
            Some("plain")
        );
    }
}
