//! The session cache (`ORGAUTH_SESSION_CACHE`, PostgreSQL only): each replica keeps the sessions
//! and users it has served, so a request whose session is cached makes no query for it; and the
//! member counts of large organizations, which `list-members` would otherwise count every time.
//!
//! Staying exact: migration 8's triggers notify the channel `orgauth_cache` at commit whenever
//! a session or user row is updated or deleted, whoever wrote it; every replica listens and drops
//! what changed. PostgreSQL delivers notifications in commit order, so a message this replica
//! sent itself is received after every change committed before it was sent. Hence:
//! - a replica trusts its cache only while the last of its own heartbeats it has received (it
//!   sends one every [`HEARTBEAT`]) was *sent* within [`SILENCE`]: every change committed before
//!   that heartbeat was sent has been heard, so nothing served is staler than [`SILENCE`], however
//!   late messages arrive; a lost or silent connection empties the cache, and trust returns only
//!   after it listens again;
//! - a request that may have written waits for a message it sends after its writes
//!   ([`SessionCache::fence`]), so the next request to this replica sees them;
//! - a fill that raced an invalidation is dropped ([`Ticket`]).
//!
//! Expiry and bans are checked on every hit against the cached columns, as the query checks
//! them, so an expired session is never served.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use entity::{session, user};
use moka::sync::Cache;
use sea_orm::sqlx::postgres::{PgListener, PgPool};
use tokio::sync::{mpsc, oneshot};

/// How often a replica sends itself a heartbeat through PostgreSQL.
const HEARTBEAT: Duration = Duration::from_millis(200);
/// How old the last own heartbeat heard back may have been when sent, for the cache to be
/// trusted: the longest anything it serves can be stale (the connection may be gone without
/// saying so, or its messages may arrive late on a loaded machine).
pub const SILENCE: Duration = Duration::from_millis(500);
/// Silence after which the listening connection is replaced.
const DEAD: Duration = Duration::from_secs(3);
/// Organizations whose member counts are kept at most (a few bytes each).
const MEMBER_COUNTS: u64 = 10_000;
/// The longest a request waits for its own fence before giving up on the cache's contents.
const FENCE_TIMEOUT: Duration = Duration::from_secs(1);

/// The cache's bounds (`ORGAUTH_SESSION_CACHE_ENTRIES`, `ORGAUTH_SESSION_CACHE_MB`).
#[derive(Clone, Debug)]
pub struct CacheLimits {
    /// Sessions kept at most (and users at most).
    pub max_entries: u64,
    /// Bytes of cached rows at most, sessions and users together.
    pub max_bytes: u64,
}

impl Default for CacheLimits {
    fn default() -> Self {
        Self {
            max_entries: 100_000,
            max_bytes: 16 << 20,
        }
    }
}

/// One replica's cache of sessions (by stored token) and users (by id). Cheap to clone.
#[derive(Clone)]
pub struct SessionCache(Arc<Inner>);

struct Inner {
    sessions: Cache<String, Arc<session::Model>>,
    users: Cache<String, Arc<user::Model>>,
    /// Members per organization, for `list-members`' total.
    member_counts: Cache<String, u64>,
    /// Bumped by every invalidation and every loss of trust; a fill that started before is dropped.
    generation: AtomicU64,
    /// When the last own heartbeat heard back was sent, in milliseconds since `start` plus one;
    /// 0: none since the cache last lost trust.
    heard: AtomicU64,
    start: Instant,
    /// Names this replica's own messages on the shared channel.
    replica: String,
    next_fence: AtomicU64,
    /// Requests waiting for a fence, to be covered by the next one sent.
    fence_queue: mpsc::UnboundedSender<oneshot::Sender<()>>,
    /// Fences sent and not yet heard back, with the requests each covers.
    fences: Mutex<HashMap<u64, Vec<oneshot::Sender<()>>>>,
    pool: PgPool,
}

/// Taken before reading the database for a fill: the fill counts only if nothing was invalidated
/// meanwhile.
#[derive(Clone, Copy)]
pub struct Ticket(u64);

