// The admin plugin through the official client: adminClient() from better-auth 1.7.25
// (authClient.admin.* → /api/auth/admin/*), against orgauth configured the way ZeroStarter is
// (docs/configuration.md, "Admin plugin": ranked roles owner > admin > member > user, the top two
// admins) with one ORGAUTH_ADMIN_USER_IDS entry. That id is only known once the user exists, so the
// world is built here rather than by lib/harness.mjs: the server is started once to sign `root` up,
// then again on the same database with ORGAUTH_ADMIN_USER_IDS=<root's id>; root then hands out the
// roles through set-role. docs/admin.md is the contract; orgauth's safer rules are
// docs/compatibility.md, "Admin plugin".
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createAuthClient } from 'better-auth/client';
import { adminClient } from 'better-auth/client/plugins';
import { createJar } from '../lib/jar.mjs';
import { DATABASE, fails, ok, uniqueEmail } from '../lib/harness.mjs';
import { createDatabase, startServer } from '../lib/server.mjs';
import { startSmtpSink } from '../lib/smtp.mjs';

const ROLES = {
  owner: {
    user: ['create', 'list', 'set-role', 'ban', 'impersonate', 'impersonate-admins', 'delete', 'set-password', 'set-email', 'get', 'update'],
    session: ['list', 'revoke'],
  },
  admin: {
    user: ['create', 'list', 'set-role', 'ban', 'impersonate', 'delete', 'set-password', 'set-email', 'get', 'update'],
    session: ['list', 'revoke'],
  },
  member: { user: ['list', 'get'] },
  user: {},
};

let mail;
let db;
let server;
let root; // in ORGAUTH_ADMIN_USER_IDS, role "user"
let boss; // made owner by root: the only holder of an admin role until `adm` is made admin
let adm; // made admin by root: the actor of most tests
let alice; // made member by adm

/** A browser of its own on the current server: a cookie jar and the official client with adminClient(). */
function browser() {
  const jar = createJar();
  const baseURL = server.baseURL;
  const client = createAuthClient({
    baseURL,
    plugins: [adminClient()],
    fetchOptions: { customFetchImpl: jar.fetch, headers: { origin: baseURL } },
  });
  return { jar, client };
}

/** A user signed up (and so signed in) through the client. */
async function signUp(prefix) {
  const u = { ...browser(), email: uniqueEmail(prefix), password: `pw-${randomBytes(8).toString('hex')}`, name: `${prefix} Tester` };
  const data = ok(await u.client.signUp.email({ email: u.email, password: u.password, name: u.name }), 'sign-up');
  u.id = data.user.id;
  return u;
}

/** Signs `u` in again in a new browser; returns that browser. */
async function signIn(u, password = u.password) {
  const b = browser();
  ok(await b.client.signIn.email({ email: u.email, password }), `sign-in ${u.email}`);
  return b;
}

before(async () => {
  mail = await startSmtpSink();
  db = await createDatabase(DATABASE);
  server = await startServer({ databaseUrl: db.url, smtpUrl: mail.url });
  root = await signUp('root');
  assert.deepEqual(await server.stop(), { code: 0, signal: null }, server.output().slice(-2000));
  server = await startServer({
    databaseUrl: db.url,
    smtpUrl: mail.url,
    extraEnv: {
      ORGAUTH_ADMIN_ROLES: 'owner,admin',
      ORGAUTH_ADMIN_ROLE_STATEMENTS: JSON.stringify(ROLES),
      ORGAUTH_ADMIN_USER_IDS: root.id,
    },
  });
  console.log(`orgauth ${server.binary} on ${DATABASE} (${db.name ?? db.url}) at ${server.baseURL}`);
  Object.assign(root, await signIn(root)); // a new server, a new secret: sign in again
  [boss, adm, alice] = await Promise.all(['boss', 'adm', 'alice'].map(signUp));
});

after(async () => {
  await server?.stop();
  await mail?.close();
  await db?.drop();
});

