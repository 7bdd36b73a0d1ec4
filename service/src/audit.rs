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
