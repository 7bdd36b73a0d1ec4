//! The admin plugin's routes' rules. Each checks, in Better Auth's order, the caller's permission
//! (403 before any lookup), then the input, then the target; orgauth's rank and last-admin rules
//! come after the target is known. Writes of several rows share one transaction.

use chrono::{DateTime, Utc};
use entity::{session, user};
use sea_orm::sea_query::{Expr, ExprTrait, Func, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, DbBackend,
    EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};
use serde_json::{Map, Value};

use super::access::AdminPermission as P;
use super::AdminError as A;
use crate::clock::db_time;
use crate::credentials::{check_new_password, new_credential_account, normalize_email};
use crate::error::{violated, Error};
use crate::org::access::role_names;
use crate::session::{ClientInfo, Current};
use crate::{Auth, Result};

/// The longest user id accepted; ids are UUIDs (orgauth) or 32 letters and digits (Better Auth).
const MAX_ID_LEN: usize = 64;

/// `user_id` has the shape of a user id (letters, digits, `-` and `_`; at most 64), or a 400
/// naming `field`: nothing else is ever looked up.
pub fn check_user_id(field: &'static str, user_id: &str) -> Result<()> {
    let ok = !user_id.is_empty()
        && user_id.len() <= MAX_ID_LEN
        && user_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    match ok {
        true => Ok(()),
        false => Err(Error::invalid(field, "Invalid user id")),
    }
}

/// `create-user`'s input. `data` holds further user fields, as Better Auth's `data`.
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub password: Option<String>,
    pub role: Option<Vec<String>>,
    pub data: Map<String, Value>,
}

/// `list-users`' query.
#[derive(Clone, Debug, Default)]
pub struct UserQuery {
    pub search_value: Option<String>,
    /// `email` (default) or `name`.
    pub search_field: Option<String>,
    /// `contains` (default), `starts_with` or `ends_with`.
    pub search_operator: Option<String>,
    pub filter_field: Option<String>,
    pub filter_value: Vec<String>,
    /// `eq` (default), `ne`, `lt`, `lte`, `gt`, `gte`, `in`, `not_in`, `contains`,
    /// `starts_with`, `ends_with`.
    pub filter_operator: Option<String>,
    pub sort_by: Option<String>,
    pub descending: bool,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

/// The largest page `list-users` answers (Better Auth has no ceiling; its default is 100).
pub const MAX_PAGE: u64 = 1000;
/// `list-users`' page when no `limit` is given, as Better Auth's adapter.
pub const DEFAULT_PAGE: u64 = 100;

/// A page of users and the number of all matches.
pub struct UserPage {
    pub users: Vec<user::Model>,
    pub total: u64,
}

/// What `update-user` may write, read from its `data`.
#[derive(Default)]
struct UserChanges {
    name: Option<String>,
    image: Option<Option<String>>,
    email: Option<String>,
    email_verified: Option<bool>,
    role: Option<String>,
    banned: Option<bool>,
    ban_reason: Option<Option<String>>,
    ban_expires: Option<Option<chrono::NaiveDateTime>>,
}

/// The user's roles as permission checks read them: the stored list, or the default role when
/// it is empty.
fn roles_of<'a>(cfg: &'a super::AdminConfig, u: &'a user::Model) -> &'a str {
    match u.role.as_deref() {
        Some(r) if !r.trim().is_empty() => r,
        _ => &cfg.default_role,
    }
}

/// A string field of `data`, or a 400.
fn string(field: &'static str, v: &Value) -> Result<String> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| Error::invalid(field, "Expected a string"))
}

fn nullable_string(field: &'static str, v: &Value) -> Result<Option<String>> {
    match v {
        Value::Null => Ok(None),
        v => string(field, v).map(Some),
    }
}

fn boolean(field: &'static str, v: &Value) -> Result<bool> {
    v.as_bool()
        .ok_or_else(|| Error::invalid(field, "Expected true or false"))
}

fn timestamp(field: &'static str, v: &Value) -> Result<Option<chrono::NaiveDateTime>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(db_time(t.with_timezone(&Utc))))
            .map_err(|_| Error::invalid(field, "Expected an ISO 8601 date")),
        _ => Err(Error::invalid(field, "Expected an ISO 8601 date")),
    }
}

/// A role list from JSON (`data.role`): a string or an array of strings.
pub fn role_list(v: &Value) -> Result<Vec<String>> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or(A::InvalidRoleType.into())
            })
            .collect(),
        _ => Err(A::InvalidRoleType.into()),
    }
}

/// Fields Better Auth's `data` may name that orgauth refuses to write from a request: they are
/// the server's (docs/compatibility.md).
const SERVER_FIELDS: [&str; 3] = ["id", "createdAt", "updatedAt"];

impl Auth {
    fn admin_cfg(&self) -> &super::AdminConfig {
        &self.cfg.admin
    }