test('root hands out roles; the last admin stays; nobody grants above their own rank', async () => {
  const me = ok(await root.client.getSession());
  assert.equal(me.user.id, root.id);
  assert.equal(me.user.role, 'user', 'an ORGAUTH_ADMIN_USER_IDS entry keeps its own role');
  assert.equal(me.user.banned, false);

  const promoted = ok(await root.client.admin.setRole({ userId: boss.id, role: 'owner' }), 'set-role owner');
  assert.equal(promoted.user.id, boss.id);
  assert.equal(promoted.user.role, 'owner');
  // boss is the only holder of an admin role: even root cannot demote them.
  fails(await root.client.admin.setRole({ userId: boss.id, role: 'user' }), 400, 'THE_LAST_ADMIN_CANNOT_BE_DEMOTED');
  fails(await boss.client.admin.setRole({ userId: boss.id, role: 'user' }), 403, 'YOU_CANNOT_CHANGE_THE_ROLE_OF_AN_EQUAL_OR_HIGHER_ROLE');
  assert.equal(ok(await boss.client.getSession()).user.role, 'owner');

  assert.equal(ok(await root.client.admin.setRole({ userId: adm.id, role: 'admin' })).user.role, 'admin');
  // An admin grants nothing above admin, and touches no owner.
  fails(await adm.client.admin.setRole({ userId: alice.id, role: 'owner' }), 403, 'YOU_CANNOT_GRANT_A_ROLE_ABOVE_YOUR_OWN');
  fails(await adm.client.admin.setRole({ userId: adm.id, role: 'owner' }), 403, 'YOU_CANNOT_GRANT_A_ROLE_ABOVE_YOUR_OWN');
  fails(await adm.client.admin.setRole({ userId: boss.id, role: 'user' }), 403, 'YOU_CANNOT_CHANGE_THE_ROLE_OF_AN_EQUAL_OR_HIGHER_ROLE');
  fails(await adm.client.admin.setRole({ userId: alice.id, role: 'superuser' }), 400, 'YOU_ARE_NOT_ALLOWED_TO_SET_NON_EXISTENT_VALUE');
  fails(await adm.client.admin.setRole({ userId: 'nobody', role: 'member' }), 404, 'USER_NOT_FOUND');
  const member = ok(await adm.client.admin.setRole({ userId: alice.id, role: 'member' }), 'set-role member');
  assert.equal(member.user.role, 'member');
  assert.equal(ok(await alice.client.getSession()).user.role, 'member', 'effective at the next request');
  fails(await alice.client.admin.setRole({ userId: alice.id, role: 'user' }), 403, 'YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE');
  assert.equal(fails(await browser().client.admin.setRole({ userId: alice.id, role: 'user' }), 401).code, 'UNAUTHORIZED');
});

test('hasPermission answers for the caller', async () => {
  const has = async (who, permissions) => ok(await who.client.admin.hasPermission({ permissions }), 'has-permission');
  assert.deepEqual(await has(adm, { user: ['list', 'ban'], session: ['revoke'] }), { error: null, success: true });
  assert.deepEqual(await has(adm, { user: ['impersonate-admins'] }), { error: null, success: false });
  assert.deepEqual(await has(boss, { user: ['impersonate-admins'] }), { error: null, success: true });
  assert.deepEqual(await has(alice, { user: ['list', 'get'] }), { error: null, success: true });
  assert.deepEqual(await has(alice, { user: ['ban'] }), { error: null, success: false });
  assert.deepEqual(await has(root, { billing: ['read'] }), { error: null, success: true }, 'adminUserIds: everything');
  // The body's userId/role are ignored when there is a session.
  const asked = ok(await alice.client.admin.hasPermission({ userId: adm.id, role: 'admin', permissions: { user: ['ban'] } }));
  assert.equal(asked.success, false);
});

