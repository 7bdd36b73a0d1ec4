// Social sign-in through the official better-auth 1.7.25 client, with a generic OpenID provider on
// loopback (lib/oidc.mjs) configured through ORGAUTH_OIDC_PROVIDERS: signIn.social and the redirect
// dance, linkSocial, getAccessToken, refreshToken, accountInfo, and listAccounts/unlinkAccount
// with a social account. The browser's part (provider, callback) is followed by hand with the
// user's cookie jar.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fails, ok, setup } from '../lib/harness.mjs';
import { startOidcProvider } from '../lib/oidc.mjs';

const PROVIDER = 'acme';
const STATE_COOKIE = 'better-auth.state';
let op;
let env;

before(async () => {
  op = await startOidcProvider();
  const providers = [
    { id: PROVIDER, discoveryUrl: op.discoveryUrl, clientId: 'acme-client', clientSecret: 'acme-secret' },
  ];
  env = await setup(import.meta.url, { extraEnv: { ORGAUTH_OIDC_PROVIDERS: JSON.stringify(providers) } });
});
after(async () => {
  await env?.teardown();
  await op?.close();
});

/** What the provider says about `u`: a verified address and its name, under the subject `sub`. */
const claimsOf = (u, sub) => ({ sub, email: u.email, email_verified: true, name: u.name });

/**
 * The browser's part once signIn.social or linkSocial has answered: to the provider's authorize
 * URL, which redirects to orgauth's callback, which redirects to where the app goes on. Each 302
 * is followed by hand with `u`'s jar; returns that last Location.
 */
async function dance(u, started) {
  assert.equal(started.redirect, true);
  const atProvider = await u.jar.fetch(started.url, { redirect: 'manual' });
  assert.equal(atProvider.status, 302, 'the provider authorizes at once and redirects');
  const callback = new URL(atProvider.headers.get('location'));
  assert.equal(`${callback.origin}${callback.pathname}`, `${env.baseURL}/api/auth/callback/${PROVIDER}`);
  assert.ok(callback.searchParams.get('code') && callback.searchParams.get('state'), callback.href);
  const landed = await u.jar.fetch(callback.href, { redirect: 'manual' });
  assert.equal(landed.status, 302, 'the callback always redirects');
  assert.equal(await u.jar.get(env.baseURL, STATE_COOKIE), undefined, 'the callback clears the state cookie');
  return landed.headers.get('location');
}

/** A new user signed up through the provider as `sub`. */
async function socialUser(prefix, sub) {
  const u = env.newUser(prefix);
  op.as(claimsOf(u, sub));
  const started = ok(await u.client.signIn.social({ provider: PROVIDER, callbackURL: '/dashboard' }));
  assert.equal(await dance(u, started), '/dashboard');
  u.id = ok(await u.client.getSession()).user.id;
  return u;
}

test('signIn.social: the redirect dance through the provider signs a new user up, then in', async () => {
  const u = env.newUser('olivia');
  op.as(claimsOf(u, 'sub-olivia'));
  const started = ok(
    await u.client.signIn.social({
      provider: PROVIDER,
      callbackURL: '/dashboard',
      newUserCallbackURL: '/welcome',
      errorCallbackURL: '/auth-error',
    }),
    'sign-in/social',
  );
  const authorize = new URL(started.url);
  assert.equal(`${authorize.origin}${authorize.pathname}`, `${op.issuer}/authorize`);
  assert.equal(authorize.searchParams.get('client_id'), 'acme-client');
  assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
  assert.equal(authorize.searchParams.get('redirect_uri'), `${env.baseURL}/api/auth/callback/${PROVIDER}`);
  assert.ok(await u.jar.get(env.baseURL, STATE_COOKIE), 'the state cookie binds the flow to this browser');
  assert.equal(ok(await u.client.getSession()), null, 'no session before the callback');

  assert.equal(await dance(u, started), '/welcome', 'a new user lands on newUserCallbackURL');
  const { session, user } = ok(await u.client.getSession(), 'get-session');
  assert.equal(user.email, u.email, "the user is created with the provider's address");
  assert.equal(user.name, u.name);
  assert.equal(user.emailVerified, true, 'the provider vouches for the address');
  assert.equal(session.userId, user.id);
  assert.ok(await u.sessionCookie(), 'the callback sets the session cookie');

  const accounts = ok(await u.client.listAccounts(), 'list-accounts');
  assert.deepEqual(accounts.map((a) => [a.providerId, a.accountId, a.userId]), [[PROVIDER, 'sub-olivia', user.id]]);
  assert.equal(accounts[0].accessToken, undefined, 'no tokens in the listing');

  // The same provider account on another device: the same user, who lands on callbackURL.
  const again = env.newUser('olivia-again');
  const restarted = ok(
    await again.client.signIn.social({ provider: PROVIDER, callbackURL: '/dashboard', newUserCallbackURL: '/welcome' }),
  );
  assert.equal(await dance(again, restarted), '/dashboard');
  assert.equal(ok(await again.client.getSession()).user.id, user.id);
  assert.equal(ok(await again.client.listAccounts()).length, 1, 'no second account');

  fails(await u.client.signIn.social({ provider: 'gitlab' }), 404, 'PROVIDER_NOT_FOUND');
});

