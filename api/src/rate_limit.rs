//! Better Auth's rate limiter (contract §5), on by default: a fixed window per client address and
//! route, 100 requests per 10 s, with stricter rules for sign-in, sign-up and password and e-mail
//! flows. It runs before routing, so unknown paths count too.
//!
//! Where the counters live (`ORGAUTH_RATE_LIMIT_STORAGE`): in this process (`memory`, the default
//! for one server; several replicas would each allow the limit), or shared by every replica on one
//! database: in its `rate_limit` table (`database`, one upsert per request) or in Redis (`redis`,
//! one script call per request; while Redis does not answer the database counts, and when neither
//! can, the request is answered 503, never let through). See `service::rate_limit`.
//!
//! Better Auth keys its counters `<ip>|<path>`. Here every route the server has keeps its own
//! counter per client (a route with a parameter, `/callback/{id}`, is one route), and every path
//! the server does not have shares one counter per client and rule: a client cannot make the
//! table grow by inventing paths. In memory the table holds at most `max_entries` windows; windows
//! that have run out are dropped a few at a time as requests come in, and when the table is full
//! the window that started first makes room. Each request costs amortized constant work under the
//! lock, never a scan of the table. The shared stores key by `<client>|<route>` and are swept
//! with the other expired rows (`service::maintenance`).

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex};

use chrono::Duration;
use poem::http::StatusCode;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use service::clock::Clock;
use service::config::Secret;
use service::rate_limit::{RedisCounters, SharedCounters};

use crate::client_ip::ClientIp;
use crate::route_template::Template;

#[derive(Clone, Debug)]
pub struct RateLimitConfig {
    /// The general rule's window.
    pub window: Duration,
    /// The general rule's requests per window.
    pub max: u32,
    /// The most windows (client and route pairs) kept at once (`ORGAUTH_RATE_LIMIT_MAX_ENTRIES`).
    pub max_entries: usize,
    /// Where the counters live (`ORGAUTH_RATE_LIMIT_STORAGE`).
    pub storage: Storage,
}

/// Where the counters live.
#[derive(Clone, Debug, Default)]
pub enum Storage {
    /// In this process: each replica counts on its own.
    #[default]
    Memory,
    /// In the database's `rate_limit` table, shared by the replicas on it.
    Database,
    /// In Redis at this URL (`REDIS_URL`), the database counting while Redis does not answer.
    Redis(Secret),
}

/// The table's default size; at most about 15 MB.
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            window: Duration::seconds(10),
            max: 100,
            max_entries: DEFAULT_MAX_ENTRIES,
            storage: Storage::Memory,
        }
    }
}

/// The contract's rules, by the path relative to `/api/auth`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    General,
    /// `/sign-in*`, `/sign-up*`, `/change-password*`, `/change-email*`: 3 per 10 s.
    Credentials,
    /// `/request-password-reset`, `/send-verification-email`, `/forget-password*`: 3 per 60 s.
    Mail,
    /// The magic-link plugin's rule, which wins over the sign-in one: `/sign-in/magic-link*`,
    /// `/magic-link/verify*`: 5 per 60 s.
    MagicLink,
}

const RULES: [Rule; 4] = [
    Rule::General,
    Rule::Credentials,
    Rule::Mail,
    Rule::MagicLink,
];

/// Better Auth's special rules, plus `/verify-password` among the password checks (Better Auth
/// gives it the general limit; it is as much a password guess as sign-in).
fn rule(path: &str) -> Rule {
    if path.starts_with("/sign-in/magic-link") || path.starts_with("/magic-link/verify") {
        Rule::MagicLink
    } else if ["/sign-in", "/sign-up", "/change-password", "/change-email"]
        .iter()
        .any(|p| path.starts_with(p))
        || path == "/verify-password"
    {
        Rule::Credentials
    } else if path == "/request-password-reset"
        || path == "/send-verification-email"
        || path.starts_with("/forget-password")
    {
        Rule::Mail
    } else {
        Rule::General
    }
}