test('createUser, then the created user signs in; duplicates and plain users are refused', async () => {
  const email = uniqueEmail('Created'); // mixed case: stored lowercased
  const created = ok(
    await adm.client.admin.createUser({ email, password: 'password-123', name: 'Created One', role: 'member' }),
    'create-user',
  );
  assert.equal(created.user.email, email.toLowerCase());
  assert.equal(created.user.name, 'Created One');
  assert.equal(created.user.role, 'member');
  assert.equal(created.user.banned, false);
  assert.equal(created.user.banReason, null);
  assert.equal(created.user.banExpires, null);
  assert.equal(created.user.emailVerified, false);
  assert.ok(created.user.id);

  const b = browser();
  const signedIn = ok(await b.client.signIn.email({ email, password: 'password-123' }), 'created user signs in');
  assert.equal(signedIn.user.id, created.user.id);

  const plain = ok(await adm.client.admin.createUser({ email: uniqueEmail('plain'), password: 'password-123', name: 'Plain' }));
  assert.equal(plain.user.role, 'user', 'ORGAUTH_ADMIN_DEFAULT_ROLE');

  fails(
    await adm.client.admin.createUser({ email: email.toUpperCase(), password: 'password-123', name: 'Again' }),
    400,
    'USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL',
  );
  fails(
    await adm.client.admin.createUser({ email: uniqueEmail('boss2'), password: 'password-123', name: 'Boss 2', role: 'owner' }),
    403,
    'YOU_CANNOT_GRANT_A_ROLE_ABOVE_YOUR_OWN',
  );
  fails(
    await alice.client.admin.createUser({ email: uniqueEmail('nope'), password: 'password-123', name: 'Nope' }),
    403,
    'YOU_ARE_NOT_ALLOWED_TO_CREATE_USERS',
  );
});

test('listUsers searches, pages and counts', async () => {
  const tag = `Listed${randomBytes(3).toString('hex')}`;
  const ids = [];
  for (const n of [1, 2, 3]) {
    const { user } = ok(
      await adm.client.admin.createUser({ email: uniqueEmail(`listed${n}`), password: 'password-123', name: `${tag} ${n}` }),
    );
    ids.push(user.id);
  }
  const page = async (query) => ok(await adm.client.admin.listUsers({ query }), 'list-users');
  const search = { searchValue: tag.toLowerCase(), searchField: 'name', searchOperator: 'contains' };

  const all = await page(search);
  assert.equal(all.total, 3);
  assert.deepEqual(all.users.map((u) => u.id), ids, 'oldest first by default');
  assert.deepEqual(all.users.map((u) => u.name), [1, 2, 3].map((n) => `${tag} ${n}`));
  assert.ok(all.users.every((u) => u.role === 'user' && u.banned === false));

  const first = await page({ ...search, limit: 2 });
  assert.equal(first.total, 3);
  assert.equal(first.limit, 2);
  assert.deepEqual(first.users.map((u) => u.id), ids.slice(0, 2));
  const second = await page({ ...search, limit: 2, offset: 2 });
  assert.equal(second.total, 3);
  assert.equal(second.offset, 2);
  assert.deepEqual(second.users.map((u) => u.id), ids.slice(2));

  const sorted = await page({ ...search, sortBy: 'name', sortDirection: 'desc' });
  assert.deepEqual(sorted.users.map((u) => u.id), [...ids].reverse());

  const owners = await page({ filterField: 'role', filterValue: 'owner', filterOperator: 'eq' });
  assert.deepEqual(owners.users.map((u) => u.id), [boss.id]);
  assert.equal(owners.total, 1);

  const everyone = await page({});
  assert.ok(everyone.total >= 9, `total ${everyone.total}`);
  assert.equal(everyone.users.length, everyone.total);
  for (const u of [root, boss, adm, alice]) assert.ok(everyone.users.some((x) => x.id === u.id));

  const byEmail = await page({ searchValue: alice.email, searchField: 'email' });
  assert.deepEqual(byEmail.users.map((u) => u.id), [alice.id]);

  // member may list; a plain user may not; nobody signed in gets 401.
  assert.equal(ok(await alice.client.admin.listUsers({ query: search })).total, 3);
  const plain = await signUp('lister');
  fails(await plain.client.admin.listUsers({ query: {} }), 403, 'YOU_ARE_NOT_ALLOWED_TO_LIST_USERS');
  fails(await browser().client.admin.listUsers({ query: {} }), 401);
  fails(await adm.client.admin.listUsers({ query: { sortBy: 'nope' } }), 400, 'VALIDATION_ERROR');
});

