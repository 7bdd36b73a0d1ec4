// Issue 18's first step: what Better Auth 1.7.25's admin plugin answers, recorded from the reference
// server (REFERENCE_DIR, prepared by lib/reference.sh) with `admin()` added to its configuration,
// for docs/admin.md. Run through clients/e2e/admin-reference.sh. Nothing here compares with
// orgauth: it only records.
//
// The copy of the reference is patched before it starts:
// - src/admin-options.ts (written here): a ZeroStarter-like configuration, four console roles
//   ranked owner > admin > member > user with a custom `console` statement, `adminRoles:
//   ["owner", "admin"]`, and one id in `adminUserIds` (ROOT_ID, a user inserted by SQL whose own
//   role is the plain "user");
// - src/auth.ts: `admin(adminOptions)` after the organization plugin;
// - src/schema.ts and the database: the admin plugin's columns as the Better Auth CLI generates them
//   for Drizzle on PostgreSQL (user.role, user.banned DEFAULT false, user.ban_reason,
//   user.ban_expires, session.impersonated_by).
//
// Writes target/admin-reference/observations.json (every request and answer, raw Set-Cookie
// headers included, and the database rows read between them) and observations.md (the same as a
// transcript).
import { randomBytes, scryptSync } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serverClient } from './compare.mjs';
import { REFERENCE_DIR, createPostgresDatabase, referenceSchemaSql, startReference, stopAll } from './reference.mjs';
import { freePort } from './server.mjs';

const repo = resolve(fileURLToPath(import.meta.url), '../../../..');
const OUT = process.env.ADMIN_REFERENCE_OUT ?? join(repo, 'target/admin-reference');
const ROOT_ID = 'rootAdminUserIdsEntry00000000000';
const ROOT_EMAIL = 'root@example.com';
const ROOT_PASSWORD = 'root-password-123';

const ADMIN_OPTIONS_TS = `// Written by clients/e2e/lib/admin-reference.mjs: a ZeroStarter-like admin() configuration.
import { createAccessControl } from "better-auth/plugins/access"
import { adminAc, defaultStatements } from "better-auth/plugins/admin/access"

const statement = { ...defaultStatements, console: ["read", "manage"] } as const
export const ac = createAccessControl(statement)
export const roles = {
  owner: ac.newRole({
    user: [...adminAc.statements.user, "impersonate-admins"],
    session: [...adminAc.statements.session],
    console: ["read", "manage"],
  }),
  admin: ac.newRole({ ...adminAc.statements, console: ["read"] }),
  member: ac.newRole({ user: ["list", "get"], session: ["list"], console: ["read"] }),
  user: ac.newRole({ user: [], session: [] }),
}
export const adminOptions = {
  ac,
  roles,
  adminRoles: ["owner", "admin"],
  adminUserIds: ["${ROOT_ID}"],
}
`;

// The columns `auth generate` writes for the admin plugin (drizzle, pg): required: false fields are
// nullable, `banned` has defaultValue false.
const ADMIN_COLUMNS_SQL = `
ALTER TABLE "user" ADD COLUMN "role" text;
ALTER TABLE "user" ADD COLUMN "banned" boolean DEFAULT false;
ALTER TABLE "user" ADD COLUMN "ban_reason" text;
ALTER TABLE "user" ADD COLUMN "ban_expires" timestamp;
ALTER TABLE "session" ADD COLUMN "impersonated_by" text;
`;

function replaceOnce(text, anchor, replacement, file) {
  const at = text.indexOf(anchor);
  if (at < 0 || text.indexOf(anchor, at + 1) >= 0) throw new Error(`${file}: anchor not found exactly once: ${anchor}`);
  return text.slice(0, at) + replacement + text.slice(at + anchor.length);
}

/** The reference copy with the admin plugin (sources are re-copied by reference.sh every run). */
async function patchReference() {
  const src = join(REFERENCE_DIR, 'src');
  await writeFile(join(src, 'admin-options.ts'), ADMIN_OPTIONS_TS);
  let auth = await readFile(join(src, 'auth.ts'), 'utf8');
  auth = replaceOnce(
    auth,
    'import { organization } from "better-auth/plugins"',
    'import { admin, organization } from "better-auth/plugins"\nimport { adminOptions } from "./admin-options"',
    'auth.ts',
  );
  auth = replaceOnce(
    auth,
    'plugins: [organization({ teams: { enabled: true } })]',
    'plugins: [organization({ teams: { enabled: true } }), admin(adminOptions)]',
    'auth.ts',
  );
  await writeFile(join(src, 'auth.ts'), auth);
  let schema = await readFile(join(src, 'schema.ts'), 'utf8');
  schema = replaceOnce(
    schema,
    '  image: text("image"),\n',
    '  image: text("image"),\n  role: text("role"),\n  banned: boolean("banned").default(false),\n' +
      '  banReason: text("ban_reason"),\n  banExpires: timestamp("ban_expires"),\n',
    'schema.ts',
  );
  schema = replaceOnce(
    schema,
    '    activeTeamId: text("active_team_id"),\n  },',
    '    activeTeamId: text("active_team_id"),\n    impersonatedBy: text("impersonated_by"),\n  },',
    'schema.ts',
  );
  await writeFile(join(src, 'schema.ts'), schema);
}

/** Better Auth's scrypt hash (the contract's section 6), for the user inserted by SQL. */
function hashPassword(password) {
  const salt = randomBytes(16).toString('hex');
  const key = scryptSync(password.normalize('NFKC'), salt, 64, { N: 16384, r: 16, p: 1, maxmem: 128 * 16384 * 16 * 2 });
  return `${salt}:${key.toString('hex')}`;
}

// ---------------------------------------------------------------------------------------------
// Recording

const log = []; // { case, step, ... }
let currentCase = '';
const note = (step, data) => log.push({ case: currentCase, step, ...data });

let client; // compare.mjs's client of the reference
/**
 * One request under /api/auth, recorded under `step`. `as`: a user (cookie map, updated from the
 * answer); `origin` (default the base URL; false: none); `json`: the body; `raw`: a JSON body
 * sent as is.
 */
