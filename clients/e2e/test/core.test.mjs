// Core email/password auth through the official better-auth 1.7.25 client: sign-up, sign-in,
// sessions, profile, password, e-mail verification and change, password reset, accounts, account
// deletion, and the cookie format. The full client surface and its coverage: test/surface.test.mjs.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { signCookieValue } from '../lib/better-call.mjs';
import { fails, ok, setup, uniqueEmail } from '../lib/harness.mjs';
import { linkIn } from '../lib/smtp.mjs';

const COOKIE = 'better-auth.session_token';
let env;

before(async () => {
  // Deleting without a password mails a confirmation link, so that flow is exercised too.
  env = await setup(import.meta.url, { extraEnv: { ORGAUTH_DELETE_USER_VERIFICATION: 'true' } });
});
after(() => env?.teardown());

/** Signs `u` in on a fresh jar (another device) and returns that device. */
async function otherDevice(u, password = u.password) {
  const d = env.newUser('device');
  ok(await d.client.signIn.email({ email: u.email, password }), 'sign-in on another device');
  return d;
}

test('signUp.email creates the user, opens a session and sets the signed cookie', async () => {
  const u = env.newUser('alice');
  let setAuthToken;
  const res = await u.client.signUp.email({
    email: u.email.toUpperCase(),
    password: u.password,
    name: u.name,
    fetchOptions: { onSuccess: (ctx) => (setAuthToken = ctx.response.headers.get('set-auth-token')) },
  });
  const data = ok(res, 'sign-up');
  assert.match(data.token, /^[A-Za-z0-9]{32}$/);
  assert.equal(data.user.email, u.email, 'the address is stored lowercased');
  assert.equal(data.user.name, u.name);
  assert.equal(data.user.emailVerified, false);
  assert.equal(data.user.image, null);
  assert.ok(data.user.createdAt instanceof Date, 'dates are revived by the client (ms precision, Z)');

  // The cookie is better-call's signCookieValue(token, BETTER_AUTH_SECRET), byte for byte.
  const cookie = await u.sessionCookie();
  assert.equal(cookie, await signCookieValue(data.token, env.server.secret));
  assert.equal(setAuthToken, decodeURIComponent(cookie), 'set-auth-token is the signed value, not encoded');

  let cacheControl;
  const session = ok(
    await u.client.getSession({
      fetchOptions: { onSuccess: (ctx) => (cacheControl = ctx.response.headers.get('cache-control')) },
    }),
    'get-session',
  );
  assert.match(cacheControl, /no-store/);
  assert.equal(session.user.id, data.user.id);
  assert.equal(session.session.userId, data.user.id);
  assert.equal(session.session.token, data.token);
  assert.equal(session.session.activeOrganizationId, null);
  assert.ok(session.session.expiresAt > new Date(Date.now() + 6 * 86400_000), 'a 7-day session');

  const again = await env.newUser('dup').client.signUp.email({ email: u.email, password: u.password, name: 'x' });
  fails(again, 422, 'USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL');

  const short = await env
    .newUser('short')
    .client.signUp.email({ email: uniqueEmail('s'), password: 'short', name: 'x' });
  fails(short, 400, 'PASSWORD_TOO_SHORT');
});

test('a cookie-bearing POST without Origin is refused; a tampered cookie is ignored', async () => {
  const u = await env.signUp('origin');
  const noOrigin = await u.jar.fetch(`${env.baseURL}/api/auth/update-user`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Mallory' }),
  });
  assert.equal(noOrigin.status, 403);
  assert.equal((await noOrigin.json()).code, 'MISSING_OR_NULL_ORIGIN');
  assert.equal(ok(await u.client.getSession()).user.name, u.name, 'the refused update changed nothing');

  const cookie = await u.sessionCookie();
  const forged = await fetch(`${env.baseURL}/api/auth/get-session`, {
    headers: { cookie: `${COOKIE}=${cookie.replace(/^./, (c) => (c === 'a' ? 'b' : 'a'))}` },
  });
  assert.equal(await forged.text(), 'null');
});