test('getUser and updateUser answer the user unwrapped', async () => {
  const target = await signUp('target');
  const got = ok(await adm.client.admin.getUser({ query: { id: target.id } }), 'get-user');
  assert.equal(got.id, target.id);
  assert.equal(got.email, target.email);
  assert.equal(got.name, target.name);
  assert.equal(got.role, 'user');
  assert.equal(got.banned, false);
  assert.equal(got.user, undefined, 'unwrapped');
  fails(await adm.client.admin.getUser({ query: { id: 'nobody' } }), 404, 'USER_NOT_FOUND');

  const updated = ok(
    await adm.client.admin.updateUser({ userId: target.id, data: { name: 'Target Renamed', image: 'https://img.example.com/t.png' } }),
    'update-user',
  );
  assert.equal(updated.id, target.id);
  assert.equal(updated.name, 'Target Renamed');
  assert.equal(updated.image, 'https://img.example.com/t.png');
  assert.equal(updated.user, undefined, 'unwrapped');
  assert.equal(ok(await target.client.getSession()).user.name, 'Target Renamed');

  const role = ok(await adm.client.admin.updateUser({ userId: target.id, data: { role: 'member' } }));
  assert.equal(role.role, 'member');
  fails(await adm.client.admin.updateUser({ userId: target.id, data: {} }), 400, 'NO_DATA_TO_UPDATE');
  fails(
    await adm.client.admin.updateUser({ userId: target.id, data: { password: 'password-123' } }),
    400,
    'PASSWORD_CANNOT_BE_UPDATED_VIA_UPDATE_USER',
  );
  fails(
    await adm.client.admin.updateUser({ userId: target.id, data: { email: boss.email } }),
    400,
    'USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL',
  );
  fails(await adm.client.admin.updateUser({ userId: boss.id, data: { name: 'Not Yours' } }), 403, 'YOU_CANNOT_ACT_ON_A_HIGHER_ROLE');
  fails(await alice.client.admin.updateUser({ userId: target.id, data: { name: 'x' } }), 403, 'YOU_ARE_NOT_ALLOWED_TO_UPDATE_USERS');
  assert.equal(ok(await adm.client.admin.getUser({ query: { id: boss.id } })).name, boss.name);
});

test('setUserPassword: the user signs in with the new password only', async () => {
  const target = await signUp('pwd');
  assert.deepEqual(
    ok(await adm.client.admin.setUserPassword({ userId: target.id, newPassword: 'brand-new-password-1' }), 'set-user-password'),
    { status: true },
  );
  const b = browser();
  const signedIn = ok(await b.client.signIn.email({ email: target.email, password: 'brand-new-password-1' }));
  assert.equal(signedIn.user.id, target.id);
  fails(await browser().client.signIn.email({ email: target.email, password: target.password }), 401, 'INVALID_EMAIL_OR_PASSWORD');
  fails(await adm.client.admin.setUserPassword({ userId: target.id, newPassword: 'short' }), 400, 'PASSWORD_TOO_SHORT');
  fails(await adm.client.admin.setUserPassword({ userId: boss.id, newPassword: 'taken-over-123' }), 403, 'YOU_CANNOT_ACT_ON_A_HIGHER_ROLE');
  fails(await alice.client.admin.setUserPassword({ userId: target.id, newPassword: 'password-123' }), 403, 'YOU_ARE_NOT_ALLOWED_TO_SET_USERS_PASSWORD');
});

