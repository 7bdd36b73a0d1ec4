-- The invariants of an orgauth store (docs/reliability.md). Each statement lists what breaks one:
-- a store is sound when every statement returns no row. Plain SQL that PostgreSQL and SQLite both
-- run: `psql "$DATABASE_URL" -f store.sql`, `sqlite3 orgauth.db < store.sql`, or
-- `orgauth check-invariants`, which also runs exclusive.sql and member_count.sql where they apply.
-- The creator role is Better Auth's default, `owner`; `orgauth check-invariants` uses the
-- configured one.

-- Every user has a way to sign in: a password or a provider account, or a verified address (its
-- mailbox signs in: a magic link, as Better Auth writes its users, or a password reset).
SELECT 'user_without_account' AS invariant, u.id AS detail
FROM "user" u
WHERE u.email_verified = FALSE
  AND NOT EXISTS (SELECT 1 FROM account a WHERE a.user_id = u.id);

-- One password account per user.
SELECT 'two_password_accounts' AS invariant, user_id AS detail
FROM account WHERE provider_id = 'credential'
GROUP BY user_id HAVING count(*) > 1;

-- One user per provider account.
SELECT 'shared_provider_account' AS invariant, provider_id || ':' || account_id AS detail
FROM account
GROUP BY provider_id, account_id HAVING count(*) > 1;

-- A password hash is Argon2id (PHC) or Better Auth's scrypt (`salt:key`, hex), never empty.
SELECT 'malformed_password_hash' AS invariant, a.user_id AS detail
FROM account a
WHERE a.password IS NOT NULL
  AND a.password NOT LIKE '$argon2id$v=19$%'
  AND NOT (length(a.password) = 161 AND substr(a.password, 33, 1) = ':'
           AND trim(substr(a.password, 1, 32), '0123456789abcdef') = ''
           AND trim(substr(a.password, 34), '0123456789abcdef') = '');

-- One user per address, compared as orgauth normalizes addresses (lower case).
SELECT 'duplicate_email' AS invariant, lower(email) AS detail
FROM "user"
GROUP BY lower(email) HAVING count(*) > 1;

-- No row outlives its parent.
SELECT 'orphan_session' AS invariant, s.id AS detail
FROM session s WHERE NOT EXISTS (SELECT 1 FROM "user" u WHERE u.id = s.user_id);
SELECT 'orphan_account' AS invariant, a.id AS detail
FROM account a WHERE NOT EXISTS (SELECT 1 FROM "user" u WHERE u.id = a.user_id);
SELECT 'orphan_member' AS invariant, m.id AS detail
FROM member m
WHERE NOT EXISTS (SELECT 1 FROM "user" u WHERE u.id = m.user_id)
   OR NOT EXISTS (SELECT 1 FROM organization o WHERE o.id = m.organization_id);
SELECT 'orphan_team' AS invariant, t.id AS detail
FROM team t WHERE NOT EXISTS (SELECT 1 FROM organization o WHERE o.id = t.organization_id);
SELECT 'orphan_team_member' AS invariant, tm.id AS detail
FROM team_member tm
WHERE NOT EXISTS (SELECT 1 FROM "user" u WHERE u.id = tm.user_id)
   OR NOT EXISTS (SELECT 1 FROM team t WHERE t.id = tm.team_id);
SELECT 'orphan_invitation' AS invariant, i.id AS detail
FROM invitation i
WHERE NOT EXISTS (SELECT 1 FROM organization o WHERE o.id = i.organization_id)
   OR NOT EXISTS (SELECT 1 FROM "user" u WHERE u.id = i.inviter_id);

-- Every organization that has members has an owner.
SELECT 'organization_without_owner' AS invariant, o.id AS detail
FROM organization o
WHERE EXISTS (SELECT 1 FROM member m WHERE m.organization_id = o.id)
  AND NOT EXISTS (
    SELECT 1 FROM member m
    WHERE m.organization_id = o.id
      AND ',' || replace(m.role, ' ', '') || ',' LIKE '%,owner,%');

-- One membership per (organization, user) and per (team, user).
SELECT 'duplicate_member' AS invariant, organization_id || ':' || user_id AS detail
FROM member GROUP BY organization_id, user_id HAVING count(*) > 1;
SELECT 'duplicate_team_member' AS invariant, team_id || ':' || user_id AS detail
FROM team_member GROUP BY team_id, user_id HAVING count(*) > 1;

-- A team's members are members of the team's organization.
SELECT 'team_member_outside_organization' AS invariant, tm.id AS detail
FROM team_member tm JOIN team t ON t.id = tm.team_id
WHERE NOT EXISTS (
  SELECT 1 FROM member m WHERE m.organization_id = t.organization_id AND m.user_id = tm.user_id);

-- A session's active organization is one its user belongs to, and its active team is a team of
-- that organization.
SELECT 'session_in_foreign_organization' AS invariant, s.id AS detail
FROM session s
WHERE s.active_organization_id IS NOT NULL
  AND NOT EXISTS (
    SELECT 1 FROM member m
    WHERE m.organization_id = s.active_organization_id AND m.user_id = s.user_id);
SELECT 'session_team_outside_organization' AS invariant, s.id AS detail
FROM session s
WHERE s.active_team_id IS NOT NULL
  AND NOT EXISTS (
    SELECT 1 FROM team t
    WHERE t.id = s.active_team_id AND t.organization_id = s.active_organization_id);

-- An invitation's status is one of Better Auth's four.
SELECT 'unknown_invitation_status' AS invariant, id || ':' || status AS detail
FROM invitation WHERE status NOT IN ('pending', 'accepted', 'rejected', 'canceled');
