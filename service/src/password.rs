//! Password hashing: Argon2id (m=19456 KiB, t=2, p=1) as a PHC string, verification of Better
//! Auth's scrypt hashes (re-hashed to Argon2id on the next sign-in), and a bounded pool so that a
//! flood of sign-ins can neither starve the async workers nor exhaust memory.
//!
//! Hashing runs on blocking threads, at most one per permit (permits = cores), each permit with
//! its own reused Argon2 memory buffer (a fresh 19 MiB allocation per hash makes glibc keep freed
//! buffers around; see shared/security.md §3.3). Callers beyond the queue limit are refused with
//! [`PasswordError::Overloaded`], which the API answers with 503 and `Retry-After` — never with a
//! wrong-password 401.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::rngs::OsRng;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;
use unicode_normalization::UnicodeNormalization;

/// The OWASP baseline; what every new hash uses.
pub const M_COST: u32 = 19456;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;
const OUTPUT_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Too many hashes are queued; the caller should retry later.
    #[error("password hashing is overloaded")]
    Overloaded,
    /// The stored value is not a hash this server understands.
    #[error("unrecognised password hash")]
    Malformed,
}

/// What checking a password against a stored hash found.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// It matched, but the hash is scrypt or uses other parameters: store this new hash.
    YesRehashed(String),
}

/// The bounded hashing pool. One per process; cheap to clone.
#[derive(Clone)]
pub struct Hasher {
    inner: Arc<Inner>,
}

struct Inner {
    params: Params,
    permits: Semaphore,
    buffers: Mutex<Vec<Vec<Block>>>,
    waiting: AtomicUsize,
    queue_limit: usize,
    acquire_timeout: Duration,
    /// Verified against when there is no real hash (unknown email), so timing does not tell.
    dummy: String,
}

/// Passwords are compared as typed modulo Unicode compatibility forms (NFKC), as Better Auth does.
fn normalize(password: &str) -> String {
    password.nfkc().collect()
}

impl Hasher {
    /// `permits` concurrent hashes (use the number of cores); at most `queue_limit` callers wait.
    pub fn new(permits: usize, queue_limit: usize) -> Self {
        let permits = permits.max(1);
        let params =
            Params::new(M_COST, T_COST, P_COST, Some(OUTPUT_LEN)).expect("valid Argon2 parameters");
        let buffers = (0..permits)
            .map(|_| vec![Block::default(); params.block_count()])
            .collect();
        let mut inner = Inner {
            params,
            permits: Semaphore::new(permits),
            buffers: Mutex::new(buffers),
            waiting: AtomicUsize::new(0),
            queue_limit,
            acquire_timeout: Duration::from_secs(5),
            dummy: String::new(),
        };
        let salt = SaltString::generate(&mut OsRng);
        let mut memory = vec![Block::default(); inner.params.block_count()];
        inner.dummy = argon2_phc(
            &inner.params,
            "dummy password for unknown users",
            &salt,
            &mut memory,
        );
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Sized for this machine: one permit per core, 64 callers queued per permit.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Self::new(cores, cores * 64)
    }

    /// A new Argon2id PHC string for `password`.
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let password = normalize(password);
        let params = self.inner.params.clone();
        self.run(move |memory| {
            let salt = SaltString::generate(&mut OsRng);
            argon2_phc(&params, &password, &salt, memory)
        })
        .await
    }

    /// Checks `password` against a stored Argon2 PHC string or Better Auth scrypt `salt:key`.
    pub async fn verify(&self, password: &str, stored: &str) -> Result<Verified, PasswordError> {
        let password = normalize(password);
        let stored = stored.to_owned();
        let params = self.inner.params.clone();
        self.run(move |memory| verify_blocking(&params, &password, &stored, memory))
            .await?
    }

    /// Spends the same work as a real verification and always fails: for unknown users and
    /// users without a password, so their answer takes as long as a wrong password's.
    pub async fn verify_dummy(&self, password: &str) -> Result<(), PasswordError> {
        let dummy = self.inner.dummy.clone();
        self.verify(password, &dummy).await.map(|_| ())
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut [Block]) -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let inner = &self.inner;
        if inner.waiting.fetch_add(1, Ordering::SeqCst) >= inner.queue_limit {
            inner.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(PasswordError::Overloaded);
        }
        let permit = tokio::time::timeout(inner.acquire_timeout, inner.permits.acquire()).await;
        inner.waiting.fetch_sub(1, Ordering::SeqCst);
        let _permit = match permit {
            Ok(Ok(p)) => p,
            _ => return Err(PasswordError::Overloaded),
        };
        let mut memory = inner
            .buffers
            .lock()
            .expect("buffer pool")
            .pop()
            .expect("a buffer per permit");
        let shared = self.inner.clone();
        let (result, memory) = tokio::task::spawn_blocking(move || {
            let result = work(&mut memory);
            (result, memory)
        })
        .await
        .expect("hashing does not panic");
        shared.buffers.lock().expect("buffer pool").push(memory);
        Ok(result)
    }

    /// Buffers currently idle in the pool (equal to the permits when nothing is hashing).
    pub fn idle_buffers(&self) -> usize {
        self.inner.buffers.lock().expect("buffer pool").len()
    }
}