    fn is_superuser(&self, user_id: &str) -> bool {
        self.admin_cfg()
            .admin_user_ids
            .iter()
            .any(|id| id == user_id)
    }

    /// Whether `u` may do `p`: an `adminUserIds` user may do everything.
    fn may(&self, u: &user::Model, p: P) -> bool {
        self.is_superuser(&u.id) || self.admin_cfg().roles.can(roles_of(self.admin_cfg(), u), p)
    }

    fn require(&self, u: &user::Model, p: P, refused: A) -> Result<()> {
        match self.may(u, p) {
            true => Ok(()),
            false => Err(refused.into()),
        }
    }

    /// A user's rank: 0 is the highest configured role; `adminUserIds` users rank above all.
    fn rank(&self, u: &user::Model) -> i64 {
        if self.is_superuser(&u.id) {
            return -1;
        }
        self.admin_cfg().roles.rank(roles_of(self.admin_cfg(), u)) as i64
    }

    /// Whether `u` holds one of the admin roles (by role, not by `adminUserIds`).
    fn has_admin_role(&self, roles: &str) -> bool {
        role_names(roles)
            .iter()
            .any(|r| self.admin_cfg().admin_roles.iter().any(|a| a == r))
    }

    /// Whether `u` counts as an admin for impersonation: an admin role or `adminUserIds`.
    fn is_admin(&self, u: &user::Model) -> bool {
        self.is_superuser(&u.id) || self.has_admin_role(roles_of(self.admin_cfg(), u))
    }

    /// The caller may act on `target`: themself, someone ranked below them, or anyone when the
    /// caller is an `adminUserIds` user.
    fn may_manage(&self, caller: &user::Model, target: &user::Model) -> Result<()> {
        if caller.id == target.id
            || self.is_superuser(&caller.id)
            || self.rank(target) > self.rank(caller)
        {
            Ok(())
        } else {
            Err(A::HigherRole.into())
        }
    }

    /// `requested` (each entry may be comma-joined) as stored, refused when a role is not
    /// configured, none is given, or one ranks above the caller's own rank.
    fn grantable_roles(&self, caller: &user::Model, requested: &[String]) -> Result<String> {
        let roles = &self.admin_cfg().roles;
        let names: Vec<&str> = requested.iter().flat_map(|r| role_names(r)).collect();
        if names.is_empty() || names.iter().any(|r| !roles.exists(r)) {
            return Err(A::NonExistentRole.into());
        }
        let joined = names.join(",");
        if (roles.rank(&joined) as i64) < self.rank(caller) {
            return Err(A::RoleAboveYourOwn.into());
        }
        Ok(joined)
    }

    /// Changing `target`'s roles to `new_roles`: only for users ranked below the caller.
    fn may_change_role(&self, caller: &user::Model, target: &user::Model) -> Result<()> {
        if self.is_superuser(&caller.id) || self.rank(target) > self.rank(caller) {
            Ok(())
        } else {
            Err(A::EqualOrHigherRole.into())
        }
    }

    /// In `txn`, refuses (with `refusal`) a change that would leave no unbanned holder of an
    /// admin role when `target` is one now. The check and the change are serialised: on
    /// PostgreSQL by a transaction-scoped advisory lock every such change takes first, on SQLite
    /// by its single writer; so two concurrent demotions cannot both see the other admin.
    async fn keep_an_admin(
        &self,
        txn: &DatabaseTransaction,
        target: &user::Model,
        refusal: A,
    ) -> Result<()> {
        if txn.get_database_backend() == DbBackend::Postgres {
            txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({LAST_ADMIN_LOCK})"))
                .await?;
        }
        // Read again under the lock: the caller's copy may predate a concurrent change.
        let Some(target) = user::Entity::find_by_id(&target.id).one(txn).await? else {
            return Ok(());
        };
        let is_admin =
            target.banned != Some(true) && self.has_admin_role(roles_of(self.admin_cfg(), &target));
        if !is_admin {
            return Ok(());
        }
        let mut any_admin_role = Condition::any();
        for r in &self.admin_cfg().admin_roles {
            let pattern = format!("%{}%", escape_like(&r.to_lowercase()));
            any_admin_role = any_admin_role.add(like_sql(user::Column::Role, pattern));
        }
        let others = user::Entity::find()
            .filter(user::Column::Id.ne(&target.id))
            .filter(any_admin_role)
            .filter(
                Condition::any()
                    .add(user::Column::Banned.is_null())
                    .add(user::Column::Banned.eq(false)),
            )
            .all(txn)
            .await?;
        let remaining = others
            .iter()
            .filter(|u| self.has_admin_role(u.role.as_deref().unwrap_or_default()))
            .count();
        match remaining {
            0 => Err(refusal.into()),
            _ => Ok(()),
        }
    }

