//! Server-side sessions: created at sign-in, found by token (one indexed query joined with the
//! user), renewed by the sliding refresh, revoked by their owner; and what a session has active
//! (organization and team), which every change goes through [`set_active`] and its siblings for.

use chrono::{DateTime, Utc};
use entity::{session, user};
use hmac::{Hmac, Mac};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use sha2::Sha256;

use crate::clock::db_time;
use crate::config::{AuthConfig, TokenStorage};
use crate::lookups::Lookups;
use crate::session_cache::SessionCache;
use crate::token;
use crate::Result;

/// What the client told us about itself, kept on the session row.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    pub ip_address: String,
    pub user_agent: String,
}

/// A session with its user, as every authenticated request sees it.
#[derive(Clone, Debug)]
pub struct Current {
    pub session: session::Model,
    pub user: user::Model,
    /// The token the client presented (never the stored digest).
    pub token: String,
}

/// What looking a token up found.
#[derive(Debug)]
pub enum Lookup {
    /// No session has this token.
    Missing,
    /// It had one, but it expired; the row is gone now.
    Expired,
    /// A live session; `refreshed` when this request renewed its expiry.
    Active {
        current: Box<Current>,
        refreshed: bool,
    },
}

/// The value kept in `session.token` for `token`.
pub fn stored_token(cfg: &AuthConfig, token: &str) -> String {
    match cfg.session_tokens {
        TokenStorage::Hashed => token::digest(token),
        TokenStorage::Plain => token.to_owned(),
    }
}

/// The values `session.token` may hold for `token`: its stored form, and the other form where
/// both may be present (plain mode, or plain rows Better Auth left). A token shaped like a digest
/// is never looked up as itself, so digests read from the database do not open sessions.
pub fn stored_forms(cfg: &AuthConfig, token: &str) -> Vec<String> {
    let digest = token::digest(token);
    if token::is_digest(token) {
        return vec![digest];
    }
    match (cfg.session_tokens, cfg.plain_session_tokens_present) {
        (TokenStorage::Hashed, false) => vec![digest],
        (TokenStorage::Hashed, true) => vec![digest, token.to_owned()],
        (TokenStorage::Plain, _) => vec![token.to_owned(), digest],
    }
}

/// Whether any session is stored as a plain token (not a digest).
pub async fn plain_tokens_present(db: &impl ConnectionTrait) -> Result<bool> {
    Ok(session::Entity::find()
        .filter(Expr::cust("length(token) <> 64"))
        .one(db)
        .await?
        .is_some())
}

/// Replaces plain session tokens with their digests, in batches, while the server may be serving
/// (each row is rewritten only if its token is still the plain one). Idempotent; returns how
/// many were converted.
pub async fn convert_plain_tokens(db: &impl ConnectionTrait) -> Result<u64> {
    let mut converted = 0;
    let mut after = String::new();
    loop {
        let batch = session::Entity::find()
            .filter(Expr::cust("length(token) <> 64"))
            .filter(session::Column::Id.gt(after.clone()))
            .order_by_asc(session::Column::Id)
            .limit(500)
            .all(db)
            .await?;
        let Some(last) = batch.last() else {
            return Ok(converted);
        };
        after = last.id.clone();
        for s in batch {
            converted += session::Entity::update_many()
                .col_expr(session::Column::Token, Expr::value(token::digest(&s.token)))
                .filter(session::Column::Id.eq(&s.id))
                .filter(session::Column::Token.eq(&s.token))
                .exec(db)
                .await?
                .rows_affected;
        }
    }
}

/// A value that names session `id` to `revoke-session` but cannot authenticate: what
/// `list-sessions` shows for sessions other than the caller's when tokens are stored hashed.
pub fn revocation_handle(cfg: &AuthConfig, id: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(cfg.secret.expose().as_bytes()).expect("any key length");
    mac.update(b"orgauth revocation handle:");
    mac.update(id.as_bytes());
    format!("rev_{}", &hex::encode(mac.finalize().into_bytes())[..40])
}

/// The `token` to show for `s` to a caller holding `current_token`.
pub fn public_token(cfg: &AuthConfig, s: &session::Model, current: &Current) -> String {
    if s.id == current.session.id {
        current.token.clone()
    } else if cfg.session_tokens == TokenStorage::Plain {
        s.token.clone()
    } else {
        revocation_handle(cfg, &s.id)
    }
}