async function request(step, method, path, { json, raw, as, origin = true, headers = {} } = {}) {
  const contentType = raw !== undefined ? 'application/json' : undefined;
  const r = await client.request(method, path, { json, raw, contentType, as, origin, headers });
  const obs = {
    request: r.request,
    as: as?.label,
    sent: json ?? raw,
    status: r.status,
    body: r.body,
    text: r.text,
    location: r.location,
    setCookie: r.rawSetCookies,
  };
  note(step, obs);
  return obs;
}
const get = (step, path, o) => request(step, 'GET', path, o);
const post = (step, path, o) => request(step, 'POST', path, o);

let db;
async function rows(step, sql, params) {
  const r = await db.query(sql, params);
  note(step, { sql, params, rows: r });
  return r;
}

const users = {};
async function signUp(label, extra = {}) {
  const u = { label, email: `${label}@example.com`, password: `pw-${label}-12345`, cookies: new Map() };
  const res = await post(`sign up ${label}`, '/sign-up/email', {
    json: { email: u.email, password: u.password, name: label, ...extra },
    as: u,
  });
  if (res.status !== 200) throw new Error(`sign-up ${label}: ${res.status} ${JSON.stringify(res.body)}`);
  u.id = res.body.user.id;
  users[label] = u;
  return u;
}
async function signIn(step, u) {
  const fresh = { label: u.label, cookies: new Map() };
  const res = await post(step, '/sign-in/email', { json: { email: u.email, password: u.password }, as: fresh });
  if (res.status === 200) u.cookies = fresh.cookies;
  return res;
}
const sessionsOf = (step, id) =>
  rows(step, 'SELECT id, token, expires_at, created_at, impersonated_by FROM "session" WHERE user_id = $1 ORDER BY created_at', [id]);
const userRow = (step, id) =>
  rows(step, 'SELECT id, email, email_verified, role, banned, ban_reason, ban_expires, created_at, updated_at FROM "user" WHERE id = $1', [id]);

// ---------------------------------------------------------------------------------------------
// Cases

const cases = [];
const scenario = (name, fn) => cases.push({ name, fn });

scenario('schema and hooks at sign-up', async () => {
  const root = { label: 'root', email: ROOT_EMAIL, password: ROOT_PASSWORD, cookies: new Map(), id: ROOT_ID };
  users.root = root;
  await signIn('root signs in (inserted by SQL, role "user", listed in adminUserIds)', root);
  await get('root get-session', '/get-session', { as: root });
  const plain = await signUp('plain');
  await get('plain get-session: user and session carry the admin fields', '/get-session', { as: plain });
  await userRow('plain row after sign-up', plain.id);
  await post('sign-up with role in the body', '/sign-up/email', {
    json: { email: 'sneaky@example.com', password: 'password-123', name: 'sneaky', role: 'admin' },
  });
  await post('sign-up with banned:false in the body', '/sign-up/email', {
    json: { email: 'sneaky2@example.com', password: 'password-123', name: 'sneaky2', banned: false },
  });
  await post('update-user (core) with role', '/update-user', { json: { role: 'admin' }, as: plain });
  await post('update-user (core) with banned', '/update-user', { json: { banned: false }, as: plain });
});

scenario('roles set up by root (adminUserIds)', async () => {
  for (const label of ['owner', 'admin1', 'admin2', 'member1', 'target', 'victim', 'other']) await signUp(label);
  const { root } = users;
  await post('root sets owner', '/admin/set-role', { json: { userId: users.owner.id, role: 'owner' }, as: root });
  await post('root sets admin1', '/admin/set-role', { json: { userId: users.admin1.id, role: 'admin' }, as: root });
  await post('root sets admin2', '/admin/set-role', { json: { userId: users.admin2.id, role: 'admin' }, as: root });
  await post('root sets member1', '/admin/set-role', { json: { userId: users.member1.id, role: 'member' }, as: root });
  await get('admin1 get-session before refresh (role read from DB per request)', '/get-session', { as: users.admin1 });
});

scenario('unauthenticated', async () => {
  const anon = { label: 'anonymous', cookies: new Map() };
  await get('list-users', '/admin/list-users', { as: anon });
  await get('get-user', `/admin/get-user?id=${users.plain.id}`, { as: anon });
  await get('get-user without id', '/admin/get-user', { as: anon });
  for (const [path, body] of [
    ['/admin/create-user', { email: 'x@example.com', name: 'x', password: 'password-123' }],
    ['/admin/update-user', { userId: users.plain.id, data: { name: 'x' } }],
    ['/admin/set-role', { userId: users.plain.id, role: 'admin' }],
    ['/admin/set-user-password', { userId: users.plain.id, newPassword: 'password-123' }],
    ['/admin/ban-user', { userId: users.plain.id }],
    ['/admin/unban-user', { userId: users.plain.id }],
    ['/admin/list-user-sessions', { userId: users.plain.id }],
    ['/admin/revoke-user-session', { sessionToken: 'x' }],
    ['/admin/revoke-user-sessions', { userId: users.plain.id }],
    ['/admin/remove-user', { userId: users.plain.id }],
    ['/admin/impersonate-user', { userId: users.plain.id }],
    ['/admin/stop-impersonating', undefined],
    ['/admin/has-permission', { permissions: { user: ['list'] } }],
    ['/admin/has-permission', { userId: users.admin1.id, permissions: { user: ['list'] } }],
    ['/admin/has-permission', { role: 'admin', permissions: { user: ['list'] } }],
  ])
    await post(`${path}`, path, { json: body, as: anon });
  await post('has-permission, legacy key (checked before the session)', '/admin/has-permission', {
    json: { permission: { user: ['list'] } },
    as: anon,
  });
  await post('set-role without a body', '/admin/set-role', { as: anon });
  await post('ban-user with {} (schema before session)', '/admin/ban-user', { json: {}, as: anon });
  await post('set-user-password with "" (schema before session)', '/admin/set-user-password', {
    json: { userId: users.plain.id, newPassword: '' },
    as: anon,
  });
  await get('list-users with a bad sortDirection (schema before session)', '/admin/list-users?sortDirection=up', { as: anon });
  await get('wrong method: GET ban-user', '/admin/ban-user', { as: anon });
  await post('wrong method: POST list-users', '/admin/list-users', { json: {}, as: anon });
  await post('cookie but no Origin', '/admin/ban-user', { json: { userId: users.plain.id }, as: users.admin1, origin: false });
});