    async fn find_user(&self, db: &impl ConnectionTrait, user_id: &str) -> Result<user::Model> {
        user::Entity::find_by_id(user_id)
            .one(db)
            .await?
            .ok_or(A::UserNotFound.into())
    }

    /// `create-user`.
    pub async fn admin_create_user(&self, caller: &Current, input: NewUser) -> Result<user::Model> {
        let me = &caller.user;
        self.require(me, P::user("create"), A::NotAllowedToCreateUsers)?;
        let mut data = input.data;
        let requested_role = match (input.role, data.remove("role")) {
            (Some(r), _) => Some(r),
            (None, Some(v)) => Some(role_list(&v)?),
            (None, None) => None,
        };
        let role = match requested_role {
            Some(requested) => {
                self.require(me, P::user("set-role"), A::NotAllowedToChangeRole)?;
                self.grantable_roles(me, &requested)?
            }
            None => self.admin_cfg().default_role.clone(),
        };
        if ["banned", "banReason", "banExpires"]
            .iter()
            .any(|k| data.contains_key(*k))
        {
            self.require(me, P::user("ban"), A::NotAllowedToBanUsers)?;
        }
        if let Some(k) = SERVER_FIELDS.iter().find(|k| data.contains_key(**k)) {
            return Err(Error::invalid("data", format!("{k} cannot be set")));
        }
        let email = normalize_email(&input.email).ok_or(Error::InvalidEmail)?;
        if input.name.trim().is_empty() {
            return Err(Error::invalid("name", "Name is required"));
        }
        // Every user has a way to sign in (a store invariant): no password-less users.
        let Some(password) = input.password.filter(|p| !p.is_empty()) else {
            return Err(Error::invalid(
                "password",
                "A password is required: every user needs a way to sign in",
            ));
        };
        check_new_password(&self.cfg, &password)?;
        let image = data
            .get("image")
            .map(|v| nullable_string("data.image", v))
            .transpose()?;
        let email_verified = data
            .get("emailVerified")
            .map(|v| boolean("data.emailVerified", v))
            .transpose()?;
        let banned = data
            .get("banned")
            .map(|v| boolean("data.banned", v))
            .transpose()?;
        let ban_reason = data
            .get("banReason")
            .map(|v| nullable_string("data.banReason", v))
            .transpose()?;
        let ban_expires = data
            .get("banExpires")
            .map(|v| timestamp("data.banExpires", v))
            .transpose()?;
        let hash = self.hasher.hash(&password).await?;
        let now = self.clock.now();
        let txn = self.db.begin().await?;
        let inserted = user::ActiveModel {
            id: Set(entity::behavior::new_id()),
            name: Set(input.name),
            email: Set(email),
            email_verified: Set(email_verified.unwrap_or(false)),
            image: Set(image.flatten()),
            created_at: Set(db_time(now)),
            updated_at: Set(db_time(now)),
            role: Set(Some(role)),
            banned: Set(Some(banned.unwrap_or(false))),
            ban_reason: Set(ban_reason.flatten()),
            ban_expires: Set(ban_expires.flatten()),
        }
        .insert(&txn)
        .await;
        let created = match inserted {
            Ok(u) => u,
            Err(e) if violated(&e) == Some(&migration::constraints::USER_EMAIL) => {
                return Err(A::EmailTaken.into())
            }
            Err(e) => return Err(e.into()),
        };
        new_credential_account(&created.id, hash, now)
            .insert(&txn)
            .await?;
        txn.commit().await?;
        crate::audit::admin_action("admin_user_created", &me.id, &created.id);
        Ok(created)
    }

    /// `list-users`: filtered, searched, sorted and paged in SQL, with the number of all matches.
    pub async fn admin_list_users(&self, caller: &Current, q: UserQuery) -> Result<UserPage> {
        self.require(&caller.user, P::user("list"), A::NotAllowedToListUsers)?;
        let backend = self.db.get_database_backend();
        let mut cond = Condition::all();
        if let Some(value) = q.search_value.as_deref().filter(|v| !v.is_empty()) {
            let field = q.search_field.as_deref().unwrap_or("email");
            let column = match field {
                "email" => user::Column::Email,
                "name" => user::Column::Name,
                _ => return Err(Error::invalid("searchField", "Use email or name")),
            };
            let op = q.search_operator.as_deref().unwrap_or("contains");
            cond = cond.add(like(column, op, value, "searchOperator")?);
        }
        if !q.filter_value.is_empty() {
            let field = q.filter_field.as_deref().unwrap_or("email");
            let op = q.filter_operator.as_deref().unwrap_or("eq");
            cond = cond.add(filter(backend, field, op, &q.filter_value)?);
        }
        let sort = match q.sort_by.as_deref() {
            None => None,
            Some(field) => Some(sort_column(field)?),
        };
        let limit = std::cmp::min(q.limit.unwrap_or(DEFAULT_PAGE), MAX_PAGE);
        let total = user::Entity::find()
            .filter(cond.clone())
            .count(&self.db)
            .await?;
        let mut find = user::Entity::find().filter(cond);
        let order = |d: bool| match d {
            true => sea_orm::Order::Desc,
            false => sea_orm::Order::Asc,
        };
        if let Some(column) = sort {
            find = find.order_by(column, order(q.descending));
        }
        // A stable order for pages: creation, then id.
        find = find
            .order_by(
                user::Column::CreatedAt,
                order(q.descending && sort.is_none()),
            )
            .order_by(user::Column::Id, order(q.descending && sort.is_none()));
        let users = find
            .limit(limit)
            .offset(q.offset.unwrap_or(0))
            .all(&self.db)
            .await?;
        Ok(UserPage { users, total })
    }

