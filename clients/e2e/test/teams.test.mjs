// Teams through the official client (organizationClient({ teams: { enabled: true } })): the default
// team, create/list/update/remove, team members, the active team, invitations into a team.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fails, ok, setup } from '../lib/harness.mjs';
import { linkIn } from '../lib/smtp.mjs';

let env;
let owner;
let alice; // joins through an invitation naming a team
let bob; // plain member, added to teams by the owner
let org;
let defaultTeam;
let blue;

before(async () => {
  env = await setup(import.meta.url);
  [owner, alice, bob] = await Promise.all(['owner', 'alice', 'bob'].map((p) => env.signUp(p, { verified: true })));
  org = ok(await owner.client.organization.create({ name: 'Teamco', slug: `teamco-${Date.now().toString(36)}` }));
});
after(() => env?.teardown());

const teamNames = async (who, query) =>
  ok(await who.client.organization.listTeams(query && { query }))
    .map((t) => t.name)
    .sort();
const teamMemberIds = async (who, teamId) =>
  ok(await who.client.organization.listTeamMembers({ query: { teamId } }))
    .map((m) => m.userId)
    .sort();

async function join(user, role, teamId) {
  const inv = ok(await owner.client.organization.inviteMember({ email: user.email, role, ...(teamId && { teamId }) }));
  const link = linkIn(await env.mail.waitFor(user.email), '/accept-invitation/');
  const id = link.pathname.split('/').pop();
  assert.equal(id, inv.id);
  return ok(await user.client.organization.acceptInvitation({ invitationId: id }));
}

test('the organization starts with a default team holding its creator', async () => {
  const teams = ok(await owner.client.organization.listTeams(), 'list-teams');
  assert.equal(teams.length, 1);
  [defaultTeam] = teams;
  assert.equal(defaultTeam.name, 'Teamco');
  assert.equal(defaultTeam.organizationId, org.id);
  assert.equal(ok(await owner.client.getSession()).session.activeTeamId, defaultTeam.id);
  assert.deepEqual(await teamMemberIds(owner, defaultTeam.id), [owner.id]);
  assert.deepEqual(
    ok(await owner.client.organization.listTeamMembers()).map((m) => m.userId),
    [owner.id],
    'defaults to the active team',
  );
});

test('createTeam and updateTeam', async () => {
  blue = ok(await owner.client.organization.createTeam({ name: 'Blue' }), 'create-team');
  assert.equal(blue.name, 'Blue');
  assert.equal(blue.organizationId, org.id);
  assert.ok(blue.createdAt instanceof Date);
  assert.deepEqual(await teamNames(owner), ['Blue', 'Teamco']);
  assert.deepEqual(await teamMemberIds(owner, defaultTeam.id), [owner.id]);
  fails(
    await owner.client.organization.listTeamMembers({ query: { teamId: blue.id } }),
    400,
    'USER_IS_NOT_A_MEMBER_OF_THE_TEAM',
  );

  const renamed = ok(
    await owner.client.organization.updateTeam({ teamId: blue.id, data: { name: 'Navy' } }),
    'update-team',
  );
  assert.equal(renamed.id, blue.id);
  assert.equal(renamed.name, 'Navy');
  assert.deepEqual(await teamNames(owner, { organizationId: org.id }), ['Navy', 'Teamco']);
});

test('an invitation naming a team puts the new member in it and makes it active', async () => {
  const inv = await join(alice, 'member', blue.id);
  assert.equal(inv.member.userId, alice.id);
  const { session } = ok(await alice.client.getSession());
  assert.equal(session.activeOrganizationId, org.id);
  assert.equal(session.activeTeamId, blue.id, 'exactly one team: it becomes active');
  assert.deepEqual(await teamMemberIds(alice, blue.id), [alice.id]);
  const full = ok(await owner.client.organization.getFullOrganization());
  assert.deepEqual(full.teams.map((t) => [t.name, t.memberCount]).sort(), [
    ['Navy', 1],
    ['Teamco', 1],
  ]);
  // A plain member may list the teams but not manage them.
  assert.deepEqual(await teamNames(alice), ['Navy', 'Teamco']);
  fails(
    await alice.client.organization.createTeam({ name: 'Rogue' }),
    403,
    'YOU_ARE_NOT_ALLOWED_TO_CREATE_TEAMS_IN_THIS_ORGANIZATION',
  );
  fails(
    await alice.client.organization.updateTeam({ teamId: blue.id, data: { name: 'Mine' } }),
    403,
    'YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_TEAM',
  );
});