scenario('permission refusals (role "user")', async () => {
  const u = users.plain;
  await get('list-users', '/admin/list-users', { as: u });
  await get('get-user', `/admin/get-user?id=${users.other.id}`, { as: u });
  await post('create-user', '/admin/create-user', { json: { email: 'y@example.com', name: 'y' }, as: u });
  await post('update-user', '/admin/update-user', { json: { userId: users.other.id, data: { name: 'y' } }, as: u });
  await post('set-role', '/admin/set-role', { json: { userId: u.id, role: 'admin' }, as: u });
  await post('set-role, unknown role (permission first)', '/admin/set-role', { json: { userId: u.id, role: 'nope' }, as: u });
  await post('set-user-password', '/admin/set-user-password', { json: { userId: users.other.id, newPassword: 'password-123' }, as: u });
  await post('ban-user', '/admin/ban-user', { json: { userId: users.other.id }, as: u });
  await post('ban-user, unknown user (permission first)', '/admin/ban-user', { json: { userId: 'nobody' }, as: u });
  await post('unban-user', '/admin/unban-user', { json: { userId: users.other.id }, as: u });
  await post('list-user-sessions', '/admin/list-user-sessions', { json: { userId: users.other.id }, as: u });
  await post('revoke-user-session', '/admin/revoke-user-session', { json: { sessionToken: 'x' }, as: u });
  await post('revoke-user-sessions', '/admin/revoke-user-sessions', { json: { userId: users.other.id }, as: u });
  await post('remove-user', '/admin/remove-user', { json: { userId: users.other.id }, as: u });
  await post('remove-user self (permission first)', '/admin/remove-user', { json: { userId: u.id }, as: u });
  await post('impersonate-user', '/admin/impersonate-user', { json: { userId: users.other.id }, as: u });
  await post('stop-impersonating (not impersonating)', '/admin/stop-impersonating', { as: u });
  // member: user:list, user:get, session:list only.
  const m = users.member1;
  await get('member list-users', '/admin/list-users?limit=2', { as: m });
  await get('member get-user', `/admin/get-user?id=${users.other.id}`, { as: m });
  await post('member list-user-sessions', '/admin/list-user-sessions', { json: { userId: users.other.id }, as: m });
  await post('member ban-user', '/admin/ban-user', { json: { userId: users.other.id }, as: m });
  await post('member set-role', '/admin/set-role', { json: { userId: m.id, role: 'owner' }, as: m });
});

scenario('has-permission', async () => {
  const p = (step, who, body) => post(step, '/admin/has-permission', { json: body, as: users[who] });
  await p('user: user:list', 'plain', { permissions: { user: ['list'] } });
  await p('user: empty permissions {}', 'plain', { permissions: {} });
  await p('admin: user:list + session:revoke', 'admin1', { permissions: { user: ['list'], session: ['revoke'] } });
  await p('admin: user:impersonate-admins', 'admin1', { permissions: { user: ['impersonate-admins'] } });
  await p('owner: user:impersonate-admins', 'owner', { permissions: { user: ['impersonate-admins'] } });
  await p('admin: console:read (custom statement)', 'admin1', { permissions: { console: ['read'] } });
  await p('admin: console:manage', 'admin1', { permissions: { console: ['manage'] } });
  await p('member: console:read', 'member1', { permissions: { console: ['read'] } });
  await p('admin: unknown resource', 'admin1', { permissions: { billing: ['read'] } });
  await p('admin: unknown action', 'admin1', { permissions: { user: ['fly'] } });
  await p('admin: empty action list', 'admin1', { permissions: { user: [] } });
  await p('root (adminUserIds): unknown resource', 'root', { permissions: { billing: ['read'] } });
  await p('user asks as role admin (body role ignored with a session)', 'plain', { role: 'admin', permissions: { user: ['list'] } });
  await p('user asks for admin1 (body userId ignored with a session)', 'plain', { userId: users.admin1.id, permissions: { user: ['list'] } });
  await p('legacy key permission', 'admin1', { permission: { user: ['list'] } });
  await p('both keys', 'admin1', { permission: { user: ['list'] }, permissions: { user: ['list'] } });
  await p('neither key', 'admin1', {});
  await p('permissions not arrays', 'admin1', { permissions: { user: 'list' } });
  await p('connector OR object (not a string array)', 'admin1', { permissions: { user: { actions: ['list'], connector: 'OR' } } });
});

scenario('create-user', async () => {
  const a = users.admin1;
  const c = (step, body, who = a) => post(step, '/admin/create-user', { json: body, as: who });
  const r = await c('basic', { email: 'Created1@Example.com', password: 'password-123', name: 'Created One' });
  if (r.body?.user) {
    await userRow('created1 row', r.body.user.id);
    await rows('created1 accounts', 'SELECT provider_id, account_id = user_id AS account_is_user, password IS NOT NULL AS has_password FROM account WHERE user_id = $1', [r.body.user.id]);
    await rows('created1 sessions', 'SELECT count(*)::int AS n FROM session WHERE user_id = $1', [r.body.user.id]);
  }
  await c('with role "admin" (by admin)', { email: 'created2@example.com', password: 'password-123', name: 'c2', role: 'admin' });
  await c('with role "owner" (by admin: no rank check)', { email: 'created3@example.com', password: 'password-123', name: 'c3', role: 'owner' });
  await c('with roles ["member","admin"]', { email: 'created4@example.com', password: 'password-123', name: 'c4', role: ['member', 'admin'] });
  await c('with unknown role', { email: 'created5@example.com', password: 'password-123', name: 'c5', role: 'superuser' });
  await c('with role "constructor"', { email: 'created5b@example.com', password: 'password-123', name: 'c5b', role: 'constructor' });
  await c('with data.role (no top-level role)', { email: 'created6@example.com', password: 'password-123', name: 'c6', data: { role: 'admin' } });
  await c('with data.role 5', { email: 'created7@example.com', password: 'password-123', name: 'c7', data: { role: 5 } });
  await c('with data.banned true', { email: 'created8@example.com', password: 'password-123', name: 'c8', data: { banned: true, banReason: 'pre-banned' } });
  const ev = await c('with data.emailVerified, image, createdAt, id, unknown key', {
    email: 'created9@example.com',
    password: 'password-123',
    name: 'c9',
    data: { emailVerified: true, image: 'https://img', createdAt: '2000-01-01T00:00:00.000Z', id: 'chosenId', nickname: 'n' },
  });
  if (ev.body?.user) await userRow('created9 row', ev.body.user.id);
  await c('invalid email', { email: 'not-an-email', password: 'password-123', name: 'x' });
  await c('duplicate email (case differs)', { email: 'CREATED1@example.com', password: 'password-123', name: 'x' });
  await c('password "a" (too short: not checked)', { email: 'created10@example.com', password: 'a', name: 'c10' });
  await c('password of 129 characters', { email: 'created11@example.com', password: 'x'.repeat(129), name: 'c11' });
  const np = await c('no password', { email: 'created12@example.com', name: 'c12' });
  if (np.body?.user) await rows('created12 accounts', 'SELECT count(*)::int AS n FROM account WHERE user_id = $1', [np.body.user.id]);
  await c('empty password ""', { email: 'created13@example.com', name: 'c13', password: '' });
  await c('missing name', { email: 'created14@example.com', password: 'password-123' });
  await c('by member (no user:create)', { email: 'created15@example.com', name: 'c15' }, users.member1);
  const ten = await post('created10 signs in with "a"', '/sign-in/email', {
    json: { email: 'created10@example.com', password: 'a' },
  });
  void ten;
});

