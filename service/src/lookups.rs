//! The hottest reads, folded together: lookups of one kind waiting at the same moment become one
//! `WHERE key IN (…)` statement. Under load that replaces one database round trip (and the pool's
//! release ping) per request with one per batch; with no load a lookup runs alone, at once.
//! Nothing is cached: a lookup only joins a batch that has not started, so it always reads what
//! was committed before it was asked for — a revoked session stops working immediately.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, OnceLock};

use entity::{member, organization, session, user};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, RuntimeErr,
};
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::{Error, Result};

/// Keys per statement at most.
const MAX_BATCH: usize = 64;
/// Statements of one kind in flight at most; lookups arriving meanwhile gather into the next.
const CONCURRENCY: usize = 2;
/// Organizations `organization/list` shows at most, as Better Auth.
pub const ORGANIZATIONS_LISTED: usize = 100;

/// The batched lookups. Cheap to clone; each kind's worker task starts with its first lookup and
/// ends when the last clone is dropped.
#[derive(Clone)]
pub struct Lookups {
    sessions: Batcher<SessionsByToken>,
    organizations: Batcher<OrganizationsByUser>,
}

impl Lookups {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            sessions: Batcher::new(db.clone()),
            organizations: Batcher::new(db),
        }
    }

    /// The session stored under `stored_token` (see `session::stored_token`) with its user.
    pub async fn session(
        &self,
        stored_token: String,
    ) -> Result<Option<(session::Model, user::Model)>> {
        self.sessions.find(stored_token).await
    }

    /// The organizations `user_id` is a member of, oldest first (at most 100).
    pub async fn organizations_of(&self, user_id: String) -> Result<Vec<organization::Model>> {
        Ok(self.organizations.find(user_id).await?.unwrap_or_default())
    }
}

/// One kind of batched read: the rows for many keys in one statement.
trait Load: Send + Sync + 'static {
    type Key: Eq + Hash + Clone + Send + Sync + 'static;
    type Value: Clone + Send + 'static;
    /// The value of every key that has one (keys without one are absent).
    fn load(
        db: &DatabaseConnection,
        keys: Vec<Self::Key>,
    ) -> impl Future<Output = std::result::Result<HashMap<Self::Key, Self::Value>, DbErr>> + Send;
}

/// Sessions by stored token, each with its user.
struct SessionsByToken;

impl Load for SessionsByToken {
    type Key = String;
    type Value = (session::Model, user::Model);

    async fn load(
        db: &DatabaseConnection,
        tokens: Vec<String>,
    ) -> std::result::Result<HashMap<String, Self::Value>, DbErr> {
        Ok(session::Entity::find()
            .filter(session::Column::Token.is_in(tokens))
            .find_also_related(user::Entity)
            .all(db)
            .await?
            .into_iter()
            .filter_map(|(s, u)| Some((s.token.clone(), (s, u?))))
            .collect())
    }
}

/// Organizations by member, oldest first, at most [`ORGANIZATIONS_LISTED`] each.
struct OrganizationsByUser;

impl Load for OrganizationsByUser {
    type Key = String;
    type Value = Vec<organization::Model>;

    async fn load(
        db: &DatabaseConnection,
        users: Vec<String>,
    ) -> std::result::Result<HashMap<String, Self::Value>, DbErr> {
        let rows = member::Entity::find()
            .filter(member::Column::UserId.is_in(users))
            .find_also_related(organization::Entity)
            .order_by_asc(organization::Column::CreatedAt)
            .order_by_asc(organization::Column::Id)
            .all(db)
            .await?;
        let mut found: HashMap<String, Vec<organization::Model>> = HashMap::new();
        for (m, org) in rows {
            let orgs = found.entry(m.user_id).or_default();
            if let (Some(org), true) = (org, orgs.len() < ORGANIZATIONS_LISTED) {
                orgs.push(org);
            }
        }
        Ok(found)
    }
}

/// The queue of one kind of lookup.
struct Batcher<L: Load> {
    inner: Arc<BatcherInner<L>>,
}

impl<L: Load> Clone for Batcher<L> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

struct BatcherInner<L: Load> {
    db: DatabaseConnection,
    queue: OnceLock<mpsc::UnboundedSender<Pending<L>>>,
}

struct Pending<L: Load> {
    key: L::Key,
    reply: oneshot::Sender<Result<Option<L::Value>>>,
}

impl<L: Load> Batcher<L> {
    fn new(db: DatabaseConnection) -> Self {
        Self {
            inner: Arc::new(BatcherInner {
                db,
                queue: OnceLock::new(),
            }),
        }
    }

    async fn find(&self, key: L::Key) -> Result<Option<L::Value>> {
        let queue = self.inner.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            tokio::spawn(dispatch::<L>(self.inner.db.clone(), receiver));
            sender
        });
        let (reply, answer) = oneshot::channel();
        queue.send(Pending { key, reply }).map_err(|_| lost())?;
        answer.await.map_err(|_| lost())?
    }
}

fn lost() -> Error {
    Error::Database(DbErr::Custom("lookup abandoned".into()))
}

async fn dispatch<L: Load>(db: DatabaseConnection, mut queue: mpsc::UnboundedReceiver<Pending<L>>) {
    let slots = Arc::new(Semaphore::new(CONCURRENCY));
    while let Some(first) = queue.recv().await {
        // Waiting for a free slot is what lets the next batch gather.
        let slot = slots.clone().acquire_owned().await.expect("never closed");
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(pending) => batch.push(pending),
                Err(_) => break,
            }
        }
        let db = db.clone();
        tokio::spawn(async move {
            answer::<L>(&db, batch).await;
            drop(slot);
        });
    }
}

async fn answer<L: Load>(db: &DatabaseConnection, batch: Vec<Pending<L>>) {
    let keys = batch.iter().map(|p| p.key.clone()).collect();
    match L::load(db, keys).await {
        Ok(found) => {
            for pending in batch {
                let value = found.get(&pending.key).cloned();
                let _ = pending.reply.send(Ok(value));
            }
        }
        Err(error) => {
            for pending in batch {
                let _ = pending.reply.send(Err(Error::Database(copy(&error))));
            }
        }
    }
}

/// The same kind of error for each waiting lookup (`DbErr` is not `Clone`): a connection failure
/// stays a connection failure, which the API answers with 503.
fn copy(error: &DbErr) -> DbErr {
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => {
            DbErr::Conn(RuntimeErr::Internal(error.to_string()))
        }
        _ => DbErr::Custom(error.to_string()),
    }
}