test('signOut ends the session; signIn.email opens a new one', async () => {
  const u = await env.signUp('bob');
  assert.deepEqual(ok(await u.client.signOut(), 'sign-out'), { success: true });
  assert.equal(ok(await u.client.getSession()), null);
  assert.equal(await u.sessionCookie(), undefined, 'the cookie is cleared');
  // The old token no longer authenticates, even when presented again.
  const stale = await fetch(`${env.baseURL}/api/auth/get-session`, {
    headers: { cookie: `${COOKIE}=${await signCookieValue(u.token, env.server.secret)}` },
  });
  assert.equal(await stale.text(), 'null');

  fails(await u.client.signIn.email({ email: u.email, password: 'wrong-password' }), 401, 'INVALID_EMAIL_OR_PASSWORD');
  fails(
    await u.client.signIn.email({ email: uniqueEmail('nobody'), password: u.password }),
    401,
    'INVALID_EMAIL_OR_PASSWORD',
  );

  const signedIn = ok(await u.client.signIn.email({ email: u.email, password: u.password }), 'sign-in');
  assert.equal(signedIn.redirect, false);
  assert.ok(!('url' in signedIn), 'no url without a callbackURL');
  assert.equal(signedIn.user.id, u.id);
  assert.match(signedIn.token, /^[A-Za-z0-9]{32}$/);
  assert.notEqual(signedIn.token, u.token);
  assert.equal(await u.sessionCookie(), await signCookieValue(signedIn.token, env.server.secret));
  assert.equal(ok(await u.client.getSession()).session.token, signedIn.token);

  let location;
  const withCallback = ok(
    await u.client.signIn.email({
      email: u.email,
      password: u.password,
      callbackURL: '/dashboard',
      fetchOptions: { onSuccess: (ctx) => (location = ctx.response.headers.get('location')) },
    }),
  );
  assert.equal(withCallback.redirect, true);
  assert.equal(withCallback.url, '/dashboard');
  assert.equal(location, '/dashboard');
});

test('signIn.email with rememberMe: false gives a browser-session cookie and a 1-day session', async () => {
  const u = await env.signUp('remy');
  const d = env.newUser('device');
  ok(await d.client.signIn.email({ email: u.email, password: u.password, rememberMe: false }));
  const cookies = await d.jar.raw.getCookies(env.baseURL);
  const session = cookies.find((c) => c.key === COOKIE);
  assert.equal(session.maxAge, null, 'no Max-Age: the cookie ends with the browser session');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'lax');
  const dontRemember = cookies.find((c) => c.key === 'better-auth.dont_remember');
  assert.equal(dontRemember?.value, await signCookieValue('true', env.server.secret));
  const { session: row } = ok(await d.client.getSession());
  const hours = (row.expiresAt - Date.now()) / 3600_000;
  assert.ok(hours > 23 && hours <= 24, `a 1-day session, got ${hours} h`);
});

test('listSessions, revokeSession, revokeOtherSessions, revokeSessions', async () => {
  const u = await env.signUp('carol');
  const phone = await otherDevice(u);

  const sessions = ok(await u.client.listSessions(), 'list-sessions');
  assert.equal(sessions.length, 2);
  const own = sessions.find((s) => s.token === u.token);
  assert.ok(own, 'the caller sees its own token');
  const other = sessions.find((s) => s !== own);
  assert.equal(other.userId, u.id);
  // docs/compatibility.md: other sessions show a revocation handle, never their token.
  assert.match(other.token, /^rev_/);

  assert.deepEqual(ok(await u.client.revokeSession({ token: other.token }), 'revoke-session'), { status: true });
  assert.equal(ok(await phone.client.getSession()), null, 'the revoked device is signed out');
  assert.equal(ok(await u.client.listSessions()).length, 1);

  const tablet = await otherDevice(u);
  const laptop = await otherDevice(u);
  assert.deepEqual(ok(await u.client.revokeOtherSessions(), 'revoke-other-sessions'), { status: true });
  assert.equal(ok(await tablet.client.getSession()), null);
  assert.equal(ok(await laptop.client.getSession()), null);
  assert.equal(ok(await u.client.getSession()).user.id, u.id, 'the caller keeps its session');

  const desktop = await otherDevice(u);
  assert.deepEqual(ok(await u.client.revokeSessions(), 'revoke-sessions'), { status: true });
  assert.equal(ok(await u.client.getSession()), null);
  assert.equal(ok(await desktop.client.getSession()), null);
  assert.equal(await u.sessionCookie(), undefined, "the caller's cookie is cleared");
});