scenario('list-users', async () => {
  const a = users.admin1;
  const l = (step, q) => get(step, `/admin/list-users${q}`, { as: a });
  await l('no query', '');
  await l('limit=2', '?limit=2');
  await l('limit=2&offset=2', '?limit=2&offset=2');
  await l('limit=0 (falsy: default)', '?limit=0');
  await l('offset=0', '?limit=3&offset=0');
  await l('limit=abc', '?limit=abc&sortBy=email');
  await l('limit=-1', '?limit=-1');
  await l('sortBy=name desc', '?sortBy=name&sortDirection=desc&limit=3');
  await l('sortBy=email (asc default)', '?sortBy=email&limit=3');
  await l('sortBy=unknown', '?sortBy=nope');
  await l('sortBy=created_at (column name)', '?sortBy=created_at&limit=1');
  await l('searchValue=admin (email contains)', '?searchValue=admin');
  await l('searchValue=ADMIN (case)', '?searchValue=ADMIN');
  await l('searchField=name starts_with adm', '?searchValue=adm&searchField=name&searchOperator=starts_with');
  await l('searchField=name ends_with 1', '?searchValue=1&searchField=name&searchOperator=ends_with');
  await l('searchValue=% (wildcard not escaped)', '?searchValue=%25&limit=2');
  await l('searchValue=_ (wildcard not escaped)', '?searchValue=_&limit=2');
  await l('searchField=role (not allowed)', '?searchValue=admin&searchField=role');
  await l('filterField=role eq admin', '?filterField=role&filterValue=admin');
  await l('filterField=role ne admin', '?filterField=role&filterValue=admin&filterOperator=ne&limit=2');
  await l('filterValue only (filterField defaults to email)', `?filterValue=${encodeURIComponent('owner@example.com')}`);
  await l('filterField=banned true', '?filterField=banned&filterValue=true');
  await l('filterField=emailVerified false', '?filterField=emailVerified&filterValue=false&limit=1');
  await l('filterOperator=in, two values', '?filterField=role&filterValue=admin&filterValue=owner&filterOperator=in');
  await l('filterOperator=in, one value (not an array)', '?filterField=role&filterValue=admin&filterOperator=in');
  await l('filterField=unknown', '?filterField=nope&filterValue=x');
  await l('filterField=password (not a user field)', '?filterField=password&filterValue=x');
  await l('search and filter together', '?searchValue=admin&filterField=role&filterValue=admin');
  await l('filterField=createdAt gt', `?filterField=createdAt&filterValue=${encodeURIComponent('2000-01-01T00:00:00.000Z')}&filterOperator=gt&limit=1`);
  await l('filterField=createdAt lt (a date as a string)', `?filterField=createdAt&filterValue=${encodeURIComponent('2100-01-01T00:00:00.000Z')}&filterOperator=lt&limit=1`);
  await l('filterField=role contains admin', '?filterField=role&filterValue=admin&filterOperator=contains');
  await l('filterField=name eq, two values (array with eq)', '?filterField=name&filterValue=admin1&filterValue=admin2');
  await l('searchValue empty', '?searchValue=&limit=1');
  await l('offset past the end', '?offset=1000');
  await l('bad searchOperator', '?searchValue=a&searchOperator=like');
  await l('bad filterOperator', '?filterValue=a&filterOperator=like');
});

scenario('get-user', async () => {
  const a = users.admin1;
  await get('existing', `/admin/get-user?id=${users.owner.id}`, { as: a });
  await get('unknown', '/admin/get-user?id=nobody', { as: a });
  await get('no id', '/admin/get-user', { as: a });
  await get('empty id', '/admin/get-user?id=', { as: a });
});