impl SessionCache {
    /// Starts listening on `pool`'s database (one connection of the pool stays with the listener).
    pub fn start(pool: PgPool, limits: &CacheLimits) -> Self {
        // Each cache gets half the bytes; an entry weighs at least its share of them, so the
        // entry bound holds too.
        let half = (limits.max_bytes / 2).max(1);
        let floor = u32::try_from(half / limits.max_entries.max(1))
            .unwrap_or(u32::MAX)
            .max(1);
        let (fence_queue, queued) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            sessions: Cache::builder()
                .max_capacity(half)
                .weigher(move |k: &String, s: &Arc<session::Model>| {
                    weight(k.len() + session_bytes(s)).max(floor)
                })
                .build(),
            users: Cache::builder()
                .max_capacity(half)
                .weigher(move |k: &String, u: &Arc<user::Model>| {
                    weight(k.len() + user_bytes(u)).max(floor)
                })
                .build(),
            member_counts: Cache::new(limits.max_entries.clamp(1, MEMBER_COUNTS)),
            generation: AtomicU64::new(0),
            heard: AtomicU64::new(0),
            start: Instant::now(),
            replica: crate::token::generate(12),
            next_fence: AtomicU64::new(0),
            fence_queue,
            fences: Mutex::new(HashMap::new()),
            pool: pool.clone(),
        });
        tokio::spawn(supervise(Arc::downgrade(&inner), pool));
        tokio::spawn(send_fences(Arc::downgrade(&inner), queued));
        Self(inner)
    }

    /// The session stored under one of `forms` and its user, if both are cached and the cache is
    /// trusted now. The caller still checks expiry and bans.
    pub fn get(&self, forms: &[String]) -> Option<(Arc<session::Model>, Arc<user::Model>)> {
        let hit = self.0.trusted().then(|| {
            forms.iter().find_map(|form| {
                let s = self.0.sessions.get(form)?;
                let u = self.0.users.get(&s.user_id)?;
                Some((s, u))
            })
        });
        let hit = hit.flatten();
        let metrics = crate::metrics::get();
        match hit {
            Some(_) => metrics.session_cache_hits.inc(),
            None => metrics.session_cache_misses.inc(),
        }
        hit
    }

    /// A ticket for a fill, taken before the read; `None` while the cache is not trusted.
    pub fn ticket(&self) -> Option<Ticket> {
        let generation = self.0.generation.load(SeqCst);
        self.0.trusted().then_some(Ticket(generation))
    }

    /// Keeps `s` and its user, read after `ticket` was taken, unless something was invalidated
    /// since (checked again after the insert: an invalidation removes after it bumps).
    pub fn fill(&self, ticket: Ticket, s: &session::Model, u: &user::Model) {
        let inner = &self.0;
        if !inner.trusted() || inner.generation.load(SeqCst) != ticket.0 {
            return;
        }
        inner.sessions.insert(s.token.clone(), Arc::new(s.clone()));
        inner.users.insert(u.id.clone(), Arc::new(u.clone()));
        if inner.generation.load(SeqCst) != ticket.0 {
            inner.sessions.invalidate(&s.token);
            inner.users.invalidate(&u.id);
        }
    }

    /// How many members `organization_id` has, if cached and the cache is trusted now.
    pub fn member_count(&self, organization_id: &str) -> Option<u64> {
        self.0
            .trusted()
            .then(|| self.0.member_counts.get(organization_id))
            .flatten()
    }

    /// Keeps a member count read after `ticket` was taken (as [`Self::fill`]).
    pub fn fill_member_count(&self, ticket: Ticket, organization_id: &str, count: u64) {
        let inner = &self.0;
        if !inner.trusted() || inner.generation.load(SeqCst) != ticket.0 {
            return;
        }
        inner
            .member_counts
            .insert(organization_id.to_owned(), count);
        if inner.generation.load(SeqCst) != ticket.0 {
            inner.member_counts.invalidate(organization_id);
        }
    }

    /// Waits until this replica has heard every change committed before now, so that its next
    /// request does not see what this one changed from the cache. Requests waiting at the same
    /// moment share one fence (see [`send_fences`]). Without an answer within [`FENCE_TIMEOUT`]
    /// the cache is emptied instead.
    pub async fn fence(&self) {
        let inner = &self.0;
        if !inner.trusted() {
            // Nothing is served now, but trust returns with the next message, which may have
            // been sent before this request's writes: nothing cached may outlive them.
            inner.empty();
            return;
        }
        let (tx, rx) = oneshot::channel();
        let answered = inner.fence_queue.send(tx).is_ok()
            && matches!(tokio::time::timeout(FENCE_TIMEOUT, rx).await, Ok(Ok(())));
        if !answered {
            inner.lose_trust("a write's changes were not heard back in time");
        }
    }

    /// Whether the cache is trusted now (see [`SILENCE`]).
    pub fn is_trusted(&self) -> bool {
        self.0.trusted()
    }

    /// Sessions and users cached now (after pending evictions), for tests and the docs' figures.
    pub fn entry_count(&self) -> (u64, u64) {
        self.0.sessions.run_pending_tasks();
        self.0.users.run_pending_tasks();
        (self.0.sessions.entry_count(), self.0.users.entry_count())
    }
}