/// A rule's window (milliseconds) and maximum.
fn limits(cfg: &RateLimitConfig, rule: Rule) -> (i64, u32) {
    match rule {
        Rule::General => (cfg.window.num_milliseconds().max(1), cfg.max),
        Rule::Credentials => (10_000, 3),
        Rule::Mail => (60_000, 3),
        Rule::MagicLink => (60_000, 5),
    }
}

/// The routes the server has, relative to `/api/auth`, each numbered; what a request path counts
/// against is its route's number, or for a path the server does not have, one number per rule.
struct Routes {
    exact: HashMap<String, (u16, Rule)>,
    /// Routes with parameters (`{id}` segments match any one segment).
    templates: Vec<(Template, u16, Rule)>,
    /// The first number after the routes'; unknown paths count against `unknown + rule`.
    unknown: u16,
    /// Each number's name in the shared stores' keys: the route, or `?<rule>` for unknown paths.
    names: Vec<String>,
}

impl Routes {
    /// From the paths the OpenAPI document lists (those outside `/api/auth` are not limited).
    fn new<S: AsRef<str>>(paths: &[S]) -> Self {
        let mut routes = Routes {
            exact: HashMap::new(),
            templates: Vec::new(),
            unknown: 0,
            names: Vec::new(),
        };
        for path in paths {
            let Some(path) = path.as_ref().strip_prefix("/api/auth") else {
                continue;
            };
            if routes.exact.contains_key(path)
                || routes
                    .templates
                    .iter()
                    .any(|(t, ..)| Template::new(path) == *t)
            {
                continue;
            }
            let id = routes.unknown;
            routes.unknown = routes
                .unknown
                .checked_add(1)
                .expect("fewer than 65,536 routes");
            routes.names.push(path.to_owned());
            if path.contains('{') {
                routes.templates.push((Template::new(path), id, rule(path)));
            } else {
                routes.exact.insert(path.to_owned(), (id, rule(path)));
            }
        }
        routes
            .names
            .extend(RULES.iter().map(|r| format!("?{r:?}").to_lowercase()));
        routes
    }

    /// A counter's name in the shared stores.
    fn name(&self, bucket: u16) -> &str {
        self.names
            .get(usize::from(bucket))
            .map_or("?", String::as_str)
    }

    /// The counter and rule of a path relative to `/api/auth`.
    fn bucket(&self, path: &str) -> (u16, Rule) {
        if let Some(&known) = self.exact.get(path) {
            return known;
        }
        if let Some((_, id, rule)) = self.templates.iter().find(|(t, _, _)| t.matches(path)) {
            return (*id, *rule);
        }
        let rule = rule(path);
        let offset = RULES.iter().position(|r| *r == rule).unwrap_or(0) as u16;
        (self.unknown + offset, rule)
    }
}

/// A path's segments, `None` for a `{parameter}`.
/// Who is counted: IPv4 as is; IPv6 by its /64, since one client usually holds a whole /64;
/// without an address (no socket address, no trusted header), everyone together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Client {
    V4(u32),
    V6(u64),
    Unknown,
}

impl From<Option<IpAddr>> for Client {
    fn from(ip: Option<IpAddr>) -> Self {
        match ip {
            Some(IpAddr::V4(v4)) => Client::V4(v4.to_bits()),
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => Client::V4(v4.to_bits()),
                None => Client::V6((v6.to_bits() >> 64) as u64),
            },
            None => Client::Unknown,
        }
    }
}

impl std::fmt::Display for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Client::V4(bits) => write!(f, "{}", Ipv4Addr::from_bits(*bits)),
            Client::V6(prefix) => {
                write!(f, "{}/64", Ipv6Addr::from_bits(u128::from(*prefix) << 64))
            }
            Client::Unknown => f.write_str("unknown"),
        }
    }
}

type Key = (Client, u16);

struct Slot {
    count: u32,
    /// When the window started, in milliseconds since the epoch.
    started: i64,
}

/// The windows, and when each started, in order, one queue per window length (so each queue is
/// also in order of expiry). A queue entry whose slot has since restarted or gone is stale and is
/// dropped when it reaches the front.
struct Table {
    slots: HashMap<Key, Slot>,
    queues: Vec<(i64, VecDeque<(Key, i64)>)>,
    max_entries: usize,
}