scenario('set-role', async () => {
  const a = users.admin1;
  const s = (step, body, who = a) => post(step, '/admin/set-role', { json: body, as: who });
  await s('admin promotes a user to owner', { userId: users.victim.id, role: 'owner' });
  await s('admin demotes the owner to user', { userId: users.owner.id, role: 'user' });
  await userRow('owner row after demotion by an admin', users.owner.id);
  await s('root restores the owner', { userId: users.owner.id, role: 'owner' }, users.root);
  await s('admin demotes another admin', { userId: users.admin2.id, role: 'user' });
  await s('root restores admin2', { userId: users.admin2.id, role: 'admin' }, users.root);
  await s('unknown role', { userId: users.victim.id, role: 'superuser' });
  await s('role "constructor" (prototype key)', { userId: users.victim.id, role: 'constructor' });
  await userRow('victim row after "constructor"', users.victim.id);
  await s('role "toString"', { userId: users.victim.id, role: 'toString' });
  await s('role array', { userId: users.victim.id, role: ['member', 'admin'] });
  await s('role "member,admin" as one string', { userId: users.victim.id, role: 'member,admin' });
  await s('role "" (empty)', { userId: users.victim.id, role: '' });
  await s('role [] (empty array)', { userId: users.victim.id, role: [] });
  await userRow('victim row after role []', users.victim.id);
  await s('role 5 (schema)', { userId: users.victim.id, role: 5 });
  await s('unknown user', { userId: 'nobody', role: 'user' });
  await s('missing userId (coerced to "undefined")', { role: 'user' });
  await s('userId 123 (number, coerced)', { userId: 123, role: 'user' });
  await s('userId null (coerced to "null")', { userId: null, role: 'user' });
  await s('missing role', { userId: users.victim.id });
  await s('admin promotes itself to owner', { userId: a.id, role: 'owner' });
  await userRow('admin1 row after self-promotion', a.id);
  await get('admin1 session right after (same cookie)', '/get-session', { as: a });
  await s('root restores admin1', { userId: a.id, role: 'admin' }, users.root);
  await s('root restores victim', { userId: users.victim.id, role: 'user' }, users.root);
  await s('owner demotes itself', { userId: users.owner.id, role: 'user' }, users.owner);
  await s('root restores the owner', { userId: users.owner.id, role: 'owner' }, users.root);
});

scenario('update-user', async () => {
  const a = users.admin1;
  const u = (step, body, who = a) => post(step, '/admin/update-user', { json: body, as: who });
  const t = users.target;
  await u('name', { userId: t.id, data: { name: 'Target Renamed' } });
  await u('empty data', { userId: t.id, data: {} });
  await u('no data', { userId: t.id });
  await u('password', { userId: t.id, data: { password: 'password-123' } });
  await u('id', { userId: t.id, data: { id: 'x' } });
  await u('role admin', { userId: t.id, data: { role: 'admin' } });
  await u('role unknown', { userId: t.id, data: { role: 'superuser' } });
  await u('role [5]', { userId: t.id, data: { role: [5] } });
  await u('role ["member","user"]', { userId: t.id, data: { role: ['member', 'user'] } });
  await u('role back to user', { userId: t.id, data: { role: 'user' } });
  await u('email change on a verified address', { userId: users.root.id, data: { email: 'Root2@Example.com' } }, users.root);
  await userRow('root row after email change (verified before)', users.root.id);
  await u('email back', { userId: users.root.id, data: { email: ROOT_EMAIL } }, users.root);
  await u('email taken', { userId: t.id, data: { email: users.owner.email } });
  await u('email invalid', { userId: t.id, data: { email: 'nope' } });
  await u('email own (unchanged)', { userId: t.id, data: { email: t.email } });
  await u('emailVerified true', { userId: t.id, data: { emailVerified: true } });
  await u('createdAt', { userId: t.id, data: { createdAt: '2001-02-03T04:05:06.000Z' } });
  await u('unknown key only', { userId: t.id, data: { nickname: 'n' } });
  await u('phoneNumber (needs user:set-phone)', { userId: t.id, data: { phoneNumber: '+100' } }, users.member1);
  await u('banned true on self', { userId: a.id, data: { banned: true } });
  await u('banned 1 on self (=== true check)', { userId: a.id, data: { banned: 1 } });
  await userRow('admin1 row after banned:1 on self', a.id);
  await u('root unbans admin1', { userId: a.id, data: { banned: false } }, users.root);
  await signIn('admin1 signs in again', a);
  await signIn('target signs in (2 sessions)', t);
  await sessionsOf('target sessions before banned:"yes"', t.id);
  await u('banned "yes" (string)', { userId: t.id, data: { banned: 'yes', banReason: 'string flag' } });
  await userRow('target row after banned "yes"', t.id);
  await sessionsOf('target sessions after banned "yes"', t.id);
  await get('target session still works', '/get-session', { as: t });
  await u('banned true', { userId: t.id, data: { banned: true } });
  await sessionsOf('target sessions after banned true', t.id);
  await u('unban', { userId: t.id, data: { banned: false, banReason: null, banExpires: null } });
  await u('unknown user', { userId: 'nobody', data: { name: 'x' } });
  await u('by member (no user:update)', { userId: t.id, data: { name: 'x' } }, users.member1);
  await signIn('target signs in again', t);
});

scenario('set-user-password', async () => {
  const a = users.admin1;
  const s = (step, body, who = a) => post(step, '/admin/set-user-password', { json: body, as: who });
  await signIn('owner signs in (a second session)', users.owner);
  await sessionsOf('owner sessions before', users.owner.id);
  await s('too short', { userId: users.owner.id, newPassword: 'short' });
  await s('too long', { userId: users.owner.id, newPassword: 'x'.repeat(129) });
  await s('empty', { userId: users.owner.id, newPassword: '' });
  await s('missing userId', { newPassword: 'password-123' });
  await s('empty userId', { userId: '', newPassword: 'password-123' });
  await s('unknown user', { userId: 'nobody', newPassword: 'password-123' });
  await s('too short and unknown user (length first)', { userId: 'nobody', newPassword: 'short' });
  await s('admin sets the owner\'s password', { userId: users.owner.id, newPassword: 'taken-over-123' });
  await sessionsOf('owner sessions after (none ended)', users.owner.id);
  const thief = { label: 'admin1 as owner', cookies: new Map() };
  await post('admin1 signs in as the owner with it', '/sign-in/email', {
    json: { email: users.owner.email, password: 'taken-over-123' },
    as: thief,
  });
  await post('... and uses the owner\'s powers', '/admin/has-permission', {
    json: { permissions: { user: ['impersonate-admins'] } },
    as: thief,
  });
  users.owner.password = 'taken-over-123';
  const c = await post('create a user without a password', '/admin/create-user', {
    json: { email: 'nopass@example.com', name: 'nopass' },
    as: a,
  });
  if (c.body?.user) {
    await s('password for a user without a credential account', { userId: c.body.user.id, newPassword: 'password-123' });
    await rows('its accounts now', 'SELECT provider_id, account_id = user_id AS account_is_user FROM account WHERE user_id = $1', [c.body.user.id]);
  }
});

