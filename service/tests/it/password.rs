use service::password::{Hasher, PasswordError, Verified};

/// Better Auth's scrypt hash for `password123` from the contract (§6; its elided middle recomputed
/// with Python's hashlib.scrypt, which reproduces both recorded ends).
const BETTER_AUTH_HASH: &str = "0fb4ac8671a313077212579ff2aac7a1:e2d60698e41cc515f2e25df584dffc30ade236ce7e180fcdf7113f7645673657488b6db1ecf54b35f1e666ad7a33ce966384d7abeb75d0950cdcfc5ac398926d";

#[tokio::test]
async fn argon2id_round_trip_with_owasp_parameters() {
    let hasher = Hasher::new(2, 8);
    let a = hasher.hash("correct horse battery staple").await.unwrap();
    let b = hasher.hash("correct horse battery staple").await.unwrap();
    assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
    assert_ne!(a, b, "salted");
    assert_eq!(
        hasher
            .verify("correct horse battery staple", &a)
            .await
            .unwrap(),
        Verified::Yes
    );
    assert_eq!(
        hasher
            .verify("correct horse battery stapl", &a)
            .await
            .unwrap(),
        Verified::No
    );
    assert_eq!(
        hasher
            .verify("correct horse battery staple ", &a)
            .await
            .unwrap(),
        Verified::No
    );
    assert_memory_released(&hasher).await;
}

/// Idle workers hold no Argon2 memory: it is unmapped once the queue runs dry.
async fn assert_memory_released(hasher: &Hasher) {
    for _ in 0..200 {
        if hasher.mapped_buffers() == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!(
        "{} workers still hold hashing memory",
        hasher.mapped_buffers()
    );
}

/// Hashing threads run below the request workers' priority (nice 10), so that a flood of
/// sign-ins cannot starve session checks.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn hashing_threads_run_at_lower_priority() {
    let hasher = Hasher::new(2, 8);
    hasher.hash("warm the workers up").await.unwrap();
    let mut seen = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = task.unwrap().path();
        let name = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if !name.starts_with("orgauth-hash") {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("stat")).unwrap();
        // Field 19 is the nice value; fields after the parenthesised name start at 3.
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        let nice: i32 = after_name.split(' ').nth(16).unwrap().parse().unwrap();
        assert_eq!(nice, 10, "{name}");
        seen += 1;
    }
    assert!(seen >= 2, "found {seen} hashing threads");
    drop(hasher);
}

#[tokio::test]
async fn long_passwords_are_not_truncated() {
    let hasher = Hasher::new(2, 8);
    let long: String = (0..128)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let stored = hasher.hash(&long).await.unwrap();
    for prefix in [72, 99, 127] {
        assert_eq!(
            hasher.verify(&long[..prefix], &stored).await.unwrap(),
            Verified::No
        );
    }
    assert_eq!(hasher.verify(&long, &stored).await.unwrap(), Verified::Yes);
}

#[tokio::test]
async fn unicode_is_compared_in_nfkc() {
    let hasher = Hasher::new(1, 8);
    let stored = hasher.hash("caf\u{e9} \u{1f511} пароль").await.unwrap();
    assert_eq!(
        hasher
            .verify("cafe\u{301} \u{1f511} пароль", &stored)
            .await
            .unwrap(),
        Verified::Yes
    );
}

#[tokio::test]
async fn better_auth_scrypt_hashes_verify_and_are_upgraded() {
    let hasher = Hasher::new(1, 8);
    match hasher
        .verify("password123", BETTER_AUTH_HASH)
        .await
        .unwrap()
    {
        Verified::YesRehashed(new) => {
            assert!(new.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
            assert_eq!(
                hasher.verify("password123", &new).await.unwrap(),
                Verified::Yes
            );
        }
        other => panic!("expected a re-hash, got {other:?}"),
    }
    assert_eq!(
        hasher
            .verify("password124", BETTER_AUTH_HASH)
            .await
            .unwrap(),
        Verified::No
    );
}

/// A sign-in's check gives the same answers as `verify`, fails for a missing or unreadable hash,
/// and starts spending scrypt work on every failure once it has seen an scrypt hash.
#[tokio::test]
async fn sign_in_checks_answer_like_verify() {
    let hasher = Hasher::new(1, 8);
    let argon = hasher.hash("password123").await.unwrap();
    assert!(!hasher.scrypt_in_use());
    for (password, stored, expected) in [
        ("password123", Some(argon.as_str()), Some(Verified::Yes)),
        ("password124", Some(argon.as_str()), Some(Verified::No)),
        ("password123", None, Some(Verified::No)),
        ("password123", Some("garbage"), Some(Verified::No)),
        ("password124", Some(BETTER_AUTH_HASH), Some(Verified::No)),
        ("password123", Some(BETTER_AUTH_HASH), None),
    ] {
        let got = hasher.verify_sign_in(password, stored).await.unwrap();
        match expected {
            Some(expected) => assert_eq!(got, expected, "{password} against {stored:?}"),
            None => assert!(matches!(got, Verified::YesRehashed(_)), "{got:?}"),
        }
    }
    assert!(hasher.scrypt_in_use(), "an scrypt hash was seen");
    hasher.set_scrypt_in_use(false);
    assert!(!hasher.scrypt_in_use());
    let coexisting = Hasher::new(1, 8).writing_better_auth_hashes();
    coexisting.set_scrypt_in_use(false);
    assert!(coexisting.scrypt_in_use(), "always, while writing scrypt");
}

#[tokio::test]
async fn weaker_argon2_parameters_are_upgraded() {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let weak = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(8192, 1, 1, None).unwrap(),
    )
    .hash_password(b"hunter22", &SaltString::generate(&mut rand::rngs::OsRng))
    .unwrap()
    .to_string();
    let hasher = Hasher::new(1, 8);
    assert!(matches!(
        hasher.verify("hunter22", &weak).await.unwrap(),
        Verified::YesRehashed(_)
    ));
    assert_eq!(
        hasher.verify("hunter23", &weak).await.unwrap(),
        Verified::No
    );
}

#[tokio::test]
async fn garbage_is_malformed_not_a_match() {
    let hasher = Hasher::new(1, 8);
    for stored in [
        "",
        "nonsense",
        "$argon2id$v=19$broken",
        "abc:def",
        "$2b$10$bcrypt",
    ] {
        assert!(
            matches!(
                hasher.verify("x", stored).await,
                Err(PasswordError::Malformed)
            ),
            "{stored}"
        );
    }
}

/// Past the queue limit, callers are refused at once instead of piling up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_is_refused() {
    let hasher = Hasher::new(1, 2);
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let h = hasher.clone();
            tokio::spawn(async move { h.hash("parallel password").await })
        })
        .collect();
    let mut overloaded = 0;
    let mut hashed = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => hashed += 1,
            Err(PasswordError::Overloaded) => overloaded += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(
        overloaded > 0 && hashed > 0,
        "hashed {hashed}, refused {overloaded}"
    );
    assert_memory_released(&hasher).await;
}
