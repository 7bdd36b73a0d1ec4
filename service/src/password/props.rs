//! Property tests of the stored-hash parser and checker: Argon2id PHC strings (with cheap
//! parameters, so hundreds of cases run in a second) and Better Auth's scrypt `salt:key`.

use argon2::password_hash::SaltString;
use argon2::{Block, Params};
use proptest::prelude::*;
use rand::rngs::OsRng;

use super::{argon2_phc, better_auth_scrypt, normalize, verify_blocking, PasswordError, Verified};

/// Argon2id at its cheapest (8 KiB, one pass): the format and the check, not the cost.
fn cheap() -> Params {
    Params::new(8, 1, 1, Some(32)).unwrap()
}

fn memory() -> Vec<Block> {
    vec![Block::default(); 64]
}

fn hash(params: &Params, password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    argon2_phc(params, &normalize(password), &salt, &mut memory())
}

fn check(params: &Params, password: &str, stored: &str) -> Result<Verified, PasswordError> {
    verify_blocking(params, &normalize(password), stored, &mut memory())
}

/// Text that looks like a stored hash but is not one of ours: PHC strings with other algorithms,
/// versions, parameters, salts and outputs (all cheap), and `salt:key` with wrong lengths or
/// characters — plus plain arbitrary text.
fn near_misses() -> impl Strategy<Value = String> {
    let b64 = "[A-Za-z0-9+/]{0,30}";
    let phc = (
        "(argon2id|argon2i|argon2d|scrypt|bcrypt|pbkdf2-sha256|)",
        "(v=19|v=16|v=20|)",
        1u32..=64,
        1u32..=2,
        1u32..=2,
        b64,
        b64,
    )
        .prop_map(|(alg, v, m, t, p, salt, out)| {
            format!("${alg}${v}$m={m},t={t},p={p}${salt}${out}")
        });
    let scrypt = "[0-9a-fA-F]{0,34}:[0-9a-fA-FxX]{0,130}";
    prop_oneof![
        4 => "\\PC{0,80}",
        4 => phc,
        1 => scrypt,
        1 => "\\$[a-z0-9=,$+/]{0,60}",
    ]
}

proptest! {
    /// Any password, hashed, verifies; any other password does not.
    #[test]
    fn argon2_hashes_verify_their_password_only(password in "\\PC{0,40}", other in "\\PC{0,40}") {
        prop_assume!(normalize(&password) != normalize(&other));
        let stored = hash(&cheap(), &password);
        prop_assert_eq!(check(&cheap(), &password, &stored).unwrap(), Verified::Yes);
        prop_assert_eq!(check(&cheap(), &other, &stored).unwrap(), Verified::No);
    }

    /// A hash made under other parameters verifies, and comes back re-made under the current
    /// ones, which verifies the same password.
    #[test]
    fn older_parameters_are_upgraded(password in "\\PC{0,40}", m in 9u32..=32, t in 1u32..=2) {
        let old = Params::new(m, t, 1, Some(32)).unwrap();
        let stored = hash(&old, &password);
        let Verified::YesRehashed(new) = check(&cheap(), &password, &stored).unwrap() else {
            panic!("not re-hashed");
        };
        prop_assert!(new.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{}", new);
        prop_assert_eq!(check(&cheap(), &password, &new).unwrap(), Verified::Yes);
    }

    /// Whatever the stored text: no panic, and never a match for any password.
    #[test]
    fn stored_text_that_is_not_a_hash_never_verifies(
        stored in near_misses(),
        password in "\\PC{0,20}",
    ) {
        match check(&cheap(), &password, &stored) {
            Ok(Verified::No) | Err(PasswordError::Malformed) => {}
            other => prop_assert!(false, "{:?} for {:?}", other, stored),
        }
    }
}

proptest! {
    // Better Auth's scrypt costs 16 MiB and about 0.3 s a hash in a test build: few cases (a
    // wrong password against a real hash is also the well-formed hash nobody derived).
    #![proptest_config(ProptestConfig::with_cases(4))]

    /// Better Auth's scrypt hash of any password verifies it (re-made as Argon2id) and no other.
    #[test]
    fn better_auth_hashes_verify_their_password_only(password in "\\PC{0,40}", other in "\\PC{0,40}") {
        prop_assume!(normalize(&password) != normalize(&other));
        let stored = better_auth_scrypt(&normalize(&password));
        let Verified::YesRehashed(new) = check(&cheap(), &password, &stored).unwrap() else {
            panic!("not re-hashed");
        };
        prop_assert_eq!(check(&cheap(), &password, &new).unwrap(), Verified::Yes);
        prop_assert_eq!(check(&cheap(), &other, &stored).unwrap(), Verified::No);
    }
}

/// Found by reading the parser while writing these properties: a stored PHC string may ask for
/// any parameters Argon2 accepts, and `m=4294967295` made the check allocate 4 TiB (the process
/// aborts) and `t=4294967295` would run for hours. Such a string is now refused unread.
#[test]
fn absurd_stored_parameters_are_refused_without_hashing() {
    let salt = "c29tZXNhbHRzb21lc2FsdA";
    let out = "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE";
    for params in [
        "m=4294967295,t=1,p=1",
        "m=8,t=4294967295,p=1",
        "m=134217720,t=1,p=16777215",
        "m=2097160,t=1,p=1",
        "m=8,t=17,p=1",
    ] {
        let stored = format!("$argon2id$v=19${params}${salt}${out}");
        assert!(
            matches!(check(&cheap(), "x", &stored), Err(PasswordError::Malformed)),
            "{stored}"
        );
    }
    // The limits themselves still verify (checked without running them: RFC 9106's first
    // recommendation is within them).
    assert!(super::within_stored_limits(
        &Params::new(2 * 1024 * 1024, 1, 4, Some(32)).unwrap()
    ));
}
