//! Password hashing: Argon2id (m=19456 KiB, t=2, p=1) as a PHC string, verification of Better
//! Auth's scrypt hashes (re-hashed to Argon2id on the next sign-in), and a bounded pool so that a
//! flood of sign-ins can neither starve the async workers nor exhaust memory.
//!
//! Hashing runs on dedicated worker threads, one per core, at a lower CPU priority than the
//! request workers, so that a flood of sign-ins slows sign-ins, not every other request. A worker
//! maps its Argon2 memory (19 MiB) while it has work and unmaps it when the queue runs dry: a busy
//! server reuses the memory, an idle one holds none (a heap allocation per hash would make glibc
//! keep freed buffers around). Callers beyond the queue limit, or
//! whose turn has not come within 5 s, are refused with [`PasswordError::Overloaded`], which the
//! API answers with 503 and `Retry-After` — never with a wrong-password 401.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use memmap2::MmapMut;
use rand::rngs::OsRng;
use rand::RngCore;
use subtle::ConstantTimeEq;
use tokio::sync::oneshot;
use unicode_normalization::UnicodeNormalization;

/// The OWASP baseline; what every new hash uses.
pub const M_COST: u32 = 19456;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;
const OUTPUT_LEN: usize = 32;
/// How long a caller may wait for a worker before it is refused.
const WAIT_LIMIT: Duration = Duration::from_secs(5);
/// Nice value of the hashing threads (request workers run at 0).
#[cfg(target_os = "linux")]
const HASHING_NICENESS: libc::c_int = 10;

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

/// The bounded hashing pool. One per process; cheap to clone. The workers stop when the last
/// clone is dropped.
#[derive(Clone)]
pub struct Hasher {
    inner: Arc<Inner>,
}

struct Inner {
    params: Params,
    jobs: flume::Sender<Job>,
    /// Callers queued or being served.
    waiting: AtomicUsize,
    queue_limit: usize,
    /// Workers currently holding Argon2 memory.
    mapped: Arc<AtomicUsize>,
    /// Verified against when there is no real hash (unknown email), so timing does not tell.
    dummy: String,
    /// Write Better Auth's scrypt hashes and keep them (coexistence with a Better Auth server).
    better_auth_format: bool,
    /// Some stored passwords are Better Auth's scrypt hashes: every failed sign-in then spends
    /// an scrypt computation too (see [`Hasher::verify_sign_in`]).
    scrypt_in_use: AtomicBool,
}

/// Work that runs with a worker's Argon2 memory.
type Work = Box<dyn FnOnce(&mut [Block]) + Send>;

/// A unit of hashing work. Dropped unrun (so its caller is refused) once `deadline` has passed.
struct Job {
    queued: Instant,
    deadline: Instant,
    run: Work,
}

/// Argon2 memory of `blocks` blocks in its own anonymous mapping, returned to the system on drop.
struct Memory {
    map: MmapMut,
    blocks: usize,
}

impl Memory {
    fn new(blocks: usize) -> Self {
        let map = MmapMut::map_anon(blocks * std::mem::size_of::<Block>())
            .expect("mapping Argon2 memory");
        Self { map, blocks }
    }

    fn blocks(&mut self) -> &mut [Block] {
        // SAFETY: the mapping is page-aligned (more than `Block`'s 64-byte alignment), exactly
        // `blocks` blocks long, zero-filled by the kernel, and any bit pattern is a valid `Block`
        // (a plain array of u64). The slice borrows `self` mutably, so it cannot outlive the map.
        unsafe {
            std::slice::from_raw_parts_mut(self.map.as_mut_ptr().cast::<Block>(), self.blocks)
        }
    }
}

/// Counts a caller in (the pool's waiting count and the queue gauge) and out again however its
/// future ends (done, refused, cancelled).
struct Queued<'a>(&'a AtomicUsize);

impl<'a> Queued<'a> {
    /// Counts a caller in; returns the guard and how many were counted before it.
    fn enter(waiting: &'a AtomicUsize) -> (Self, usize) {
        crate::metrics::get().hash_queue.inc();
        (Self(waiting), waiting.fetch_add(1, Ordering::SeqCst))
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
        crate::metrics::get().hash_queue.dec();
    }
}