impl Inner {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX) + 1
    }

    /// Every change committed more than [`SILENCE`] ago has been heard.
    fn trusted(&self) -> bool {
        let heard = self.heard.load(SeqCst);
        heard != 0 && self.now_ms().saturating_sub(heard) < SILENCE.as_millis() as u64
    }

    /// One message from the channel.
    fn on_message(&self, payload: &str) {
        let was_trusted = self.trusted();
        match payload.split_at_checked(1) {
            Some(("s", token)) => {
                self.generation.fetch_add(1, SeqCst);
                self.sessions.invalidate(token);
            }
            Some(("u", id)) => {
                self.generation.fetch_add(1, SeqCst);
                self.users.invalidate(id);
            }
            Some(("m", organization)) => {
                self.generation.fetch_add(1, SeqCst);
                self.member_counts.invalidate(organization);
            }
            Some(("f", fence)) => {
                if let Some((replica, n)) = fence.split_once(':') {
                    if replica == self.replica {
                        let waiters = n
                            .parse()
                            .ok()
                            .and_then(|n| self.fences.lock().expect("fences").remove(&n));
                        for waiter in waiters.into_iter().flatten() {
                            let _ = waiter.send(());
                        }
                    }
                }
            }
            Some(("h", beat)) => {
                // Own heartbeats only: `h<replica>:<sent, ms since start>`.
                let sent = beat
                    .split_once(':')
                    .filter(|(replica, _)| *replica == self.replica)
                    .and_then(|(_, sent)| sent.parse::<u64>().ok());
                if let Some(sent) = sent {
                    self.heard.fetch_max(sent, SeqCst);
                    crate::metrics::get().session_cache_trusted.set(1);
                    if !was_trusted {
                        tracing::debug!("session cache: trusted");
                    }
                }
            }
            // `*`, or anything this version does not know: forget everything.
            _ => self.empty(),
        }
    }

    /// Forgets everything cached; fills that started before are dropped.
    fn empty(&self) {
        self.generation.fetch_add(1, SeqCst);
        self.sessions.invalidate_all();
        self.users.invalidate_all();
        self.member_counts.invalidate_all();
    }

    /// Stops trusting the cache until something is heard again, and empties it. Fences not
    /// heard back are dropped: their requests stop waiting. Warns once per loss.
    fn lose_trust(&self, why: &str) {
        let was = self.heard.swap(0, SeqCst);
        self.empty();
        self.fences.lock().expect("fences").clear();
        crate::metrics::get().session_cache_trusted.set(0);
        if was != 0 {
            tracing::warn!(
                reason = why,
                "session cache: changes may have gone unheard; answering from the database until \
                 listening again"
            );
        }
    }
}

/// Sends `payload` on the channel from a connection of the pool.
async fn notify(pool: &PgPool, payload: &str) -> Result<(), sea_orm::sqlx::Error> {
    sea_orm::sqlx::query("SELECT pg_notify($1, $2)")
        .bind(migration::CACHE_CHANNEL)
        .bind(payload)
        .execute(pool)
        .await
        .map(drop)
}