fn argon2_phc(params: &Params, password: &str, salt: &SaltString, memory: &mut [Block]) -> String {
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = [0u8; OUTPUT_LEN];
    let mut raw_salt = [0u8; 64];
    let raw_salt = salt
        .decode_b64(&mut raw_salt)
        .expect("generated salt decodes");
    argon
        .hash_password_into_with_memory(password.as_bytes(), raw_salt, &mut out, memory)
        .expect("hashing with valid parameters succeeds");
    let output = Output::new(&out).expect("32-byte output");
    PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: params.try_into().expect("parameters encode"),
        salt: Some(salt.as_salt()),
        hash: Some(output),
    }
    .to_string()
}

fn verify_blocking(
    current: &Params,
    password: &str,
    stored: &str,
    memory: &mut [Block],
) -> Result<Verified, PasswordError> {
    if stored.starts_with('$') {
        let parsed = PasswordHash::new(stored).map_err(|_| PasswordError::Malformed)?;
        let params = Params::try_from(&parsed).map_err(|_| PasswordError::Malformed)?;
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return Err(PasswordError::Malformed);
        };
        if parsed.algorithm != argon2::ARGON2ID_IDENT {
            return Err(PasswordError::Malformed);
        }
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let mut raw_salt = [0u8; 64];
        let raw_salt = salt
            .decode_b64(&mut raw_salt)
            .map_err(|_| PasswordError::Malformed)?;
        let mut out = vec![0u8; expected.len()];
        // Hashes made with more memory than the pool's buffers (older, heavier settings) allocate.
        let matched = if params.block_count() <= memory.len() {
            let memory = &mut memory[..params.block_count()];
            argon.hash_password_into_with_memory(password.as_bytes(), raw_salt, &mut out, memory)
        } else {
            argon.hash_password_into(password.as_bytes(), raw_salt, &mut out)
        }
        .is_ok()
            && bool::from(out.as_slice().ct_eq(expected.as_bytes()));
        return Ok(match matched {
            false => Verified::No,
            true if params == *current => Verified::Yes,
            true => {
                let salt = SaltString::generate(&mut OsRng);
                Verified::YesRehashed(argon2_phc(current, password, &salt, memory))
            }
        });
    }
    // Better Auth: "<32 hex salt>:<128 hex key>", scrypt N=16384 r=16 p=1, 64-byte key, where the
    // salt given to scrypt is the hex string's bytes (not the decoded bytes).
    let (salt, key) = stored.split_once(':').ok_or(PasswordError::Malformed)?;
    let expected = hex::decode(key).map_err(|_| PasswordError::Malformed)?;
    if salt.is_empty() || expected.len() != 64 {
        return Err(PasswordError::Malformed);
    }
    let scrypt_params = scrypt::Params::new(14, 16, 1, 64).expect("valid scrypt parameters");
    let mut out = [0u8; 64];
    scrypt::scrypt(
        password.as_bytes(),
        salt.as_bytes(),
        &scrypt_params,
        &mut out,
    )
    .map_err(|_| PasswordError::Malformed)?;
    if bool::from(out.as_slice().ct_eq(&expected)) {
        let salt = SaltString::generate(&mut OsRng);
        Ok(Verified::YesRehashed(argon2_phc(
            current, password, &salt, memory,
        )))
    } else {
        Ok(Verified::No)
    }
}