fn worker(jobs: flume::Receiver<Job>, blocks: usize, mapped: Arc<AtomicUsize>) {
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on this thread's own id; failure only leaves the default priority.
    unsafe {
        libc::setpriority(
            libc::PRIO_PROCESS,
            libc::gettid() as libc::id_t,
            HASHING_NICENESS,
        );
    }
    let mut memory: Option<Memory> = None;
    while let Ok(job) = jobs.recv() {
        let now = Instant::now();
        crate::metrics::get()
            .hash_wait
            .observe((now - job.queued).as_secs_f64());
        if now <= job.deadline {
            let memory = memory.get_or_insert_with(|| {
                mapped.fetch_add(1, Ordering::SeqCst);
                Memory::new(blocks)
            });
            (job.run)(memory.blocks());
        }
        if jobs.is_empty() && memory.take().is_some() {
            mapped.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Passwords are compared as typed modulo Unicode compatibility forms (NFKC), as Better Auth does.
fn normalize(password: &str) -> String {
    password.nfkc().collect()
}

impl Hasher {
    /// `workers` concurrent hashes (use the number of cores); at most `queue_limit` callers wait.
    pub fn new(workers: usize, queue_limit: usize) -> Self {
        let params =
            Params::new(M_COST, T_COST, P_COST, Some(OUTPUT_LEN)).expect("valid Argon2 parameters");
        let (jobs, receiver) = flume::unbounded();
        let mapped = Arc::new(AtomicUsize::new(0));
        for i in 0..workers.max(1) {
            let (receiver, mapped, blocks) =
                (receiver.clone(), mapped.clone(), params.block_count());
            std::thread::Builder::new()
                .name(format!("orgauth-hash-{i}"))
                .spawn(move || worker(receiver, blocks, mapped))
                .expect("starting a hashing thread");
        }
        let salt = SaltString::generate(&mut OsRng);
        let dummy = argon2_phc(
            &params,
            "dummy password for unknown users",
            &salt,
            Memory::new(params.block_count()).blocks(),
        );
        Self {
            inner: Arc::new(Inner {
                params,
                jobs,
                waiting: AtomicUsize::new(0),
                queue_limit,
                mapped,
                dummy,
                better_auth_format: false,
                scrypt_in_use: AtomicBool::new(false),
            }),
        }
    }

    /// This pool, writing Better Auth's scrypt hashes and keeping them on sign-in, so a Better
    /// Auth server sharing the database can verify every password (`ORGAUTH_COEXISTENCE`).
    /// Call before the pool is cloned.
    pub fn writing_better_auth_hashes(mut self) -> Self {
        let inner = Arc::get_mut(&mut self.inner).expect("set before the hasher is shared");
        inner.better_auth_format = true;
        inner.scrypt_in_use = AtomicBool::new(true);
        self
    }

    /// Whether stored passwords include Better Auth's scrypt hashes (read from the database at
    /// start and every sweep). Always so while writing Better Auth's format.
    pub fn set_scrypt_in_use(&self, present: bool) {
        let in_use = present || self.inner.better_auth_format;
        self.inner.scrypt_in_use.store(in_use, Ordering::SeqCst);
    }

    /// Whether failed sign-ins currently spend an scrypt computation besides Argon2id.
    pub fn scrypt_in_use(&self) -> bool {
        self.inner.scrypt_in_use.load(Ordering::SeqCst)
    }

    /// Sized for this machine: one worker per core, 64 callers queued per worker.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Self::new(cores, cores * 64)
    }

    /// A new Argon2id PHC string for `password` (Better Auth's scrypt `salt:key` when writing
    /// Better Auth's format).
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let password = normalize(password);
        let params = self.inner.params.clone();
        if self.inner.better_auth_format {
            return self.run(move |_| better_auth_scrypt(&password)).await;
        }
        self.run(move |memory| {
            let salt = SaltString::generate(&mut OsRng);
            argon2_phc(&params, &password, &salt, memory)
        })
        .await
    }

    /// Checks `password` against a stored Argon2 PHC string or Better Auth scrypt `salt:key`.
    pub async fn verify(&self, password: &str, stored: &str) -> Result<Verified, PasswordError> {
        let password = normalize(password);
        let is_scrypt = !stored.starts_with('$');
        let stored = stored.to_owned();
        let params = self.inner.params.clone();
        let better_auth = self.inner.better_auth_format;
        self.run(move |memory| {
            let verified = verify_blocking(&params, &password, &stored, memory)?;
            Ok(in_format(better_auth, verified, is_scrypt, &password))
        })
        .await?
    }

    /// A sign-in's check of `password` against `stored` (`None` for an unknown user or one
    /// without a password, which always fails), made so that every failure costs the same work
    /// whatever the account: each kind of hash in use is computed once — Argon2id, and Better
    /// Auth's scrypt while any stored password is one — against the stored hash where it is of
    /// that kind, against a dummy otherwise. A known scrypt user, a known Argon2id user and an
    /// unknown address therefore cannot be told apart by how long their failure takes, under any
    /// load, without calibrating anything. An unreadable stored value fails like a missing one.
    pub async fn verify_sign_in(
        &self,
        password: &str,
        stored: Option<&str>,
    ) -> Result<Verified, PasswordError> {
        let is_scrypt = stored.is_some_and(|s| !s.starts_with('$'));
        if is_scrypt {
            self.inner.scrypt_in_use.store(true, Ordering::SeqCst);
        }
        let scrypt_in_use = self.scrypt_in_use();
        let password = normalize(password);
        let stored = stored.map(str::to_owned);
        let (params, dummy) = (self.inner.params.clone(), self.inner.dummy.clone());
        let better_auth = self.inner.better_auth_format;
        self.run(move |memory| {
            let checked = stored
                .as_deref()
                .and_then(|s| verify_blocking(&params, &password, s, memory).ok());
            match checked {
                Some(Verified::No) | None => {
                    // What the stored hash already cost, if it was read at all.
                    let spent_argon2 = checked.is_some() && !is_scrypt;
                    let spent_scrypt = checked.is_some() && is_scrypt;
                    if !spent_argon2 {
                        // Fails: the dummy is a hash of another password.
                        let _ = verify_blocking(&params, &password, &dummy, memory);
                    }
                    if scrypt_in_use && !spent_scrypt {
                        scrypt_dummy(&password);
                    }
                    Verified::No
                }
                Some(verified) => in_format(better_auth, verified, is_scrypt, &password),
            }
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut [Block]) -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let inner = &self.inner;
        let (_queued, ahead) = Queued::enter(&inner.waiting);
        if ahead >= inner.queue_limit {
            return Err(refused());
        }
        let (done, result) = oneshot::channel();
        let queued = Instant::now();
        let job = Job {
            queued,
            deadline: queued + WAIT_LIMIT,
            run: Box::new(move |memory| {
                // A caller that has gone (its request was dropped) gets no hash.
                if !done.is_closed() {
                    let _ = done.send(work(memory));
                }
            }),
        };
        inner.jobs.send(job).map_err(|_| refused())?;
        result.await.map_err(|_| refused())
    }

    /// Workers currently holding Argon2 memory (0 once the queue has run dry).
    pub fn mapped_buffers(&self) -> usize {
        self.inner.mapped.load(Ordering::SeqCst)
    }
}

/// An overloaded pool's answer, counted.
fn refused() -> PasswordError {
    crate::metrics::get().hash_refused.inc();
    PasswordError::Overloaded
}

/// Writing Better Auth's format: keep its hashes, and turn a matching Argon2 hash into one
/// Better Auth can verify. Otherwise as verified.
fn in_format(better_auth: bool, verified: Verified, is_scrypt: bool, password: &str) -> Verified {
    match (better_auth, verified, is_scrypt) {
        (false, verified, _) | (true, verified @ Verified::No, _) => verified,
        (true, _, true) => Verified::Yes,
        (true, _, false) => Verified::YesRehashed(better_auth_scrypt(password)),
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

/// Better Auth's hash: scrypt N=16384 r=16 p=1 with a 64-byte key over a random 16-byte salt,
/// written `<salt hex>:<key hex>`, where scrypt is given the salt's hex text (as Better Auth does).
fn better_auth_scrypt(password: &str) -> String {
    let mut raw_salt = [0u8; 16];
    OsRng.fill_bytes(&mut raw_salt);
    let salt = hex::encode(raw_salt);
    let mut key = [0u8; 64];
    scrypt::scrypt(
        password.as_bytes(),
        salt.as_bytes(),
        &scrypt_params(),
        &mut key,
    )
    .expect("64-byte output is valid");
    format!("{salt}:{}", hex::encode(key))
}

/// The work of checking a Better Auth scrypt hash, against nothing.
fn scrypt_dummy(password: &str) {
    let mut out = [0u8; 64];
    scrypt::scrypt(
        password.as_bytes(),
        b"00000000000000000000000000000000",
        &scrypt_params(),
        &mut out,
    )
    .expect("64-byte output is valid");
    std::hint::black_box(out);
}

fn scrypt_params() -> scrypt::Params {
    scrypt::Params::new(14, 16, 1, 64).expect("valid scrypt parameters")
}

/// The heaviest Argon2 parameters a stored hash may ask for: RFC 9106's first recommendation
/// (2 GiB, 4 lanes) and a few more passes. A stored string asking for more (Argon2 accepts up to
/// 4 TiB and 2^32 passes) would abort the process on allocation or hold a worker for hours, so it
/// fails like an unreadable hash.
fn within_stored_limits(params: &Params) -> bool {
    params.m_cost() <= 2 * 1024 * 1024 && params.t_cost() <= 16 && params.p_cost() <= 16
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
        if !within_stored_limits(&params) {
            return Err(PasswordError::Malformed);
        }
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
    let mut out = [0u8; 64];
    scrypt::scrypt(
        password.as_bytes(),
        salt.as_bytes(),
        &scrypt_params(),
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

#[cfg(test)]
mod props;
