//! Better Auth's admin plugin routes, under `/api/auth/admin/` (docs/admin.md): platform users,
//! roles, bans, sessions and impersonation. The rules, with orgauth's safer ones, are the
//! service's (`service::admin`); this file reads the wire shapes and writes the answers.

use std::collections::BTreeMap;

use poem::http::header::COOKIE;
use poem::Request;
use poem_openapi::param::Query;
use poem_openapi::{Object, OpenApi, Tags};
use serde_json::Value;
use service::admin::users::{NewUser, UserQuery};
use service::admin::AdminError;

use crate::auth::dto::{Session, SessionAndUser, StatusTrue, Success, User};
use crate::auth::{Caller, NoStore, With};
use crate::error::{ApiError, Errors, JsonBody, NoBody};
use crate::organization::RoleInput;
use crate::outbox::Outbox;
use crate::state::AppState;
use crate::wire::{string_enum, success, Body, Count, JsonObject, Nullable, OptionalJson, Record};

#[derive(Tags)]
pub enum Tag {
    /// The admin plugin: platform users, their roles, bans, sessions, and impersonation.
    Admin,
}

/// `{user}`.
#[derive(Object, Debug)]
pub struct AdminUserEnvelope {
    /// The user, with the admin plugin's fields.
    pub user: User,
}

/// A page of users.
#[derive(Object, Debug)]
pub struct AdminUsersPage {
    /// The page.
    pub users: Vec<User>,
    /// Every user matching the search and filter, whatever the page.
    pub total: u64,
    /// The `limit` asked for, when one was.
    #[oai(skip_serializing_if_is_none)]
    pub limit: Option<u64>,
    /// The `offset` asked for, when one was.
    #[oai(skip_serializing_if_is_none)]
    pub offset: Option<u64>,
}

/// A user's sessions.
#[derive(Object, Debug)]
pub struct AdminSessionsEnvelope {
    /// Oldest first, expired ones included (at most 100). `token` is a handle for
    /// `revoke-user-session`, not a usable token (see docs/admin.md, "In orgauth").
    pub sessions: Vec<Session>,
}

/// `create-user`'s body.
#[derive(Object, Debug)]
pub struct AdminCreateUserBody {
    /// The address (lower-cased).
    pub email: String,
    /// The display name.
    pub name: String,
    /// A password (8 to 128 characters); none: the user has no password account.
    pub password: Option<String>,
    /// The user's roles (default: the default role).
    pub role: Option<RoleInput>,
    /// More user fields: `image`, `emailVerified`, `banned`, `banReason`, `banExpires`, `role`.
    pub data: Option<Record<JsonObject>>,
}

/// A body naming a user.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct AdminUserIdBody {
    /// The user's id.
    pub user_id: String,
}

/// `update-user`'s body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct AdminUpdateUserBody {
    /// The user's id.
    pub user_id: String,
    /// The fields to change: `name`, `image`, `email`, `emailVerified`, `role`, `banned`,
    /// `banReason`, `banExpires`.
    pub data: Record<JsonObject>,
}

/// `set-role`'s body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct AdminSetRoleBody {
    /// The user's id.
    pub user_id: String,
    /// The new roles (all of them: they replace the current ones).
    pub role: RoleInput,
}

/// `set-user-password`'s body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct AdminSetUserPasswordBody {
    /// The user's id.
    pub user_id: String,
    /// The new password: 8 to 128 characters.
    pub new_password: String,
}

/// `ban-user`'s body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct AdminBanUserBody {
    /// The user's id.
    pub user_id: String,
    /// Why (default: the configured default reason).
    pub ban_reason: Option<String>,
    /// Seconds until the ban ends (default: the configured default, else never).
    pub ban_expires_in: Option<i64>,
}

/// `revoke-user-session`'s body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct AdminRevokeUserSessionBody {
    /// A session's token, or the handle `list-user-sessions` showed for it.
    pub session_token: String,
}

/// `has-permission`'s body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct AdminHasPermissionBody {
    /// resource → actions, e.g. `{"user": ["ban"]}`.
    pub permissions: Option<BTreeMap<String, Vec<String>>>,
    /// Deprecated; refused.
    pub permission: Option<BTreeMap<String, Vec<String>>>,
    /// Ignored: the caller is judged.
    pub user_id: Option<String>,
    /// Ignored: the caller is judged.
    pub role: Option<String>,
}

