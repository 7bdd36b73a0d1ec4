// Magic-link sign-in through the official client: magicLinkClient() from better-auth 1.7.25
// (signIn.magicLink → POST /sign-in/magic-link, magicLink.verify → GET /magic-link/verify), with
// the links read from the mails the SMTP sink received. The mailed link itself is also followed
// the way a browser does (302 to the callback with the session cookie).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createAuthClient } from 'better-auth/client';
import { magicLinkClient } from 'better-auth/client/plugins';
import { createJar } from '../lib/jar.mjs';
import { fails, ok, setup, uniqueEmail } from '../lib/harness.mjs';
import { linkIn } from '../lib/smtp.mjs';

let env;
before(async () => {
  env = await setup(import.meta.url);
});
after(async () => {
  await env?.teardown();
});

/** A browser of its own: a cookie jar and the official client with magicLinkClient(). */
function browser() {
  const jar = createJar();
  const client = createAuthClient({
    baseURL: env.baseURL,
    plugins: [magicLinkClient()],
    fetchOptions: { customFetchImpl: jar.fetch, headers: { origin: env.baseURL } },
  });
  return { jar, client };
}

/** Asks for a link through the client; returns the mailed link. */
async function mailedLink(client, body) {
  const asked = ok(await client.signIn.magicLink(body), 'signIn.magicLink');
  assert.deepEqual(asked, { status: true });
  return linkIn(await env.mail.waitFor(body.email), '/api/auth/magic-link/verify');
}

/** Follows a mailed link in `jar` without following the redirect: status and Location. */
async function follow(jar, link) {
  const res = await jar.fetch(link.href, { redirect: 'manual' });
  return { status: res.status, location: res.headers.get('location') };
}

test('a new address signs up through its link and lands on newUserCallbackURL', async () => {
  const { jar, client } = browser();
  const email = uniqueEmail('magic-new');
  const link = await mailedLink(client, {
    email,
    name: 'Mia Magic',
    callbackURL: '/dashboard',
    newUserCallbackURL: '/welcome',
    errorCallbackURL: '/sign-in',
  });
  assert.equal(link.origin, env.baseURL);
  assert.equal(link.searchParams.get('callbackURL'), '/dashboard');
  assert.equal(link.searchParams.get('newUserCallbackURL'), '/welcome');
  assert.deepEqual(await follow(jar, link), { status: 302, location: `${env.baseURL}/welcome` });
  const session = ok(await client.getSession(), 'getSession');
  assert.equal(session.user.email, email);
  assert.equal(session.user.name, 'Mia Magic');
  assert.equal(session.user.emailVerified, true);

  // Used: the error landing, and nobody signed in.
  const other = browser();
  assert.deepEqual(await follow(other.jar, link), {
    status: 302,
    location: `${env.baseURL}/sign-in?error=INVALID_TOKEN`,
  });
  assert.equal(ok(await other.client.getSession()), null);
});

test('magicLink.verify without callbackURL answers the session; a newer link voids the older', async () => {
  const { client } = browser();
  const user = await env.signUp('magic-old', { verified: true });
  const older = await mailedLink(client, { email: user.email });
  const newer = await mailedLink(client, { email: user.email });
  assert.notEqual(older.searchParams.get('token'), newer.searchParams.get('token'));

  const stale = await follow(createJar(), older);
  assert.deepEqual(stale, { status: 302, location: `${env.baseURL}/?error=INVALID_TOKEN` });

  const verified = ok(await client.magicLink.verify({ query: { token: newer.searchParams.get('token') } }), 'verify');
  assert.equal(verified.user.id, user.id);
  assert.equal(verified.session.userId, user.id);
  assert.equal(verified.token, verified.session.token);
  assert.equal(ok(await client.getSession()).user.id, user.id);
  // A verified user keeps the password and the other session.
  assert.equal(ok(await user.client.getSession()).user.id, user.id);
  ok(await browser().client.$fetch('/sign-in/email', { method: 'POST', body: { email: user.email, password: user.password } }));
});

test('a link to an unverified account ends what predates the proof', async () => {
  const squatter = await env.signUp('magic-squat');
  assert.equal(ok(await squatter.client.getSession()).user.id, squatter.id);
  const owner = browser();
  const link = await mailedLink(owner.client, { email: squatter.email, callbackURL: '/in' });
  assert.deepEqual(await follow(owner.jar, link), { status: 302, location: `${env.baseURL}/in` });
  const session = ok(await owner.client.getSession());
  assert.equal(session.user.id, squatter.id);
  assert.equal(session.user.emailVerified, true);
  assert.equal(ok(await squatter.client.getSession()), null, "the squatter's session ended");
  const signIn = await squatter.client.signIn.email({ email: squatter.email, password: squatter.password });
  fails(signIn, 401, 'INVALID_EMAIL_OR_PASSWORD');
});

test('bad input and untrusted callbacks are refused in the contract shape', async () => {
  const { client } = browser();
  fails(await client.signIn.magicLink({ email: 'not-an-address' }), 400, 'VALIDATION_ERROR');
  fails(
    await client.signIn.magicLink({ email: uniqueEmail('magic-evil'), callbackURL: 'https://evil.example/' }),
    403,
    'INVALID_CALLBACK_URL',
  );
  const res = await createJar().fetch(`${env.baseURL}/api/auth/magic-link/verify?token=nope`, { redirect: 'manual' });
  assert.equal(res.status, 302);
  assert.equal(res.headers.get('location'), `${env.baseURL}/?error=INVALID_TOKEN`);
});
