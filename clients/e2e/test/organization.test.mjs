// The organization plugin through the official client: organizations, invitations (read from the
// mails the server sends), members, roles and permissions, the client-side permission check, the
// query atoms, and the server-only add-member. Teams: test/teams.test.mjs.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fails, ok, setup, uniqueEmail } from '../lib/harness.mjs';
import { runCli } from '../lib/server.mjs';
import { linkIn } from '../lib/smtp.mjs';

let env;
let owner; // creates the organization
let admin; // invited as admin, accepts
let member; // invited as member, rejects once, then accepts
let outsider; // never a member
let unverified; // invited before verifying the address
let org;

before(async () => {
  env = await setup(import.meta.url);
  [owner, admin, member, outsider] = await Promise.all(
    ['owner', 'admin', 'member', 'outsider'].map((p) => env.signUp(p, { verified: true })),
  );
});
after(() => env?.teardown());

const memberIds = async (who, query = {}) =>
  ok(await who.client.organization.listMembers({ query: { organizationId: org.id, ...query } })).members.map(
    (m) => m.userId,
  );

/** Invites `who` as `role` and returns the invitation id carried by the mailed link. */
async function invite(who, role, extra = {}) {
  const inv = ok(await owner.client.organization.inviteMember({ email: who.email, role, ...extra }), 'invite-member');
  const link = linkIn(await env.mail.waitFor(who.email), '/accept-invitation/');
  assert.equal(link.href, `${env.baseURL}/accept-invitation/${inv.id}`, 'the mail carries ORGAUTH_INVITATION_URL');
  return inv;
}

test('checkSlug, create, and the session follows the new organization', async () => {
  const slug = `acme-${Date.now().toString(36)}`;
  assert.deepEqual(ok(await owner.client.organization.checkSlug({ slug }), 'check-slug'), { status: true });
  org = ok(
    await owner.client.organization.create({
      name: 'Acme',
      slug,
      logo: 'https://logo.example.com/a.png',
      metadata: { plan: 'pro' },
    }),
    'create',
  );
  assert.equal(org.name, 'Acme');
  assert.equal(org.slug, slug);
  assert.equal(org.logo, 'https://logo.example.com/a.png');
  assert.deepEqual(org.metadata, { plan: 'pro' }, 'create returns metadata as an object');
  assert.equal(org.members.length, 1);
  assert.equal(org.members[0].userId, owner.id);
  assert.equal(org.members[0].role, 'owner');
  assert.ok(org.createdAt instanceof Date);

  fails(await owner.client.organization.checkSlug({ slug }), 400, 'ORGANIZATION_SLUG_ALREADY_TAKEN');
  fails(await outsider.client.organization.create({ name: 'Copy', slug }), 400, 'ORGANIZATION_ALREADY_EXISTS');
  fails(await env.newUser('anon').client.organization.create({ name: 'X', slug: 'x-anon' }), 401);

  const { session } = ok(await owner.client.getSession());
  assert.equal(session.activeOrganizationId, org.id);
  assert.ok(session.activeTeamId, 'the default team is active');

  // keepCurrentActiveOrganization: the outsider's own organization does not become active.
  const side = ok(
    await outsider.client.organization.create({
      name: 'Side',
      slug: `${slug}-side`,
      keepCurrentActiveOrganization: true,
    }),
  );
  assert.equal(ok(await outsider.client.getSession()).session.activeOrganizationId, null);
  ok(await outsider.client.organization.delete({ organizationId: side.id }));
  assert.deepEqual(ok(await outsider.client.organization.list()), []);
});

