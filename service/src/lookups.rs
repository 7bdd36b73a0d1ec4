//! The hottest reads, folded together: lookups of one kind waiting at the same moment become one
//! `WHERE key IN (…)` statement. Under load that replaces one database round trip (and the pool's
//! release ping) per request with one per batch; with no load a lookup runs alone, at once.
//! Nothing is cached here: a lookup only joins a batch that has not started, so it always reads
//! what was committed before it was asked for. (The session cache, when on, sits in front of the
//! session lookup: `session_cache`.)

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, OnceLock};

use entity::{invitation, member, organization, session, team, team_member, user};
use sea_orm::sea_query::{Expr, Query, QueryStatementBuilder};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    FromQueryResult, QueryFilter, QueryOrder, QuerySelect, RuntimeErr, Statement, Value,
};
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::{Error, Result};

/// Keys per statement at most.
const MAX_BATCH: usize = 64;
/// Statements of one kind in flight at most; lookups arriving meanwhile gather into the next.
const CONCURRENCY: usize = 2;
/// Organizations `organization/list` shows at most, and members, teams and invitations
/// `get-full-organization` shows at most, as Better Auth.
pub const LISTED: usize = 100;

/// The batched lookups. Cheap to clone; each kind's worker task starts with its first lookup and
/// ends when the last clone is dropped.
#[derive(Clone)]
pub struct Lookups {
    sessions: Batcher<SessionsByToken>,
    organizations: Batcher<OrganizationsByUser>,
    memberships: Batcher<MembershipsByOrganization>,
    members: Batcher<MembersByOrganization>,
    member_counts: Batcher<MemberCountsByOrganization>,
    contents: Batcher<ContentsByOrganization>,
}

/// An organization's first members with their users, oldest first (at most [`LISTED`]).
pub type Members = Vec<(member::Model, user::Model)>;

/// An organization's teams (with member counts) and invitations, oldest first, at most
/// [`LISTED`] of each, before the caller's role decides which invitations they see.
#[derive(Debug, Default)]
pub struct Contents {
    pub teams: Vec<(team::Model, u64)>,
    pub invitations: Vec<invitation::Model>,
}

impl Lookups {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            sessions: Batcher::new(db.clone()),
            organizations: Batcher::new(db.clone()),
            memberships: Batcher::new(db.clone()),
            members: Batcher::new(db.clone()),
            member_counts: Batcher::new(db.clone()),
            contents: Batcher::new(db),
        }
    }

    /// Organization `organization_id` with `user_id`'s membership of it, if they are a member.
    pub async fn membership(
        &self,
        organization_id: String,
        user_id: String,
    ) -> Result<Option<(organization::Model, member::Model)>> {
        self.memberships.find((organization_id, user_id)).await
    }

    /// The first [`LISTED`] members of `organization_id` with their users; requests for the same
    /// organization in one batch share one read.
    pub async fn members(&self, organization_id: String) -> Result<Arc<Members>> {
        Ok(self
            .members
            .find(organization_id)
            .await?
            .unwrap_or_default())
    }

    /// How many members `organization_id` has. Kept apart from [`Self::members`] because it reads
    /// an index entry per member: only `list-members` past its first [`LISTED`] asks for it.
    pub async fn member_count(&self, organization_id: String) -> Result<u64> {
        Ok(self
            .member_counts
            .find(organization_id)
            .await?
            .unwrap_or_default())
    }

    /// The teams (with member counts) and invitations of `organization_id`; requests for the
    /// same organization in one batch share one read.
    pub async fn contents(&self, organization_id: String) -> Result<Arc<Contents>> {
        Ok(self
            .contents
            .find(organization_id)
            .await?
            .unwrap_or_default())
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

/// Sessions by stored token, each with its user, of users not banned now: a banned user's
/// sessions stop working at once, however the ban was set (the admin plugin's `ban-user`, or the
/// database by hand).
struct SessionsByToken;

impl Load for SessionsByToken {
    type Key = String;
    type Value = (session::Model, user::Model);

    async fn load(
        db: &DatabaseConnection,
        tokens: Vec<String>,
    ) -> std::result::Result<HashMap<String, Self::Value>, DbErr> {
        let not_banned = crate::better_auth_columns::not_banned_sql(db.get_database_backend());
        Ok(session::Entity::find()
            .filter(session::Column::Token.is_in(tokens))
            .filter(Expr::cust(not_banned))
            .find_also_related(user::Entity)
            .all(db)
            .await?
            .into_iter()
            .filter_map(|(s, u)| Some((s.token.clone(), (s, u?))))
            .collect())
    }
}

/// Organizations by member, oldest first, at most [`LISTED`] each.
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
            if let (Some(org), true) = (org, orgs.len() < LISTED) {
                orgs.push(org);
            }
        }
        Ok(found)
    }
}