/// Queue entries looked at per request and queue, beyond what the request adds: enough to keep
/// up, since each request adds at most one.
const SWEEP: usize = 2;

impl Table {
    fn new(max_entries: usize, windows: &[i64]) -> Self {
        let mut lengths = windows.to_vec();
        lengths.sort_unstable();
        lengths.dedup();
        Self {
            slots: HashMap::new(),
            queues: lengths.into_iter().map(|w| (w, VecDeque::new())).collect(),
            max_entries: max_entries.max(1),
        }
    }

    fn queue(&mut self, window: i64) -> &mut VecDeque<(Key, i64)> {
        let i = self
            .queues
            .iter()
            .position(|(w, _)| *w == window)
            .expect("a queue for every rule's window");
        &mut self.queues[i].1
    }

    /// Whether the front of queue `i` can go: stale, or its window has run out (then its slot
    /// goes too).
    fn pop_expired(&mut self, i: usize, now: i64) -> bool {
        let (window, queue) = &mut self.queues[i];
        let Some(&(key, started)) = queue.front() else {
            return false;
        };
        let live = self.slots.get(&key).is_some_and(|s| s.started == started);
        if live && now - started < *window {
            return false;
        }
        queue.pop_front();
        if live {
            self.slots.remove(&key);
        }
        true
    }

    /// Drops the window that started first, whether it has run out or not.
    fn evict_oldest(&mut self) {
        loop {
            let oldest = self
                .queues
                .iter()
                .enumerate()
                .filter_map(|(i, (_, q))| q.front().map(|&(_, started)| (started, i)))
                .min();
            let Some((_, i)) = oldest else { return };
            let (key, started) = self.queues[i].1.pop_front().expect("a front");
            if self.slots.get(&key).is_some_and(|s| s.started == started) {
                self.slots.remove(&key);
                return;
            }
        }
    }

    fn queued(&self) -> usize {
        self.queues.iter().map(|(_, q)| q.len()).sum()
    }

    /// Counts a request; `Some(milliseconds)` left in the window when it is over the limit.
    fn hit(&mut self, key: Key, window: i64, max: u32, now: i64) -> Option<i64> {
        for i in 0..self.queues.len() {
            for _ in 0..SWEEP {
                if !self.pop_expired(i, now) {
                    break;
                }
            }
        }
        if !self.slots.contains_key(&key) && self.slots.len() >= self.max_entries {
            self.evict_oldest();
        }
        // Stale entries are few (each is a window that restarted or was evicted); this only binds
        // when the clock jumps.
        while self.queued() >= 2 * self.max_entries {
            self.evict_oldest();
        }
        let fresh = Slot {
            count: 0,
            started: now,
        };
        let started = match self.slots.get_mut(&key) {
            Some(slot) if now - slot.started < window => false,
            Some(slot) => {
                *slot = fresh;
                true
            }
            None => {
                self.slots.insert(key, fresh);
                true
            }
        };
        if started {
            self.queue(window).push_back((key, now));
        }
        let slot = self.slots.get_mut(&key).expect("a slot for the key");
        if slot.count >= max {
            return Some(slot.started + window - now);
        }
        slot.count += 1;
        None
    }
}

struct Limiter {
    cfg: RateLimitConfig,
    routes: Routes,
    client_ip: ClientIp,
    clock: Arc<dyn Clock>,
    store: Store,
}

enum Store {
    Memory(Mutex<Table>),
    Shared(Box<SharedCounters>),
}

/// The limiter; with no configuration it lets everything through.
#[derive(Clone)]
pub struct RateLimit(Option<Arc<Limiter>>);