    /// `get-user`.
    pub async fn admin_get_user(&self, caller: &Current, user_id: &str) -> Result<user::Model> {
        self.require(&caller.user, P::user("get"), A::NotAllowedToGetUser)?;
        check_user_id("id", user_id)?;
        self.find_user(&self.db, user_id).await
    }

    /// `update-user`: the fields of `data` Better Auth's admin may write (`name`, `image`,
    /// `email`, `emailVerified`, `role`, `banned`, `banReason`, `banExpires`), each with its
    /// permission; a ban ends the user's sessions in the same transaction.
    pub async fn admin_update_user(
        &self,
        caller: &Current,
        user_id: &str,
        mut data: Map<String, Value>,
    ) -> Result<user::Model> {
        let me = &caller.user;
        self.require(me, P::user("update"), A::NotAllowedToUpdateUsers)?;
        if data.is_empty() {
            return Err(A::NoDataToUpdate.into());
        }
        if data.contains_key("password") {
            return Err(A::PasswordCannotBeUpdated.into());
        }
        if data.contains_key("id") {
            return Err(A::UserIdCannotBeUpdated.into());
        }
        let mut changes = UserChanges::default();
        if let Some(v) = data.remove("role") {
            self.require(me, P::user("set-role"), A::NotAllowedToChangeRole)?;
            changes.role = Some(self.grantable_roles(me, &role_list(&v)?)?);
        }
        if ["banned", "banReason", "banExpires"]
            .iter()
            .any(|k| data.contains_key(*k))
        {
            self.require(me, P::user("ban"), A::NotAllowedToBanUsers)?;
            if let Some(v) = data.remove("banned") {
                let banned = boolean("data.banned", &v)?;
                if banned && user_id == me.id {
                    return Err(A::CannotBanYourself.into());
                }
                changes.banned = Some(banned);
            }
            if let Some(v) = data.remove("banReason") {
                changes.ban_reason = Some(nullable_string("data.banReason", &v)?);
            }
            if let Some(v) = data.remove("banExpires") {
                changes.ban_expires = Some(timestamp("data.banExpires", &v)?);
            }
        }
        if data.contains_key("email") || data.contains_key("emailVerified") {
            self.require(me, P::user("set-email"), A::NotAllowedToSetUsersEmail)?;
            if let Some(v) = data.remove("email") {
                let email =
                    normalize_email(&string("data.email", &v)?).ok_or(Error::InvalidEmail)?;
                changes.email = Some(email);
            }
            if let Some(v) = data.remove("emailVerified") {
                changes.email_verified = Some(boolean("data.emailVerified", &v)?);
            }
        }
        if let Some(k) = SERVER_FIELDS.iter().find(|k| data.contains_key(**k)) {
            return Err(Error::invalid("data", format!("{k} cannot be set")));
        }
        if let Some(v) = data.remove("name") {
            let name = string("data.name", &v)?;
            if name.trim().is_empty() {
                return Err(Error::invalid("data.name", "Name is required"));
            }
            changes.name = Some(name);
        }
        if let Some(v) = data.remove("image") {
            changes.image = Some(nullable_string("data.image", &v)?);
        }
        check_user_id("userId", user_id)?;
        let target = self.find_user(&self.db, user_id).await?;
        self.may_manage(me, &target)?;
        if changes.role.is_some() {
            self.may_change_role(me, &target)?;
        }
        let now = self.clock.now();
        let txn = self.db.begin().await?;
        if let Some(role) = &changes.role {
            if !self.has_admin_role(role) {
                self.keep_an_admin(&txn, &target, A::LastAdminDemoted)
                    .await?;
            }
        }
        if changes.banned == Some(true) {
            self.keep_an_admin(&txn, &target, A::LastAdminBanned)
                .await?;
        }
        let ends_sessions = changes.banned == Some(true);
        let mut row = target.into_active_model();
        if let Some(v) = changes.name {
            row.name = Set(v);
        }
        if let Some(v) = changes.image {
            row.image = Set(v);
        }
        if let Some(v) = changes.email {
            row.email = Set(v);
        }
        if let Some(v) = changes.email_verified {
            row.email_verified = Set(v);
        }
        if let Some(v) = changes.role {
            row.role = Set(Some(v));
        }
        if let Some(v) = changes.banned {
            row.banned = Set(Some(v));
        }
        if let Some(v) = changes.ban_reason {
            row.ban_reason = Set(v);
        }
        if let Some(v) = changes.ban_expires {
            row.ban_expires = Set(v);
        }
        row.updated_at = Set(db_time(now));
        let updated = match row.update(&txn).await {
            Ok(u) => u,
            Err(e) if violated(&e) == Some(&migration::constraints::USER_EMAIL) => {
                return Err(A::EmailTaken.into())
            }
            Err(e) => return Err(e.into()),
        };
        if ends_sessions {
            crate::session::revoke_all(&txn, &updated.id, None).await?;
        }
        txn.commit().await?;
        crate::audit::admin_action("admin_user_updated", &me.id, &updated.id);
        if ends_sessions {
            crate::audit::admin_action("user_banned", &me.id, &updated.id);
        }
        Ok(updated)
    }

