// The Better Auth 1.7.25 reference server (a copy of the harness at REFERENCE_SRC with its npm
// dependencies, prepared by lib/reference.sh) and the orgauth binary as server processes on
// PostgreSQL, for test/adoption.test.mjs (one database both use) and test/reference.test.mjs (each
// on a fresh database of its own, `startPair`). Every process started here is remembered and
// `stopAll` ends those still running (the tests' `after` hooks); a last-resort `exit` handler
// SIGKILLs any that remain.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { BIN, freePort } from './server.mjs';

const repo = resolve(fileURLToPath(import.meta.url), '../../../..');
export const REFERENCE_DIR = process.env.REFERENCE_DIR ?? join(repo, 'target/adoption/reference');
const POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Ends every process started here that is still running (SIGTERM, SIGKILL after 10 s). */
export async function stopAll() {
  await Promise.all([...running].map((child) => child.stopProcess()));
}

/**
 * A fresh `<prefix><random>` database (the prefix starts with `orgauth_e2e_`, so that run.sh's
 * clean-up finds what a killed run left). The URL carries a password (PGPASSWORD, default
 * `postgres`, when TEST_POSTGRES_URL has none): the reference logs in with one over TCP, as its
 * setup.sh arranges; on a trust-auth cluster it is ignored.
 */
export async function createPostgresDatabase(prefix) {
  const name = `${prefix}${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE "${name}"`);
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  if (!url.password) url.password = process.env.PGPASSWORD ?? 'postgres';
  // Connections stay open (no idle timeout): run.sh's clean-up only drops databases nobody uses.
  const pool = new pg.Pool({ connectionString: url.href, max: 2, idleTimeoutMillis: 0 });
  // An idle connection ended by the server (the drop's FORCE racing the pool's own goodbye) is
  // reported here rather than thrown at the process.
  pool.on('error', (e) => {
    if (e.code !== '57P01') console.error(`database ${name}: idle connection: ${e.message}`);
  });
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
 * `trustedOrigins: [baseURL]`), so POSTs must carry that Origin. Rate limiting is off
 * (`rateLimit.enabled: false`), no mail sender is configured.
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
 * The orgauth release binary, rate limiter off. Without `port` it picks one (PORT=0; the URL is read
 * from its "listening on" line); with `port`, BETTER_AUTH_URL is http://127.0.0.1:<port>.
 * `trustedOrigin` (optional) is added to its trusted origins; `smtpUrl` (optional) is where it
 * mails (without one it mails to its log).
 */
export async function startOrgauth({ databaseUrl, secret, trustedOrigin, smtpUrl, port, extraEnv = {} }) {
  if (!existsSync(BIN)) throw new Error(`orgauth binary not found at ${BIN} (set ORGAUTH_BIN)`);
  const env = {
    PATH: process.env.PATH,
    DATABASE_URL: databaseUrl,
    HOST: '127.0.0.1',
    PORT: String(port ?? 0),
    BETTER_AUTH_SECRET: secret,
    ORGAUTH_RATE_LIMIT: 'off',
    RUST_LOG: process.env.E2E_RUST_LOG ?? 'warn,api=info',
  };
  if (port) env.BETTER_AUTH_URL = `http://127.0.0.1:${port}`;
  if (trustedOrigin) env.BETTER_AUTH_TRUSTED_ORIGINS = trustedOrigin;
  if (smtpUrl) env.SMTP_URL = smtpUrl;
  return spawnServer({
    label: 'orgauth',
    command: BIN,
    args: [],
    env: { ...env, ...extraEnv },
    listening: /orgauth listening on (http:\/\/\S+) \(Swagger UI/,
  });
}

/**
 * The reference and orgauth side by side, each on a fresh PostgreSQL database of its own (the
 * reference's from its schema.sql, orgauth's from its migrations), each with its own random secret
 * and its own base URL as the only trusted origin. `orgauthEnv` is added to orgauth's environment;
 * `orgauth: false` starts the reference alone. `stop()` ends both and drops both databases.
 */
export async function startPair({ orgauth: withOrgauth = true, orgauthEnv = {} } = {}) {
  const dbs = [];
  const servers = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await Promise.all(dbs.map((d) => d.drop()));
  };
  const secret = () => randomBytes(32).toString('base64url');
  try {
    const refDb = await createPostgresDatabase('orgauth_e2e_cmp_ref_');
    dbs.push(refDb);
    const oaDb = withOrgauth ? await createPostgresDatabase('orgauth_e2e_cmp_oa_') : undefined;
    if (oaDb) dbs.push(oaDb);
    await refDb.exec(referenceSchemaSql());
    const [reference, orgauth] = await Promise.all([
      freePort().then((port) => startReference({ databaseUrl: refDb.url, port, secret: secret() })),
      oaDb &&
        freePort().then((port) =>
          startOrgauth({ databaseUrl: oaDb.url, secret: secret(), port, extraEnv: orgauthEnv }),
        ),
    ]);
    servers.push(reference, ...(orgauth ? [orgauth] : []));
    return { reference, orgauth, databases: { reference: refDb, orgauth: oaDb }, stop };
  } catch (e) {
    await stopAll();
    await stop().catch(() => {});
    throw e;
  }
}