scenario('ban-user and unban-user', async () => {
  const a = users.admin1;
  const v = users.victim;
  await signIn('victim signs in again (two sessions)', v);
  await sessionsOf('victim sessions before', v.id);
  await post('ban self', '/admin/ban-user', { json: { userId: a.id }, as: a });
  await post('ban unknown', '/admin/ban-user', { json: { userId: 'nobody' }, as: a });
  await post('ban {} (userId "undefined")', '/admin/ban-user', { json: {}, as: a });
  await post('banExpiresIn as a string (schema)', '/admin/ban-user', { json: { userId: v.id, banExpiresIn: '60' }, as: a });
  await post('ban with reason and 1 h expiry', '/admin/ban-user', {
    json: { userId: v.id, banReason: 'spamming', banExpiresIn: 3600 },
    as: a,
  });
  await userRow('victim row after ban', v.id);
  await sessionsOf('victim sessions after ban', v.id);
  await get('victim old cookie', '/get-session', { as: v });
  await signIn('victim signs in while banned', v);
  await post('ban again (already banned, no reason)', '/admin/ban-user', { json: { userId: v.id }, as: a });
  await userRow('victim row after second ban', v.id);
  await post('unban', '/admin/unban-user', { json: { userId: v.id }, as: a });
  await post('unban again (not banned)', '/admin/unban-user', { json: { userId: v.id }, as: a });
  await post('unban unknown', '/admin/unban-user', { json: { userId: 'nobody' }, as: a });
  await post('ban with banExpiresIn 0 (falsy: never expires)', '/admin/ban-user', { json: { userId: v.id, banExpiresIn: 0 }, as: a });
  await userRow('victim row after banExpiresIn 0', v.id);
  await post('ban with banExpiresIn -60 (already over)', '/admin/ban-user', { json: { userId: v.id, banExpiresIn: -60 }, as: a });
  await userRow('victim row after banExpiresIn -60', v.id);
  await signIn('victim signs in after the ban ran out', v);
  await userRow('victim row after that sign-in (lifted)', v.id);
  await post('admin bans the owner', '/admin/ban-user', { json: { userId: users.owner.id, banReason: 'coup' }, as: a });
  await signIn('owner signs in while banned', users.owner);
  await post('root unbans the owner', '/admin/unban-user', { json: { userId: users.owner.id }, as: users.root });
  await signIn('owner signs in again', users.owner);
  // A ban written by SQL (another tool): sessions stay.
  await signIn('other signs in', users.other);
  await rows('ban other by SQL', `UPDATE "user" SET banned = true, ban_reason = 'sql' WHERE id = $1 RETURNING banned`, [users.other.id]);
  await get('other\'s session after a ban by SQL', '/get-session', { as: users.other });
  await post('other (banned) still acts: update-user', '/update-user', { json: { name: 'still here' }, as: users.other });
  await rows('unban other by SQL', `UPDATE "user" SET banned = false, ban_reason = NULL WHERE id = $1 RETURNING banned`, [users.other.id]);
});

scenario('sessions: list-user-sessions, revoke-user-session, revoke-user-sessions', async () => {
  const a = users.admin1;
  const o = users.other;
  await signIn('other signs in (2nd)', o);
  const keep = new Map(o.cookies);
  await signIn('other signs in (3rd)', o);
  const sess = await sessionsOf('other sessions', o.id);
  await rows('expire the oldest by SQL', `UPDATE session SET expires_at = now() - interval '1 hour' WHERE id = $1 RETURNING id`, [sess[0].id]);
  await post('list-user-sessions (expired included?)', '/admin/list-user-sessions', { json: { userId: o.id }, as: a });
  await post('list-user-sessions unknown user', '/admin/list-user-sessions', { json: { userId: 'nobody' }, as: a });
  await post('list-user-sessions {}', '/admin/list-user-sessions', { json: {}, as: a });
  await get('core list-sessions of other', '/list-sessions', { as: o });
  await post('revoke-user-session by token', '/admin/revoke-user-session', { json: { sessionToken: sess[1].token }, as: a });
  await post('revoke-user-session unknown token', '/admin/revoke-user-session', { json: { sessionToken: 'nope' }, as: a });
  await post('revoke-user-session missing token', '/admin/revoke-user-session', { json: {}, as: a });
  await post('revoke-user-session with a session id (not a token)', '/admin/revoke-user-session', { json: { sessionToken: sess[2].id }, as: a });
  await sessionsOf('other sessions after', o.id);
  await post('revoke-user-sessions', '/admin/revoke-user-sessions', { json: { userId: o.id }, as: a });
  await sessionsOf('other sessions after revoke-user-sessions', o.id);
  await get('other old cookie', '/get-session', { as: { label: 'other (kept cookie)', cookies: keep } });
  await post('revoke-user-sessions unknown user', '/admin/revoke-user-sessions', { json: { userId: 'nobody' }, as: a });
  await post('revoke-user-sessions of another admin', '/admin/revoke-user-sessions', { json: { userId: users.admin2.id }, as: a });
  await signIn('other signs in again', o);
  await signIn('admin2 signs in again', users.admin2);
});