/// Sends the fences: each covers every request queued before it is sent (each queued after its
/// own writes committed), so concurrent writers share one notification instead of one each.
/// A fence that cannot be sent drops its requests, which then stop trusting the cache.
async fn send_fences(cache: Weak<Inner>, mut queue: mpsc::UnboundedReceiver<oneshot::Sender<()>>) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while let Ok(more) = queue.try_recv() {
            batch.push(more);
        }
        let Some(inner) = cache.upgrade() else {
            return;
        };
        let n = inner.next_fence.fetch_add(1, SeqCst);
        inner.fences.lock().expect("fences").insert(n, batch);
        if notify(&inner.pool, &format!("f{}:{n}", inner.replica))
            .await
            .is_err()
        {
            inner.fences.lock().expect("fences").remove(&n);
        }
    }
}

/// Listens for as long as the cache exists: connects, empties the cache (whatever changed while
/// nobody listened is unknown), then reads messages and sends heartbeats until the connection is
/// lost or stays silent past [`DEAD`], and starts again.
async fn supervise(cache: Weak<Inner>, pool: PgPool) {
    let mut failing = false;
    while cache.strong_count() > 0 && !pool.is_closed() {
        let mut listener = match listen(&pool).await {
            Ok(listener) => listener,
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "session cache: cannot listen for changes; answering from the database");
                    failing = true;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        // After LISTEN: every later change will be heard, and nothing older stays cached.
        match cache.upgrade() {
            Some(inner) => inner.empty(),
            None => return,
        }
        tracing::info!("session cache: listening for changes");
        let connected = Instant::now();
        let read = async {
            loop {
                match listener.try_recv().await {
                    Ok(Some(message)) => match cache.upgrade() {
                        Some(inner) => inner.on_message(message.payload()),
                        None => return None,
                    },
                    Ok(None) => return Some("the listening connection was lost"),
                    Err(_) => return Some("the listening connection failed"),
                }
            }
        };
        let beat = async {
            let mut tick = tokio::time::interval(HEARTBEAT);
            loop {
                tick.tick().await;
                let inner = cache.upgrade()?;
                let last = match inner.heard.load(SeqCst) {
                    0 => connected,
                    ms => inner.start + Duration::from_millis(ms - 1),
                };
                if last.max(connected).elapsed() > DEAD {
                    return Some("the listening connection went silent");
                }
                let beat = format!("h{}:{}", inner.replica, inner.now_ms());
                let _ = notify(&inner.pool, &beat).await;
            }
        };
        let lost = tokio::select! {
            why = read => why,
            why = beat => why,
        };
        drop(listener);
        if pool.is_closed() {
            // The server is stopping: nothing to warn about.
            return;
        }
        match (lost, cache.upgrade()) {
            (Some(why), Some(inner)) => {
                // Warned here; a failing reconnection need not warn again.
                inner.lose_trust(why);
                failing = true;
            }
            _ => return,
        }
    }
}

async fn listen(pool: &PgPool) -> Result<PgListener, sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(migration::CACHE_CHANNEL).await?;
    Ok(listener)
}

/// What an entry costs beyond its row's bytes: the cache's bookkeeping, the `Arc`s and the
/// allocator's headers. Measured (bench/session-cache.sh): 20,000 sessions and their users
/// cached took 29 MiB of RSS where their rows and keys add up to 13 MiB, about 400 bytes more
/// per entry.
const ENTRY_OVERHEAD: usize = 400;

/// An entry's weight in the cache's byte budget.
fn weight(bytes: usize) -> u32 {
    u32::try_from(bytes + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
}

fn text(s: &Option<String>) -> usize {
    s.as_ref().map_or(0, String::len)
}

/// A cached session's size: the row and its texts.
fn session_bytes(s: &session::Model) -> usize {
    std::mem::size_of::<session::Model>()
        + s.id.len()
        + s.token.len()
        + s.user_id.len()
        + text(&s.ip_address)
        + text(&s.user_agent)
        + text(&s.active_organization_id)
        + text(&s.active_team_id)
        + text(&s.impersonated_by)
}

/// A cached user's size: the row and its texts.
fn user_bytes(u: &user::Model) -> usize {
    std::mem::size_of::<user::Model>()
        + u.id.len()
        + u.name.len()
        + u.email.len()
        + text(&u.image)
        + text(&u.role)
        + text(&u.ban_reason)
}