test('updateUser changes name and image, refuses email', async () => {
  const u = await env.signUp('dave');
  assert.deepEqual(ok(await u.client.updateUser({ name: 'David', image: 'https://img.example.com/d.png' })), {
    status: true,
  });
  const { user } = ok(await u.client.getSession());
  assert.equal(user.name, 'David');
  assert.equal(user.image, 'https://img.example.com/d.png');
  fails(await u.client.updateUser({ email: uniqueEmail('x') }), 400, 'EMAIL_CAN_NOT_BE_UPDATED');
  assert.equal(ok(await u.client.getSession()).user.email, u.email);
  const nothing = fails(await u.client.updateUser({ emailVerified: true }), 400);
  assert.equal(nothing.message, 'No fields to update');
  assert.equal(ok(await u.client.getSession()).user.emailVerified, false, 'emailVerified cannot be set');
  assert.deepEqual(ok(await u.client.updateUser({ image: null })), { status: true });
  assert.equal(ok(await u.client.getSession()).user.image, null);
});

test('changePassword checks the current password and can end the other sessions', async () => {
  const u = await env.signUp('erin');
  const phone = await otherDevice(u);
  fails(
    await u.client.changePassword({ currentPassword: 'not-the-password', newPassword: 'new-password-1' }),
    400,
    'INVALID_PASSWORD',
  );

  const kept = ok(await u.client.changePassword({ currentPassword: u.password, newPassword: 'new-password-1' }));
  assert.equal(kept.token, null);
  assert.equal(kept.user.id, u.id);
  assert.equal(ok(await phone.client.getSession()).user.id, u.id, 'without revokeOtherSessions the phone stays');

  const res = ok(
    await u.client.changePassword({
      currentPassword: 'new-password-1',
      newPassword: 'new-password-2',
      revokeOtherSessions: true,
    }),
  );
  assert.match(res.token, /^[A-Za-z0-9]{32}$/);
  assert.equal(ok(await phone.client.getSession()), null, 'the other session ended');
  assert.equal(ok(await u.client.getSession()).session.token, res.token, 'this client got the new session');
  assert.equal(await u.sessionCookie(), await signCookieValue(res.token, env.server.secret));

  fails(await env.newUser('x').client.signIn.email({ email: u.email, password: u.password }), 401);
  ok(await env.newUser('x').client.signIn.email({ email: u.email, password: 'new-password-2' }));
});