scenario('impersonation', async () => {
  const a = users.admin1;
  const t = users.target;
  const before = new Map(a.cookies);
  const imp = await post('admin1 impersonates target', '/admin/impersonate-user', { json: { userId: t.id }, as: a });
  await rows('the impersonation session row', `SELECT user_id, impersonated_by, extract(epoch from (expires_at - created_at))::int AS lifetime_s, ip_address, user_agent, active_organization_id FROM session WHERE token = $1`, [imp.body?.session?.token ?? '']);
  await get('get-session while impersonating', '/get-session', { as: a });
  // The 1-hour limit rests on the dont_remember cookie: a client without it gets the session slid.
  const noFlag = {
    label: 'impersonation session without dont_remember',
    cookies: new Map([...a.cookies].filter(([k]) => k.endsWith('session_token'))),
  };
  await get('get-session with the impersonation cookie but no dont_remember', '/get-session', { as: noFlag });
  await rows('the impersonation session row after that', `SELECT impersonated_by, extract(epoch from (expires_at - created_at))::int AS lifetime_s FROM session WHERE token = $1`, [imp.body?.session?.token ?? '']);
  await get('core list-sessions while impersonating (the hook hides impersonation sessions)', '/list-sessions', { as: a });
  await get('target\'s own list-sessions', '/list-sessions', { as: t });
  await post('admin list-user-sessions of target', '/admin/list-user-sessions', { json: { userId: t.id }, as: users.admin2 });
  await get('impersonated session calls list-users (target is a plain user)', '/admin/list-users', { as: a });
  await post('impersonate again while impersonating a plain user', '/admin/impersonate-user', { json: { userId: users.other.id }, as: a });
  const stop = await post('stop-impersonating', '/admin/stop-impersonating', { as: a });
  void stop;
  await get('get-session after stop', '/get-session', { as: a });
  await rows('impersonation session after stop', 'SELECT count(*)::int AS n FROM session WHERE token = $1', [imp.body?.session?.token ?? '']);
  await post('stop-impersonating again (not impersonating)', '/admin/stop-impersonating', { as: a });
  await post('stop-impersonating with a body', '/admin/stop-impersonating', { json: { x: 1 }, as: a });
  void before;

  await post('impersonate self (admin: an admin role)', '/admin/impersonate-user', { json: { userId: a.id }, as: a });
  await post('impersonate another admin', '/admin/impersonate-user', { json: { userId: users.admin2.id }, as: a });
  await post('impersonate the owner', '/admin/impersonate-user', { json: { userId: users.owner.id }, as: a });
  await post('impersonate root (adminUserIds, role "user")', '/admin/impersonate-user', { json: { userId: ROOT_ID }, as: a });
  await post('impersonate unknown', '/admin/impersonate-user', { json: { userId: 'nobody' }, as: a });
  await post('impersonate {}', '/admin/impersonate-user', { json: {}, as: a });
  await post('ban victim for the next step', '/admin/ban-user', { json: { userId: users.victim.id }, as: a });
  await post('impersonate a banned user', '/admin/impersonate-user', { json: { userId: users.victim.id }, as: a });
  await sessionsOf('victim sessions after that', users.victim.id);
  await post('unban victim', '/admin/unban-user', { json: { userId: users.victim.id }, as: a });
  await post('member impersonates (no user:impersonate)', '/admin/impersonate-user', { json: { userId: t.id }, as: users.member1 });

  // rememberMe:false admin session: the flag rides in admin_session and comes back.
  const forgetful = { label: 'admin2 (rememberMe false)', cookies: new Map() };
  await post('admin2 signs in with rememberMe false', '/sign-in/email', {
    json: { email: users.admin2.email, password: users.admin2.password, rememberMe: false },
    as: forgetful,
  });
  await post('admin2 (rememberMe false) impersonates target', '/admin/impersonate-user', { json: { userId: t.id }, as: forgetful });
  await post('admin2 stops', '/admin/stop-impersonating', { as: forgetful });

  // Nesting: the owner may impersonate admins (impersonate-admins), and as that admin impersonate again.
  const o = users.owner;
  const ownerCookies = new Map(o.cookies);
  await post('owner impersonates admin1', '/admin/impersonate-user', { json: { userId: a.id }, as: o });
  await post('owner-as-admin1 bans someone (acts with admin1\'s powers)', '/admin/ban-user', { json: { userId: users.other.id, banReason: 'by owner as admin1' }, as: o });
  await rows('the ban is indistinguishable', 'SELECT banned, ban_reason FROM "user" WHERE id = $1', [users.other.id]);
  await post('unban other', '/admin/unban-user', { json: { userId: users.other.id }, as: users.root });
  await post('owner-as-admin1 impersonates target (nested)', '/admin/impersonate-user', { json: { userId: t.id }, as: o });
  await rows('sessions carrying impersonated_by now', 'SELECT user_id, impersonated_by, extract(epoch from (expires_at - created_at))::int AS lifetime_s FROM session WHERE impersonated_by IS NOT NULL ORDER BY created_at');
  await get('get-session (nested)', '/get-session', { as: o });
  await post('stop (back to the owner-as-admin1 session)', '/admin/stop-impersonating', { as: o });
  await get('get-session after the first stop', '/get-session', { as: o });
  await post('stop again (admin_session already spent)', '/admin/stop-impersonating', { as: o });
  await get('get-session after the second stop', '/get-session', { as: o });
  await rows('owner\'s original session row still there', 'SELECT count(*)::int AS n FROM session WHERE user_id = $1 AND impersonated_by IS NULL', [o.id]);
  o.cookies = ownerCookies;

  // The owner impersonates itself (an admin role, and it has impersonate-admins).
  await post('owner impersonates itself', '/admin/impersonate-user', { json: { userId: o.id }, as: o });
  await post('owner stops', '/admin/stop-impersonating', { as: o });
  await post('root impersonates itself (adminUserIds)', '/admin/impersonate-user', { json: { userId: ROOT_ID }, as: users.root });
  await post('root stops', '/admin/stop-impersonating', { as: users.root });

  // stop-impersonating without the admin_session cookie, and with the admin's session gone.
  await post('admin1 impersonates target again', '/admin/impersonate-user', { json: { userId: t.id }, as: a });
  const withAdminCookie = new Map(a.cookies);
  const noAdmin = { label: 'impersonation session without admin_session', cookies: new Map([...a.cookies].filter(([k]) => !k.endsWith('admin_session'))) };
  await post('stop without the admin_session cookie', '/admin/stop-impersonating', { as: noAdmin });
  await post('admin2 revokes admin1\'s sessions (the impersonation session is target\'s)', '/admin/revoke-user-sessions', { json: { userId: a.id }, as: users.admin2 });
  a.cookies = withAdminCookie;
  await post('stop after the admin\'s own session was revoked', '/admin/stop-impersonating', { as: a });
  await get('get-session (still the impersonation session?)', '/get-session', { as: a });
  await signIn('admin1 signs in again', a);
  await rows('leftover impersonation sessions', 'SELECT user_id, impersonated_by FROM session WHERE impersonated_by IS NOT NULL');

  // Target revokes its other sessions: the impersonation session goes too.
  await post('admin1 impersonates target once more', '/admin/impersonate-user', { json: { userId: t.id }, as: a });
  await post('target revoke-other-sessions', '/revoke-other-sessions', { as: t });
  await get('impersonation cookie after that', '/get-session', { as: a });
  await signIn('admin1 signs in again', a);
});