    /// `set-role`.
    pub async fn admin_set_role(
        &self,
        caller: &Current,
        user_id: &str,
        requested: &[String],
    ) -> Result<user::Model> {
        let me = &caller.user;
        self.require(me, P::user("set-role"), A::NotAllowedToChangeRole)?;
        let role = self.grantable_roles(me, requested)?;
        check_user_id("userId", user_id)?;
        let target = self.find_user(&self.db, user_id).await?;
        self.may_change_role(me, &target)?;
        let txn = self.db.begin().await?;
        if !self.has_admin_role(&role) {
            self.keep_an_admin(&txn, &target, A::LastAdminDemoted)
                .await?;
        }
        let mut row = target.into_active_model();
        row.role = Set(Some(role));
        row.updated_at = Set(db_time(self.clock.now()));
        let updated = row.update(&txn).await?;
        txn.commit().await?;
        crate::audit::admin_action("role_changed", &me.id, &updated.id);
        Ok(updated)
    }

    /// `set-user-password`: the password account's hash, created when the user has none.
    pub async fn admin_set_user_password(
        &self,
        caller: &Current,
        user_id: &str,
        new_password: &str,
    ) -> Result<()> {
        let me = &caller.user;
        self.require(me, P::user("set-password"), A::NotAllowedToSetUsersPassword)?;
        check_new_password(&self.cfg, new_password)?;
        check_user_id("userId", user_id)?;
        let target = self.find_user(&self.db, user_id).await?;
        self.may_manage(me, &target)?;
        let hash = self.hasher.hash(new_password).await?;
        let now = self.clock.now();
        let txn = self.db.begin().await?;
        crate::credentials::set_password(&txn, &target.id, hash, now).await?;
        txn.commit().await?;
        crate::audit::admin_action("password_set_by_admin", &me.id, &target.id);
        Ok(())
    }