test('list, getOrganization and getFullOrganization show it to members only', async () => {
  const list = ok(await owner.client.organization.list(), 'list');
  assert.deepEqual(
    list.map((o) => o.id),
    [org.id],
  );
  assert.equal(list[0].metadata, '{"plan":"pro"}', 'reads return the stored metadata string');
  assert.deepEqual(ok(await outsider.client.organization.list()), []);

  const got = ok(
    await owner.client.organization.getOrganization({ query: { organizationId: org.id } }),
    'get-organization',
  );
  assert.equal(got.id, org.id);
  assert.equal(got.slug, org.slug);
  assert.equal(ok(await owner.client.organization.getOrganization()).id, org.id, 'defaults to the active one');

  const full = ok(await owner.client.organization.getFullOrganization(), 'get-full-organization');
  assert.equal(full.id, org.id);
  assert.deepEqual(full.invitations, []);
  assert.equal(full.members.length, 1);
  assert.deepEqual(full.members[0].user, { id: owner.id, name: owner.name, email: owner.email, image: null });
  assert.equal(full.teams.length, 1);
  assert.equal(full.teams[0].name, 'Acme');
  assert.equal(full.teams[0].memberCount, 1);
  const bySlug = ok(await owner.client.organization.getFullOrganization({ query: { organizationSlug: org.slug } }));
  assert.equal(bySlug.id, org.id);

  fails(await outsider.client.organization.getFullOrganization({ query: { organizationId: org.id } }), 403);
  fails(await outsider.client.organization.getOrganization({ query: { organizationId: org.id } }), 403);
  assert.equal(ok(await outsider.client.organization.getFullOrganization()), null, 'no active organization: null');
});

test('update changes name and metadata for those allowed', async () => {
  const updated = ok(
    await owner.client.organization.update({ data: { name: 'Acme Inc', metadata: { plan: 'team' } } }),
    'update',
  );
  assert.equal(updated.name, 'Acme Inc');
  assert.deepEqual(updated.metadata, { plan: 'team' });
  const got = ok(await owner.client.organization.getOrganization({ query: { organizationId: org.id } }));
  assert.equal(got.name, 'Acme Inc');
  assert.equal(got.metadata, '{"plan":"team"}');
  fails(
    await outsider.client.organization.update({ organizationId: org.id, data: { name: 'Pwned' } }),
    400,
    'USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION',
  );
  assert.equal(ok(await owner.client.organization.getOrganization()).name, 'Acme Inc');
});

test('setActive by id, by slug, and null', async () => {
  assert.equal(ok(await owner.client.organization.setActive({ organizationId: null }), 'set-active'), null);
  assert.equal(ok(await owner.client.getSession()).session.activeOrganizationId, null);
  assert.equal(ok(await owner.client.organization.getFullOrganization()), null);

  const bySlug = ok(await owner.client.organization.setActive({ organizationSlug: org.slug }));
  assert.equal(bySlug.id, org.id);
  assert.equal(bySlug.metadata, '{"plan":"team"}', 'set-active returns the stored metadata string');
  assert.equal(ok(await owner.client.getSession()).session.activeOrganizationId, org.id);
  assert.equal(ok(await owner.client.organization.setActive({ organizationId: org.id })).id, org.id);

  fails(
    await outsider.client.organization.setActive({ organizationId: org.id }),
    403,
    'USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION',
  );
  assert.equal(ok(await outsider.client.getSession()).session.activeOrganizationId, null);
});

