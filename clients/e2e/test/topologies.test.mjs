// The topologies Better Auth supports, with the official client: a base path other than /api/auth
// (ORGAUTH_BASE_PATH), the cookie prefix and cookies shared across subdomains
// (ORGAUTH_COOKIE_PREFIX, ORGAUTH_CROSS_SUB_DOMAIN_COOKIES), and a web app on another origin
// (CORS) in headless Chromium: a page on app.orgauth.test calls the API on api.orgauth.test with
// credentials; a page on an untrusted origin is refused by the browser. Chromium maps
// *.orgauth.test to 127.0.0.1 (--host-resolver-rules); Node's client connects there through the
// jar's `connect`.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createAuthClient } from 'better-auth/client';
import { organizationClient } from 'better-auth/client/plugins';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { DATABASE, ok, uniqueEmail } from '../lib/harness.mjs';
import { createJar } from '../lib/jar.mjs';
import { createDatabase, freePort, startServer } from '../lib/server.mjs';
import { linkIn, startSmtpSink } from '../lib/smtp.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Where the test host names really are. */
const toLoopback = (url) => {
  const u = new URL(url);
  if (u.hostname.endsWith('.orgauth.test')) u.hostname = '127.0.0.1';
  return u.href;
};

/** orgauth with `extraEnv` on a fresh database and an SMTP sink; `port` when extraEnv names it. */
async function world(extraEnv, port) {
  const mail = await startSmtpSink();
  const db = await createDatabase(DATABASE);
  const server = await startServer({ databaseUrl: db.url, smtpUrl: mail.url, extraEnv, port }).catch(
    async (e) => {
      await mail.close();
      await db.drop();
      throw e;
    },
  );
  return {
    mail,
    server,
    /** Stops the server, asserting a clean exit, and drops the database. */
    async close() {
      const exit = await server.stop();
      await mail.close();
      await db.drop();
      assert.deepEqual(exit, { code: 0, signal: null }, server.output().slice(-2000));
    },
  };
}

/** A user of the official client at `baseURL`, with a cookie jar; requests carry `origin`. */
function user(baseURL, origin) {
  const jar = createJar({ connect: toLoopback });
  const client = createAuthClient({
    baseURL,
    plugins: [organizationClient()],
    fetchOptions: { customFetchImpl: jar.fetch, headers: { origin } },
  });
  return { jar, client, email: uniqueEmail('topo'), password: 'topologies-password-1' };
}

describe('a base path other than /api/auth', () => {
  let env;
  before(async () => {
    env = await world({ ORGAUTH_BASE_PATH: '/custom/auth' });
  });
  after(() => env?.close());

  test('the client at <origin>/custom/auth signs up, reads the session, signs out', async () => {
    const origin = env.server.baseURL;
    const u = user(`${origin}/custom/auth`, origin);
    const signedUp = ok(await u.client.signUp.email({ email: u.email, password: u.password, name: 'Base' }));
    assert.equal(signedUp.user.email, u.email);
    const session = ok(await u.client.getSession());
    assert.equal(session.user.email, u.email);
    const org = ok(await u.client.organization.create({ name: 'Base Path', slug: `base-${Date.now()}` }));
    const listed = ok(await u.client.organization.list());
    assert.deepEqual(listed.map((o) => o.id), [org.id]);

    // The mailed link carries the base path, and the client follows it there.
    ok(await u.client.sendVerificationEmail({ email: u.email }));
    const link = linkIn(await env.mail.waitFor(u.email), '/custom/auth/verify-email');
    ok(await u.client.verifyEmail({ query: { token: link.searchParams.get('token') } }));
    assert.equal(ok(await u.client.getSession()).user.emailVerified, true);

    ok(await u.client.signOut());
    assert.equal(ok(await u.client.getSession()), null);
  });

  test('/api/auth answers 404; a client there finds nothing', async () => {
    const origin = env.server.baseURL;
    for (const path of ['/api/auth/ok', '/api/auth/get-session', '/api/auth/reference']) {
      const res = await fetch(`${origin}${path}`);
      assert.equal(res.status, 404, path);
    }
    assert.equal((await fetch(`${origin}/custom/auth/ok`)).status, 200);
    const old = user(origin, origin);
    const r = await old.client.signUp.email({ email: old.email, password: old.password, name: 'Old' });
    assert.equal(r.data, null);
    assert.equal(r.error.status, 404);
  });

  test('the OpenAPI document lists the routes under the base path', async () => {
    const spec = await (await fetch(`${env.server.baseURL}/custom/auth/open-api/generate-schema`)).json();
    assert.ok(spec.paths['/custom/auth/sign-up/email']);
    assert.ok(!Object.keys(spec.paths).some((p) => p.startsWith('/api/auth')));
  });
});

