// For test/adoption.test.mjs: one PostgreSQL database that the Better Auth 1.7.25 reference server
// (a copy of the harness at REFERENCE_SRC with its npm dependencies, prepared by
// adoption.sh) and orgauth take turns on, or share. The servers themselves are started by
// lib/reference.mjs (shared with test/reference.test.mjs), re-exported here.
import { createAuthClient } from 'better-auth/client';
import { organizationClient } from 'better-auth/client/plugins';
import { createJar } from './jar.mjs';
import { createPostgresDatabase } from './reference.mjs';
import { runCli } from './server.mjs';

export { REFERENCE_DIR, referenceSchemaSql, startOrgauth, startReference, stopAll } from './reference.mjs';

export const SESSION_COOKIE = 'better-auth.session_token';

/** A fresh `orgauth_e2e_adopt_<random>` database (lib/reference.mjs: `createPostgresDatabase`). */
export const createAdoptionDatabase = () => createPostgresDatabase('orgauth_e2e_adopt_');

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
