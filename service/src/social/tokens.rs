//! The provider tokens of a linked account: handed to the account's user (`get-access-token`,
//! refreshed first when the access token is about to expire), refreshed on demand
//! (`refresh-token`), and used to ask the provider who the user is (`account-info`).

use chrono::Duration;
use entity::account;
use sea_orm::{ActiveModelTrait, IntoActiveModel};

use super::crypto::Field;
use super::flow::token_columns;
use super::providers::{Profile, Provider};
use super::Failure;
use crate::{Auth, Error, Result};

/// An access token closer than this to its expiry is refreshed first (Better Auth's 5 s).
const REFRESH_MARGIN: Duration = Duration::seconds(5);

/// Which of the caller's accounts: by provider, by account (the provider's account id or the
/// account row id), or both.
#[derive(Clone, Debug, Default)]
pub struct AccountSelector {
    pub provider_id: Option<String>,
    pub account_id: Option<String>,
}

/// An account's tokens in clear, as the API returns them.
pub struct ClearTokens {
    pub account: account::Model,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
}

impl Auth {
    /// The caller's OAuth account that `selector` names, and its configured provider.
    async fn social_account(
        &self,
        user_id: &str,
        selector: &AccountSelector,
    ) -> Result<(account::Model, &Provider)> {
        if selector.provider_id.is_none() && selector.account_id.is_none() {
            return Err(Error::Validation {
                field: None,
                message: "providerId or accountId is required".into(),
            });
        }
        let account = crate::credentials::accounts(&self.db, user_id)
            .await?
            .into_iter()
            .filter(|a| {
                selector
                    .provider_id
                    .as_ref()
                    .is_none_or(|p| *p == a.provider_id)
            })
            .find(|a| {
                selector
                    .account_id
                    .as_ref()
                    .is_none_or(|id| *id == a.account_id || *id == a.id)
            })
            .ok_or(Error::AccountNotFound)?;
        // The password account, or one whose provider is no longer configured.
        let provider = self
            .social
            .provider(&account.provider_id)
            .ok_or_else(|| Error::ProviderNotSupported(account.provider_id.clone()))?;
        Ok((account, provider))
    }

    fn clear(&self, account: account::Model) -> ClearTokens {
        let cipher = self.social.cipher();
        let open = |field, v: &Option<String>| v.as_deref().and_then(|v| cipher.open(field, v));
        ClearTokens {
            access_token: open(Field::AccessToken, &account.access_token),
            refresh_token: open(Field::RefreshToken, &account.refresh_token),
            id_token: open(Field::IdToken, &account.id_token),
            account,
        }
    }

    /// Trades the account's refresh token for new tokens and stores them.
    async fn refresh_account(
        &self,
        account: account::Model,
        provider: &Provider,
        refresh_token: &str,
    ) -> std::result::Result<ClearTokens, Failure> {
        let now = self.clock.now();
        let tokens = provider
            .refresh(
                &self.social_http(),
                &self.social.redirect_uri(&provider.cfg.id),
                refresh_token,
                now,
            )
            .await?;
        let mut active = account.into_active_model();
        token_columns(self, &mut active, &tokens, now);
        let updated = active.update(&self.db).await.map_err(|e| {
            tracing::error!(error = %e, "storing refreshed tokens failed");
            Failure::Unavailable
        })?;
        Ok(self.clear(updated))
    }

    /// The account's access token, refreshed first when it has expired (or is about to) and a
    /// refresh token is at hand.
    pub async fn access_token(
        &self,
        user_id: &str,
        selector: &AccountSelector,
    ) -> Result<ClearTokens> {
        let (account, provider) = self.social_account(user_id, selector).await?;
        let tokens = self.clear(account);
        let due = tokens
            .account
            .access_token_expires_at
            .is_some_and(|at| at - crate::clock::db_time(self.clock.now()) < REFRESH_MARGIN);
        match tokens.refresh_token.clone() {
            Some(refresh) if due => self
                .refresh_account(tokens.account, provider, &refresh)
                .await
                .map_err(|_| Error::FailedToGetAccessToken),
            _ if tokens.access_token.is_none() => Err(Error::FailedToGetAccessToken),
            _ => Ok(tokens),
        }
    }

    /// New tokens from the provider, whatever the current ones' expiry.
    pub async fn refresh_tokens(
        &self,
        user_id: &str,
        selector: &AccountSelector,
    ) -> Result<ClearTokens> {
        let (account, provider) = self.social_account(user_id, selector).await?;
        let tokens = self.clear(account);
        let refresh = tokens
            .refresh_token
            .clone()
            .ok_or(Error::RefreshTokenNotFound)?;
        self.refresh_account(tokens.account, provider, &refresh)
            .await
            .map_err(|_| Error::FailedToRefreshAccessToken)
    }

    /// What the provider says about the account's user now.
    pub async fn account_info(
        &self,
        user_id: &str,
        selector: &AccountSelector,
    ) -> Result<(account::Model, Profile)> {
        let tokens = self.access_token(user_id, selector).await?;
        let provider = self
            .social
            .provider(&tokens.account.provider_id)
            .ok_or_else(|| Error::ProviderNotSupported(tokens.account.provider_id.clone()))?;
        let access_token = tokens
            .access_token
            .as_deref()
            .ok_or(Error::FailedToGetAccessToken)?;
        let profile = provider
            .user_info(
                &self.social_http(),
                &self.social.redirect_uri(&provider.cfg.id),
                access_token,
            )
            .await
            .map_err(|_| Error::FailedToGetUserInfo)?;
        Ok((tokens.account, profile))
    }
}
