//! Per-account protection against password guessing (security checklist B5/B6). The per-address
//! rate limit stops one client; a guess spread over many clients is stopped here: failed password
//! checks are counted per account, and past a few the account's password checks must wait, longer
//! with each further failure, up to a cap.
//!
//! - The count is keyed on the submitted address, normalized, whether or not an account has it,
//!   so a throttled unknown address and a throttled account answer alike (B1(d)).
//! - Only password checks wait: the owner's sessions, social sign-in and password reset keep
//!   working, and a completed reset (or a correct password) clears the count. A stranger can
//!   slow the owner's password sign-in for minutes, never lock the owner out.
//! - Checks of one account under way at once count against the failures left, so a burst of
//!   parallel guesses cannot outrun the count.
//! - In memory, per process, bounded to [`CAPACITY`] accounts (about 100 bytes each); keys are a
//!   digest of the address, not the address.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

use crate::Error;

/// Accounts tracked at most; past it, forgotten failures go first, then the oldest.
pub const CAPACITY: usize = 100_000;

/// The throttle's numbers (`ORGAUTH_ACCOUNT_GUESS_*`).
#[derive(Clone, Debug)]
pub struct GuessLimits {
    /// Failed password checks an account gets before it is throttled; 0 switches this off.
    pub free_failures: u32,
    /// Failures are forgotten this long after the last one.
    pub window: Duration,
    /// The wait after the last free failure; each further failure doubles it.
    pub first_delay: Duration,
    /// The longest wait.
    pub max_delay: Duration,
}

impl Default for GuessLimits {
    fn default() -> Self {
        Self {
            free_failures: 5,
            window: Duration::minutes(15),
            first_delay: Duration::seconds(30),
            max_delay: Duration::minutes(5),
        }
    }
}

type Key = [u8; 16];

#[derive(Debug)]
struct Entry {
    failures: u32,
    last_failure: DateTime<Utc>,
    locked_until: Option<DateTime<Utc>>,
    /// Checks begun and not yet ended.
    in_flight: u32,
}

type Table = Arc<Mutex<HashMap<Key, Entry>>>;

/// The per-account failure counts. One per process.
pub struct Guessing {
    limits: GuessLimits,
    table: Table,
}

fn key(email: &str) -> Key {
    let digest = Sha256::digest(email.as_bytes());
    digest[..16].try_into().expect("16 bytes")
}

/// Whole seconds until `until`, at least 1.
fn seconds_until(until: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    let ms = (until - now).num_milliseconds().max(0) as u64;
    ms.div_ceil(1000).max(1)
}

impl Guessing {
    pub fn new(limits: GuessLimits) -> Self {
        Self {
            limits,
            table: Arc::default(),
        }
    }

    /// Begins a password check for the (normalized) address `email`. Refused with
    /// [`Error::TooManyAttempts`] while the account is throttled, or while as many checks are
    /// under way as it has failures left. End it with [`Attempt::failed`] or
    /// [`Attempt::succeeded`]; dropped otherwise (overload, a database error), it counts nothing.
    pub fn begin(&self, email: &str, now: DateTime<Utc>) -> Result<Attempt, Error> {
        if self.limits.free_failures == 0 {
            return Ok(Attempt::off());
        }
        let key = key(email);
        let free = self.limits.free_failures;
        let mut table = self.table.lock().expect("guessing table");
        if !table.contains_key(&key) && table.len() >= CAPACITY {
            evict(&mut table, now, self.limits.window);
        }
        let entry = table.entry(key).or_insert(Entry {
            failures: 0,
            last_failure: now,
            locked_until: None,
            in_flight: 0,
        });
        if entry.failures > 0 && now - entry.last_failure >= self.limits.window {
            entry.failures = 0;
            entry.locked_until = None;
        }
        if let Some(until) = entry.locked_until.filter(|u| *u > now) {
            return Err(Error::TooManyAttempts {
                retry_after: seconds_until(until, now),
            });
        }
        let left = free.saturating_sub(entry.failures).max(1);
        if entry.in_flight >= left {
            return Err(Error::TooManyAttempts { retry_after: 1 });
        }
        entry.in_flight += 1;
        Ok(Attempt {
            inner: Some((self.table.clone(), key, self.limits.clone())),
        })
    }

    /// Forgets the account's failures (a completed password reset).
    pub fn clear(&self, email: &str) {
        let mut table = self.table.lock().expect("guessing table");
        if let Some(entry) = table.get_mut(&key(email)) {
            entry.failures = 0;
            entry.locked_until = None;
            if entry.in_flight == 0 {
                table.remove(&key(email));
            }
        }
    }

    /// Accounts tracked now (for tests of the bound).
    pub fn tracked(&self) -> usize {
        self.table.lock().expect("guessing table").len()
    }
}

/// Makes room: drops what is forgotten anyway, then (if still full) a tenth of the entries with
/// no check under way: throttled accounts last, oldest failure first.
fn evict(table: &mut HashMap<Key, Entry>, now: DateTime<Utc>, window: Duration) {
    let locked = |e: &Entry| e.locked_until.is_some_and(|u| u > now);
    table.retain(|_, e| {
        e.in_flight > 0 || locked(e) || (e.failures > 0 && now - e.last_failure < window)
    });
    if table.len() < CAPACITY {
        return;
    }
    let mut idle: Vec<(bool, DateTime<Utc>, Key)> = table
        .iter()
        .filter(|(_, e)| e.in_flight == 0)
        .map(|(k, e)| (locked(e), e.last_failure, *k))
        .collect();
    let n = (CAPACITY / 10).min(idle.len());
    if n == 0 {
        return;
    }
    idle.select_nth_unstable(n - 1);
    for (_, _, k) in &idle[..n] {
        table.remove(k);
    }
}

