//! Session lookups by token, folded together: the lookups waiting at the same moment become one
//! `WHERE token IN (…)` statement joined with the users. Under load that replaces one database
//! round trip (and the pool's release ping) per request with one per batch; with no load a
//! lookup runs alone, at once. Nothing is cached: every lookup reads what was committed before
//! it was asked for, so a revoked session stops working immediately.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use entity::{session, user};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, RuntimeErr};
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::{Error, Result};

/// Tokens per statement at most.
const MAX_BATCH: usize = 64;
/// Statements in flight at most; lookups arriving meanwhile gather into the next one.
const CONCURRENCY: usize = 2;

/// A session row and its user.
pub type Found = Option<(session::Model, user::Model)>;

/// The lookup queue. Cheap to clone; its worker task starts with the first lookup and ends when
/// the last clone is dropped.
#[derive(Clone)]
pub struct Lookups {
    inner: Arc<Inner>,
}

struct Inner {
    db: DatabaseConnection,
    queue: OnceLock<mpsc::UnboundedSender<Pending>>,
}

struct Pending {
    stored_token: String,
    reply: oneshot::Sender<Result<Found>>,
}

impl Lookups {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                queue: OnceLock::new(),
            }),
        }
    }

    /// The session stored under `stored_token` (see `session::stored_token`) with its user.
    pub async fn find(&self, stored_token: String) -> Result<Found> {
        let queue = self.inner.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            tokio::spawn(dispatch(self.inner.db.clone(), receiver));
            sender
        });
        let (reply, answer) = oneshot::channel();
        queue
            .send(Pending {
                stored_token,
                reply,
            })
            .map_err(|_| lost())?;
        answer.await.map_err(|_| lost())?
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

fn lost() -> Error {
    Error::Database(DbErr::Custom("session lookup abandoned".into()))
}

async fn dispatch(db: DatabaseConnection, mut queue: mpsc::UnboundedReceiver<Pending>) {
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
            answer(&db, batch).await;
            drop(slot);
        });
    }
}

async fn answer(db: &DatabaseConnection, batch: Vec<Pending>) {
    let tokens: Vec<&str> = batch.iter().map(|p| p.stored_token.as_str()).collect();
    let rows = session::Entity::find()
        .filter(session::Column::Token.is_in(tokens))
        .find_also_related(user::Entity)
        .all(db)
        .await;
    match rows {
        Ok(rows) => {
            let found: HashMap<String, (session::Model, user::Model)> = rows
                .into_iter()
                .filter_map(|(s, u)| Some((s.token.clone(), (s, u?))))
                .collect();
            for pending in batch {
                let row = found.get(&pending.stored_token).cloned();
                let _ = pending.reply.send(Ok(row));
            }
        }
        Err(error) => {
            for pending in batch {
                let _ = pending.reply.send(Err(Error::Database(copy(&error))));
            }
        }
    }
}
