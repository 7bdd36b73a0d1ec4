-- What holds when orgauth alone writes the store in its default mode: not with
-- ORGAUTH_COEXISTENCE=true or ORGAUTH_SESSION_TOKENS=plain, where Better Auth's plain forms are
-- written on purpose (and a Better Auth server may share the store).

-- A session token is stored as its SHA-256 (64 lower-case hex digits).
SELECT 'plain_session_token' AS invariant, id AS detail
FROM session
WHERE length(token) <> 64 OR trim(token, '0123456789abcdef') <> '';

-- A one-time secret is stored as `<purpose>:<SHA-256>`.
SELECT 'plain_verification_secret' AS invariant, id AS detail
FROM verification
WHERE length(identifier) < 65
   OR trim(substr(identifier, length(identifier) - 63), '0123456789abcdef') <> ''
   OR substr(identifier, length(identifier) - 64, 1) <> ':';

-- Provider tokens are sealed.
SELECT 'plain_provider_token' AS invariant, id AS detail
FROM account
WHERE (access_token IS NOT NULL AND access_token NOT LIKE 'enc.v1.%')
   OR (refresh_token IS NOT NULL AND refresh_token NOT LIKE 'enc.v1.%')
   OR (id_token IS NOT NULL AND id_token NOT LIKE 'enc.v1.%');

-- At most one password-reset link per user: a new request voids the older ones, a reset or a
-- password change voids them all.
SELECT 'several_reset_links' AS invariant, value AS detail
FROM verification WHERE identifier LIKE 'reset-password:%'
GROUP BY value HAVING count(*) > 1;
