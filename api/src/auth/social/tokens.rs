//! The linked account's tokens (`get-access-token`, `refresh-token`, `account-info`): their wire
//! shapes, and Better Auth's selection of the account, checked as the request is read (before
//! the session, as zod checks it).

use poem::{FromRequest, Request, RequestBody};
use poem_openapi::Object;
use service::social::tokens::{AccountSelector, ClearTokens};

use crate::auth::dto::{scopes, Timestamp};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::wire::{JsonObject, Nullable, Rule};

/// Which of the caller's accounts: `accountId` (the account's row id, or the provider's account
/// id), or `providerId` as earlier Better Auth versions took it; not both.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct AccountBody {
    /// Earlier Better Auth versions' selector: the caller's account with this provider.
    pub provider_id: Option<String>,
    /// The account's row id (`id` in `list-accounts`) or the provider's account id.
    pub account_id: Option<String>,
    /// Better Auth's account cookie; orgauth sets none, so no account is found by it.
    pub use_account_cookie: Option<bool>,
    /// Ignored, as Better Auth ignores it when there is a session: the account is always the
    /// caller's.
    pub user_id: Option<String>,
}

/// A linked account's access token.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct AccessTokenResponse {
    /// The provider's access token.
    pub access_token: String,
    /// Omitted when the provider gave no expiry.
    #[oai(skip_serializing_if_is_none)]
    pub access_token_expires_at: Option<Timestamp>,
    /// The granted scopes.
    pub scopes: Vec<String>,
    /// Omitted when the provider gave none.
    #[oai(skip_serializing_if_is_none)]
    pub id_token: Option<String>,
}

/// A linked account's tokens after a refresh.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct RefreshTokenResponse {
    /// The new access token.
    pub access_token: String,
    /// The refresh token (a new one if the provider rotated it), or null.
    pub refresh_token: Nullable<String>,
    /// When the access token expires, or null.
    pub access_token_expires_at: Nullable<Timestamp>,
    /// When the refresh token expires, or null.
    pub refresh_token_expires_at: Nullable<Timestamp>,
    /// The granted scopes, comma-separated.
    pub scope: Nullable<String>,
    /// A new ID token, or null.
    pub id_token: Nullable<String>,
    /// The provider.
    pub provider_id: String,
    /// The provider's id for the user.
    pub account_id: String,
}

/// The provider's user, in Better Auth's normalized form.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct ProviderUser {
    /// The provider's id for the user.
    pub id: String,
    /// Their name, or null.
    pub name: Nullable<String>,
    /// Their e-mail address, or null.
    pub email: Nullable<String>,
    /// A URL of their picture, or null.
    pub image: Nullable<String>,
    /// Whether the provider vouches for the address.
    pub email_verified: bool,
}

/// Which linked account was asked.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct AccountRef {
    /// The account's row id.
    pub id: String,
    /// The provider.
    pub provider_id: String,
    /// The provider's id for the user.
    pub account_id: String,
}

/// What the provider says about a linked account's user.
#[derive(Object, Debug)]
pub struct AccountInfo {
    /// The user, normalized.
    pub user: ProviderUser,
    /// The provider's own answer (GitHub's `/user`, the OpenID userinfo).
    pub data: JsonObject,
    /// The account asked about.
    pub account: AccountRef,
}

/// Why Better Auth's selection schema (zod) refuses a selection, if it does: `accountId` and
/// `providerId` not both, and one of them (or `useAccountCookie: true`).
fn selection_refused(
    account_id: bool,
    provider_id: bool,
    use_account_cookie: Option<bool>,
) -> Option<&'static str> {
    match (account_id, provider_id, use_account_cookie) {
        (true, true, _) => Some("Unrecognized key: \"providerId\""),
        (true, false, Some(_)) | (false, false, None | Some(false)) => Some("Invalid input"),
        _ => None,
    }
}

/// [`AccountBody`] under Better Auth's selection schema, checked as the body is read.
pub struct Selection;

impl Rule<AccountBody> for Selection {
    fn check(body: &AccountBody) -> Result<(), String> {
        match selection_refused(
            body.account_id.is_some(),
            body.provider_id.is_some(),
            body.use_account_cookie,
        ) {
            Some(refused) => Err(refused.to_owned()),
            None => Ok(()),
        }
    }
}

/// `account-info`'s query under the same schema, checked before the session as its body is.
pub struct QuerySelection;

impl<'a> FromRequest<'a> for QuerySelection {
    async fn from_request(req: &'a Request, _: &mut RequestBody) -> poem::Result<Self> {
        let query = req.uri().query().unwrap_or_default();
        let given =
            |key: &str| url::form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k == key);
        match selection_refused(given("accountId"), given("providerId"), None) {
            Some(refused) => Err(ApiError::invalid("query", refused).into()),
            None => Ok(Self),
        }
    }
}

/// The caller's account a (checked) selection names. Better Auth's account cookie names none
/// here: orgauth sets none.
pub(super) fn selected(
    caller: &Caller,
    body: AccountBody,
) -> Result<(String, AccountSelector), service::Error> {
    if body.use_account_cookie == Some(true) && body.provider_id.is_none() {
        return Err(service::Error::AccountNotFound);
    }
    Ok((
        caller.user.id.clone(),
        AccountSelector {
            provider_id: body.provider_id,
            account_id: body.account_id,
        },
    ))
}

pub(super) fn access_token_response(t: ClearTokens) -> ApiResult<AccessTokenResponse> {
    Ok(AccessTokenResponse {
        access_token: t
            .access_token
            .ok_or(service::Error::FailedToGetAccessToken)?,
        access_token_expires_at: t.account.access_token_expires_at.map(Timestamp::from),
        scopes: scopes(t.account.scope.as_deref()),
        id_token: t.id_token,
    })
}
