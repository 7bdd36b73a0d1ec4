// Starts the orgauth release binary on a fresh database and stops it with SIGTERM.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const repo = resolve(fileURLToPath(import.meta.url), '../../../..');
export const BIN = process.env.ORGAUTH_BIN ?? join(repo, 'target/release/orgauth');
const POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A fresh database: SQLite in a temp dir, or `orgauth_e2e_<random>` on TEST_POSTGRES_URL. */
export async function createDatabase(kind) {
  if (kind === 'sqlite') {
    const dir = await mkdtemp(join(tmpdir(), 'orgauth-e2e-'));
    return {
      kind,
      url: `sqlite://${join(dir, 'orgauth.db')}?mode=rwc`,
      drop: () => rm(dir, { recursive: true, force: true }),
    };
  }
  if (kind === 'postgres') {
    const name = `orgauth_e2e_${randomBytes(6).toString('hex')}`;
    await adminQuery(`CREATE DATABASE "${name}"`);
    const url = new URL(POSTGRES_ADMIN_URL);
    url.pathname = `/${name}`;
    return {
      kind,
      url: url.href,
      name,
      drop: () => adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
    };
  }
  throw new Error(`E2E_DATABASE must be sqlite or postgres, not ${kind}`);
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

export async function freePort() {
  const srv = createServer();
  await new Promise((ok) => srv.listen(0, '127.0.0.1', ok));
  const { port } = srv.address();
  await new Promise((ok) => srv.close(ok));
  return port;
}

/**
 * Runs the binary with `args` and the server environment; resolves with its exit code and output.
 * Used for the CLI (`orgauth add-member`).
 */
export function runCli(args, env) {
  return new Promise((ok, fail) => {
    const child = spawn(BIN, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', fail);
    child.on('exit', (code) => ok({ code, stdout, stderr }));
  });
}

/**
 * Starts orgauth; resolves once it logs that it listens. `port`: the one to listen on (default: a
 * free one), for an `extraEnv` that names it (BETTER_AUTH_URL on another host name).
 */
export async function startServer({ databaseUrl, smtpUrl, extraEnv = {}, port }) {
  if (!existsSync(BIN)) throw new Error(`orgauth binary not found at ${BIN} (set ORGAUTH_BIN)`);
  port ??= await freePort();
  const baseURL = `http://127.0.0.1:${port}`;
  const secret = randomBytes(32).toString('base64url');
  const env = {
    PATH: process.env.PATH,
    DATABASE_URL: databaseUrl,
    HOST: '127.0.0.1',
    PORT: String(port),
    BETTER_AUTH_URL: baseURL,
    BETTER_AUTH_SECRET: secret,
    SMTP_URL: smtpUrl,
    ORGAUTH_RATE_LIMIT: 'off',
    RUST_LOG: process.env.E2E_RUST_LOG ?? 'warn,api=info',
    ...extraEnv,
  };
  const child = spawn(BIN, [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise((ok) => child.on('exit', (code, signal) => ok({ code, signal })));
  await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`orgauth did not start within 30 s:\n${output}`)), 30_000);
    const onData = (d) => {
      output += d;
      // Logs may be coloured: strip ANSI escapes before matching.
      const plain = output.replace(/\x1b\[[0-9;]*m/g, '');
      const m = plain.match(/orgauth listening on (http:\/\/\S+) \(Swagger UI: (\S+)\)/);
      if (m) {
        clearTimeout(timer);
        if (m[1] !== baseURL) fail(new Error(`listening on ${m[1]}, expected ${baseURL}`));
        else ok();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', fail);
    exited.then(({ code, signal }) =>
      fail(new Error(`orgauth exited (${code ?? signal}) before listening:\n${output}`)),
    );
  });
  return {
    binary: BIN,
    baseURL,
    secret,
    env,
    output: () => output,
    /** SIGTERM; resolves with the exit code and signal (SIGKILL after 40 s, which then shows). */
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}