/// Organizations by (organization id, user id), each with that user's membership.
struct MembershipsByOrganization;

impl Load for MembershipsByOrganization {
    type Key = (String, String);
    type Value = (organization::Model, member::Model);

    async fn load(
        db: &DatabaseConnection,
        keys: Vec<(String, String)>,
    ) -> std::result::Result<HashMap<(String, String), Self::Value>, DbErr> {
        // Exactly the pairs asked for, each through the `(organization_id, user_id)` unique index:
        // a batch never reads another membership of its users or its organizations.
        let pairs = keys.into_iter().fold(Condition::any(), |any, (o, u)| {
            any.add(
                Condition::all()
                    .add(member::Column::OrganizationId.eq(o))
                    .add(member::Column::UserId.eq(u)),
            )
        });
        Ok(organization::Entity::find()
            .find_also_related(member::Entity)
            .filter(pairs)
            .all(db)
            .await?
            .into_iter()
            .filter_map(|(o, m)| {
                let m = m?;
                Some(((o.id.clone(), m.user_id.clone()), (o, m)))
            })
            .collect())
    }
}

/// Runs `read` for each organization of a batch, concurrently. Each read takes only the rows it
/// answers with (an indexed, limited read), so a large organization costs what a small one does;
/// requests for the same organization in one batch still share its read.
async fn per_organization<V, F, Fut>(
    db: &DatabaseConnection,
    organizations: Vec<String>,
    read: F,
) -> std::result::Result<HashMap<String, Arc<V>>, DbErr>
where
    V: Send + Sync + 'static,
    F: Fn(DatabaseConnection, String) -> Fut,
    Fut: Future<Output = std::result::Result<V, DbErr>> + Send + 'static,
{
    let mut reads = tokio::task::JoinSet::new();
    for id in organizations {
        let read = read(db.clone(), id.clone());
        reads.spawn(async move { read.await.map(|v| (id, Arc::new(v))) });
    }
    let mut found = HashMap::new();
    while let Some(done) = reads.join_next().await {
        let (id, v) = done.map_err(|e| DbErr::Custom(format!("lookup task failed: {e}")))??;
        found.insert(id, v);
    }
    Ok(found)
}

/// Members with their users by organization: the first [`LISTED`] (oldest first, by the
/// `(organization_id, created_at, id)` index).
struct MembersByOrganization;

impl Load for MembersByOrganization {
    type Key = String;
    type Value = Arc<Members>;

