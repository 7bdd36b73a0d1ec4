//! Rate-limit counters that several replicas share: in the database (Better Auth's `rate_limit`
//! table, one upsert per request) or in Redis (one script call per request). While Redis does not
//! answer, the database counts instead: limits hold, never open. Which requests count against
//! which key and limit is the api's business (`api::rate_limit`); this module only counts, with
//! the same fixed window as the in-memory limiter: a window starts at its first request, and a
//! request is refused when the window already holds `max`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};

/// The key of the row that claims the periodic sweep (see [`crate::maintenance`]); no client
/// key looks like it (theirs start with an address).
pub const SWEEP_KEY: &str = "orgauth:sweep";

/// `$n` on PostgreSQL, `?n` on SQLite: the statements on the `rate_limit` table.
pub(crate) fn placeholder(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => format!("?{n}"),
    }
}

/// Counts a request against `key` in the database; `Some(milliseconds)` left in the window when
/// it is over `max`. One statement: concurrent requests on any replica each see their own count.
/// The count stops at `max + 1`, and `last_request` holds when the window started.
pub async fn hit_db<C: ConnectionTrait>(
    db: &C,
    key: &str,
    window: i64,
    max: u32,
    now: i64,
) -> Result<Option<i64>, DbErr> {
    let b = db.get_database_backend();
    let p = |n| placeholder(b, n);
    let (id, k, now_p, window_p, max_p) = (p(1), p(2), p(3), p(4), p(5));
    let sql = format!(
        "INSERT INTO rate_limit (id, key, count, last_request) VALUES ({id}, {k}, 1, {now_p})
         ON CONFLICT (key) DO UPDATE SET
           count = CASE WHEN {now_p} - rate_limit.last_request >= {window_p} THEN 1
                        WHEN rate_limit.count > {max_p} THEN rate_limit.count
                        ELSE rate_limit.count + 1 END,
           last_request = CASE WHEN {now_p} - rate_limit.last_request >= {window_p} THEN {now_p}
                               ELSE rate_limit.last_request END
         RETURNING count, last_request"
    );
    let max = i32::try_from(max).unwrap_or(i32::MAX - 1);
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            b,
            sql,
            [
                entity::behavior::new_id().into(),
                key.into(),
                now.into(),
                window.into(),
                max.into(),
            ],
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("the rate-limit upsert returned no row".into()))?;
    let count: i32 = row.try_get_by_index(0)?;
    let started: i64 = row.try_get_by_index(1)?;
    Ok((count > max).then(|| started + window - now))
}

/// Deletes the windows that started before `before` (all have run out when `before` is now minus
/// the longest window).
pub async fn sweep_db<C: ConnectionTrait>(db: &C, before: i64) -> Result<u64, DbErr> {
    let b = db.get_database_backend();
    let sql = format!(
        "DELETE FROM rate_limit WHERE last_request < {} AND key <> {}",
        placeholder(b, 1),
        placeholder(b, 2)
    );
    Ok(db
        .execute_raw(Statement::from_sql_and_values(
            b,
            sql,
            [before.into(), SWEEP_KEY.into()],
        ))
        .await?
        .rows_affected())
}

/// One round trip: counts, and starts the window's expiry on its first request.
const SCRIPT: &str = r"
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
";

/// How long Redis is left alone after it failed, before one request tries it again.
pub const REDIS_BACKOFF: Duration = Duration::from_secs(1);
/// The longest a request waits for Redis before the database counts it instead.
const REDIS_TIMEOUT: Duration = Duration::from_millis(500);

/// Every key in Redis starts with this, so the counters can share a Redis with other data.
pub const REDIS_PREFIX: &str = "orgauth:rl:";

#[derive(Default)]
struct Health {
    /// Whether the outage has been logged (once per outage, not per request).
    down: bool,
    /// Until when requests skip Redis.
    retry_at: Option<Instant>,
    /// Whether a request is connecting now (the others go to the database meanwhile).
    connecting: bool,
    /// Outages so far (each logged once).
    outages: u64,
}

/// Counters in Redis.
pub struct RedisCounters {
    client: redis::Client,
    script: redis::Script,
    conn: Mutex<Option<redis::aio::MultiplexedConnection>>,
    health: Mutex<Health>,
}