/// Whether the caller has the permissions.
#[derive(Object, Debug)]
pub struct AdminPermissionCheck {
    /// Always null.
    pub error: Nullable<String>,
    /// True when one of the caller's roles grants every requested action.
    pub success: bool,
}

success! {
    /// The user.
    pub UserAnswer(AdminUserEnvelope) + session
}

success! {
    /// The user, not wrapped (as Better Auth answers `get-user` and `update-user`).
    pub BareUser(User) + session
}

success! {
    /// A page of users and the number of all matches.
    pub UsersAnswer(AdminUsersPage) + session
}

success! {
    /// The user's sessions.
    pub SessionsAnswer(AdminSessionsEnvelope) + session
}

success! {
    /// Done.
    pub Done(Success) + session
}

success! {
    /// The password was set.
    pub PasswordSet(StatusTrue) + session
}

success! {
    /// The new session and its user; the cookies now name it.
    pub Switched(SessionAndUser) + session
}

success! {
    /// Whether the caller has every requested permission.
    pub AdminPermission(AdminPermissionCheck) + session
}

string_enum! {
    /// `list-users`' search field.
    pub AdminSearchField: "email" | "name"
}

string_enum! {
    /// `list-users`' search operator.
    pub AdminSearchOperator: "contains" | "starts_with" | "ends_with"
}

string_enum! {
    /// `list-users`' sort order.
    pub AdminSortDirection: "asc" | "desc"
}

string_enum! {
    /// `list-users`' filter operator.
    pub AdminFilterOperator: "eq" | "ne" | "lt" | "lte" | "gt" | "gte" | "in" | "not_in" | "contains" | "starts_with" | "ends_with"
}

fn object(value: JsonObject) -> serde_json::Map<String, Value> {
    match value.0 {
        Value::Object(map) => map,
        // `Record` refused anything else before the handler ran.
        _ => serde_json::Map::new(),
    }
}

pub struct AdminApi {
    pub state: AppState,
}

