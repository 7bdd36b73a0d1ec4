// For test/adoption.test.mjs: one PostgreSQL database that the Better Auth 1.7.25 reference server
// (a copy of shared/bench/better-auth-reference with its npm dependencies, prepared by
// adoption.sh) and orgauth take turns on, or share. Every process started here is remembered and
// `stopAll` ends those still running (the test's `after` hook); a last-resort `exit` handler
// SIGKILLs any that remain.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAuthClient } from 'better-auth/client';
import { organizationClient } from 'better-auth/client/plugins';
import pg from 'pg';
import { createJar } from './jar.mjs';
import { BIN, runCli } from './server.mjs';

const repo = resolve(fileURLToPath(import.meta.url), '../../../..');
export const REFERENCE_DIR = process.env.REFERENCE_DIR ?? join(repo, 'target/adoption/reference');
const POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const SESSION_COOKIE = 'better-auth.session_token';

const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Ends every process started here that is still running (SIGTERM, SIGKILL after 10 s). */
export async function stopAll() {
  await Promise.all([...running].map((child) => child.stopProcess()));
}

/**
 * A fresh `orgauth_e2e_adopt_<random>` database. The URL carries a password (PGPASSWORD, default
 * `postgres`, when TEST_POSTGRES_URL has none): the reference logs in with one over TCP, as its
 * setup.sh arranges; on a trust-auth cluster it is ignored.
 */
export async function createAdoptionDatabase() {
  const name = `orgauth_e2e_adopt_${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE "${name}"`);
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  if (!url.password) url.password = process.env.PGPASSWORD ?? 'postgres';
  // Connections stay open (no idle timeout): run.sh's clean-up only drops databases nobody uses.
  const pool = new pg.Pool({ connectionString: url.href, max: 2, idleTimeoutMillis: 0 });
  return {
    name,
    url: url.href,
    /** Rows of one statement. */
    query: async (sql, params) => (await pool.query(sql, params)).rows,
    /** Several statements in one simple query (no parameters). */
    exec: (sql) => pool.query(sql),
    async drop() {
      await pool.end().catch(() => {});
      await adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    },
  };
}

async function adminQuery(sql) {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** The reference's own DDL: `drizzle-kit export` of its Drizzle schema. */
export const referenceSchemaSql = () => readFileSync(join(REFERENCE_DIR, 'schema.sql'), 'utf8');

/**
 * Spawns a server and resolves once a line of its output matches `listening` (whose first group is
 * the URL it serves); rejects if it exits first or takes more than 30 s.
 */
async function spawnServer({ label, command, args, cwd, env, listening }) {
  const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise((ok) =>
    child.on('exit', (code, signal) => {
      running.delete(child);
      ok({ code, signal });
    }),
  );
  running.add(child);
  let stopping = null;
  child.stopProcess = () => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const result = await exited;
      clearTimeout(timer);
      return result;
    })();
    return stopping;
  };
  let url;
  try {
    url = await new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`${label} did not start within 30 s:\n${output}`)), 30_000);
      const onData = (d) => {
        output += d;
        const m = output.replace(/\x1b\[[0-9;]*m/g, '').match(listening);
        if (m) {
          clearTimeout(timer);
          ok(m[1]);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('error', (e) => {
        clearTimeout(timer);
        fail(e);
      });
      exited.then(({ code, signal }) => {
        clearTimeout(timer);
        fail(new Error(`${label} exited (${code ?? signal}) before listening:\n${output}`));
      });
    });
  } catch (e) {
    await child.stopProcess();
    throw e;
  }
  return {
    label,
    baseURL: url,
    pid: child.pid,
    output: () => output,
    /** SIGTERM (SIGKILL after 10 s); resolves with the exit code and signal. */
    stop: () => child.stopProcess(),
  };
}

/**
 * The Better Auth reference (`bun src/server.ts` from REFERENCE_DIR) on `port`. Its base URL is
 * http://127.0.0.1:<port>, which is also its only trusted origin (src/auth.ts:
 * `trustedOrigins: [baseURL]`), so POSTs must carry that Origin.
 */
