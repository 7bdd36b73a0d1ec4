//! Security events, one structured log line each under the target [`crate::SECURITY_LOG`]: who
//! (the user id, when known) and from where (the client address and user agent). Never a secret:
//! no password, token, cookie or link, and not the submitted address either. The user agent is
//! recorded with `Debug`, so a line break in it cannot forge a log line.

use chrono::Duration;

use crate::session::ClientInfo;
use crate::SECURITY_LOG;

/// A password or provider sign-in opened a session; `method` is `password` or the provider id.
pub(crate) fn sign_in_succeeded(user_id: &str, method: &str, client: &ClientInfo) {
    tracing::info!(
        target: SECURITY_LOG,
        event = "sign_in_succeeded",
        user_id,
        method,
        ip = client.ip_address.as_str(),
        user_agent = ?client.user_agent,
    );
}

/// A password sign-in was refused: `invalid_credentials`, `throttled`, `email_not_verified`,
/// `banned`.
pub(crate) fn sign_in_failed(user_id: Option<&str>, reason: &str, client: &ClientInfo) {
    tracing::info!(
        target: SECURITY_LOG,
        event = "sign_in_failed",
        user_id,
        reason,
        ip = client.ip_address.as_str(),
        user_agent = ?client.user_agent,
    );
}

/// A failed password check made the account's password checks wait (see `guessing`).
pub(crate) fn account_throttled(user_id: Option<&str>, wait: Duration, client: &ClientInfo) {
    tracing::info!(
        target: SECURITY_LOG,
        event = "account_throttled",
        user_id,
        retry_after = wait.num_seconds(),
        ip = client.ip_address.as_str(),
        user_agent = ?client.user_agent,
    );
}

/// A provider account was linked to an existing user.
pub(crate) fn provider_linked(user_id: &str, provider: &str, client: &ClientInfo) {
    tracing::info!(
        target: SECURITY_LOG,
        event = "provider_linked",
        user_id,
        provider,
        ip = client.ip_address.as_str(),
        user_agent = ?client.user_agent,
    );
}

/// A provider's first proof of the address removed what predated it (see `unproven`).
pub(crate) fn unproven_access_revoked(
    user_id: &str,
    revoked: crate::unproven::Revoked,
    client: &ClientInfo,
) {
    tracing::info!(
        target: SECURITY_LOG,
        event = "unproven_access_revoked",
        user_id,
        accounts = revoked.accounts,
        sessions = revoked.sessions,
        ip = client.ip_address.as_str(),
        user_agent = ?client.user_agent,
    );
}