test('inviteMember mails the invitee; getInvitation, listUserInvitations, acceptInvitation', async () => {
  const inv = await invite(admin, 'admin');
  assert.equal(inv.email, admin.email);
  assert.equal(inv.role, 'admin');
  assert.equal(inv.status, 'pending');
  assert.equal(inv.organizationId, org.id);
  assert.equal(inv.inviterId, owner.id);
  assert.ok(inv.expiresAt > new Date(), 'expires in the future');

  fails(
    await owner.client.organization.inviteMember({ email: admin.email, role: 'admin' }),
    400,
    'USER_IS_ALREADY_INVITED_TO_THIS_ORGANIZATION',
  );
  fails(
    await owner.client.organization.inviteMember({ email: uniqueEmail('x'), role: 'emperor' }),
    400,
    'ROLE_NOT_FOUND',
  );
  // resend: the same invitation, mailed again.
  const resent = ok(await owner.client.organization.inviteMember({ email: admin.email, role: 'admin', resend: true }));
  assert.equal(resent.id, inv.id);
  linkIn(await env.mail.waitFor(admin.email), '/accept-invitation/');

  const seen = ok(await admin.client.organization.getInvitation({ query: { id: inv.id } }), 'get-invitation');
  assert.equal(seen.id, inv.id);
  assert.equal(seen.organizationName, 'Acme Inc');
  assert.equal(seen.organizationSlug, org.slug);
  assert.equal(seen.inviterEmail, owner.email);
  fails(
    await outsider.client.organization.getInvitation({ query: { id: inv.id } }),
    403,
    'YOU_ARE_NOT_THE_RECIPIENT_OF_THE_INVITATION',
  );

  const mine = ok(await admin.client.organization.listUserInvitations(), 'list-user-invitations');
  assert.deepEqual(
    mine.map((i) => [i.id, i.organizationName]),
    [[inv.id, 'Acme Inc']],
  );

  fails(
    await outsider.client.organization.acceptInvitation({ invitationId: inv.id }),
    403,
    'YOU_ARE_NOT_THE_RECIPIENT_OF_THE_INVITATION',
  );
  const accepted = ok(await admin.client.organization.acceptInvitation({ invitationId: inv.id }), 'accept-invitation');
  assert.equal(accepted.invitation.status, 'accepted');
  assert.equal(accepted.member.userId, admin.id);
  assert.equal(accepted.member.role, 'admin');
  assert.equal(accepted.member.organizationId, org.id);
  assert.equal(ok(await admin.client.getSession()).session.activeOrganizationId, org.id);
  assert.deepEqual(ok(await admin.client.organization.listUserInvitations()), []);
  fails(await admin.client.organization.acceptInvitation({ invitationId: inv.id }), 400, 'INVITATION_NOT_FOUND');
  assert.deepEqual((await memberIds(owner)).sort(), [owner.id, admin.id].sort());
  fails(
    await owner.client.organization.inviteMember({ email: admin.email, role: 'member' }),
    400,
    'USER_IS_ALREADY_A_MEMBER_OF_THIS_ORGANIZATION',
  );
});

test('rejectInvitation declines; a new invitation can then be accepted', async () => {
  const first = await invite(member, 'member');
  const rejected = ok(
    await member.client.organization.rejectInvitation({ invitationId: first.id }),
    'reject-invitation',
  );
  assert.equal(rejected.invitation.status, 'rejected');
  assert.equal(rejected.member, null);
  assert.deepEqual(ok(await member.client.organization.listUserInvitations()), []);
  assert.ok(!(await memberIds(owner)).includes(member.id));

  const second = await invite(member, 'member');
  assert.notEqual(second.id, first.id);
  ok(await member.client.organization.acceptInvitation({ invitationId: second.id }));
  assert.ok((await memberIds(owner)).includes(member.id));
});

test('an unverified address can neither list nor accept its invitations', async () => {
  unverified = await env.signUp('unverified');
  const inv = await invite(unverified, 'member');
  fails(await unverified.client.organization.listUserInvitations(), 403, 'EMAIL_VERIFICATION_REQUIRED_FOR_INVITATION');
  fails(await unverified.client.organization.acceptInvitation({ invitationId: inv.id }), 403);
  assert.ok(!(await memberIds(owner)).includes(unverified.id));
  // Once verified (through the mailed link), the same invitation is theirs to accept.
  await env.verifyEmail(unverified);
  assert.deepEqual(
    ok(await unverified.client.organization.listUserInvitations()).map((i) => i.id),
    [inv.id],
  );
  ok(await unverified.client.organization.rejectInvitation({ invitationId: inv.id }));
});