test('banUser ends the sessions and refuses sign-in with BANNED_USER; unbanUser lets them back', async () => {
  const victim = await signUp('victim');
  const second = await signIn(victim);
  assert.equal(ok(await victim.client.getSession()).user.id, victim.id);

  const before = Date.now();
  const banned = ok(await adm.client.admin.banUser({ userId: victim.id, banReason: 'spamming', banExpiresIn: 3600 }), 'ban-user');
  assert.equal(banned.user.id, victim.id);
  assert.equal(banned.user.banned, true);
  assert.equal(banned.user.banReason, 'spamming');
  const expires = new Date(banned.user.banExpires).getTime();
  assert.ok(Math.abs(expires - (before + 3600_000)) < 60_000, `banExpires ${banned.user.banExpires}`);

  assert.equal(ok(await victim.client.getSession()), null, 'the session ended');
  assert.equal(ok(await second.client.getSession()), null, 'every session ended');
  assert.deepEqual(ok(await adm.client.admin.listUserSessions({ userId: victim.id })).sessions, []);
  const refused = fails(await browser().client.signIn.email({ email: victim.email, password: victim.password }), 403, 'BANNED_USER');
  assert.match(refused.message, /banned/i);
  // A wrong password is still a wrong password.
  fails(await browser().client.signIn.email({ email: victim.email, password: 'wrong-password-1' }), 401, 'INVALID_EMAIL_OR_PASSWORD');

  const got = ok(await adm.client.admin.getUser({ query: { id: victim.id } }));
  assert.equal(got.banned, true);
  assert.equal(got.banReason, 'spamming');

  const unbanned = ok(await adm.client.admin.unbanUser({ userId: victim.id }), 'unban-user');
  assert.equal(unbanned.user.banned, false);
  assert.equal(unbanned.user.banReason, null);
  assert.equal(unbanned.user.banExpires, null);
  const back = await signIn(victim);
  assert.equal(ok(await back.client.getSession()).user.id, victim.id);

  // Default reason, no expiry.
  const again = ok(await adm.client.admin.banUser({ userId: victim.id }));
  assert.equal(again.user.banReason, 'No reason');
  assert.equal(again.user.banExpires, null);
  assert.equal(ok(await back.client.getSession()), null);
  ok(await adm.client.admin.unbanUser({ userId: victim.id }));

  // A ban through update-user ends the sessions too; half-valid ban input is a 400 with nothing changed.
  const viaUpdate = await signIn(victim);
  fails(await adm.client.admin.updateUser({ userId: victim.id, data: { banned: 'yes' } }), 400, 'VALIDATION_ERROR');
  fails(await adm.client.admin.banUser({ userId: victim.id, banExpiresIn: 0 }), 400, 'VALIDATION_ERROR');
  assert.equal(ok(await viaUpdate.client.getSession()).user.banned, false);
  const updated = ok(await adm.client.admin.updateUser({ userId: victim.id, data: { banned: true, banReason: 'via update' } }));
  assert.equal(updated.banned, true);
  assert.equal(updated.banReason, 'via update');
  assert.equal(ok(await viaUpdate.client.getSession()), null);
  fails(await browser().client.signIn.email({ email: victim.email, password: victim.password }), 403, 'BANNED_USER');
  ok(await adm.client.admin.unbanUser({ userId: victim.id }));

  fails(await adm.client.admin.banUser({ userId: adm.id }), 400, 'YOU_CANNOT_BAN_YOURSELF');
  fails(await adm.client.admin.banUser({ userId: boss.id }), 403, 'YOU_CANNOT_ACT_ON_A_HIGHER_ROLE');
  fails(await alice.client.admin.banUser({ userId: victim.id }), 403, 'YOU_ARE_NOT_ALLOWED_TO_BAN_USERS');
  fails(await adm.client.admin.banUser({ userId: 'nobody' }), 404, 'USER_NOT_FOUND');
});