/// A password check under way (see [`Guessing::begin`]).
#[must_use = "end the attempt with failed() or succeeded()"]
pub struct Attempt {
    inner: Option<(Table, Key, GuessLimits)>,
}

impl Attempt {
    fn off() -> Self {
        Self { inner: None }
    }

    /// The password was wrong. Returns the wait this failure imposed, when it throttled the
    /// account.
    pub fn failed(mut self, now: DateTime<Utc>) -> Option<Duration> {
        let (table, key, limits) = self.inner.take()?;
        let mut table = table.lock().expect("guessing table");
        let entry = table.entry(key).or_insert(Entry {
            failures: 0,
            last_failure: now,
            locked_until: None,
            in_flight: 1,
        });
        entry.in_flight = entry.in_flight.saturating_sub(1);
        if now - entry.last_failure >= limits.window {
            entry.failures = 0;
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.last_failure = now;
        let over = entry.failures.checked_sub(limits.free_failures)?;
        let delay = limits
            .first_delay
            .checked_mul(1 << over.min(20))
            .unwrap_or(limits.max_delay)
            .min(limits.max_delay);
        entry.locked_until = Some(now + delay);
        Some(delay)
    }

    /// The password was right: the account's failures are forgotten.
    pub fn succeeded(mut self) {
        if let Some((table, key, _)) = self.inner.take() {
            let mut table = table.lock().expect("guessing table");
            if let Some(entry) = table.get_mut(&key) {
                entry.in_flight = entry.in_flight.saturating_sub(1);
                entry.failures = 0;
                entry.locked_until = None;
                if entry.in_flight == 0 {
                    table.remove(&key);
                }
            }
        }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if let Some((table, key, _)) = self.inner.take() {
            let mut table = table.lock().expect("guessing table");
            if let Some(entry) = table.get_mut(&key) {
                entry.in_flight = entry.in_flight.saturating_sub(1);
                if entry.in_flight == 0 && entry.failures == 0 {
                    table.remove(&key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn waits(g: &Guessing, email: &str, now: DateTime<Utc>) -> Option<u64> {
        match g.begin(email, now) {
            Ok(_) => None,
            Err(Error::TooManyAttempts { retry_after }) => Some(retry_after),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn five_free_failures_then_doubling_waits() {
        let g = Guessing::new(GuessLimits::default());
        let now = t0();
        for i in 0..5 {
            let wait = g.begin("a@x", now).unwrap().failed(now);
            assert_eq!(wait, (i == 4).then(|| Duration::seconds(30)));
        }
        assert_eq!(waits(&g, "a@x", now), Some(30));
        assert_eq!(waits(&g, "b@x", now), None, "per account");
        let mut now = now + Duration::seconds(30);
        let mut seen = Vec::new();
        for _ in 0..6 {
            let wait = g.begin("a@x", now).unwrap().failed(now).unwrap();
            seen.push(wait.num_seconds());
            now += wait;
        }
        assert_eq!(seen, [60, 120, 240, 300, 300, 300]);
        g.begin("a@x", now).unwrap().succeeded();
        assert_eq!(g.tracked(), 0, "a success forgets the account");
    }

    #[test]
    fn checks_under_way_count_against_what_is_left() {
        let g = Guessing::new(GuessLimits::default());
        let now = t0();
        let running: Vec<_> = (0..5).map(|_| g.begin("a@x", now).unwrap()).collect();
        assert_eq!(waits(&g, "a@x", now), Some(1));
        drop(running);
        assert_eq!(g.tracked(), 0, "abandoned checks count nothing");
        for _ in 0..3 {
            g.begin("a@x", now).unwrap().failed(now);
        }
        let two: Vec<_> = (0..2).map(|_| g.begin("a@x", now).unwrap()).collect();
        assert_eq!(waits(&g, "a@x", now), Some(1));
        drop(two);
    }

    #[test]
    fn failures_are_forgotten_and_cleared() {
        let g = Guessing::new(GuessLimits::default());
        let now = t0();
        for _ in 0..4 {
            g.begin("a@x", now).unwrap().failed(now);
        }
        let later = now + Duration::minutes(15);
        for _ in 0..4 {
            assert_eq!(g.begin("a@x", later).unwrap().failed(later), None);
        }
        g.clear("a@x");
        assert_eq!(g.tracked(), 0);
        let off = Guessing::new(GuessLimits {
            free_failures: 0,
            ..Default::default()
        });
        for _ in 0..50 {
            assert_eq!(off.begin("a@x", now).unwrap().failed(now), None);
        }
        assert_eq!(off.tracked(), 0);
    }

    #[test]
    fn the_table_stays_bounded() {
        let g = Guessing::new(GuessLimits::default());
        let now = t0();
        for i in 0..CAPACITY + 10 {
            g.begin(&format!("{i}@x"), now).unwrap().failed(now);
        }
        assert!(g.tracked() <= CAPACITY, "{}", g.tracked());
        let locked = "locked@x";
        for _ in 0..5 {
            g.begin(locked, now).unwrap().failed(now);
        }
        for i in 0..CAPACITY {
            g.begin(&format!("more-{i}@x"), now).unwrap().failed(now);
        }
        assert!(g.tracked() <= CAPACITY);
        assert_eq!(
            waits(&g, locked, now),
            Some(30),
            "throttled accounts go last"
        );
    }
}