test('cancelInvitation and listInvitations', async () => {
  const target = await env.signUp('late', { verified: true });
  const inv = await invite(target, 'member');
  fails(await member.client.organization.cancelInvitation({ invitationId: inv.id }), 403);
  const canceled = ok(await admin.client.organization.cancelInvitation({ invitationId: inv.id }), 'cancel-invitation');
  assert.equal(canceled.id, inv.id);
  assert.equal(canceled.status, 'canceled');
  fails(await target.client.organization.acceptInvitation({ invitationId: inv.id }), 400, 'INVITATION_NOT_FOUND');
  assert.deepEqual(ok(await target.client.organization.listUserInvitations()), []);

  let total;
  const all = ok(
    await owner.client.organization.listInvitations({
      query: { organizationId: org.id },
      fetchOptions: { onSuccess: (ctx) => (total = ctx.response.headers.get('x-total-count')) },
    }),
    'list-invitations',
  );
  const seen = all.map((i) => `${i.email} ${i.role} ${i.status}`).sort();
  const expected = [
    `${admin.email} admin accepted`,
    `${member.email} member rejected`,
    `${member.email} member accepted`,
    `${unverified.email} member rejected`,
    `${target.email} member canceled`,
  ].sort();
  assert.deepEqual(seen, expected, 'every invitation of the organization, in every status');
  assert.equal(total, '5', 'docs/compatibility.md: X-Total-Count');
  const page = ok(await owner.client.organization.listInvitations({ query: { limit: 2, offset: 1 } }));
  assert.equal(page.length, 2, 'docs/compatibility.md: limit and offset');
  fails(await member.client.organization.listInvitations(), 403, 'YOU_ARE_NOT_ALLOWED_TO_LIST_INVITATIONS');
  fails(await outsider.client.organization.listInvitations({ query: { organizationId: org.id } }), 403);
});

test('listInvitations without an organization answers 400 NO_ACTIVE_ORGANIZATION (docs/compatibility.md)', async () => {
  assert.equal(ok(await outsider.client.getSession()).session.activeOrganizationId, null);
  fails(await outsider.client.organization.listInvitations(), 400, 'NO_ACTIVE_ORGANIZATION');
});

test('listMembers pages, sorts and filters; getActiveMember and getActiveMemberRole', async () => {
  const all = ok(await owner.client.organization.listMembers(), 'list-members');
  assert.equal(all.total, 3);
  const byUser = Object.fromEntries(all.members.map((m) => [m.userId, m]));
  assert.equal(byUser[owner.id].role, 'owner');
  assert.equal(byUser[admin.id].role, 'admin');
  assert.equal(byUser[member.id].role, 'member');
  assert.equal(byUser[member.id].user.email, member.email);

  const page = ok(
    await owner.client.organization.listMembers({
      query: { limit: 1, offset: 1, sortBy: 'createdAt', sortDirection: 'asc' },
    }),
  );
  assert.equal(page.total, 3);
  assert.deepEqual(
    page.members.map((m) => m.userId),
    [admin.id],
  );
  const admins = ok(
    await owner.client.organization.listMembers({ query: { filterField: 'role', filterValue: 'admin' } }),
  );
  assert.deepEqual(
    admins.members.map((m) => m.userId),
    [admin.id],
  );
  assert.equal(admins.total, 1);
  fails(
    await outsider.client.organization.listMembers({ query: { organizationId: org.id } }),
    403,
    'YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION',
  );

  const active = ok(await admin.client.organization.getActiveMember(), 'get-active-member');
  assert.equal(active.userId, admin.id);
  assert.equal(active.role, 'admin');
  assert.equal(active.user.email, admin.email);
  fails(await outsider.client.organization.getActiveMember(), 400, 'NO_ACTIVE_ORGANIZATION');

  assert.deepEqual(ok(await member.client.organization.getActiveMemberRole(), 'get-active-member-role'), {
    role: 'member',
  });
  assert.deepEqual(ok(await member.client.organization.getActiveMemberRole({ query: { userId: owner.id } })), {
    role: 'owner',
  });
  fails(
    await outsider.client.organization.getActiveMemberRole({ query: { organizationId: org.id } }),
    403,
    'YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION',
  );
});