/// Opens a session for `user_id`; returns the token to hand to the client and the row.
pub async fn create(
    db: &impl ConnectionTrait,
    cfg: &AuthConfig,
    user_id: &str,
    now: DateTime<Utc>,
    remember: bool,
    client: &ClientInfo,
) -> Result<(String, session::Model)> {
    crate::better_auth_columns::check_ban(db, user_id, now).await?;
    let token = token::generate(32);
    let lifetime = if remember {
        cfg.session_expires_in
    } else {
        cfg.session_dont_remember_expires_in
    };
    let row = session::ActiveModel {
        token: Set(stored_token(cfg, &token)),
        user_id: Set(user_id.to_owned()),
        expires_at: Set(db_time(now + lifetime.min(cfg.session_absolute_lifetime))),
        created_at: Set(db_time(now)),
        updated_at: Set(db_time(now)),
        ip_address: Set(Some(client.ip_address.clone())),
        user_agent: Set(Some(client.user_agent.clone())),
        active_organization_id: Set(None),
        active_team_id: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    crate::metrics::get().sessions_created.inc();
    Ok((token, row))
}

/// Opens an impersonation session: `target`'s, marked `impersonated_by` the impersonator, ending
/// `lifetime` from now and never extended ([`load`] does not slide it), whatever cookies the
/// client keeps. A banned target is refused as at sign-in.
pub async fn create_impersonation(
    db: &impl ConnectionTrait,
    cfg: &AuthConfig,
    target: &str,
    impersonator: &str,
    now: DateTime<Utc>,
    lifetime: chrono::Duration,
    client: &ClientInfo,
) -> Result<(String, session::Model)> {
    crate::better_auth_columns::check_ban(db, target, now).await?;
    let token = token::generate(32);
    let row = session::ActiveModel {
        token: Set(stored_token(cfg, &token)),
        user_id: Set(target.to_owned()),
        expires_at: Set(db_time(now + lifetime)),
        created_at: Set(db_time(now)),
        updated_at: Set(db_time(now)),
        ip_address: Set(Some(client.ip_address.clone())),
        user_agent: Set(Some(client.user_agent.clone())),
        active_organization_id: Set(None),
        active_team_id: Set(None),
        impersonated_by: Set(Some(impersonator.to_owned())),
        ..Default::default()
    }
    .insert(db)
    .await?;
    crate::metrics::get().sessions_created.inc();
    Ok((token, row))
}

/// Finds the session for `token`. An expired one is deleted. With `may_refresh`, a session whose
/// last renewal is older than the update age gets `expiresIn` more from now (Better Auth's sliding
/// refresh), written to the database. With a session cache, a cached live session costs no
/// query; otherwise a share of one batched query when nothing is due.
pub async fn load(
    db: &impl ConnectionTrait,
    lookups: &Lookups,
    cache: Option<&SessionCache>,
    cfg: &AuthConfig,
    token: &str,
    now: DateTime<Utc>,
    may_refresh: bool,
) -> Result<Lookup> {
    let forms = stored_forms(cfg, token);
    let now_db = db_time(now);
    // Taken before anything is read: a fill after a concurrent change is dropped.
    let ticket = cache.and_then(SessionCache::ticket);
    let cached = cache.and_then(|c| c.get(&forms)).filter(|(s, u)| {
        s.expires_at > now_db && crate::better_auth_columns::not_banned(u, now_db)
    });
    let from_cache = cached.is_some();
    let found = match cached {
        Some((s, u)) => Some((s.as_ref().clone(), u.as_ref().clone())),
        None => match forms.as_slice() {
            [only] => lookups.session(only.clone()).await?,
            [first, second] => {
                let (a, b) = tokio::join!(
                    lookups.session(first.clone()),
                    lookups.session(second.clone())
                );
                a?.or(b?)
            }
            _ => unreachable!("one or two forms"),
        },
    };
    let Some((mut s, user)) = found else {
        return Ok(Lookup::Missing);
    };
    if s.expires_at <= now_db {
        session::Entity::delete_by_id(&s.id).exec(db).await?;
        return Ok(Lookup::Expired);
    }
    let last_renewal = s.expires_at - cfg.session_expires_in;
    // Never past the absolute lifetime, counted from the session's creation.
    let expires_at =
        db_time(now + cfg.session_expires_in).min(s.created_at + cfg.session_absolute_lifetime);
    // An impersonation session ends when its row says, never slid (Better Auth leaves that to a
    // cookie the client may drop).
    let refresh_due = may_refresh
        && s.impersonated_by.is_none()
        && last_renewal + cfg.session_update_age <= now_db
        && expires_at > s.expires_at;
    if refresh_due {
        let updated = session::Entity::update_many()
            .col_expr(session::Column::ExpiresAt, Expr::value(expires_at))
            .col_expr(session::Column::UpdatedAt, Expr::value(now_db))
            .filter(session::Column::Id.eq(&s.id))
            .exec(db)
            .await?;
        if updated.rows_affected == 0 {
            // Revoked between the read and the renewal.
            return Ok(Lookup::Missing);
        }
        s.expires_at = expires_at;
        s.updated_at = now_db;
    }
    if let (Some(cache), Some(ticket)) = (cache, ticket) {
        if !from_cache || refresh_due {
            cache.fill(ticket, &s, &user);
        }
    }
    let current = Current {
        session: s,
        user,
        token: token.to_owned(),
    };
    Ok(Lookup::Active {
        current: Box::new(current),
        refreshed: refresh_due,
    })
}

/// The user's live sessions, oldest first (at most 100, as Better Auth).
pub async fn list(
    db: &impl ConnectionTrait,
    user_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<session::Model>> {
    Ok(session::Entity::find()
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::ExpiresAt.gt(db_time(now)))
        .order_by_asc(session::Column::CreatedAt)
        .limit(100)
        .all(db)
        .await?)
}

/// Deletes the caller's session named by `token_or_handle` (a token, or a revocation handle from
/// `list-sessions`). Another user's session is never touched. Returns the deleted session's id.
pub async fn revoke(
    db: &impl ConnectionTrait,
    cfg: &AuthConfig,
    user_id: &str,
    token_or_handle: &str,
) -> Result<Option<String>> {
    let target = if token_or_handle.starts_with("rev_") {
        session::Entity::find()
            .filter(session::Column::UserId.eq(user_id))
            .all(db)
            .await?
            .into_iter()
            .find(|s| revocation_handle(cfg, &s.id) == token_or_handle)
    } else {
        session::Entity::find()
            .filter(session::Column::UserId.eq(user_id))
            .filter(session::Column::Token.is_in(stored_forms(cfg, token_or_handle)))
            .one(db)
            .await?
    };
    let Some(target) = target else {
        return Ok(None);
    };
    let deleted = session::Entity::delete_by_id(&target.id).exec(db).await?;
    crate::metrics::get()
        .sessions_revoked
        .inc_by(deleted.rows_affected);
    crate::audit::event("session_revoked", user_id, None);
    Ok(Some(target.id))
}

/// Deletes every session of the user except `keep` (if given).
pub async fn revoke_all(
    db: &impl ConnectionTrait,
    user_id: &str,
    keep: Option<&str>,
) -> Result<u64> {
    let mut delete = session::Entity::delete_many().filter(session::Column::UserId.eq(user_id));
    if let Some(keep) = keep {
        delete = delete.filter(session::Column::Id.ne(keep));
    }
    let revoked = delete.exec(db).await?.rows_affected;
    crate::metrics::get().sessions_revoked.inc_by(revoked);
    if revoked > 0 {
        crate::audit::event("sessions_revoked", user_id, None);
    }
    Ok(revoked)
}

/// Deletes the session holding `token`, expired or not (sign-out).
pub async fn delete_by_token(
    db: &impl ConnectionTrait,
    cfg: &AuthConfig,
    token: &str,
) -> Result<()> {
    let deleted = session::Entity::delete_many()
        .filter(session::Column::Token.is_in(stored_forms(cfg, token)))
        .exec(db)
        .await?;
    crate::metrics::get()
        .sessions_revoked
        .inc_by(deleted.rows_affected);
    Ok(())
}

/// Whether `current` is recent enough for a sensitive action.
pub fn is_fresh(cfg: &AuthConfig, current: &Current, now: DateTime<Utc>) -> bool {
    cfg.session_fresh_age.is_zero()
        || db_time(now) - current.session.created_at < cfg.session_fresh_age
}

/// What a change to sessions' active organization and team applies to.
enum Sessions<'a> {
    /// One session.
    Id(&'a str),
    /// Every session with this organization active, or only `user`'s.
    WithOrganization(&'a str, Option<&'a str>),
    /// Every session with this team active, or only `user`'s.
    WithTeam(&'a str, Option<&'a str>),
}

/// Sets the active organization (`Some`) and team (`Some`) of `sessions`; `None` leaves a column
/// as it is. The one statement every change of a session's active organization or team goes
/// through.
async fn set_active_of(
    db: &impl ConnectionTrait,
    sessions: Sessions<'_>,
    organization: Option<Option<&str>>,
    team: Option<Option<&str>>,
) -> Result<()> {
    let mut update = session::Entity::update_many();
    if let Some(organization) = organization {
        update = update.col_expr(
            session::Column::ActiveOrganizationId,
            Expr::value(organization.map(str::to_owned)),
        );
    }
    if let Some(team) = team {
        update = update.col_expr(
            session::Column::ActiveTeamId,
            Expr::value(team.map(str::to_owned)),
        );
    }
    let (filter, user) = match sessions {
        Sessions::Id(id) => (session::Column::Id.eq(id), None),
        Sessions::WithOrganization(org, user) => {
            (session::Column::ActiveOrganizationId.eq(org), user)
        }
        Sessions::WithTeam(team, user) => (session::Column::ActiveTeamId.eq(team), user),
    };
    update = update.filter(filter);
    if let Some(user) = user {
        update = update.filter(session::Column::UserId.eq(user));
    }
    update.exec(db).await?;
    Ok(())
}

/// Points session `session_id` at an organization and team (or at none).
pub async fn set_active(
    db: &impl ConnectionTrait,
    session_id: &str,
    organization_id: Option<&str>,
    team_id: Option<&str>,
) -> Result<()> {
    set_active_of(
        db,
        Sessions::Id(session_id),
        Some(organization_id),
        Some(team_id),
    )
    .await
}

/// Points session `session_id` at a team of its active organization (or at none).
pub async fn set_active_team(
    db: &impl ConnectionTrait,
    session_id: &str,
    team_id: Option<&str>,
) -> Result<()> {
    set_active_of(db, Sessions::Id(session_id), None, Some(team_id)).await
}

/// Sessions that have `organization_id` active — all of them, or only `user_id`'s — forget it
/// and its team (after a deletion or a departure).
pub async fn forget_organization(
    db: &impl ConnectionTrait,
    organization_id: &str,
    user_id: Option<&str>,
) -> Result<()> {
    let sessions = Sessions::WithOrganization(organization_id, user_id);
    set_active_of(db, sessions, Some(None), Some(None)).await
}

/// Sessions that have `team_id` active — all of them, or only `user_id`'s — forget it.
pub async fn forget_team(
    db: &impl ConnectionTrait,
    team_id: &str,
    user_id: Option<&str>,
) -> Result<()> {
    set_active_of(db, Sessions::WithTeam(team_id, user_id), None, Some(None)).await
}

/// The session routes' rules, with this server's database, settings and clock.
impl crate::Auth {
    /// The session `token` opens now (see [`load`]); `may_refresh` allows the sliding renewal.
    pub async fn session(&self, token: &str, may_refresh: bool) -> Result<Lookup> {
        let now = self.clock.now();
        let cache = self.session_cache.as_ref();
        load(
            &self.db,
            &self.lookups,
            cache,
            &self.cfg,
            token,
            now,
            may_refresh,
        )
        .await
    }

    /// Whether `current` is recent enough for a sensitive action.
    pub fn is_fresh(&self, current: &Current) -> bool {
        is_fresh(&self.cfg, current, self.clock.now())
    }

    /// The caller's live sessions (at most 100), each with the token it may show: its own
    /// session's token, a revocation handle for the others (see [`public_token`]).
    pub async fn list_sessions(&self, current: &Current) -> Result<Vec<(session::Model, String)>> {
        let sessions = list(&self.db, &current.user.id, self.clock.now()).await?;
        Ok(sessions
            .into_iter()
            .map(|s| {
                let shown = public_token(&self.cfg, &s, current);
                (s, shown)
            })
            .collect())
    }

    /// Revokes the caller's session named by a token or a revocation handle (see [`revoke`]).
    pub async fn revoke_session(
        &self,
        current: &Current,
        token_or_handle: &str,
    ) -> Result<Option<String>> {
        revoke(&self.db, &self.cfg, &current.user.id, token_or_handle).await
    }

    /// Revokes every session of the caller, or every one but the caller's own.
    pub async fn revoke_sessions(&self, current: &Current, keep_own: bool) -> Result<u64> {
        let keep = keep_own.then_some(current.session.id.as_str());
        revoke_all(&self.db, &current.user.id, keep).await
    }

    /// Sign-out: the session holding `token` ends, expired or not.
    pub async fn sign_out(&self, token: &str) -> Result<()> {
        delete_by_token(&self.db, &self.cfg, token).await
    }
}