    /// `ban-user`: the ban and the end of every session of the user, in one transaction.
    pub async fn admin_ban_user(
        &self,
        caller: &Current,
        user_id: &str,
        reason: Option<String>,
        expires_in: Option<i64>,
    ) -> Result<user::Model> {
        let me = &caller.user;
        self.require(me, P::user("ban"), A::NotAllowedToBanUsers)?;
        if expires_in.is_some_and(|s| s <= 0) {
            return Err(Error::invalid(
                "banExpiresIn",
                "Must be a positive number of seconds",
            ));
        }
        check_user_id("userId", user_id)?;
        let target = self.find_user(&self.db, user_id).await?;
        if target.id == me.id {
            return Err(A::CannotBanYourself.into());
        }
        self.may_manage(me, &target)?;
        let cfg = self.admin_cfg();
        let now = self.clock.now();
        let expires = match expires_in {
            Some(s) => Some(db_time(now + chrono::Duration::seconds(s))),
            None => cfg.default_ban_expires_in.map(|d| db_time(now + d)),
        };
        let reason = reason
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| cfg.default_ban_reason.clone());
        let txn = self.db.begin().await?;
        self.keep_an_admin(&txn, &target, A::LastAdminBanned)
            .await?;
        let mut row = target.into_active_model();
        row.banned = Set(Some(true));
        row.ban_reason = Set(Some(reason));
        row.ban_expires = Set(expires);
        row.updated_at = Set(db_time(now));
        let updated = row.update(&txn).await?;
        crate::session::revoke_all(&txn, &updated.id, None).await?;
        txn.commit().await?;
        crate::audit::admin_action("user_banned", &me.id, &updated.id);
        Ok(updated)
    }

    /// `unban-user`.
    pub async fn admin_unban_user(&self, caller: &Current, user_id: &str) -> Result<user::Model> {
        let me = &caller.user;
        self.require(me, P::user("ban"), A::NotAllowedToBanUsers)?;
        check_user_id("userId", user_id)?;
        let target = self.find_user(&self.db, user_id).await?;
        self.may_manage(me, &target)?;
        let mut row = target.into_active_model();
        row.banned = Set(Some(false));
        row.ban_reason = Set(None);
        row.ban_expires = Set(None);
        row.updated_at = Set(db_time(self.clock.now()));
        let updated = row.update(&self.db).await?;
        crate::audit::admin_action("user_unbanned", &me.id, &updated.id);
        Ok(updated)
    }

    /// `list-user-sessions`: the user's sessions, oldest first (at most 100), expired ones
    /// included as Better Auth lists them; each with the handle `revoke-user-session` takes
    /// (never a usable token, unless tokens are stored plain as Better Auth stores them).
    pub async fn admin_list_user_sessions(
        &self,
        caller: &Current,
        user_id: &str,
    ) -> Result<Vec<(session::Model, String)>> {
        self.require(
            &caller.user,
            P::session("list"),
            A::NotAllowedToListUsersSessions,
        )?;
        check_user_id("userId", user_id)?;
        let rows = session::Entity::find()
            .filter(session::Column::UserId.eq(user_id))
            .order_by_asc(session::Column::CreatedAt)
            .order_by_asc(session::Column::Id)
            .limit(100)
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|s| {
                let shown = self.admin_session_handle(&s, caller);
                (s, shown)
            })
            .collect())
    }

    /// What `list-user-sessions` shows as a session's `token`: the caller's own token for the
    /// caller's session, the stored token where tokens are plain (Better Auth's format), and
    /// otherwise a handle naming the session that only `revoke-user-session` accepts.
    fn admin_session_handle(&self, s: &session::Model, caller: &Current) -> String {
        if s.id == caller.session.id {
            caller.token.clone()
        } else if self.cfg.session_tokens == crate::config::TokenStorage::Plain {
            s.token.clone()
        } else {
            admin_handle(&self.cfg, &s.id)
        }
    }

    /// `revoke-user-session`: the session of any user named by its token or by the handle
    /// `list-user-sessions` showed. Unknown: nothing happens, as Better Auth answers.
    pub async fn admin_revoke_user_session(&self, caller: &Current, token: &str) -> Result<()> {
        let me = &caller.user;
        self.require(me, P::session("revoke"), A::NotAllowedToRevokeUsersSessions)?;
        let found = match parse_admin_handle(&self.cfg, token) {
            Some(id) => session::Entity::find_by_id(id).one(&self.db).await?,
            None => {
                session::Entity::find()
                    .filter(
                        session::Column::Token
                            .is_in(crate::session::stored_forms(&self.cfg, token)),
                    )
                    .one(&self.db)
                    .await?
            }
        };
        let Some(found) = found else {
            return Ok(());
        };
        if let Some(owner) = user::Entity::find_by_id(&found.user_id)
            .one(&self.db)
            .await?
        {
            self.may_manage(me, &owner)?;
        }
        let deleted = session::Entity::delete_by_id(&found.id)
            .exec(&self.db)
            .await?;
        crate::metrics::get()
            .sessions_revoked
            .inc_by(deleted.rows_affected);
        crate::audit::admin_action("session_revoked_by_admin", &me.id, &found.user_id);
        Ok(())
    }

    /// `revoke-user-sessions`. An unknown user: nothing happens, as Better Auth answers.
    pub async fn admin_revoke_user_sessions(&self, caller: &Current, user_id: &str) -> Result<()> {
        let me = &caller.user;
        self.require(me, P::session("revoke"), A::NotAllowedToRevokeUsersSessions)?;
        check_user_id("userId", user_id)?;
        let Some(target) = user::Entity::find_by_id(user_id).one(&self.db).await? else {
            return Ok(());
        };
        self.may_manage(me, &target)?;
        crate::session::revoke_all(&self.db, &target.id, None).await?;
        crate::audit::admin_action("sessions_revoked_by_admin", &me.id, &target.id);
        Ok(())
    }

    /// `remove-user`: as `delete-user` removes one's own account (organizations are never left
    /// without an owner), in one transaction with the last-admin check.
    pub async fn admin_remove_user(&self, caller: &Current, user_id: &str) -> Result<()> {
        let me = &caller.user;
        self.require(me, P::user("delete"), A::NotAllowedToDeleteUsers)?;
        if user_id == me.id {
            return Err(A::CannotRemoveYourself.into());
        }
        check_user_id("userId", user_id)?;
        let target = self.find_user(&self.db, user_id).await?;
        self.may_manage(me, &target)?;
        let txn = self.db.begin().await?;
        self.keep_an_admin(&txn, &target, A::LastAdminRemoved)
            .await?;
        self.delete_user_row(&txn, &target.id).await?;
        txn.commit().await?;
        crate::audit::admin_action("user_removed", &me.id, &target.id);
        Ok(())
    }

    /// `impersonate-user`: a session of the target marked `impersonated_by` the caller, ending
    /// after the impersonation lifetime and never extended. Not from an impersonation session,
    /// not of oneself, not of an admin without `user:impersonate-admins`, not of someone who
    /// outranks the caller. Written to the security log with both ids.
    pub async fn admin_impersonate(
        &self,
        caller: &Current,
        user_id: &str,
        client: &ClientInfo,
    ) -> Result<(String, session::Model, user::Model)> {
        let me = &caller.user;
        self.require(me, P::user("impersonate"), A::NotAllowedToImpersonateUsers)?;
        check_user_id("userId", user_id)?;
        let target = self.find_user(&self.db, user_id).await?;
        if caller.session.impersonated_by.is_some() {
            return Err(A::NestedImpersonation.into());
        }
        if target.id == me.id {
            return Err(A::CannotImpersonateYourself.into());
        }
        if self.is_admin(&target)
            && !self.admin_cfg().allow_impersonating_admins
            && !self.may(me, P::user("impersonate-admins"))
        {
            return Err(A::CannotImpersonateAdmins.into());
        }
        self.may_manage(me, &target)?;
        let now = self.clock.now();
        let txn = self.db.begin().await?;
        let (token, row) = crate::session::create_impersonation(
            &txn,
            &self.cfg,
            &target.id,
            &me.id,
            now,
            self.admin_cfg().impersonation_session_duration,
            client,
        )
        .await?;
        let target = self.find_user(&txn, &target.id).await?;
        txn.commit().await?;
        crate::audit::impersonation("impersonation_started", &me.id, &target.id);
        Ok((token, row, target))
    }

    /// `stop-impersonating`: ends the impersonation session and returns to the impersonator's
    /// session named by the `admin_session` cookie (`admin_token`), which must be a live session
    /// of the impersonator.
    pub async fn admin_stop_impersonating(
        &self,
        current: &Current,
        admin_token: Option<&str>,
    ) -> Result<(Current, session::Model)> {
        let Some(impersonator) = current.session.impersonated_by.clone() else {
            return Err(A::NotImpersonating.into());
        };
        let admin_token = admin_token.ok_or(A::AdminSessionNotFound)?;
        let now = db_time(self.clock.now());
        let admin_session = session::Entity::find()
            .filter(
                session::Column::Token.is_in(crate::session::stored_forms(&self.cfg, admin_token)),
            )
            .filter(session::Column::UserId.eq(&impersonator))
            .filter(session::Column::ExpiresAt.gt(now))
            .one(&self.db)
            .await?
            .ok_or(A::AdminSessionNotFound)?;
        let admin = self
            .find_user(&self.db, &impersonator)
            .await
            .map_err(|_| A::AdminSessionNotFound)?;
        session::Entity::delete_by_id(&current.session.id)
            .exec(&self.db)
            .await?;
        crate::audit::impersonation("impersonation_stopped", &admin.id, &current.user.id);
        let restored = Current {
            session: admin_session,
            user: admin,
            token: admin_token.to_owned(),
        };
        Ok((restored, current.session.clone()))
    }

    /// `has-permission`: whether the caller holds every permission asked for.
    pub fn admin_has_permission(
        &self,
        caller: &Current,
        request: &crate::access::Statements,
    ) -> bool {
        self.is_superuser(&caller.user.id)
            || self
                .admin_cfg()
                .roles
                .allows(roles_of(self.admin_cfg(), &caller.user), request)
    }
}