describe('cookie prefix and cookies shared across subdomains', () => {
  let env;
  let api;
  before(async () => {
    const port = await freePort();
    api = `http://api.orgauth.test:${port}`;
    env = await world(
      {
        BETTER_AUTH_URL: api,
        ORGAUTH_COOKIE_PREFIX: 'myapp',
        ORGAUTH_CROSS_SUB_DOMAIN_COOKIES: 'true',
        ORGAUTH_CROSS_SUB_DOMAIN_COOKIES_DOMAIN: 'orgauth.test',
      },
      port,
    );
  });
  after(() => env?.close());

  test('Set-Cookie names carry the prefix and Domain; the client keeps working with them', async () => {
    const u = user(api, api);
    const setCookies = [];
    const signUp = await u.jar.fetch(`${api}/api/auth/sign-up/email`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: api },
      body: JSON.stringify({ email: u.email, password: u.password, name: 'Shared' }),
    });
    assert.equal(signUp.status, 200);
    setCookies.push(...signUp.headers.getSetCookie());
    const session = setCookies.find((c) => c.startsWith('myapp.session_token='));
    assert.ok(session, setCookies.join('\n'));
    assert.match(session, /; Domain=orgauth\.test/i);
    assert.ok(setCookies.every((c) => c.startsWith('myapp.')), setCookies.join('\n'));
    // The jar (as a browser) sends the cookie to every subdomain: the app's host has it too.
    assert.ok((await u.jar.names('http://app.orgauth.test/')).includes('myapp.session_token'));

    // The client on that jar: session, organizations, sign-out.
    assert.equal(ok(await u.client.getSession()).user.email, u.email);
    ok(await u.client.organization.create({ name: 'Shared', slug: `shared-${Date.now()}` }));
    assert.equal(ok(await u.client.organization.list()).length, 1);
    ok(await u.client.signOut());
    assert.equal(ok(await u.client.getSession()), null);
    assert.ok(!(await u.jar.names('http://app.orgauth.test/')).includes('myapp.session_token'));
  });
});

