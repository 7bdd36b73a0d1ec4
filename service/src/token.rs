//! Secrets handed to clients: drawn from the OS CSPRNG, stored as digests.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rand::distributions::{Alphanumeric, DistString};
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

/// `len` characters of `[A-Za-z0-9]` (rejection-sampled; 32 characters carry 190 bits).
pub fn generate(len: usize) -> String {
    Alphanumeric.sample_string(&mut OsRng, len)
}

/// What is stored for a secret: its SHA-256, hex-encoded. A fast hash suffices at this entropy.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Whether `value` has the shape of [`digest`]'s output (64 lower-case hex characters), which no
/// generated secret has.
pub fn is_digest(value: &str) -> bool {
    value.len() == 64
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// What JavaScript's `encodeURIComponent` leaves alone.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// `encodeURIComponent(value)`: for cookie values and query parameters in links.
pub fn encode_uri_component(value: &str) -> String {
    utf8_percent_encode(value, URI_COMPONENT).to_string()
}