    async fn load(
        db: &DatabaseConnection,
        organizations: Vec<String>,
    ) -> std::result::Result<HashMap<String, Self::Value>, DbErr> {
        if db.get_database_backend() == DbBackend::Postgres {
            let organizations = distinct(organizations);
            let sql = format!(
                "SELECT {}, {} FROM {} CROSS JOIN LATERAL (SELECT * FROM member \
                 WHERE member.organization_id = o.id ORDER BY member.created_at, member.id \
                 LIMIT {LISTED}) AS m JOIN \"user\" AS u ON u.id = m.user_id",
                prefixed::<member::Column>("m", "A_"),
                prefixed::<user::Column>("u", "B_"),
                values_list(organizations.len()),
            );
            let mut found: HashMap<String, Members> = HashMap::new();
            for row in db.query_all_raw(in_values(db, &sql, organizations)).await? {
                let m = member::Model::from_query_result(&row, "A_")?;
                let u = user::Model::from_query_result(&row, "B_")?;
                found
                    .entry(m.organization_id.clone())
                    .or_default()
                    .push((m, u));
            }
            return Ok(found
                .into_iter()
                .map(|(id, mut rows)| {
                    rows.sort_by(|(a, _), (b, _)| {
                        (a.created_at, &a.id).cmp(&(b.created_at, &b.id))
                    });
                    (id, Arc::new(rows))
                })
                .collect());
        }
        per_organization(db, organizations, |db, id| async move {
            Ok(member::Entity::find()
                .filter(member::Column::OrganizationId.eq(&id))
                .find_also_related(user::Entity)
                .order_by_asc(member::Column::CreatedAt)
                .order_by_asc(member::Column::Id)
                .limit(LISTED as u64)
                .all(&db)
                .await?
                .into_iter()
                .filter_map(|(m, u)| Some((m, u?)))
                .collect())
        })
        .await
    }
}

/// Member counts by organization, the batch's in one grouped count over the `organization_id`
/// index (an index-only scan where the visibility map allows). Organizations without members
/// are absent, which reads as 0.
struct MemberCountsByOrganization;

impl Load for MemberCountsByOrganization {
    type Key = String;
    type Value = u64;

    async fn load(
        db: &DatabaseConnection,
        organizations: Vec<String>,
    ) -> std::result::Result<HashMap<String, u64>, DbErr> {
        let counts: Vec<(String, i64)> = member::Entity::find()
            .select_only()
            .column(member::Column::OrganizationId)
            .column_as(member::Column::Id.count(), "count")
            .filter(member::Column::OrganizationId.is_in(organizations))
            .group_by(member::Column::OrganizationId)
            .into_tuple()
            .all(db)
            .await?;
        Ok(counts
            .into_iter()
            .map(|(id, n)| (id, u64::try_from(n).unwrap_or(0)))
            .collect())
    }
}

/// Teams (with member counts) and invitations by organization, the first [`LISTED`] of each.
struct ContentsByOrganization;

impl Load for ContentsByOrganization {
    type Key = String;
    type Value = Arc<Contents>;

    async fn load(
        db: &DatabaseConnection,
        organizations: Vec<String>,
    ) -> std::result::Result<HashMap<String, Self::Value>, DbErr> {
        if db.get_database_backend() == DbBackend::Postgres {
            return contents_in_two_statements(db, organizations).await;
        }
        per_organization(db, organizations, |db, id| async move {
            let teams = teams_with_member_counts(&db, &id).await?;
            let invitations = invitation::Entity::find()
                .filter(invitation::Column::OrganizationId.eq(&id))
                .order_by_asc(invitation::Column::CreatedAt)
                .order_by_asc(invitation::Column::Id)
                .limit(LISTED as u64)
                .all(&db)
                .await?;
            Ok(Contents { teams, invitations })
        })
        .await
    }
}