impl RedisCounters {
    /// Reads the URL (`REDIS_URL`); connects on the first request.
    pub fn new(url: &str) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("REDIS_URL: {e}"))?;
        Ok(Self {
            client,
            script: redis::Script::new(SCRIPT),
            conn: Mutex::new(None),
            health: Mutex::new(Health::default()),
        })
    }

    /// A connection, unless Redis failed within the backoff or another request is connecting.
    async fn connection(&self) -> Option<redis::aio::MultiplexedConnection> {
        if let Some(conn) = self.conn.lock().expect("redis connection").clone() {
            return Some(conn);
        }
        {
            let mut h = self.health.lock().expect("redis health");
            if h.connecting || h.retry_at.is_some_and(|t| Instant::now() < t) {
                return None;
            }
            h.connecting = true;
        }
        let conn = tokio::time::timeout(
            REDIS_TIMEOUT,
            self.client.get_multiplexed_async_connection(),
        )
        .await;
        self.health.lock().expect("redis health").connecting = false;
        match conn {
            Ok(Ok(conn)) => {
                *self.conn.lock().expect("redis connection") = Some(conn.clone());
                Some(conn)
            }
            Ok(Err(e)) => {
                self.failed(&e.to_string());
                None
            }
            Err(_) => {
                self.failed("connecting timed out");
                None
            }
        }
    }

    fn failed(&self, error: &str) {
        *self.conn.lock().expect("redis connection") = None;
        let mut h = self.health.lock().expect("redis health");
        h.retry_at = Some(Instant::now() + REDIS_BACKOFF);
        if !h.down {
            h.down = true;
            h.outages += 1;
            tracing::warn!(
                error,
                "Redis does not answer: rate limits are counted in the database until it does"
            );
        }
    }

    fn answered(&self) {
        let mut h = self.health.lock().expect("redis health");
        h.retry_at = None;
        if h.down {
            h.down = false;
            tracing::info!("Redis answers again: rate limits are counted in Redis");
        }
    }

    /// Outages so far: each is logged once, however many requests it lasts.
    pub fn outages(&self) -> u64 {
        self.health.lock().expect("redis health").outages
    }

    /// Counts a request; `None` when Redis did not answer (the caller counts it elsewhere),
    /// else as [`hit_db`].
    pub async fn hit(&self, key: &str, window: i64, max: u32) -> Option<Option<i64>> {
        let mut conn = self.connection().await?;
        let mut call = self.script.key(format!("{REDIS_PREFIX}{key}"));
        call.arg(window);
        let reply: Result<Result<(i64, i64), _>, _> =
            tokio::time::timeout(REDIS_TIMEOUT, call.invoke_async(&mut conn)).await;
        match reply {
            Ok(Ok((count, ttl))) => {
                self.answered();
                Some((count > i64::from(max)).then_some(ttl.max(0)))
            }
            Ok(Err(e)) => {
                self.failed(&e.to_string());
                None
            }
            Err(_) => {
                self.failed("no answer in time");
                None
            }
        }
    }
}

/// Shared counters: in Redis when it is configured and answers, else in the database.
pub struct SharedCounters {
    db: DatabaseConnection,
    redis: Option<RedisCounters>,
}

impl SharedCounters {
    pub fn new(db: DatabaseConnection, redis: Option<RedisCounters>) -> Self {
        Self { db, redis }
    }

    /// Counts a request against `key`: `Some(milliseconds)` left when it is over `max`; an error
    /// only when neither Redis nor the database could count it.
    pub async fn hit(
        &self,
        key: &str,
        window: i64,
        max: u32,
        now: i64,
    ) -> Result<Option<i64>, DbErr> {
        if let Some(redis) = &self.redis {
            if let Some(verdict) = redis.hit(key, window, max).await {
                return Ok(verdict);
            }
        }
        hit_db(&self.db, key, window, max, now).await
    }
}

#[cfg(test)]
mod tests {
    use migration::testing::TestDb;

    use super::*;

    /// The database keeps the in-memory limiter's fixed window: `max` requests from the first,
    /// then refusals with the time left, then a new window once it has run out; keys apart.
    async fn the_database_counts_a_fixed_window(t: TestDb) {
        let db = t.migrated().await;
        for _ in 0..3 {
            assert_eq!(hit_db(&db, "a", 10_000, 3, 1_000).await.unwrap(), None);
        }
        assert_eq!(
            hit_db(&db, "a", 10_000, 3, 4_500).await.unwrap(),
            Some(6_500)
        );
        assert_eq!(hit_db(&db, "a", 10_000, 3, 10_999).await.unwrap(), Some(1));
        assert_eq!(hit_db(&db, "b", 10_000, 3, 4_500).await.unwrap(), None);
        assert_eq!(hit_db(&db, "a", 10_000, 3, 11_000).await.unwrap(), None);
        // The windows that ran out go; the sweep's own row stays.
        assert_eq!(sweep_db(&db, 5_000).await.unwrap(), 1);
    }

    /// Concurrent requests on one key are each counted once: exactly `max` get through.
    async fn concurrent_hits_are_each_counted(t: TestDb) {
        let db = t.migrated().await;
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(async move { hit_db(&db, "k", 10_000, 5, 1_000).await.unwrap() })
            })
            .collect();
        let mut allowed = 0;
        for task in tasks {
            if task.await.unwrap().is_none() {
                allowed += 1;
            }
        }
        assert_eq!(allowed, 5);
    }

    /// A Redis that does not answer is one outage, logged once, and requests skip it for the
    /// backoff instead of each waiting for a connection.
    #[tokio::test]
    async fn an_unreachable_redis_is_one_outage() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let redis = RedisCounters::new(&format!("redis://127.0.0.1:{port}/0")).unwrap();
        for _ in 0..50 {
            assert_eq!(redis.hit("k", 10_000, 3).await, None);
        }
        assert_eq!(redis.outages(), 1);
    }

    migration::db_tests!(
        the_database_counts_a_fixed_window,
        concurrent_hits_are_each_counted
    );
}
