//! Security events: one structured log line each, on the `orgauth::security` target, with the
//! user and organization ids it concerns. The client address and request id come from the
//! request's span. Never a secret: no password, token, cookie or link.

/// Logs security event `event` about `user_id` (and `organization_id`, where it has one).
pub fn event(event: &'static str, user_id: &str, organization_id: Option<&str>) {
    tracing::info!(
        target: "orgauth::security",
        event,
        user_id,
        organization_id,
        "security event"
    );
}

/// A password or provider sign-in opened a session; `method` is `password` or the provider id.
pub fn sign_in_succeeded(user_id: &str, method: &str) {
    tracing::info!(
        target: "orgauth::security",
        event = "sign_in_succeeded",
        user_id,
        method,
        "security event"
    );
}

/// A password sign-in was refused: `reason` is `invalid_credentials`, `throttled` (refused
/// before the address was looked up, so without a user), `email_not_verified` or `banned`.
/// `user_id` when the address has an account; never the address itself.
pub fn sign_in_failed(user_id: Option<&str>, reason: &'static str) {
    crate::metrics::get()
        .sign_in_failures
        .with_label_values(&[reason])
        .inc();
    tracing::info!(
        target: "orgauth::security",
        event = "sign_in_failed",
        user_id,
        reason,
        "security event"
    );
}

/// A failed password check made the account's password checks wait `retry_after` seconds (see
/// `guessing`); `user_id` when the address has an account.
pub fn account_throttled(user_id: Option<&str>, retry_after: i64) {
    tracing::info!(
        target: "orgauth::security",
        event = "account_throttled",
        user_id,
        retry_after,
        "security event"
    );
}

/// A provider account was linked to an existing user.
pub fn provider_linked(user_id: &str, provider: &str) {
    tracing::info!(
        target: "orgauth::security",
        event = "provider_linked",
        user_id,
        provider,
        "security event"
    );
}

/// A provider's first proof of the address removed what predated it (see `unproven`).
pub fn unproven_access_revoked(user_id: &str, revoked: crate::unproven::Revoked) {
    tracing::info!(
        target: "orgauth::security",
        event = "unproven_access_revoked",
        user_id,
        accounts = revoked.accounts,
        sessions = revoked.sessions,
        "security event"
    );
}

/// An admin (`actor_id`) acted on a user's account through the admin plugin (`event` says how:
/// `user_banned`, `role_changed`, `user_removed`, …).
pub fn admin_action(event: &'static str, actor_id: &str, user_id: &str) {
    tracing::info!(
        target: "orgauth::security",
        event,
        user_id,
        actor_id,
        "security event"
    );
}

/// An impersonation started or stopped: `impersonator_id` acts (acted) as `user_id`.
pub fn impersonation(event: &'static str, impersonator_id: &str, user_id: &str) {
    tracing::info!(
        target: "orgauth::security",
        event,
        user_id,
        impersonator_id,
        "security event"
    );
}