impl RateLimit {
    /// `known_paths`: every path the server routes (as the OpenAPI document lists them, with
    /// `{parameter}` segments).
    /// `db`: where the `database` storage counts, and `redis` while Redis does not answer.
    pub fn new<S: AsRef<str>>(
        cfg: Option<RateLimitConfig>,
        client_ip: ClientIp,
        clock: Arc<dyn Clock>,
        db: &sea_orm::DatabaseConnection,
        known_paths: &[S],
    ) -> Self {
        Self(cfg.map(|cfg| {
            let windows: Vec<i64> = RULES.iter().map(|r| limits(&cfg, *r).0).collect();
            let store = match &cfg.storage {
                Storage::Memory => Store::Memory(Mutex::new(Table::new(cfg.max_entries, &windows))),
                Storage::Database => Store::Shared(Box::new(SharedCounters::new(db.clone(), None))),
                Storage::Redis(url) => Store::Shared(Box::new(SharedCounters::new(
                    db.clone(),
                    Some(
                        RedisCounters::new(url.expose())
                            .expect("REDIS_URL was checked with the settings"),
                    ),
                ))),
            };
            Arc::new(Limiter {
                store,
                routes: Routes::new(known_paths),
                cfg,
                client_ip,
                clock,
            })
        }))
    }
}

impl<E: Endpoint> Middleware<E> for RateLimit {
    type Output = RateLimitEndpoint<E>;

    fn transform(&self, next: E) -> Self::Output {
        RateLimitEndpoint {
            next,
            limiter: self.0.clone(),
        }
    }
}

pub struct RateLimitEndpoint<E> {
    next: E,
    limiter: Option<Arc<Limiter>>,
}

/// The longest window of the rules: what the sweep keeps of the shared counters.
pub fn longest_window(cfg: &RateLimitConfig) -> chrono::Duration {
    let longest = RULES.iter().map(|r| limits(cfg, *r).0).max().unwrap_or(0);
    chrono::Duration::milliseconds(longest)
}

/// The shared counters could not count the request: neither Redis nor the database answered.
struct Uncounted;

impl Limiter {
    /// `Some(seconds)` to wait when the request is over its limit.
    async fn check(&self, req: &Request, path: &str) -> Result<Option<i64>, Uncounted> {
        let (bucket, rule) = self.routes.bucket(path);
        let (window, max) = limits(&self.cfg, rule);
        let client = Client::from(self.client_ip.of(req));
        let now = self.clock.now().timestamp_millis();
        let left = match &self.store {
            Store::Memory(table) => {
                table
                    .lock()
                    .expect("rate-limit table")
                    .hit((client, bucket), window, max, now)
            }
            Store::Shared(counters) => {
                let key = format!("{client}|{}", self.routes.name(bucket));
                counters.hit(&key, window, max, now).await.map_err(|e| {
                    tracing::error!(error = %e, "counting a rate-limited request failed");
                    Uncounted
                })?
            }
        };
        Ok(left.map(|left| (left + 999) / 1000))
    }
}