#[OpenApi(prefix_path = "/api/auth/admin", tag = "Tag::Admin")]
impl AdminApi {
    /// Create a user
    ///
    /// Needs `user:create` (and `user:set-role` to give a role, which cannot rank above the
    /// caller's own; `user:ban` for ban fields). No session is opened.
    #[oai(
        path = "/create-user",
        method = "post",
        operation_id = "adminCreateUser"
    )]
    async fn create_user(
        &self,
        body: Body<AdminCreateUserBody>,
        caller: Caller,
    ) -> Result<UserAnswer, Errors<JsonBody>> {
        let body = body.0;
        let input = NewUser {
            email: body.email,
            name: body.name,
            password: body.password,
            role: body.role.map(RoleInput::into_vec),
            data: body.data.map(|d| object(d.0)).unwrap_or_default(),
        };
        let user = self.state.auth.admin_create_user(&caller, input).await?;
        Ok(AdminUserEnvelope {
            user: User::from(&user),
        }
        .into())
    }

    /// List users
    ///
    /// Needs `user:list`. `searchValue` matches `searchField` (`email` or `name`) without regard
    /// to case, literally (`%` and `_` are not wildcards); `filterField` / `filterOperator` /
    /// `filterValue` (repeated for `in` and `not_in`) keep matching users; `sortBy` is a field
    /// name (default: creation, oldest first). `limit` (default 100, at most 1000), `offset`.
    #[oai(path = "/list-users", method = "get", operation_id = "adminListUsers")]
    #[allow(clippy::too_many_arguments)]
    async fn list_users(
        &self,
        /// Text to look for in `searchField`.
        #[oai(name = "searchValue")]
        search_value: Query<Option<String>>,
        /// `email` (default) or `name`.
        #[oai(name = "searchField")]
        search_field: Query<Option<AdminSearchField>>,
        /// `contains` (default), `starts_with` or `ends_with`.
        #[oai(name = "searchOperator")]
        search_operator: Query<Option<AdminSearchOperator>>,
        /// How many users at most (default 100, at most 1000).
        limit: Query<Option<Count>>,
        /// How many matching users to skip.
        offset: Query<Option<Count>>,
        /// A user field to sort by (default: creation).
        #[oai(name = "sortBy")]
        sort_by: Query<Option<String>>,
        /// `asc` (default) or `desc`.
        #[oai(name = "sortDirection")]
        sort_direction: Query<Option<AdminSortDirection>>,
        /// The user field `filterValue` is compared with (default `email`).
        #[oai(name = "filterField")]
        filter_field: Query<Option<String>>,
        /// The value (repeated for `in` and `not_in`).
        #[oai(name = "filterValue")]
        filter_value: Query<Option<Vec<String>>>,
        /// How to compare (default `eq`).
        #[oai(name = "filterOperator")]
        filter_operator: Query<Option<AdminFilterOperator>>,
        caller: Caller,
    ) -> Result<UsersAnswer, Errors<NoBody>> {
        let descending = match sort_direction.0.as_ref().map(|d| d.0.as_str()) {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(_) => {
                return Err(ApiError::invalid(
                    "query.sortDirection",
                    "Invalid option: expected one of \"asc\"|\"desc\"",
                )
                .into())
            }
        };
        let limit = limit.0.map(Count::get).filter(|l| *l > 0);
        let offset = offset.0.map(Count::get).filter(|o| *o > 0);
        let query = UserQuery {
            search_value: search_value.0,
            search_field: search_field.0.map(|f| f.0),
            search_operator: search_operator.0.map(|o| o.0),
            filter_field: filter_field.0,
            filter_value: filter_value.0.unwrap_or_default(),
            filter_operator: filter_operator.0.map(|o| o.0),
            sort_by: sort_by.0,
            descending,
            limit,
            offset,
        };
        let page = self
            .state
            .auth
            .admin_list_users(&caller, query)
            .await
            .map_err(|e| Errors::from(ApiError::answer(e, "query")))?;
        Ok(AdminUsersPage {
            users: page.users.iter().map(User::from).collect(),
            total: page.total,
            limit,
            offset,
        }
        .into())
    }

    /// A user
    ///
    /// Needs `user:get`. The user, not wrapped in `{user}` (as Better Auth answers).
    #[oai(path = "/get-user", method = "get", operation_id = "adminGetUser")]
    async fn get_user(
        &self,
        /// The user's id.
        id: Query<Option<String>>,
        caller: Caller,
    ) -> Result<BareUser, Errors<NoBody>> {
        let Some(id) = id.0 else {
            return Err(ApiError::invalid(
                "query.id",
                "Invalid input: expected string, received undefined",
            )
            .into());
        };
        let user = self.state.auth.admin_get_user(&caller, &id).await?;
        Ok(User::from(&user).into())
    }

    /// Change a user's fields
    ///
    /// Needs `user:update`, and per field `user:set-role` (`role`), `user:ban` (`banned`,
    /// `banReason`, `banExpires`), `user:set-email` (`email`, `emailVerified`). A ban ends every
    /// session of the user. The user, not wrapped (as Better Auth answers).
    #[oai(
        path = "/update-user",
        method = "post",
        operation_id = "adminUpdateUser"
    )]
    async fn update_user(
        &self,
        body: Body<AdminUpdateUserBody>,
        caller: Caller,
    ) -> Result<BareUser, Errors<JsonBody>> {
        let body = body.0;
        let user = self
            .state
            .auth
            .admin_update_user(&caller, &body.user_id, object(body.data.0))
            .await?;
        Ok(User::from(&user).into())
    }

    /// Set a user's roles
    ///
    /// Needs `user:set-role`. Every role must be configured and none may rank above the
    /// caller's; the user must rank below the caller; the last admin keeps an admin role.
    #[oai(path = "/set-role", method = "post", operation_id = "adminSetRole")]
    async fn set_role(
        &self,
        body: Body<AdminSetRoleBody>,
        caller: Caller,
    ) -> Result<UserAnswer, Errors<JsonBody>> {
        let body = body.0;
        let roles = body.role.into_vec();
        let user = self
            .state
            .auth
            .admin_set_role(&caller, &body.user_id, &roles)
            .await?;
        Ok(AdminUserEnvelope {
            user: User::from(&user),
        }
        .into())
    }

    /// Set a user's password
    ///
    /// Needs `user:set-password`, on oneself or a user ranked below the caller.
    #[oai(
        path = "/set-user-password",
        method = "post",
        operation_id = "adminSetUserPassword"
    )]
    async fn set_user_password(
        &self,
        body: Body<AdminSetUserPasswordBody>,
        caller: Caller,
    ) -> Result<PasswordSet, Errors<JsonBody>> {
        let body = body.0;
        if body.new_password.is_empty() {
            return Err(
                ApiError::invalid("body.newPassword", "newPassword cannot be empty").into(),
            );
        }
        if body.user_id.is_empty() {
            return Err(ApiError::invalid("body.userId", "userId cannot be empty").into());
        }
        self.state
            .auth
            .admin_set_user_password(&caller, &body.user_id, &body.new_password)
            .await?;
        Ok(StatusTrue { status: true }.into())
    }

    /// Ban a user
    ///
    /// Needs `user:ban`. Every session of the user ends at once; new ones are refused
    /// (`BANNED_USER`) until the ban ends or is lifted. Not oneself, not the last admin, not a
    /// user ranked at or above the caller.
    #[oai(path = "/ban-user", method = "post", operation_id = "adminBanUser")]
    async fn ban_user(
        &self,
        body: Body<AdminBanUserBody>,
        caller: Caller,
    ) -> Result<UserAnswer, Errors<JsonBody>> {
        let body = body.0;
        let user = self
            .state
            .auth
            .admin_ban_user(&caller, &body.user_id, body.ban_reason, body.ban_expires_in)
            .await?;
        Ok(AdminUserEnvelope {
            user: User::from(&user),
        }
        .into())
    }

    /// Lift a user's ban
    ///
    /// Needs `user:ban`.
    #[oai(path = "/unban-user", method = "post", operation_id = "adminUnbanUser")]
    async fn unban_user(
        &self,
        body: Body<AdminUserIdBody>,
        caller: Caller,
    ) -> Result<UserAnswer, Errors<JsonBody>> {
        let user = self
            .state
            .auth
            .admin_unban_user(&caller, &body.0.user_id)
            .await?;
        Ok(AdminUserEnvelope {
            user: User::from(&user),
        }
        .into())
    }

    /// A user's sessions
    ///
    /// Needs `session:list`. Impersonation sessions show `impersonatedBy`.
    #[oai(
        path = "/list-user-sessions",
        method = "post",
        operation_id = "adminListUserSessions"
    )]
    async fn list_user_sessions(
        &self,
        body: Body<AdminUserIdBody>,
        _no_store: With<NoStore>,
        caller: Caller,
    ) -> Result<SessionsAnswer, Errors<JsonBody>> {
        let sessions = self
            .state
            .auth
            .admin_list_user_sessions(&caller, &body.0.user_id)
            .await?;
        Ok(AdminSessionsEnvelope {
            sessions: sessions
                .into_iter()
                .map(|(s, shown)| Session::new(&s, shown))
                .collect(),
        }
        .into())
    }

    /// End one session of a user
    ///
    /// Needs `session:revoke`, and the session's user must rank below the caller (or be the
    /// caller). An unknown token changes nothing and answers success, as Better Auth does.
    #[oai(
        path = "/revoke-user-session",
        method = "post",
        operation_id = "adminRevokeUserSession"
    )]
    async fn revoke_user_session(
        &self,
        body: Body<AdminRevokeUserSessionBody>,
        caller: Caller,
    ) -> Result<Done, Errors<JsonBody>> {
        self.state
            .auth
            .admin_revoke_user_session(&caller, &body.0.session_token)
            .await?;
        Ok(Success { success: true }.into())
    }

    /// End every session of a user
    ///
    /// Needs `session:revoke`, on oneself or a user ranked below the caller.
    #[oai(
        path = "/revoke-user-sessions",
        method = "post",
        operation_id = "adminRevokeUserSessions"
    )]
    async fn revoke_user_sessions(
        &self,
        body: Body<AdminUserIdBody>,
        caller: Caller,
    ) -> Result<Done, Errors<JsonBody>> {
        self.state
            .auth
            .admin_revoke_user_sessions(&caller, &body.0.user_id)
            .await?;
        Ok(Success { success: true }.into())
    }

    /// Delete a user
    ///
    /// Needs `user:delete`. Not oneself, not the last admin, not a user ranked at or above the
    /// caller; as `delete-user`, an organization is never left without an owner.
    #[oai(
        path = "/remove-user",
        method = "post",
        operation_id = "adminRemoveUser"
    )]
    async fn remove_user(
        &self,
        body: Body<AdminUserIdBody>,
        caller: Caller,
    ) -> Result<Done, Errors<JsonBody>> {
        self.state
            .auth
            .admin_remove_user(&caller, &body.0.user_id)
            .await?;
        Ok(Success { success: true }.into())
    }

    /// Act as another user
    ///
    /// Needs `user:impersonate` (and `user:impersonate-admins` for an admin). Opens a session of
    /// the user marked `impersonatedBy`, ending after the impersonation lifetime (1 hour) and
    /// never extended; the caller's own session is kept in the `admin_session` cookie. Not
    /// oneself, not from an impersonation session. Written to the security log.
    #[oai(
        path = "/impersonate-user",
        method = "post",
        operation_id = "adminImpersonateUser"
    )]
    async fn impersonate_user(
        &self,
        req: &Request,
        body: Body<AdminUserIdBody>,
        caller: Caller,
    ) -> Result<Switched, Errors<JsonBody>> {
        let state = &self.state;
        let (token, session, user) = state
            .auth
            .admin_impersonate(&caller, &body.0.user_id, &state.client_info(req))
            .await?;
        let outbox = Outbox::of(req);
        let cookies = &state.cookies;
        cookies.clear(&outbox);
        let dont_remember = cookies.dont_remember(req.header(COOKIE));
        let max_age = state.auth.cfg.session_expires_in.num_seconds();
        cookies.set_admin_session(&outbox, &caller.token, dont_remember, max_age);
        state.set_session_cookie(&outbox, &token, false);
        Ok(SessionAndUser {
            session: Session::new(&session, token),
            user: User::from(&user),
        }
        .into())
    }

    /// Stop acting as another user
    ///
    /// Ends the impersonation session and returns to the impersonator's own session (from the
    /// `admin_session` cookie).
    #[oai(
        path = "/stop-impersonating",
        method = "post",
        operation_id = "adminStopImpersonating"
    )]
    async fn stop_impersonating(
        &self,
        req: &Request,
        _body: OptionalJson<JsonObject>,
        caller: Caller,
    ) -> Result<Switched, Errors<JsonBody>> {
        let state = &self.state;
        let cookies = &state.cookies;
        let admin = cookies.admin_session(req.header(COOKIE));
        let (restored, _) = state
            .auth
            .admin_stop_impersonating(&caller, admin.as_ref().map(|(t, _)| t.as_str()))
            .await?;
        let dont_remember = admin.is_some_and(|(_, flag)| flag);
        let outbox = Outbox::of(req);
        state.set_session_cookie(&outbox, &restored.token, !dont_remember);
        if !dont_remember {
            cookies.clear_dont_remember(&outbox);
        }
        cookies.clear_admin_session(&outbox);
        Ok(SessionAndUser {
            session: Session::new(&restored.session, restored.token.clone()),
            user: User::from(&restored.user),
        }
        .into())
    }

    /// Does the caller have these permissions?
    ///
    /// True when one of the caller's roles grants every requested action (an `adminUserIds`
    /// user has every permission).
    #[oai(
        path = "/has-permission",
        method = "post",
        operation_id = "adminHasPermission"
    )]
    async fn has_permission(
        &self,
        body: Body<AdminHasPermissionBody>,
        caller: Caller,
    ) -> Result<AdminPermission, Errors<JsonBody>> {
        let body = body.0;
        let request = match (body.permissions, body.permission) {
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid(
                    "body",
                    "Invalid input: more than one option matched",
                )
                .into())
            }
            (None, None) => return Err(ApiError::invalid("body", "Invalid input").into()),
            (None, Some(_)) => {
                return Err(service::Error::from(AdminError::NoPermissionsPassed).into())
            }
            (Some(p), None) => p
                .into_iter()
                .map(|(k, v)| (k, v.into_iter().collect()))
                .collect(),
        };
        let success = self.state.auth.admin_has_permission(&caller, &request);
        Ok(AdminPermissionCheck {
            error: Nullable(None),
            success,
        }
        .into())
    }
}
