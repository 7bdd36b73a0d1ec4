// The client surface of better-auth 1.7.25 with organizationClient({ teams: { enabled: true } }),
// found in the installed package (node_modules/better-auth/dist: client/proxy.mjs turns a call such
// as client.organization.listTeams() into GET /organization/list-teams; the routes are the
// endpoints of api/index.mjs and plugins/organization/organization.mjs; client/path-to-object.d.mts
// leaves out endpoints without a path or with metadata SERVER_ONLY, scope "server"/"http" or
// isAction false). This file checks the list below against the installed package, then checks
// that the runs of core/organization/teams/social.test.mjs on SQLite and on PostgreSQL called each
// route as expected (lib/harness.mjs records every request a simulated user makes; run.sh runs this file
// after both).
//
// Core                                         route
//   signUp.email                               POST /sign-up/email            core.test.mjs
//   signIn.email                               POST /sign-in/email            core
//   signOut                                    POST /sign-out                 core
//   getSession (+ the useSession atom)         GET  /get-session              core, organization
//   listSessions                               GET  /list-sessions            core
//   revokeSession                              POST /revoke-session           core
//   revokeSessions                             POST /revoke-sessions          core
//   revokeOtherSessions                        POST /revoke-other-sessions    core
//   updateUser                                 POST /update-user              core
//   changePassword                             POST /change-password          core
//   changeEmail                                POST /change-email             core
//   deleteUser                                 POST /delete-user              core
//   deleteUser.callback (the mailed link)      GET  /delete-user/callback     core
//   sendVerificationEmail                      POST /send-verification-email  core
//   verifyEmail (and the mailed link)          GET  /verify-email             core
//   requestPasswordReset                       POST /request-password-reset   core
//   resetPassword[":token"] (the mailed link)  GET  /reset-password/:token    core
//   resetPassword                              POST /reset-password           core
//   listAccounts                               GET  /list-accounts            core, social (a social account)
//   unlinkAccount                              POST /unlink-account           social; core: 400 FAILED_TO_UNLINK_LAST_ACCOUNT
//   updateSession                              POST /update-session           core: 400, no session fields to set
//   signIn.social                              POST /sign-in/social           social.test.mjs, with a generic OpenID
//                                                                             provider (the callback is the browser's part)
//   linkSocial                                 POST /link-social              social
//   getAccessToken                             POST /get-access-token         social
//   refreshToken                               POST /refresh-token            social
//   accountInfo                                GET  /account-info             social
// organization.*                               route under /organization      organization.test.mjs unless noted
//   create, checkSlug, update, delete, setActive, getOrganization, getFullOrganization, list,
//   inviteMember, cancelInvitation, acceptInvitation, rejectInvitation, getInvitation,
//   listInvitations, listUserInvitations, getActiveMember, getActiveMemberRole, listMembers,
//   removeMember, updateMemberRole, leave, hasPermission
//   createTeam, listTeams, updateTeam, removeTeam, setActiveTeam, listUserTeams,
//   listTeamMembers, addTeamMember, removeTeamMember                          teams.test.mjs
//   checkRolePermission: client-side, no request; compared with the server's has-permission
// Client plumbing: the query atoms useSession, useListOrganizations, useActiveOrganization,
//   useActiveMember, useActiveMemberRole (refetched and compared with the server in
//   organization.test.mjs); $fetch (used for routes without a client method); $store and
//   hydrateSession are browser-only state plumbing (hydrateSession does nothing without `window`)
//   and are not exercised.
// Not client calls: POST /organization/add-member, asserted as 404 because orgauth does not offer
//   it (Better Auth's addMember is server-only; `orgauth add-member` on the command line is
//   exercised instead); POST /verify-password, server-scoped in Better Auth but served over HTTP,
//   called through $fetch.
// Not in this client configuration: the dynamic access control calls (createRole, deleteRole,
//   listRoles, getRole, updateRole) exist only with dynamicAccessControl enabled.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { betterAuth } from 'better-auth';
import { organization } from 'better-auth/plugins';
import { callsDir } from '../lib/harness.mjs';