test('addTeamMember, listTeamMembers, listUserTeams, removeTeamMember', async () => {
  await join(bob, 'member');
  fails(
    await bob.client.organization.listTeamMembers({ query: { teamId: blue.id } }),
    400,
    'USER_IS_NOT_A_MEMBER_OF_THE_TEAM',
  );
  fails(
    await alice.client.organization.addTeamMember({ teamId: blue.id, userId: bob.id }),
    403,
    'YOU_ARE_NOT_ALLOWED_TO_CREATE_A_NEW_TEAM_MEMBER',
  );

  const added = ok(
    await owner.client.organization.addTeamMember({ teamId: blue.id, userId: bob.id }),
    'add-team-member',
  );
  assert.equal(added.teamId, blue.id);
  assert.equal(added.userId, bob.id);
  const again = ok(await owner.client.organization.addTeamMember({ teamId: blue.id, userId: bob.id }));
  assert.equal(again.id, added.id, 'adding twice returns the existing membership');
  ok(await owner.client.organization.addTeamMember({ teamId: defaultTeam.id, userId: bob.id }));
  assert.deepEqual(await teamMemberIds(bob, blue.id), [alice.id, bob.id].sort());

  const bobs = ok(await bob.client.organization.listUserTeams(), 'list-user-teams');
  assert.deepEqual(bobs.map((t) => t.id).sort(), [blue.id, defaultTeam.id].sort());
  assert.deepEqual(
    ok(await alice.client.organization.listUserTeams()).map((t) => t.id),
    [blue.id],
  );
  const asOwner = ok(await owner.client.organization.listUserTeams({ query: { userId: bob.id } }));
  assert.deepEqual(asOwner.map((t) => t.id).sort(), [blue.id, defaultTeam.id].sort());
  fails(
    await alice.client.organization.listUserTeams({ query: { userId: bob.id } }),
    403,
    'YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER',
  );

  fails(
    await alice.client.organization.removeTeamMember({ teamId: blue.id, userId: bob.id }),
    403,
    'YOU_ARE_NOT_ALLOWED_TO_REMOVE_A_TEAM_MEMBER',
  );
  assert.deepEqual(
    ok(
      await owner.client.organization.removeTeamMember({ teamId: defaultTeam.id, userId: bob.id }),
      'remove-team-member',
    ),
    {
      message: 'Team member removed successfully.',
    },
  );
  assert.deepEqual(await teamMemberIds(owner, defaultTeam.id), [owner.id]);
  assert.deepEqual(
    ok(await bob.client.organization.listUserTeams()).map((t) => t.id),
    [blue.id],
  );
});

test('setActiveTeam: only a team of the active organization the caller is in', async () => {
  ok(await bob.client.organization.setActive({ organizationId: org.id }));
  const active = ok(await bob.client.organization.setActiveTeam({ teamId: blue.id }), 'set-active-team');
  assert.equal(active.id, blue.id);
  assert.equal(ok(await bob.client.getSession()).session.activeTeamId, blue.id);
  assert.deepEqual(
    ok(await bob.client.organization.listTeamMembers())
      .map((m) => m.userId)
      .sort(),
    [alice.id, bob.id].sort(),
  );

  fails(
    await bob.client.organization.setActiveTeam({ teamId: defaultTeam.id }),
    403,
    'USER_IS_NOT_A_MEMBER_OF_THE_TEAM',
  );
  assert.equal(ok(await bob.client.getSession()).session.activeTeamId, blue.id, 'a refused switch changes nothing');

  assert.equal(ok(await bob.client.organization.setActiveTeam({ teamId: null })), null);
  assert.equal(ok(await bob.client.getSession()).session.activeTeamId, null);
  fails(await bob.client.organization.listTeamMembers(), 400, 'YOU_DO_NOT_HAVE_AN_ACTIVE_TEAM');

  // Removed from the team while it is active: the session forgets it.
  ok(await bob.client.organization.setActiveTeam({ teamId: blue.id }));
  ok(await owner.client.organization.removeTeamMember({ teamId: blue.id, userId: bob.id }));
  assert.equal(ok(await bob.client.getSession()).session.activeTeamId, null);
  assert.deepEqual(ok(await bob.client.organization.listUserTeams()), []);
});

test('removeTeam: not the active one, not the last one; its members go with it', async () => {
  ok(await owner.client.organization.setActiveTeam({ teamId: defaultTeam.id }));
  fails(
    await owner.client.organization.removeTeam({ teamId: defaultTeam.id }),
    403,
    'YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_TEAM',
  );
  fails(await alice.client.organization.removeTeam({ teamId: blue.id }), 403);
  assert.equal(ok(await alice.client.getSession()).session.activeTeamId, blue.id);

  assert.deepEqual(ok(await owner.client.organization.removeTeam({ teamId: blue.id }), 'remove-team'), {
    message: 'Team removed successfully.',
  });
  assert.deepEqual(await teamNames(owner), ['Teamco']);
  assert.deepEqual(ok(await alice.client.organization.listUserTeams()), []);
  assert.equal(ok(await alice.client.getSession()).session.activeTeamId, null, 'sessions forget a removed team');
  fails(
    await owner.client.organization.updateTeam({ teamId: blue.id, data: { name: 'Ghost' } }),
    400,
    'TEAM_NOT_FOUND',
  );

  ok(await owner.client.organization.setActiveTeam({ teamId: null }));
  fails(await owner.client.organization.removeTeam({ teamId: defaultTeam.id }), 400, 'UNABLE_TO_REMOVE_LAST_TEAM');
  assert.deepEqual(await teamNames(owner), ['Teamco']);
});

test('teams of another organization stay out of reach', async () => {
  const other = await env.signUp('rival', { verified: true });
  const rivalOrg = ok(
    await other.client.organization.create({ name: 'Rival', slug: `rival-${Date.now().toString(36)}` }),
  );
  const [rivalTeam] = ok(await other.client.organization.listTeams());
  assert.equal(rivalTeam.organizationId, rivalOrg.id);
  fails(
    await owner.client.organization.listTeams({ query: { organizationId: rivalOrg.id } }),
    403,
    'YOU_ARE_NOT_ALLOWED_TO_ACCESS_THIS_ORGANIZATION',
  );
  fails(
    await owner.client.organization.updateTeam({ teamId: rivalTeam.id, data: { name: 'Taken' } }),
    400,
    'TEAM_NOT_FOUND',
  );
  fails(await owner.client.organization.addTeamMember({ teamId: rivalTeam.id, userId: bob.id }), 400);
  fails(await owner.client.organization.setActiveTeam({ teamId: rivalTeam.id }), 400, 'TEAM_NOT_FOUND');
  assert.equal(ok(await other.client.organization.listTeams())[0].name, 'Rival');
});

test('SIGTERM stops the server with exit code 0', async () => {
  assert.deepEqual(await env.stop(), { code: 0, signal: null }, env.server.output().slice(-2000));
});