test('listUserSessions, revokeUserSession and revokeUserSessions', async () => {
  const target = await signUp('sessions');
  const other = await signIn(target);
  const mine = ok(await target.client.getSession()).session;
  const theirs = ok(await other.client.getSession()).session;

  const { sessions } = ok(await adm.client.admin.listUserSessions({ userId: target.id }), 'list-user-sessions');
  assert.equal(sessions.length, 2);
  assert.deepEqual(sessions.map((s) => s.id).sort(), [mine.id, theirs.id].sort());
  for (const s of sessions) {
    assert.equal(s.userId, target.id);
    assert.equal(s.impersonatedBy, null);
    assert.ok(new Date(s.expiresAt).getTime() > Date.now());
    assert.ok(s.token, 'a revocation handle in place of the token');
    assert.notEqual(s.token, mine.token);
    assert.notEqual(s.token, theirs.token);
  }
  // The caller's own session shows its token.
  const own = ok(await adm.client.admin.listUserSessions({ userId: adm.id })).sessions;
  const admSession = ok(await adm.client.getSession()).session;
  assert.equal(own.find((s) => s.id === admSession.id)?.token, admSession.token);

  const handle = sessions.find((s) => s.id === theirs.id).token;
  assert.deepEqual(ok(await adm.client.admin.revokeUserSession({ sessionToken: handle }), 'revoke-user-session'), { success: true });
  assert.equal(ok(await other.client.getSession()), null, 'the revoked session ended');
  assert.equal(ok(await target.client.getSession()).session.id, mine.id, 'the other one lives');
  assert.deepEqual(
    ok(await adm.client.admin.listUserSessions({ userId: target.id })).sessions.map((s) => s.id),
    [mine.id],
  );

  await signIn(target);
  assert.equal(ok(await adm.client.admin.listUserSessions({ userId: target.id })).sessions.length, 2);
  assert.deepEqual(ok(await adm.client.admin.revokeUserSessions({ userId: target.id }), 'revoke-user-sessions'), { success: true });
  assert.equal(ok(await target.client.getSession()), null);
  assert.deepEqual(ok(await adm.client.admin.listUserSessions({ userId: target.id })).sessions, []);

  fails(await alice.client.admin.listUserSessions({ userId: target.id }), 403, 'YOU_ARE_NOT_ALLOWED_TO_LIST_USERS_SESSIONS');
  fails(await alice.client.admin.revokeUserSessions({ userId: target.id }), 403, 'YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS');
  fails(await adm.client.admin.revokeUserSessions({ userId: boss.id }), 403, 'YOU_CANNOT_ACT_ON_A_HIGHER_ROLE');
  assert.ok(ok(await boss.client.getSession()), "the owner's session lives");
});

test('impersonateUser and stopImpersonating: the admin session comes back', async () => {
  const target = await signUp('imp');
  const admSession = ok(await adm.client.getSession()).session;

  const imp = ok(await adm.client.admin.impersonateUser({ userId: target.id }), 'impersonate-user');
  assert.equal(imp.user.id, target.id);
  assert.equal(imp.session.userId, target.id);
  assert.equal(imp.session.impersonatedBy, adm.id);
  const lifetime = new Date(imp.session.expiresAt) - new Date(imp.session.createdAt);
  assert.ok(Math.abs(lifetime - 3600_000) < 5_000, `impersonation lifetime ${lifetime} ms`);
  assert.ok(await adm.jar.get(server.baseURL, 'better-auth.admin_session'), 'admin_session cookie set');

  const during = ok(await adm.client.getSession());
  assert.equal(during.user.id, target.id);
  assert.equal(during.session.impersonatedBy, adm.id);
  assert.equal(during.session.id, imp.session.id);
  // The session is the target's: its permissions, and no nesting.
  fails(await adm.client.admin.listUsers({ query: {} }), 403, 'YOU_ARE_NOT_ALLOWED_TO_LIST_USERS');
  // The target may not impersonate: the permission check comes first (docs/admin.md section 4).
  fails(await adm.client.admin.impersonateUser({ userId: alice.id }), 403, 'YOU_ARE_NOT_ALLOWED_TO_IMPERSONATE_USERS');
  // The impersonated user sees it.
  const listed = ok(await target.client.listSessions());
  assert.ok(listed.some((s) => s.id === imp.session.id && s.impersonatedBy === adm.id));

  const stopped = ok(await adm.client.admin.stopImpersonating(), 'stop-impersonating');
  assert.equal(stopped.user.id, adm.id);
  assert.equal(stopped.session.id, admSession.id);
  assert.equal(stopped.session.userId, adm.id);
  const afterStop = ok(await adm.client.getSession());
  assert.equal(afterStop.user.id, adm.id);
  assert.equal(afterStop.session.id, admSession.id);
  assert.equal(afterStop.session.impersonatedBy, null);
  assert.equal(await adm.jar.get(server.baseURL, 'better-auth.admin_session'), undefined, 'admin_session cleared');
  assert.ok(
    !ok(await adm.client.admin.listUserSessions({ userId: target.id })).sessions.some((s) => s.id === imp.session.id),
    'the impersonation session is gone',
  );

  const notImpersonating = fails(await adm.client.admin.stopImpersonating(), 400);
  assert.equal(notImpersonating.message, 'You are not impersonating anyone');
  fails(await adm.client.admin.impersonateUser({ userId: adm.id }), 400, 'YOU_CANNOT_IMPERSONATE_YOURSELF');
  fails(await adm.client.admin.impersonateUser({ userId: boss.id }), 403, 'YOU_CANNOT_IMPERSONATE_ADMINS');
  fails(await alice.client.admin.impersonateUser({ userId: target.id }), 403, 'YOU_ARE_NOT_ALLOWED_TO_IMPERSONATE_USERS');
  fails(await adm.client.admin.impersonateUser({ userId: 'nobody' }), 404, 'USER_NOT_FOUND');

  // No nesting: the owner (impersonate-admins) impersonates adm, whose session may impersonate, and
  // still cannot go one level further.
  const bossSession = ok(await boss.client.getSession()).session;
  const asAdm = ok(await boss.client.admin.impersonateUser({ userId: adm.id }), 'owner impersonates an admin');
  assert.equal(asAdm.session.impersonatedBy, boss.id);
  assert.equal(ok(await boss.client.getSession()).user.id, adm.id);
  fails(await boss.client.admin.impersonateUser({ userId: target.id }), 400, 'YOU_CANNOT_IMPERSONATE_WHILE_IMPERSONATING');
  const back = ok(await boss.client.admin.stopImpersonating());
  assert.equal(back.session.id, bossSession.id);
  assert.equal(ok(await boss.client.getSession()).user.id, boss.id);
});