/// PostgreSQL: the contents of every organization of the batch in two statements (teams with
/// their member counts, invitations), each organization's first [`LISTED`] through its index.
async fn contents_in_two_statements(
    db: &DatabaseConnection,
    organizations: Vec<String>,
) -> std::result::Result<HashMap<String, Arc<Contents>>, DbErr> {
    let organizations = distinct(organizations);
    let from = values_list(organizations.len());
    let teams_sql = format!(
        "SELECT {}, (SELECT count(*) FROM team_member WHERE team_member.team_id = t.id) \
         AS member_count FROM {from} CROSS JOIN LATERAL (SELECT * FROM team \
         WHERE team.organization_id = o.id ORDER BY team.created_at, team.id LIMIT {LISTED}) AS t",
        prefixed::<team::Column>("t", ""),
    );
    let invitations_sql = format!(
        "SELECT {} FROM {from} CROSS JOIN LATERAL (SELECT * FROM invitation \
         WHERE invitation.organization_id = o.id \
         ORDER BY invitation.created_at, invitation.id LIMIT {LISTED}) AS i",
        prefixed::<invitation::Column>("i", ""),
    );
    let (teams, invitations) = tokio::try_join!(
        db.query_all_raw(in_values(db, &teams_sql, organizations.clone())),
        db.query_all_raw(in_values(db, &invitations_sql, organizations.clone())),
    )?;
    let mut found: HashMap<String, Contents> = organizations
        .into_iter()
        .map(|id| (id, Contents::default()))
        .collect();
    for row in teams {
        let t = team::Model::from_query_result(&row, "")?;
        let count: i64 = row.try_get("", "member_count")?;
        if let Some(c) = found.get_mut(&t.organization_id) {
            c.teams.push((t, u64::try_from(count).unwrap_or(0)));
        }
    }
    for row in invitations {
        let i = invitation::Model::from_query_result(&row, "")?;
        if let Some(c) = found.get_mut(&i.organization_id) {
            c.invitations.push(i);
        }
    }
    Ok(found
        .into_iter()
        .map(|(id, mut c)| {
            c.teams
                .sort_by(|(a, _), (b, _)| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            c.invitations
                .sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            (id, Arc::new(c))
        })
        .collect())
}

/// Each key once: a batch may ask for one organization several times, and a `LATERAL` read
/// would answer it as often.
fn distinct(mut keys: Vec<String>) -> Vec<String> {
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// `(VALUES ($1), …, ($n)) AS o(id)`: the batch's organizations, for a `LATERAL` read of each.
fn values_list(n: usize) -> String {
    let rows: Vec<String> = (1..=n).map(|i| format!("(${i})")).collect();
    format!("(VALUES {}) AS o(id)", rows.join(", "))
}

/// The statement `sql` with the organizations bound in order.
fn in_values(db: &DatabaseConnection, sql: &str, organizations: Vec<String>) -> Statement {
    let values: Vec<Value> = organizations.into_iter().map(Value::from).collect();
    Statement::from_sql_and_values(db.get_database_backend(), sql, values)
}

/// Every column of an entity from the table aliased `table`, each named `<prefix><column>` (as
/// SeaORM's `find_also_related` names them, for `from_query_result`).
fn prefixed<C: sea_orm::Iterable + sea_orm::IdenStatic>(table: &str, prefix: &str) -> String {
    C::iter()
        .map(|c| format!("{table}.\"{0}\" AS \"{prefix}{0}\"", c.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A team with how many members it has.
#[derive(sea_orm::FromQueryResult)]
struct TeamAndCount {
    #[sea_orm(nested)]
    team: team::Model,
    member_count: i64,
}

/// The organization's first [`LISTED`] teams, oldest first, each with its member count (a
/// correlated count over the `team_member (team_id)` index).
async fn teams_with_member_counts(
    db: &DatabaseConnection,
    organization_id: &str,
) -> std::result::Result<Vec<(team::Model, u64)>, DbErr> {
    use sea_orm::sea_query::ExprTrait;
    let count = Query::select()
        .expr(team_member::Column::Id.count())
        .from(team_member::Entity)
        .and_where(
            Expr::col((team_member::Entity, team_member::Column::TeamId))
                .equals((team::Entity, team::Column::Id)),
        )
        .to_owned();
    Ok(team::Entity::find()
        .column_as(
            Expr::SubQuery(None, Box::new(count.into_sub_query_statement())),
            "member_count",
        )
        .filter(team::Column::OrganizationId.eq(organization_id))
        .order_by_asc(team::Column::CreatedAt)
        .order_by_asc(team::Column::Id)
        .limit(LISTED as u64)
        .into_model::<TeamAndCount>()
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.team, u64::try_from(t.member_count).unwrap_or(0)))
        .collect())
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
    if crate::error::unavailable(error) {
        DbErr::Conn(RuntimeErr::Internal(error.to_string()))
    } else {
        DbErr::Custom(error.to_string())
    }
}