describe('a web app on another origin (CORS) in headless Chromium', () => {
  let env;
  let api;
  let app;
  let untrusted;
  let pages;
  let browser;
  before(async () => {
    const port = await freePort();
    api = `http://api.orgauth.test:${port}`;
    // One tiny server for both pages: app.orgauth.test (trusted) and 127.0.0.1 (not).
    const bundle = await build({
      stdin: {
        contents: `export { createAuthClient } from 'better-auth/client';
                   export { organizationClient } from 'better-auth/client/plugins';`,
        resolveDir: process.cwd(),
      },
      bundle: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      logLevel: 'silent',
    });
    const js = bundle.outputFiles[0].text;
    const html = `<!doctype html><title>app</title><script type="module">
      import { createAuthClient, organizationClient } from '/client.js';
      window.authClient = createAuthClient({
        baseURL: ${JSON.stringify(api)},
        plugins: [organizationClient()],
        fetchOptions: { credentials: 'include' },
      });
      window.ready = true;
    </script>`;
    pages = createServer((req, res) => {
      const [type, body] = req.url === '/client.js' ? ['text/javascript', js] : ['text/html', html];
      res.writeHead(200, { 'content-type': type });
      res.end(body);
    });
    await new Promise((done) => pages.listen(0, '127.0.0.1', done));
    const pagesPort = pages.address().port;
    app = `http://app.orgauth.test:${pagesPort}`;
    untrusted = `http://127.0.0.1:${pagesPort}`;
    env = await world(
      {
        BETTER_AUTH_URL: api,
        BETTER_AUTH_TRUSTED_ORIGINS: app,
        ORGAUTH_COOKIE_PREFIX: 'myapp',
        ORGAUTH_CROSS_SUB_DOMAIN_COOKIES: 'true',
        ORGAUTH_CROSS_SUB_DOMAIN_COOKIES_DOMAIN: 'orgauth.test',
      },
      port,
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--host-resolver-rules=MAP *.orgauth.test 127.0.0.1'],
    });
  });
  after(async () => {
    await browser?.close();
    await new Promise((done) => (pages ? pages.close(done) : done()));
    await env?.close();
  });

  /** A fresh browser context on `origin`'s page, the client loaded. */
  async function open(origin) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const res = await page.goto(`${origin}/`);
    assert.equal(res.status(), 200);
    await page.waitForFunction(() => window.ready === true);
    return { context, page };
  }

  test('the app origin signs up, reads the session and lists organizations with credentials', async () => {
    const { context, page } = await open(app);
    const email = uniqueEmail('cors');
    const seen = await page.evaluate(
      async ({ email }) => {
        const c = window.authClient;
        const signUp = await c.signUp.email({ email, password: 'cors-password-1', name: 'Cors' });
        const session = await c.getSession();
        const created = await c.organization.create({ name: 'Cors Org', slug: `cors-${Date.now()}` });
        const listed = await c.organization.list();
        return {
          signUp: signUp.error ?? signUp.data.user.email,
          session: session.error ?? session.data?.user.email,
          created: created.error ?? created.data.name,
          listed: listed.error ?? listed.data.map((o) => o.name),
          // httpOnly: the page cannot read it.
          cookie: document.cookie,
        };
      },
      { email },
    );
    assert.deepEqual(seen, { signUp: email, session: email, created: 'Cors Org', listed: ['Cors Org'], cookie: '' });
    // The session cookie is the API's, shared with orgauth.test's subdomains.
    const cookies = await context.cookies(api);
    const session = cookies.find((c) => c.name === 'myapp.session_token');
    assert.ok(session, JSON.stringify(cookies));
    assert.equal(session.domain, '.orgauth.test');
    assert.equal(session.httpOnly, true);
    await context.close();
  });

  test('an untrusted origin is refused by the browser: the page sees a TypeError, nothing is created', async () => {
    const { context, page } = await open(untrusted);
    const email = uniqueEmail('evil');
    const seen = await page.evaluate(
      async ({ api, email }) => {
        const raw = await fetch(`${api}/api/auth/ok`, { credentials: 'include' }).then(
          (r) => `status ${r.status}`,
          (e) => e.name,
        );
        const signUp = await window.authClient.signUp.email({ email, password: 'evil-password-1', name: 'Evil' }).then(
          (r) => ({ data: r.data, status: r.error?.status }),
          (e) => ({ thrown: e.name }),
        );
        // The server is there: a no-cors request gets an (opaque) answer.
        const reachable = await fetch(`${api}/api/auth/ok`, { mode: 'no-cors' }).then(
          (r) => r.type,
          (e) => e.name,
        );
        return { raw, signUp, reachable };
      },
      { api, email },
    );
    // The answer to the simple GET is withheld (no Access-Control-Allow-Origin); the sign-up's
    // preflight is not answered with CORS, so the POST is never sent.
    // The official client rethrows the network error.
    assert.deepEqual(seen, { raw: 'TypeError', signUp: { thrown: 'TypeError' }, reachable: 'opaque' });
    await context.close();
    const check = user(api, api);
    const signIn = await check.client.signIn.email({ email, password: 'evil-password-1' });
    assert.equal(signIn.error?.status, 401, JSON.stringify(signIn));
  });
});