impl<E: Endpoint> Endpoint for RateLimitEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let limited = self
            .limiter
            .as_ref()
            .zip(req.uri().path().strip_prefix("/api/auth"));
        if let Some((limiter, path)) = limited {
            let verdict = limiter.check(&req, path).await;
            if verdict.is_err() {
                // Never let the request through uncounted.
                return Ok(crate::error::ApiError::database_unavailable().into_response());
            }
            if let Ok(Some(retry_after)) = verdict {
                service::metrics::get().rate_limit_refusals.inc();
                return Ok(Response::builder()
                    .status(StatusCode::TOO_MANY_REQUESTS)
                    .header("X-Retry-After", retry_after.to_string())
                    .content_type("application/json")
                    .body(r#"{"message":"Too many requests. Please try again later."}"#));
            }
        }
        Ok(self.next.get_response(req).await.into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATHS: &[&str] = &[
        "/api/auth/ok",
        "/api/auth/sign-in/email",
        "/api/auth/sign-up/email",
        "/api/auth/request-password-reset",
        "/api/auth/callback/{id}",
        "/api/auth/reset-password/{token}",
        "/healthz",
    ];

    #[test]
    fn known_routes_have_their_own_counter_unknown_paths_share_one_per_rule() {
        let routes = Routes::new(PATHS);
        let ok = routes.bucket("/ok");
        assert_eq!(ok.1, Rule::General);
        let sign_in = routes.bucket("/sign-in/email");
        assert_eq!(sign_in.1, Rule::Credentials);
        assert_ne!(sign_in.0, routes.bucket("/sign-up/email").0);
        // A route with a parameter is one route, whatever the parameter.
        let github = routes.bucket("/callback/github");
        assert_eq!(github, routes.bucket("/callback/google"));
        assert_ne!(github.0, routes.bucket("/reset-password/abc").0);
        // Unknown paths: one counter per rule, apart from every route's.
        let unknown = routes.bucket("/x/1");
        assert_eq!(unknown, routes.bucket("/callback/github/extra"));
        assert_eq!(unknown, routes.bucket("/callback/"));
        assert_eq!(unknown, routes.bucket("/healthz"));
        assert_eq!(unknown, routes.bucket("/ok/"));
        assert_eq!(unknown.1, Rule::General);
        let unknown_sign_in = routes.bucket("/sign-in/anything");
        assert_eq!(unknown_sign_in, routes.bucket("/sign-up/else"));
        assert_eq!(unknown_sign_in.1, Rule::Credentials);
        assert_eq!(routes.bucket("/forget-password/x").1, Rule::Mail);
        // The magic-link plugin's rule wins over the sign-in one, as in Better Auth.
        assert_eq!(routes.bucket("/sign-in/magic-link").1, Rule::MagicLink);
        assert_eq!(routes.bucket("/magic-link/verify").1, Rule::MagicLink);
        assert_eq!(
            limits(&RateLimitConfig::default(), Rule::MagicLink),
            (60_000, 5)
        );
        let mut all: Vec<u16> = [ok, sign_in, github, unknown, unknown_sign_in]
            .iter()
            .map(|b| b.0)
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 5);
    }

    #[test]
    fn ipv6_clients_count_per_64() {
        let a = Client::from(Some("2001:db8:1:2::1".parse().unwrap()));
        let b = Client::from(Some("2001:db8:1:2:ffff::9".parse().unwrap()));
        let c = Client::from(Some("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            Client::from(Some("::ffff:192.0.2.1".parse().unwrap())),
            Client::from(Some("192.0.2.1".parse().unwrap()))
        );
    }

    fn client(i: u32) -> Client {
        Client::V4(i)
    }

    #[test]
    fn a_fixed_window_from_the_first_hit() {
        let mut t = Table::new(10, &[10_000]);
        let key = (client(1), 0);
        for _ in 0..3 {
            assert_eq!(t.hit(key, 10_000, 3, 1_000), None);
        }
        assert_eq!(t.hit(key, 10_000, 3, 4_500), Some(6_500));
        assert_eq!(t.hit((client(2), 0), 10_000, 3, 4_500), None);
        assert_eq!(t.hit(key, 10_000, 3, 11_000), None);
    }

    #[test]
    fn windows_that_ran_out_are_dropped_as_requests_come() {
        let mut t = Table::new(1_000, &[10_000, 60_000]);
        for i in 0..500 {
            t.hit((client(i), 0), 10_000, 3, 0);
        }
        t.hit((client(9_999), 1), 60_000, 3, 0);
        assert_eq!(t.slots.len(), 501);
        // Later, a few requests from one client sweep the rest away.
        for _ in 0..300 {
            t.hit((client(1_000), 0), 10_000, 1_000, 20_000);
        }
        assert_eq!(t.slots.len(), 2, "the 60 s window and the new one are left");
        assert_eq!(t.queued(), 2);
    }

    #[test]
    fn the_table_never_holds_more_than_its_size() {
        let mut t = Table::new(100, &[10_000]);
        for i in 0..10_000 {
            // All within one window: nothing runs out, so the oldest make room.
            assert_eq!(t.hit((client(i), 0), 10_000, 3, i64::from(i)), None);
            assert!(t.slots.len() <= 100);
            assert!(t.queued() <= 200);
        }
        assert!(t.slots.contains_key(&(client(9_999), 0)));
        assert!(!t.slots.contains_key(&(client(0), 0)));
        // A restarting window leaves a stale entry behind, which goes too.
        let mut t = Table::new(2, &[10]);
        for now in 0..1_000 {
            t.hit((client(1), 0), 10, 1, now);
            t.hit((client(2), 0), 10, 1, now);
            assert!(t.queued() <= 4, "{}", t.queued());
        }
    }
}