const ok = 'ok';
// [method, route, expected answer, file that exercises it]
const SURFACE = [
  ['POST', '/sign-up/email', ok, 'core'],
  ['POST', '/sign-in/email', ok, 'core'],
  ['POST', '/sign-out', ok, 'core'],
  ['GET', '/get-session', ok, 'core'],
  ['GET', '/list-sessions', ok, 'core'],
  ['POST', '/revoke-session', ok, 'core'],
  ['POST', '/revoke-sessions', ok, 'core'],
  ['POST', '/revoke-other-sessions', ok, 'core'],
  ['POST', '/update-user', ok, 'core'],
  ['POST', '/change-password', ok, 'core'],
  ['POST', '/change-email', ok, 'core'],
  ['POST', '/delete-user', ok, 'core'],
  ['GET', '/delete-user/callback', ok, 'core'],
  ['POST', '/send-verification-email', ok, 'core'],
  ['GET', '/verify-email', ok, 'core'],
  ['POST', '/request-password-reset', ok, 'core'],
  ['GET', '/reset-password/:token', ok, 'core'],
  ['POST', '/reset-password', ok, 'core'],
  ['GET', '/list-accounts', ok, 'core'],
  ['POST', '/unlink-account', ok, 'social'],
  ['POST', '/update-session', 400, 'core'],
  ['POST', '/sign-in/social', ok, 'social'],
  ['POST', '/link-social', ok, 'social'],
  ['POST', '/get-access-token', ok, 'social'],
  ['POST', '/refresh-token', ok, 'social'],
  ['GET', '/account-info', ok, 'social'],
  ['POST', '/organization/create', ok, 'organization'],
  ['POST', '/organization/check-slug', ok, 'organization'],
  ['POST', '/organization/update', ok, 'organization'],
  ['POST', '/organization/delete', ok, 'organization'],
  ['POST', '/organization/set-active', ok, 'organization'],
  ['GET', '/organization/get-organization', ok, 'organization'],
  ['GET', '/organization/get-full-organization', ok, 'organization'],
  ['GET', '/organization/list', ok, 'organization'],
  ['POST', '/organization/invite-member', ok, 'organization'],
  ['POST', '/organization/cancel-invitation', ok, 'organization'],
  ['POST', '/organization/accept-invitation', ok, 'organization'],
  ['POST', '/organization/reject-invitation', ok, 'organization'],
  ['GET', '/organization/get-invitation', ok, 'organization'],
  ['GET', '/organization/list-invitations', ok, 'organization'],
  ['GET', '/organization/list-user-invitations', ok, 'organization'],
  ['GET', '/organization/get-active-member', ok, 'organization'],
  ['GET', '/organization/get-active-member-role', ok, 'organization'],
  ['GET', '/organization/list-members', ok, 'organization'],
  ['POST', '/organization/remove-member', ok, 'organization'],
  ['POST', '/organization/update-member-role', ok, 'organization'],
  ['POST', '/organization/leave', ok, 'organization'],
  ['POST', '/organization/has-permission', ok, 'organization'],
  ['POST', '/organization/create-team', ok, 'teams'],
  ['GET', '/organization/list-teams', ok, 'teams'],
  ['POST', '/organization/update-team', ok, 'teams'],
  ['POST', '/organization/remove-team', ok, 'teams'],
  ['POST', '/organization/set-active-team', ok, 'teams'],
  ['GET', '/organization/list-user-teams', ok, 'teams'],
  ['GET', '/organization/list-team-members', ok, 'teams'],
  ['POST', '/organization/add-team-member', ok, 'teams'],
  ['POST', '/organization/remove-team-member', ok, 'teams'],
];
// Not client calls (see above).
const NOT_CLIENT_CALLS = [
  ['POST', '/organization/add-member', 404, 'organization'],
  ['POST', '/verify-password', ok, 'core'],
];

test('the list above is the client surface of the installed better-auth', () => {
  // A betterAuth() instance is only built to read its endpoint table; it serves nothing.
  const auth = betterAuth({
    secret: randomBytes(32).toString('hex'),
    baseURL: 'http://127.0.0.1:1',
    emailAndPassword: { enabled: true },
    plugins: [organization({ teams: { enabled: true } })],
    logger: { disabled: true },
  });
  const hidden = (m = {}) => m.SERVER_ONLY || m.isAction === false || m.scope === 'server' || m.scope === 'http';
  const reachable = Object.values(auth.api)
    .filter((e) => e.path && !hidden(e.options?.metadata))
    .map((e) => e.path)
    .sort();
  assert.deepEqual(reachable, SURFACE.map(([, route]) => route).sort());
  for (const route of NOT_CLIENT_CALLS.map(([, r]) => r))
    assert.ok(!reachable.includes(route), `${route} is not a client call`);
});

for (const kind of ['sqlite', 'postgres']) {
  test(`the run on ${kind} exercised every entry as expected`, async () => {
    const calls = [];
    for (const file of ['core', 'organization', 'teams', 'social']) {
      const path = join(callsDir(kind), `${file}.test.mjs.json`);
      const recorded = JSON.parse(await readFile(path, 'utf8').catch(() => 'null'));
      assert.ok(recorded, `${path} is missing: did ${file}.test.mjs run on ${kind}?`);
      calls.push(...recorded.map((c) => ({ ...c, file })));
    }
    for (const [method, route, expect, file] of [...SURFACE, ...NOT_CLIENT_CALLS]) {
      const hits = calls.filter((c) => c.method === method && c.route === route);
      const what = `${method} ${route}`;
      const wanted = hits.filter((c) => c.file === file);
      const good = expect === ok ? (c) => c.status >= 200 && c.status < 400 : (c) => c.status === expect;
      assert.ok(
        wanted.some(good),
        `${what}: expected ${expect} in ${file}.test.mjs, got ${JSON.stringify(wanted.map((c) => c.status))}`,
      );
    }
  });
}