test('removeUser deletes the user and ends their sessions', async () => {
  const target = await signUp('removed');
  assert.deepEqual(ok(await adm.client.admin.removeUser({ userId: target.id }), 'remove-user'), { success: true });
  fails(await adm.client.admin.getUser({ query: { id: target.id } }), 404, 'USER_NOT_FOUND');
  assert.equal(ok(await target.client.getSession()), null);
  fails(await browser().client.signIn.email({ email: target.email, password: target.password }), 401, 'INVALID_EMAIL_OR_PASSWORD');
  fails(await adm.client.admin.removeUser({ userId: target.id }), 404, 'USER_NOT_FOUND');

  fails(await adm.client.admin.removeUser({ userId: adm.id }), 400, 'YOU_CANNOT_REMOVE_YOURSELF');
  fails(await adm.client.admin.removeUser({ userId: boss.id }), 403, 'YOU_CANNOT_ACT_ON_A_HIGHER_ROLE');
  fails(await alice.client.admin.removeUser({ userId: adm.id }), 403, 'YOU_ARE_NOT_ALLOWED_TO_DELETE_USERS');
});

test('the last admin cannot be banned or removed, even by root', async () => {
  // boss (owner) and adm (admin) hold admin roles; root demotes adm, leaving boss the last one.
  assert.equal(ok(await root.client.admin.setRole({ userId: adm.id, role: 'member' })).user.role, 'member');
  fails(await root.client.admin.banUser({ userId: boss.id }), 400, 'THE_LAST_ADMIN_CANNOT_BE_BANNED');
  fails(await root.client.admin.removeUser({ userId: boss.id }), 400, 'THE_LAST_ADMIN_CANNOT_BE_REMOVED');
  fails(await root.client.admin.setRole({ userId: boss.id, role: 'member' }), 400, 'THE_LAST_ADMIN_CANNOT_BE_DEMOTED');
  // owner → admin keeps an admin role: allowed, then back.
  assert.equal(ok(await root.client.admin.setRole({ userId: boss.id, role: 'admin' })).user.role, 'admin');
  assert.equal(ok(await root.client.admin.setRole({ userId: boss.id, role: 'owner' })).user.role, 'owner');
  assert.equal(ok(await boss.client.getSession()).user.role, 'owner');
  assert.equal(ok(await boss.client.getSession()).user.banned, false);
});

test('the server stops cleanly', async () => {
  assert.deepEqual(await server.stop(), { code: 0, signal: null }, server.output().slice(-2000));
});