test('getAccessToken, refreshToken and accountInfo of the linked account', async () => {
  const u = await socialUser('pat', 'sub-pat');
  const [account] = ok(await u.client.listAccounts());
  const selection = { accountId: account.id };

  const first = ok(await u.client.getAccessToken(selection), 'get-access-token');
  assert.ok(first.accessToken.length > 20, JSON.stringify(first));
  assert.ok(new Date(first.accessTokenExpiresAt) > new Date(), 'an access token that has not expired');
  assert.equal(ok(await u.client.getAccessToken(selection)).accessToken, first.accessToken, 'valid: not refreshed');

  const refreshed = ok(await u.client.refreshToken(selection), 'refresh-token');
  assert.notEqual(refreshed.accessToken, first.accessToken);
  assert.equal(typeof refreshed.refreshToken, 'string');
  assert.equal(refreshed.providerId, PROVIDER);
  assert.equal(refreshed.accountId, 'sub-pat');
  assert.ok(new Date(refreshed.accessTokenExpiresAt) > new Date());
  assert.equal(ok(await u.client.getAccessToken(selection)).accessToken, refreshed.accessToken, 'the new one is kept');

  const info = ok(await u.client.accountInfo({ query: selection }), 'account-info');
  assert.deepEqual(info.user, { id: 'sub-pat', name: u.name, email: u.email, image: null, emailVerified: true });
  assert.deepEqual(info.account, { id: account.id, providerId: PROVIDER, accountId: 'sub-pat' });
  assert.equal(info.data.sub, 'sub-pat', "the provider's own userinfo answer");

  // Someone else's session, or none, gets nothing from this account.
  fails(await env.newUser('anon').client.getAccessToken(selection), 401);
  const other = await env.signUp('eve');
  fails(await other.client.getAccessToken(selection), 400);
});

test('linkSocial links a provider account to a password user; unlinkAccount removes it', async () => {
  const u = await env.signUp('quinn');
  op.as(claimsOf(u, 'sub-quinn'));
  const started = ok(await u.client.linkSocial({ provider: PROVIDER, callbackURL: '/settings' }), 'link-social');
  assert.equal(await dance(u, started), '/settings');
  const { session } = ok(await u.client.getSession());
  assert.equal(session.userId, u.id);
  assert.equal(session.token, u.token, 'linking keeps the session');

  const accounts = ok(await u.client.listAccounts());
  assert.deepEqual(accounts.map((a) => a.providerId).sort(), [PROVIDER, 'credential']);
  const linked = accounts.find((a) => a.providerId === PROVIDER);
  assert.equal(linked.accountId, 'sub-quinn');
  assert.ok(ok(await u.client.getAccessToken({ accountId: linked.id })).accessToken, 'its tokens are usable');

  // Signing in with the provider now signs this user in.
  const elsewhere = env.newUser('quinn-elsewhere');
  const restarted = ok(await elsewhere.client.signIn.social({ provider: PROVIDER, callbackURL: '/dashboard' }));
  assert.equal(await dance(elsewhere, restarted), '/dashboard');
  assert.equal(ok(await elsewhere.client.getSession()).user.id, u.id);

  assert.deepEqual(ok(await u.client.unlinkAccount({ accountId: linked.id }), 'unlink-account'), { status: true });
  assert.deepEqual(ok(await u.client.listAccounts()).map((a) => a.providerId), ['credential']);
  fails(await u.client.getAccessToken({ accountId: linked.id }), 400);
});

test('SIGTERM stops the server with exit code 0', async () => {
  assert.deepEqual(await env.stop(), { code: 0, signal: null }, env.server.output().slice(-2000));
});