/// The advisory lock's key for last-admin checks on PostgreSQL (any constant; this one spells
/// "lastadmn").
const LAST_ADMIN_LOCK: i64 = 0x6c61_7374_6164_6d6e;

/// `value` with `LIKE`'s wildcards and the escape character escaped (for `ESCAPE '!'`, the
/// same on both databases; a backslash would not be).
fn escape_like(value: &str) -> String {
    value
        .replace('!', "!!")
        .replace('%', "!%")
        .replace('_', "!_")
}

/// `LOWER(<column>) LIKE <pattern> ESCAPE '!'`.
fn like_sql(column: user::Column, pattern: String) -> SimpleExpr {
    Expr::expr(Func::lower(Expr::col((user::Entity, column))))
        .like(sea_orm::sea_query::LikeExpr::new(pattern).escape('!'))
}

/// A case-insensitive `LIKE` on `column`, the value matched literally (`%` and `_` are not
/// wildcards), for `contains`, `starts_with` and `ends_with`.
fn like(column: user::Column, op: &str, value: &str, field: &'static str) -> Result<SimpleExpr> {
    let v = escape_like(&value.to_lowercase());
    let pattern = match op {
        "contains" => format!("%{v}%"),
        "starts_with" => format!("{v}%"),
        "ends_with" => format!("%{v}"),
        _ => {
            return Err(Error::invalid(
                field,
                "Use contains, starts_with or ends_with",
            ))
        }
    };
    Ok(like_sql(column, pattern))
}