test('sendVerificationEmail mails a link; verifyEmail and the link verify once', async () => {
  const u = await env.signUp('frank');
  assert.deepEqual(ok(await u.client.sendVerificationEmail({ email: u.email, callbackURL: '/welcome' })), {
    status: true,
  });
  const mail = await env.mail.waitFor(u.email);
  const link = linkIn(mail, '/api/auth/verify-email');
  assert.equal(link.origin, env.baseURL, 'links are built from BETTER_AUTH_URL');
  assert.equal(link.searchParams.get('callbackURL'), '/welcome');

  // Following the mailed link, as the user's browser does.
  const followed = await u.jar.fetch(link.href, { redirect: 'manual' });
  assert.equal(followed.status, 302);
  assert.equal(new URL(followed.headers.get('location'), env.baseURL).pathname, '/welcome');
  assert.equal(new URL(followed.headers.get('location'), env.baseURL).searchParams.get('error'), null);
  assert.equal(ok(await u.client.getSession()).user.emailVerified, true);

  // Used up: the client's verifyEmail with the same token fails.
  fails(await u.client.verifyEmail({ query: { token: link.searchParams.get('token') } }), 401, 'INVALID_TOKEN');
  fails(await u.client.sendVerificationEmail({ email: u.email }), 400, 'EMAIL_ALREADY_VERIFIED');

  // A bad link with a callbackURL redirects there with the error.
  const bad = await u.jar.fetch(`${env.baseURL}/api/auth/verify-email?token=nope&callbackURL=%2Fwelcome`, {
    redirect: 'manual',
  });
  assert.equal(bad.status, 302);
  assert.equal(new URL(bad.headers.get('location'), env.baseURL).searchParams.get('error'), 'INVALID_TOKEN');

  // And verifyEmail through the client, without callbackURL: {status:true}.
  const v = await env.signUp('grace');
  // Without a session, as on a "resend the link" page: same answer, and the mail goes out.
  assert.deepEqual(ok(await env.newUser('anon').client.sendVerificationEmail({ email: v.email })), { status: true });
  const token = linkIn(await env.mail.waitFor(v.email), '/api/auth/verify-email').searchParams.get('token');
  const verified = ok(await v.client.verifyEmail({ query: { token } }), 'verify-email');
  assert.equal(verified.status, true);
  assert.equal(ok(await v.client.getSession()).user.emailVerified, true);
});

test('requestPasswordReset mails a link; resetPassword sets the password once', async () => {
  const u = await env.signUp('heidi');
  const unknown = uniqueEmail('nobody');
  const unknownRes = ok(
    await env.newUser('anon').client.requestPasswordReset({ email: unknown, redirectTo: '/reset' }),
  );
  const res = ok(await env.newUser('anon').client.requestPasswordReset({ email: u.email, redirectTo: '/reset' }));
  assert.deepEqual(res, unknownRes, 'known and unknown addresses get the same answer');
  assert.equal(res.status, true);

  const link = linkIn(await env.mail.waitFor(u.email), '/api/auth/reset-password/');
  assert.equal(link.searchParams.get('callbackURL'), '/reset');
  const token = link.pathname.split('/').pop();
  const opened = await env.newUser('browser').jar.fetch(link.href, { redirect: 'manual' });
  assert.equal(opened.status, 302);
  const target = new URL(opened.headers.get('location'), env.baseURL);
  assert.equal(target.pathname, '/reset');
  assert.equal(target.searchParams.get('token'), token);

  const badLink = await env
    .newUser('browser')
    .jar.fetch(`${env.baseURL}/api/auth/reset-password/not-a-token?callbackURL=%2Freset`, {
      redirect: 'manual',
    });
  assert.equal(badLink.status, 302);
  assert.equal(new URL(badLink.headers.get('location'), env.baseURL).searchParams.get('error'), 'INVALID_TOKEN');

  const anon = env.newUser('anon');
  assert.deepEqual(ok(await anon.client.resetPassword({ newPassword: 'reset-password-1', token }), 'reset-password'), {
    status: true,
  });
  // docs/compatibility.md: a reset ends every session of the user.
  assert.equal(ok(await u.client.getSession()), null);
  fails(await anon.client.resetPassword({ newPassword: 'reset-password-2', token }), 400, 'INVALID_TOKEN');
  fails(await anon.client.signIn.email({ email: u.email, password: u.password }), 401);
  ok(await anon.client.signIn.email({ email: u.email, password: 'reset-password-1' }));
  assert.deepEqual(env.mail.unclaimed(unknown), [], 'nobody mails an unknown address');
});

