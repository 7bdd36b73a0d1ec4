// One test file's world: an SMTP sink, a fresh database, the orgauth binary, and simulated users
// (one cookie jar and one official better-auth client each). Every request a user makes is
// recorded (method, route, status) so that test/surface.test.mjs can check coverage afterwards.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAuthClient } from 'better-auth/client';
import { organizationClient } from 'better-auth/client/plugins';
import { createJar } from './jar.mjs';
import { createDatabase, startServer } from './server.mjs';
import { linkIn, startSmtpSink } from './smtp.mjs';

export const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'artifacts');
export const DATABASE = process.env.E2E_DATABASE ?? 'sqlite';
export const callsDir = (kind = DATABASE) => join(ARTIFACTS, 'calls', kind);

/** The route a request hit, relative to /api/auth, with the reset token as `:token`. */
export function routeOf(url) {
  const path = url.pathname.replace(/^\/api\/auth/, '');
  return path.startsWith('/reset-password/') ? '/reset-password/:token' : path;
}

export const uniqueEmail = (prefix) => `${prefix}-${randomBytes(5).toString('hex')}@example.com`;

export async function setup(testFileUrl, { extraEnv } = {}) {
  const mail = await startSmtpSink();
  const db = await createDatabase(DATABASE);
  let server;
  try {
    server = await startServer({ databaseUrl: db.url, smtpUrl: mail.url, extraEnv });
  } catch (e) {
    await mail.close();
    await db.drop();
    throw e;
  }
  const { baseURL } = server;
  console.log(
    `orgauth ${server.binary} on ${DATABASE} (${db.name ?? db.url}) at ${baseURL}, SMTP sink on ${mail.port}`,
  );
  const calls = [];
  let stopped = null;

  function newUser(prefix = 'user') {
    const jar = createJar({
      onResponse: ({ method, url, status }) => {
        if (url.pathname.startsWith('/api/auth')) calls.push({ method, route: routeOf(url), status });
      },
    });
    const client = createAuthClient({
      baseURL,
      plugins: [organizationClient({ teams: { enabled: true } })],
      fetchOptions: { customFetchImpl: jar.fetch, headers: { origin: baseURL } },
    });
    return {
      client,
      jar,
      email: uniqueEmail(prefix),
      password: `pw-${randomBytes(8).toString('hex')}`,
      name: `${prefix[0].toUpperCase()}${prefix.slice(1)} Tester`,
      /** The raw jar fetch, with the Origin a browser on BETTER_AUTH_URL sends. */
      fetch: (path, init = {}) =>
        jar.fetch(new URL(path, baseURL).href, { ...init, headers: { origin: baseURL, ...init.headers } }),
      sessionCookie: () => jar.get(baseURL, 'better-auth.session_token'),
    };
  }

  /** A new user signed up through the client; with `verified`, also through the mailed link. */
  async function signUp(prefix = 'user', { verified = false } = {}) {
    const u = newUser(prefix);
    const { data, error } = await u.client.signUp.email({ email: u.email, password: u.password, name: u.name });
    assert.equal(error, null, `sign-up failed: ${JSON.stringify(error)}`);
    u.id = data.user.id;
    u.token = data.token;
    if (verified) await verifyEmail(u);
    return u;
  }

  async function verifyEmail(u) {
    const sent = await u.client.sendVerificationEmail({ email: u.email });
    assert.deepEqual(sent.data, { status: true });
    const link = linkIn(await mail.waitFor(u.email), '/api/auth/verify-email');
    const token = link.searchParams.get('token');
    assert.ok(token, 'verification link carries a token');
    const verified = await u.client.verifyEmail({ query: { token } });
    assert.equal(verified.error, null, `verify-email failed: ${JSON.stringify(verified.error)}`);
    const s = await u.client.getSession();
    assert.equal(s.data.user.emailVerified, true);
  }

  return {
    kind: DATABASE,
    mail,
    db,
    server,
    baseURL,
    calls,
    newUser,
    signUp,
    verifyEmail,
    /** SIGTERM the server (once) and return how it exited. */
    async stop() {
      stopped ??= server.stop();
      return stopped;
    },
    async teardown() {
      await this.stop();
      await mail.close();
      await db.drop();
      const dir = callsDir();
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, `${basename(fileURLToPath(testFileUrl))}.json`), JSON.stringify(calls, null, 1));
    },
  };
}

/** Asserts a client result is a success and returns its data. */
export function ok(result, what = 'call') {
  assert.equal(result.error, null, `${what} failed: ${JSON.stringify(result.error)}`);
  return result.data;
}

/** Asserts a client result is an error with this status (and code, when given). */
export function fails(result, status, code) {
  assert.equal(result.data, null, `expected an error, got ${JSON.stringify(result.data)}`);
  assert.equal(result.error?.status, status, `expected ${status}: ${JSON.stringify(result.error)}`);
  if (code !== undefined) assert.equal(result.error.code, code, JSON.stringify(result.error));
  return result.error;
}