scenario('adminUserIds and several roles', async () => {
  const a = users.admin1;
  await post('admin bans root (listed in adminUserIds)', '/admin/ban-user', { json: { userId: ROOT_ID, banReason: 'by an admin' }, as: a });
  await signIn('root signs in while banned', users.root);
  await post('owner unbans root', '/admin/unban-user', { json: { userId: ROOT_ID }, as: users.owner });
  await signIn('root signs in again', users.root);
  const multi = await signUp('multi');
  await post('root gives multi the roles member and admin', '/admin/set-role', { json: { userId: multi.id, role: ['member', 'admin'] }, as: users.root });
  await post('multi: user:ban (from admin)', '/admin/has-permission', { json: { permissions: { user: ['ban'] } }, as: multi });
  await post('multi: console:read + user:ban (one role holds both)', '/admin/has-permission', { json: { permissions: { console: ['read'], user: ['ban'] } }, as: multi });
  await post('admin impersonates multi (holds admin among its roles)', '/admin/impersonate-user', { json: { userId: multi.id }, as: a });
  await post('root gives multi "member, admin" with a space', '/admin/set-role', { json: { userId: multi.id, role: ['member', ' admin'] }, as: users.root });
});

scenario('remove-user', async () => {
  const a = users.admin1;
  await post('remove self', '/admin/remove-user', { json: { userId: a.id }, as: a });
  await post('remove unknown', '/admin/remove-user', { json: { userId: 'nobody' }, as: a });
  const doomed = await signUp('doomed');
  await post('doomed creates an organization', '/organization/create', { json: { name: 'Doomed Org', slug: 'doomed-org' }, as: doomed });
  await post('remove doomed', '/admin/remove-user', { json: { userId: doomed.id }, as: a });
  await rows('doomed rows left', `SELECT (SELECT count(*) FROM "user" WHERE id = $1)::int AS users, (SELECT count(*) FROM session WHERE user_id = $1)::int AS sessions, (SELECT count(*) FROM account WHERE user_id = $1)::int AS accounts, (SELECT count(*) FROM member WHERE user_id = $1)::int AS members, (SELECT count(*) FROM organization WHERE slug = 'doomed-org')::int AS orgs`, [doomed.id]);
  await get('doomed old cookie', '/get-session', { as: doomed });
  await post('admin removes the owner', '/admin/remove-user', { json: { userId: users.owner.id }, as: a });
  const left = await rows('owners left', `SELECT id FROM "user" WHERE role = 'owner'`);
  for (const { id } of left) await post('admin removes another owner', '/admin/remove-user', { json: { userId: id }, as: a });
  await rows('owners left now', `SELECT count(*)::int AS n FROM "user" WHERE role = 'owner'`);
});

// ---------------------------------------------------------------------------------------------

function transcript() {
  const lines = ['# Better Auth 1.7.25 admin plugin: recorded answers', ''];
  let last;
  for (const e of log) {
    if (e.case !== last) {
      lines.push('', `## ${e.case}`, '');
      last = e.case;
    }
    if (e.sql !== undefined) {
      lines.push(`- ${e.step}: \`${e.sql.replace(/\s+/g, ' ')}\` → ${JSON.stringify(e.rows)}`);
    } else if (e.error) {
      lines.push(`- ${e.step}: ERROR ${e.error}`);
    } else {
      lines.push(`- ${e.step}: ${e.request}${e.as ? ` as ${e.as}` : ''}${e.sent !== undefined ? ` ${JSON.stringify(e.sent)}` : ''}`);
      // list-users: each user as "email (role[, banned])", the full objects are in the JSON.
      const body =
        e.body && Array.isArray(e.body.users)
          ? { ...e.body, users: e.body.users.map((u) => `${u.email} (${u.role}${u.banned ? ', banned' : ''})`) }
          : e.body;
      lines.push(`  → ${e.status} ${body !== undefined ? JSON.stringify(body) : JSON.stringify(e.text)}`);
      for (const c of e.setCookie) lines.push(`  set-cookie: ${c}`);
      if (e.location) lines.push(`  location: ${e.location}`);
    }
  }
  return lines.join('\n') + '\n';
}

async function main() {
  await patchReference();
  db = await createPostgresDatabase('orgauth_e2e_admin_ref_');
  let server;
  try {
    await db.exec(referenceSchemaSql());
    await db.exec(ADMIN_COLUMNS_SQL);
    const now = new Date();
    await db.query(
      `INSERT INTO "user" (id, name, email, email_verified, image, created_at, updated_at, role, banned) VALUES ($1, 'root', $2, true, NULL, $3, $3, 'user', false)`,
      [ROOT_ID, ROOT_EMAIL, now],
    );
    await db.query(
      `INSERT INTO account (id, account_id, provider_id, user_id, password, created_at, updated_at) VALUES ($1, $2, 'credential', $2, $3, $4, $4)`,
      [randomBytes(16).toString('hex'), ROOT_ID, hashPassword(ROOT_PASSWORD), now],
    );
    const port = await freePort();
    server = await startReference({ databaseUrl: db.url, port, secret: randomBytes(32).toString('base64url') });
    client = serverClient(server);
    console.log(`reference with admin() on ${server.baseURL}, database ${db.name}`);
    for (const c of cases) {
      currentCase = c.name;
      try {
        await c.fn();
      } catch (e) {
        note('case failed', { error: e.stack ?? String(e) });
        console.error(`case ${c.name}: ${e.stack ?? e}`);
      }
      console.log(`recorded: ${c.name}`);
    }
  } finally {
    await mkdir(OUT, { recursive: true });
    await writeFile(join(OUT, 'observations.json'), JSON.stringify(log, null, 1));
    await writeFile(join(OUT, 'observations.md'), transcript());
    if (server) await writeFile(join(OUT, 'server.log'), server.output());
    await stopAll();
    await db.drop().catch(() => {});
  }
  console.log(`wrote ${join(OUT, 'observations.json')} and observations.md (${log.length} entries)`);
}

await main();