export async function startReference({ databaseUrl, port, secret }) {
  const bun = join(REFERENCE_DIR, 'node_modules/.bin/bun');
  if (!existsSync(bun)) throw new Error(`no reference at ${REFERENCE_DIR} (run clients/e2e/adoption.sh)`);
  const baseURL = `http://127.0.0.1:${port}`;
  const server = await spawnServer({
    label: 'better-auth reference',
    command: bun,
    args: ['src/server.ts'],
    cwd: REFERENCE_DIR,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME ?? '/tmp',
      TMPDIR: process.env.TMPDIR ?? '/tmp',
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      BETTER_AUTH_URL: baseURL,
      BETTER_AUTH_SECRET: secret,
      DATABASE_URL: databaseUrl,
      DB_POOL_MAX: '4',
    },
    listening: /better-auth \S+ listening on (http:\/\/\S+?)\/api\/auth/,
  });
  if (server.baseURL !== baseURL) {
    await server.stop();
    throw new Error(`reference listens on ${server.baseURL}, expected ${baseURL}`);
  }
  return server;
}

/**
 * The orgauth release binary on a port it picks (PORT=0; the URL is read from its "listening on"
 * line), trusting `trustedOrigin` (the web app's origin: the reference's base URL).
 */
export async function startOrgauth({ databaseUrl, secret, trustedOrigin, smtpUrl, extraEnv = {} }) {
  if (!existsSync(BIN)) throw new Error(`orgauth binary not found at ${BIN} (set ORGAUTH_BIN)`);
  return spawnServer({
    label: 'orgauth',
    command: BIN,
    args: [],
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: databaseUrl,
      HOST: '127.0.0.1',
      PORT: '0',
      BETTER_AUTH_SECRET: secret,
      BETTER_AUTH_TRUSTED_ORIGINS: trustedOrigin,
      SMTP_URL: smtpUrl,
      ORGAUTH_RATE_LIMIT: 'off',
      RUST_LOG: process.env.E2E_RUST_LOG ?? 'warn,api=info',
      ...extraEnv,
    },
    listening: /orgauth listening on (http:\/\/\S+) \(Swagger UI/,
  });
}

/** `orgauth <args>` against `databaseUrl` (info-level log, where `migrate status` reports). */
export const orgauthCli = (args, databaseUrl) =>
  runCli(args, { DATABASE_URL: databaseUrl, RUST_LOG: 'info', ORGAUTH_LOG_FORMAT: 'text', NO_COLOR: '1' });

/**
 * A browser tab on `server` whose web app lives on `origin`: the official client (organization
 * plugin with teams) over a cookie jar, optionally starting from a session cookie's raw value.
 */
export async function browser(server, origin, cookie) {
  const jar = createJar();
  if (cookie) await jar.raw.setCookie(`${SESSION_COOKIE}=${cookie}; Path=/; HttpOnly; SameSite=Lax`, server.baseURL);
  const client = createAuthClient({
    baseURL: server.baseURL,
    plugins: [organizationClient({ teams: { enabled: true } })],
    fetchOptions: { customFetchImpl: jar.fetch, headers: { origin } },
  });
  return {
    client,
    jar,
    /** The session cookie's raw value as the jar holds it (what the browser would send back). */
    cookie: () => jar.get(server.baseURL, SESSION_COOKIE),
  };
}

/** The token part of a signed session cookie value (`<token>.<signature>`, URL-encoded). */
export const tokenOf = (cookie) => decodeURIComponent(cookie).split('.')[0];

/**
 * Every difference between `expected` and `actual` as `{ path, expected, actual }`: objects key by
 * key (a key present on one side only is a difference), arrays element by element, Dates by
 * instant, everything else with Object.is.
 */
export function differences(expected, actual, path = '') {
  if (expected instanceof Date || actual instanceof Date) {
    const same = expected instanceof Date && actual instanceof Date && expected.getTime() === actual.getTime();
    return same ? [] : [{ path, expected, actual }];
  }
  if (Array.isArray(expected) && Array.isArray(actual)) {
    const out = [];
    if (expected.length !== actual.length)
      out.push({ path: `${path}.length`, expected: expected.length, actual: actual.length });
    for (let i = 0; i < Math.min(expected.length, actual.length); i++)
      out.push(...differences(expected[i], actual[i], `${path}[${i}]`));
    return out;
  }
  const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isObject(expected) && isObject(actual)) {
    const out = [];
    for (const key of new Set([...Object.keys(expected), ...Object.keys(actual)])) {
      const p = path ? `${path}.${key}` : key;
      if (!(key in actual)) out.push({ path: p, expected: expected[key], actual: '<missing>' });
      else if (!(key in expected)) out.push({ path: p, expected: '<missing>', actual: actual[key] });
      else out.push(...differences(expected[key], actual[key], p));
    }
    return out;
  }
  return Object.is(expected, actual) ? [] : [{ path, expected, actual }];
}