test('changeEmail mails the new address; following the link changes it', async () => {
  const u = await env.signUp('ivan');
  const same = fails(await u.client.changeEmail({ newEmail: u.email }), 400);
  assert.equal(same.message, 'Email is the same');
  const newEmail = uniqueEmail('ivan-new');
  assert.deepEqual(ok(await u.client.changeEmail({ newEmail, callbackURL: '/changed' }), 'change-email'), {
    status: true,
  });
  assert.equal(ok(await u.client.getSession()).user.email, u.email, 'nothing changes before the link is followed');
  const link = linkIn(await env.mail.waitFor(newEmail), '/api/auth/verify-email');
  const changed = ok(await u.client.verifyEmail({ query: { token: link.searchParams.get('token') } }));
  assert.equal(changed.status, true);
  const { user } = ok(await u.client.getSession());
  assert.equal(user.email, newEmail);
  assert.equal(user.emailVerified, true, 'docs/compatibility.md: the confirmed new address is verified');
  fails(await env.newUser('x').client.signIn.email({ email: u.email, password: u.password }), 401);
  ok(await env.newUser('x').client.signIn.email({ email: newEmail, password: u.password }));
});

test('listAccounts shows the password account; unlinkAccount keeps the last one', async () => {
  const u = await env.signUp('judy');
  const accounts = ok(await u.client.listAccounts(), 'list-accounts');
  assert.equal(accounts.length, 1);
  assert.equal(accounts[0].providerId, 'credential');
  assert.equal(accounts[0].accountId, u.id);
  assert.equal(accounts[0].userId, u.id);
  assert.deepEqual(accounts[0].scopes, []);
  assert.equal(accounts[0].password, undefined, 'no secrets in the listing');
  fails(await u.client.unlinkAccount({ accountId: accounts[0].id }), 400, 'FAILED_TO_UNLINK_LAST_ACCOUNT');
  assert.equal(ok(await u.client.listAccounts()).length, 1);
});

test('deleteUser with the password deletes at once; without, through the mailed link', async () => {
  const u = await env.signUp('ken');
  fails(await u.client.deleteUser({ password: 'wrong-password' }), 400, 'INVALID_PASSWORD');
  assert.deepEqual(ok(await u.client.deleteUser({ password: u.password }), 'delete-user'), {
    success: true,
    message: 'User deleted',
  });
  assert.equal(ok(await u.client.getSession()), null);
  assert.equal(await u.sessionCookie(), undefined);
  fails(await env.newUser('x').client.signIn.email({ email: u.email, password: u.password }), 401);

  const v = await env.signUp('leo');
  assert.deepEqual(ok(await v.client.deleteUser()), { success: true, message: 'Verification email sent' });
  assert.equal(ok(await v.client.getSession()).user.id, v.id, 'nothing is deleted before the link is followed');
  const link = linkIn(await env.mail.waitFor(v.email), '/api/auth/delete-user/callback');
  const token = link.searchParams.get('token');
  fails(await v.client.deleteUser.callback({ query: { token: 'not-the-token' } }), 404, 'INVALID_TOKEN');
  assert.deepEqual(ok(await v.client.deleteUser.callback({ query: { token } }), 'delete-user/callback'), {
    success: true,
    message: 'User deleted',
  });
  assert.equal(ok(await v.client.getSession()), null);
  fails(await env.newUser('x').client.signIn.email({ email: v.email, password: v.password }), 401);
});

test('verifyPassword and updateSession answer as Better Auth', async () => {
  const u = await env.signUp('verify');
  // verify-password is server-scoped in Better Auth (not inferred by the client), so through $fetch.
  const verify = (password) => u.client.$fetch('/verify-password', { method: 'POST', body: { password } });
  assert.deepEqual(ok(await verify(u.password), 'verify-password'), { status: true });
  fails(await verify('wrong-password'), 400, 'INVALID_PASSWORD');
  // No additional session fields are configured: nothing can be set, the plugin's fields least of all.
  const none = await u.client.updateSession({ theme: 'dark' });
  assert.equal(none.error?.status, 400);
  assert.equal(none.error.message, 'No fields to update');
  fails(await u.client.updateSession({ activeOrganizationId: 'x' }), 400, 'FIELD_NOT_ALLOWED');
  assert.equal(ok(await u.client.getSession()).session.activeOrganizationId, null);
});

test('SIGTERM stops the server with exit code 0', async () => {
  assert.deepEqual(await env.stop(), { code: 0, signal: null }, env.server.output().slice(-2000));
});