test('updateMemberRole follows the owner rules', async () => {
  const members = ok(await owner.client.organization.listMembers()).members;
  const id = (u) => members.find((m) => m.userId === u.id).id;

  const promoted = ok(
    await owner.client.organization.updateMemberRole({ memberId: id(member), role: ['member', 'admin'] }),
    'update-member-role',
  );
  assert.equal(promoted.id, id(member));
  assert.equal(promoted.role, 'member,admin');
  assert.deepEqual(ok(await member.client.organization.getActiveMemberRole()), { role: 'member,admin' });
  ok(await owner.client.organization.updateMemberRole({ memberId: id(member), role: 'member' }));
  assert.deepEqual(ok(await member.client.organization.getActiveMemberRole()), { role: 'member' });

  fails(
    await admin.client.organization.updateMemberRole({ memberId: id(member), role: 'owner' }),
    403,
    'YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER',
  );
  fails(
    await admin.client.organization.updateMemberRole({ memberId: id(owner), role: 'member' }),
    403,
    'YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER',
  );
  fails(
    await owner.client.organization.updateMemberRole({ memberId: id(owner), role: 'admin' }),
    400,
    'YOU_CANNOT_LEAVE_THE_ORGANIZATION_WITHOUT_AN_OWNER',
  );
  fails(await member.client.organization.updateMemberRole({ memberId: id(admin), role: 'member' }), 403);
  fails(
    await owner.client.organization.updateMemberRole({ memberId: id(member), role: 'emperor' }),
    400,
    'ROLE_NOT_FOUND',
  );
  assert.equal(
    ok(await owner.client.organization.listMembers()).members.find((m) => m.userId === owner.id).role,
    'owner',
  );
});

test('hasPermission on the server agrees with checkRolePermission in the client', async () => {
  const asks = [
    { organization: ['update'] },
    { organization: ['delete'] },
    { member: ['create', 'delete'] },
    { invitation: ['create'] },
    { team: ['create'] },
    { ac: ['read'] },
    { organization: ['delete'], ac: ['read'] },
  ];
  const expected = {
    owner: [true, true, true, true, true, true, true],
    admin: [true, false, true, true, true, true, false],
    member: [false, false, false, false, false, true, false],
  };
  for (const [role, who] of [
    ['owner', owner],
    ['admin', admin],
    ['member', member],
  ]) {
    for (const [i, permissions] of asks.entries()) {
      const local = owner.client.organization.checkRolePermission({ role, permissions });
      const remote = ok(await who.client.organization.hasPermission({ permissions }), 'has-permission');
      assert.equal(local, expected[role][i], `client: ${role} ${JSON.stringify(permissions)}`);
      assert.deepEqual(
        remote,
        { error: null, success: expected[role][i] },
        `server: ${role} ${JSON.stringify(permissions)}`,
      );
    }
  }
  fails(
    await outsider.client.organization.hasPermission({ organizationId: org.id, permissions: { ac: ['read'] } }),
    401,
    'USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION',
  );
  // The deprecated `permission` key always answers false; both keys at once are refused.
  assert.deepEqual(ok(await owner.client.organization.hasPermission({ permission: { ac: ['read'] } })), {
    error: null,
    success: false,
  });
  fails(
    await owner.client.organization.hasPermission({ permission: { ac: ['read'] }, permissions: { ac: ['read'] } }),
    400,
  );
});

test("the client's query atoms load what the server says", async () => {
  const load = async (atom) => {
    await atom.get().refetch();
    const v = atom.get();
    assert.equal(v.error, null, JSON.stringify(v.error));
    return v.data;
  };
  assert.equal((await load(admin.client.useSession)).user.id, admin.id);
  assert.deepEqual(
    (await load(admin.client.useListOrganizations)).map((o) => o.id),
    [org.id],
  );
  const active = await load(admin.client.useActiveOrganization);
  assert.equal(active.id, org.id);
  assert.equal(active.members.length, 3);
  assert.equal((await load(admin.client.useActiveMember)).role, 'admin');
  assert.deepEqual(await load(admin.client.useActiveMemberRole), { role: 'admin' });
});