/// The user column `field` (Better Auth's field name) names, for sorting and filtering.
fn sort_column(field: &str) -> Result<user::Column> {
    Ok(match field {
        "id" => user::Column::Id,
        "name" => user::Column::Name,
        "email" => user::Column::Email,
        "emailVerified" => user::Column::EmailVerified,
        "createdAt" => user::Column::CreatedAt,
        "updatedAt" => user::Column::UpdatedAt,
        "role" => user::Column::Role,
        "banned" => user::Column::Banned,
        "banExpires" => user::Column::BanExpires,
        _ => return Err(Error::invalid(
            "sortBy",
            "Use id, name, email, emailVerified, createdAt, updatedAt, role, banned or banExpires",
        )),
    })
}

/// `filterField`/`filterOperator`/`filterValue` as a condition. Unknown fields or operators, a
/// value that is not of the field's type, and several values for a one-value operator are a 400
/// (Better Auth answers an empty page).
fn filter(backend: DbBackend, field: &str, op: &str, values: &[String]) -> Result<SimpleExpr> {
    let _ = backend;
    let column = match field {
        "id" => user::Column::Id,
        "name" => user::Column::Name,
        "email" => user::Column::Email,
        "role" => user::Column::Role,
        "banned" => user::Column::Banned,
        "emailVerified" => user::Column::EmailVerified,
        "createdAt" => user::Column::CreatedAt,
        "updatedAt" => user::Column::UpdatedAt,
        "banExpires" => user::Column::BanExpires,
        _ => return Err(Error::invalid(
            "filterField",
            "Use id, name, email, role, banned, emailVerified, createdAt, updatedAt or banExpires",
        )),
    };
    let kind = match field {
        "banned" | "emailVerified" => Kind::Bool,
        "createdAt" | "updatedAt" | "banExpires" => Kind::Time,
        _ => Kind::Text,
    };
    let one = || -> Result<&String> {
        match values {
            [v] => Ok(v),
            _ => Err(Error::invalid("filterValue", "Give exactly one value")),
        }
    };
    let value = |v: &str| -> Result<sea_orm::Value> {
        Ok(match kind {
            Kind::Text => v.to_owned().into(),
            Kind::Bool => match v {
                "true" => true.into(),
                "false" => false.into(),
                _ => return Err(Error::invalid("filterValue", "Use true or false")),
            },
            Kind::Time => DateTime::parse_from_rfc3339(v)
                .map(|t| db_time(t.with_timezone(&Utc)).into())
                .map_err(|_| Error::invalid("filterValue", "Use an ISO 8601 date"))?,
        })
    };
    // A boolean that was never set (`NULL`, rows Better Auth wrote before the column existed)
    // reads as false.
    let col = match kind {
        Kind::Bool => Expr::expr(Func::coalesce([Expr::col(column), Expr::val(false)])),
        _ => Expr::col(column),
    };
    Ok(match op {
        "eq" => col.eq(value(one()?)?),
        "ne" => col.ne(value(one()?)?),
        "lt" => col.lt(value(one()?)?),
        "lte" => col.lte(value(one()?)?),
        "gt" => col.gt(value(one()?)?),
        "gte" => col.gte(value(one()?)?),
        "in" | "not_in" => {
            let vs = values
                .iter()
                .map(|v| value(v))
                .collect::<Result<Vec<_>>>()?;
            match op {
                "in" => col.is_in(vs),
                _ => col.is_not_in(vs),
            }
        }
        "contains" | "starts_with" | "ends_with" if kind == Kind::Text => {
            like(column, op, one()?, "filterOperator")?
        }
        _ => {
            return Err(Error::invalid(
                "filterOperator",
                "Not an operator for this field",
            ))
        }
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Bool,
    Time,
}

/// A handle naming session `id` for `revoke-user-session`: `adm_<id>_<mac>`, which cannot
/// authenticate.
fn admin_handle(cfg: &crate::config::AuthConfig, id: &str) -> String {
    format!("adm_{id}_{}", handle_mac(cfg, id))
}

fn handle_mac(cfg: &crate::config::AuthConfig, id: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(cfg.secret.expose().as_bytes())
        .expect("any key length");
    mac.update(b"orgauth admin session handle:");
    mac.update(id.as_bytes());
    hex::encode(mac.finalize().into_bytes())[..32].to_owned()
}

/// The session id in a valid handle from [`admin_handle`].
fn parse_admin_handle(cfg: &crate::config::AuthConfig, handle: &str) -> Option<String> {
    let rest = handle.strip_prefix("adm_")?;
    let (id, mac) = rest.rsplit_once('_')?;
    use subtle::ConstantTimeEq;
    let expected = handle_mac(cfg, id);
    bool::from(expected.as_bytes().ct_eq(mac.as_bytes())).then(|| id.to_owned())
}