test("removeMember by email: the member list and the removed user's session forget them", async () => {
  fails(
    await member.client.organization.removeMember({ memberIdOrEmail: admin.email }),
    401,
    'YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_MEMBER',
  );
  fails(await admin.client.organization.removeMember({ memberIdOrEmail: owner.email }), 400);
  const removed = ok(await admin.client.organization.removeMember({ memberIdOrEmail: member.email }), 'remove-member');
  assert.equal(removed.member.userId, member.id);
  assert.ok(!(await memberIds(owner)).includes(member.id));
  assert.equal(ok(await member.client.getSession()).session.activeOrganizationId, null);
  assert.deepEqual(ok(await member.client.organization.list()), []);
  fails(await member.client.organization.getFullOrganization({ query: { organizationId: org.id } }), 403);
});

test('leave: a member can, the only owner cannot', async () => {
  const left = ok(await admin.client.organization.leave({ organizationId: org.id }), 'leave');
  assert.equal(left.userId, admin.id);
  assert.deepEqual(await memberIds(owner), [owner.id]);
  assert.equal(ok(await admin.client.getSession()).session.activeOrganizationId, null);
  fails(
    await owner.client.organization.leave({ organizationId: org.id }),
    400,
    'YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER',
  );
  fails(await outsider.client.organization.leave({ organizationId: org.id }), 400, 'MEMBER_NOT_FOUND');
});

test('add-member has no HTTP route; `orgauth add-member` on the server adds', async () => {
  fails(
    await owner.client.$fetch('/organization/add-member', {
      method: 'POST',
      body: { userId: outsider.id, role: 'member', organizationId: org.id },
    }),
    404,
  );
  assert.ok(!(await memberIds(owner)).includes(outsider.id));
  const cli = await runCli(['add-member', '--organization', org.slug, '--email', outsider.email, '--role', 'member'], {
    DATABASE_URL: env.db.url,
    ORGAUTH_AUTO_MIGRATE: 'false',
  });
  assert.equal(cli.code, 0, cli.stderr);
  assert.equal(JSON.parse(cli.stdout).userId, outsider.id);
  assert.ok((await memberIds(owner)).includes(outsider.id));
  assert.deepEqual(
    ok(await outsider.client.organization.list()).map((o) => o.id),
    [org.id],
  );
});

test('delete: only the owner; the organization is gone for everyone', async () => {
  fails(await outsider.client.organization.delete({ organizationId: org.id }), 403);
  const deleted = ok(await owner.client.organization.delete({ organizationId: org.id }), 'delete');
  assert.equal(deleted.id, org.id);
  assert.deepEqual(ok(await owner.client.organization.list()), []);
  assert.deepEqual(ok(await outsider.client.organization.list()), []);
  assert.equal(ok(await owner.client.getSession()).session.activeOrganizationId, null);
  fails(
    await owner.client.organization.getFullOrganization({ query: { organizationSlug: org.slug } }),
    400,
    'ORGANIZATION_NOT_FOUND',
  );
  assert.deepEqual(
    ok(await owner.client.organization.checkSlug({ slug: org.slug })),
    { status: true },
    'the slug is free again',
  );
});

test(
  'get-organization and get-full-organization of an unknown id answer 400 ORGANIZATION_NOT_FOUND',
  async () => {
    fails(
      await owner.client.organization.getFullOrganization({ query: { organizationId: org.id } }),
      400,
      'ORGANIZATION_NOT_FOUND',
    );
    fails(
      await owner.client.organization.getOrganization({ query: { organizationId: org.id } }),
      400,
      'ORGANIZATION_NOT_FOUND',
    );
  },
);

test('SIGTERM stops the server with exit code 0', async () => {
  assert.deepEqual(await env.stop(), { code: 0, signal: null }, env.server.output().slice(-2000));
});
