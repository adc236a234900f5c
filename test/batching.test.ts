/**
 * Batching. Invites: people onboarded close together are invited with one `POST /invites`, each
 * person's workflow gets their own GitBook id, one refusal does not fail the others, and an
 * offboarding that arrives while the invite waits in a batch still ends with the person removed.
 * Team changes: people moved close together cost one `PUT .../members` per team with net lists,
 * a reorganization does not flap roles, and one refused change does not fail the others.
 */
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  batcherWorkflowId,
  statusQuery,
  TEAM_BATCHER_WORKFLOW_ID,
  TEAM_BATCHER_WORKFLOW_TYPE,
  teamChangeRequestSignal,
  userWorkflowId,
  type TeamBatcherInput,
} from '../workflows/api';
import type { DirectoryEvent } from '../workflows/events';
import { parseSyncConfig } from '../src/mapping';
import { submitDirectoryEvent, submitDirectoryEvents } from '../src/submit';
import { TEST_SYNC_CONFIG, event, eventually, startSyncStack, startTestEnvironment, type SyncStack } from './helpers/harness';

let env: TestWorkflowEnvironment;
let stack: SyncStack;
let running: Promise<void>;

beforeAll(async () => {
  env = await startTestEnvironment();
  const syncConfig = parseSyncConfig({
    ...TEST_SYNC_CONFIG,
    sso: true,
    retainAfterOffboardHours: 1,
    inviteBatching: { enabled: true, maxBatchSize: 25, maxWaitMs: 1_500 },
    teamBatching: { enabled: true, maxBatchSize: 25, maxWaitMs: 2_000, quietMs: 1_000 },
    settleMs: 1_500,
    groups: [
      { group: 'engineering', teams: ['team_engineering'], role: 'edit' },
      { group: 'design', teams: ['team_design'], role: 'edit' },
      { group: 'ghosts', teams: ['team_missing'] },
    ],
  });
  stack = await startSyncStack(env, { syncConfig });
  running = stack.worker.run();
});

afterAll(async () => {
  stack?.worker.shutdown();
  await running;
  await stack?.close();
  await env?.teardown();
});

const invites = () => stack.sandbox.state().calls.filter((call) => call.method === 'POST' && call.path.endsWith('/invites'));
const teamPuts = (teamId: string) =>
  stack.sandbox.state().calls.filter((call) => call.method === 'PUT' && call.path.endsWith(`/teams/${teamId}/members`));
const roleChanges = () => stack.sandbox.state().calls.filter((call) => call.method === 'PATCH' && call.path.includes('/members/'));
const teamMembers = (teamId: string) => stack.sandbox.state().teams.find((team) => team.id === teamId)?.memberIds ?? [];
const memberByEmail = (email: string) => stack.sandbox.state().members.find((m) => m.email === email);
const status = (userId: string) => env.client.workflow.getHandle(userWorkflowId(userId)).query(statusQuery);

describe('invite batching', () => {
  it('invites twenty people with one or two requests and gives each workflow its own GitBook id', async () => {
    const prefix = `00ubat${randomUUID().slice(0, 6)}`;
    const users = Array.from({ length: 20 }, (_, i) => ({ id: `${prefix}${i}`, email: `${prefix}${i}@example.com` }));
    const before = invites().length;

    await submitDirectoryEvents(
      env.client,
      stack.taskQueue,
      users.map((u) => event({ kind: 'user.activated', userId: u.id, email: u.email }) as DirectoryEvent),
    );

    await eventually(() => (users.every((u) => memberByEmail(u.email)) ? true : undefined));
    // All twenty usually fit one batch; on a busy machine the last few may miss its 1.5 s window.
    expect(invites().length - before).toBeLessThanOrEqual(2);
    for (const user of users) {
      const state = await eventually(async () => {
        const current = await status(user.id);
        return current.actual.membership === 'member' ? current : undefined;
      });
      expect(state.actual.gitbookUserId).toBe(memberByEmail(user.email)!.id);
    }
  });

  it("reports one person's refused SSO invite without failing the others in the batch", async () => {
    const prefix = `00ubsso${randomUUID().slice(0, 6)}`;
    const good = { id: `${prefix}a`, email: `${prefix}a@example.com` };
    const foreign = { id: `${prefix}b`, email: 'taken@elsewhere.example' };

    await submitDirectoryEvents(env.client, stack.taskQueue, [
      event({ kind: 'user.activated', userId: good.id, email: good.email }) as DirectoryEvent,
      event({ kind: 'user.activated', userId: foreign.id, email: foreign.email }) as DirectoryEvent,
    ]);

    await eventually(() => memberByEmail(good.email));
    const refused = await eventually(async () => {
      const current = await status(foreign.id);
      return current.lastError ? current : undefined;
    });
    expect(refused.lastError).toMatchObject({ type: 'GITBOOK_INVITE_SSO_FAILED' });
    expect(memberByEmail(foreign.email)).toBeUndefined();
    const batch = invites().find((call) => JSON.stringify(call.body).includes(good.email));
    expect(JSON.stringify(batch?.body)).toContain(foreign.email);
  });

  it('ends with the person removed when offboarding arrives while the invite waits in a batch', async () => {
    const userId = `00ubwait${randomUUID().slice(0, 6)}`;
    const email = `${userId}@example.com`;

    await submitDirectoryEvent(env.client, stack.taskQueue, event({ kind: 'user.activated', userId, email }) as DirectoryEvent);
    await new Promise((done) => setTimeout(done, 300));
    await submitDirectoryEvent(env.client, stack.taskQueue, event({ kind: 'user.deactivated', userId }) as DirectoryEvent);

    const final = await eventually(async () => {
      const current = await status(userId);
      return current.actual.membership === 'not-member' && !current.running && current.pending.length === 0 ? current : undefined;
    });
    expect(final.history.map((step) => `${step.kind}:${step.outcome}`)).toContain('onboard:cancelled');
    await new Promise((done) => setTimeout(done, 2_000));
    expect(memberByEmail(email)).toBeUndefined();
  });
});

describe('invite batching under faults', () => {
  it('ends with the person removed when offboarding arrives while their batched invite is retrying', async () => {
    const userId = `00ubretry${randomUUID().slice(0, 6)}`;
    const email = `${userId}@example.com`;
    stack.sandbox.injectFault({ kind: 'status', status: 503, times: 3, match: { method: 'POST', pathIncludes: '/invites' } });
    try {
      await submitDirectoryEvent(env.client, stack.taskQueue, event({ kind: 'user.activated', userId, email }) as DirectoryEvent);
      await eventually(() => (invites().some((call) => JSON.stringify(call.body).includes(email)) ? true : undefined));
      await submitDirectoryEvent(env.client, stack.taskQueue, event({ kind: 'user.deactivated', userId }) as DirectoryEvent);

      const final = await eventually(async () => {
        const current = await status(userId);
        return current.actual.membership === 'not-member' && !current.running && current.pending.length === 0 ? current : undefined;
      }, 60_000);
      // The invite was in flight when the offboarding came: it went out, and the removal followed it.
      expect(final.history.map((step) => `${step.kind}:${step.outcome}`)).toEqual(['onboard:cancelled', 'offboard:done']);
      expect(memberByEmail(email)).toBeUndefined();
    } finally {
      stack.sandbox.clearFaults();
    }
  });
});

describe('team batching', () => {
  const people = (tag: string, count: number) => {
    const prefix = `00u${tag}${randomUUID().slice(0, 6)}`;
    return Array.from({ length: count }, (_, i) => ({ id: `${prefix}${i}`, email: `${prefix}${i}@example.com` }));
  };
  const groupEvent = (kind: 'group.member_added' | 'group.member_removed', user: { id: string; email: string }, group: string) =>
    event({ kind, userId: user.id, email: user.email, group: { id: group } }) as DirectoryEvent;
  const inSync = async (userId: string) =>
    await eventually(async () => {
      const current = await status(userId);
      return !current.running && current.pending.length === 0 && current.actual.membership === 'member' ? current : undefined;
    });

  it('adds twenty members who join a group with one or two PUTs carrying them all', async () => {
    const users = people('tjoin', 20);
    await submitDirectoryEvents(env.client, stack.taskQueue, users.map((u) => event({ kind: 'user.activated', userId: u.id, email: u.email }) as DirectoryEvent));
    await eventually(() => (users.every((u) => memberByEmail(u.email)) ? true : undefined));
    for (const user of users) await inSync(user.id);

    const before = teamPuts('team_engineering').length;
    await submitDirectoryEvents(env.client, stack.taskQueue, users.map((u) => groupEvent('group.member_added', u, 'engineering')));

    const ids = users.map((u) => memberByEmail(u.email)!.id);
    await eventually(() => (ids.every((id) => teamMembers('team_engineering').includes(id)) ? true : undefined));
    const puts = teamPuts('team_engineering').slice(before);
    expect(puts.length).toBeLessThanOrEqual(2);
    const added = puts.flatMap((call) => (call.body as { add?: string[] }).add ?? []);
    expect(added.sort()).toEqual([...ids].sort());
    for (const user of users) {
      const state = await eventually(async () => {
        const current = await status(user.id);
        return current.actual.teams.team_engineering === 'in' ? current : undefined;
      });
      expect(state.actual.role).toBe('edit');
    }
  });

  it('moves ten people between two teams with net PUTs and no role dropped on the way', async () => {
    const users = people('tmove', 10);
    await submitDirectoryEvents(
      env.client,
      stack.taskQueue,
      users.flatMap((u) => [event({ kind: 'user.activated', userId: u.id, email: u.email }) as DirectoryEvent, groupEvent('group.member_added', u, 'engineering')]),
    );
    const ids = await eventually(() => {
      const found = users.map((u) => memberByEmail(u.email)?.id);
      return found.every((id) => id && teamMembers('team_engineering').includes(id)) ? (found as string[]) : undefined;
    });
    for (const user of users) await inSync(user.id);
    expect(ids.map((id) => stack.sandbox.state().members.find((m) => m.id === id)!.role)).toEqual(ids.map(() => 'edit'));

    const [engineeringBefore, designBefore, rolesBefore] = [teamPuts('team_engineering').length, teamPuts('team_design').length, roleChanges().length];
    // A reorganization as an IdP sends it: every removal first, the additions a moment later.
    await submitDirectoryEvents(env.client, stack.taskQueue, users.map((u) => groupEvent('group.member_removed', u, 'engineering')));
    await new Promise((done) => setTimeout(done, 300));
    await submitDirectoryEvents(env.client, stack.taskQueue, users.map((u) => groupEvent('group.member_added', u, 'design')));

    await eventually(() =>
      ids.every((id) => teamMembers('team_design').includes(id) && !teamMembers('team_engineering').includes(id)) ? true : undefined,
    );
    for (const user of users) await inSync(user.id);
    const removedFrom = teamPuts('team_engineering').slice(engineeringBefore);
    const addedTo = teamPuts('team_design').slice(designBefore);
    expect(removedFrom.length).toBeLessThanOrEqual(2);
    expect(addedTo.length).toBeLessThanOrEqual(2);
    expect(removedFrom.flatMap((call) => (call.body as { remove?: string[] }).remove ?? []).sort()).toEqual([...ids].sort());
    // Both groups grant edit: the role was never touched, so nobody lost it for a moment.
    expect(roleChanges().slice(rolesBefore)).toEqual([]);
    expect(ids.map((id) => stack.sandbox.state().members.find((m) => m.id === id)!.role)).toEqual(ids.map(() => 'edit'));
  });

  it("applies the others' changes when GitBook refuses one person's change in the same PUT", async () => {
    const [user] = people('tiso', 1);
    await submitDirectoryEvent(env.client, stack.taskQueue, event({ kind: 'user.activated', userId: user!.id, email: user!.email }) as DirectoryEvent);
    await inSync(user!.id);
    const id = memberByEmail(user!.email)!.id;
    const before = teamPuts('team_design').length;

    // Another step (here: the test, through the batcher's public signal) asks for a change GitBook
    // will refuse (no such member) just before the user's own change: both share one PUT.
    const input: TeamBatcherInput = {};
    await env.client.workflow.signalWithStart(TEAM_BATCHER_WORKFLOW_TYPE, {
      workflowId: batcherWorkflowId(TEAM_BATCHER_WORKFLOW_ID, stack.taskQueue),
      taskQueue: stack.taskQueue,
      args: [input],
      signal: teamChangeRequestSignal,
      signalArgs: [{ requestId: randomUUID(), workflowId: 'gitbook-test-no-such-step', member: 'u_nobody', changes: [{ teamId: 'team_design', action: 'add' }] }],
    });
    await submitDirectoryEvent(env.client, stack.taskQueue, groupEvent('group.member_added', user!, 'design'));

    await eventually(() => (teamMembers('team_design').includes(id) ? true : undefined));
    const state = await eventually(async () => {
      const current = await status(user!.id);
      return current.actual.teams.team_design === 'in' ? current : undefined;
    });
    expect(state.lastError).toBeUndefined();
    const puts = teamPuts('team_design').slice(before);
    const shared = puts.find((call) => JSON.stringify(call.body).includes('u_nobody') && JSON.stringify(call.body).includes(id));
    expect(shared?.status).toBe(400);
    expect(puts.filter((call) => call.status === 204).map((call) => call.body)).toEqual([{ add: [id] }]);
  });

  it("fails only the change of a team GitBook does not have, and shows it in the person's status", async () => {
    const [user] = people('tghost', 1);
    await submitDirectoryEvents(env.client, stack.taskQueue, [
      event({ kind: 'user.activated', userId: user!.id, email: user!.email }) as DirectoryEvent,
      groupEvent('group.member_added', user!, 'ghosts'),
      groupEvent('group.member_added', user!, 'design'),
    ]);
    const state = await eventually(async () => {
      const current = await status(user!.id);
      return current.lastError && current.actual.teams.team_design === 'in' ? current : undefined;
    });
    expect(state.lastError).toMatchObject({ type: 'GITBOOK_NOT_FOUND' });
    expect(teamMembers('team_design')).toContain(memberByEmail(user!.email)!.id);
  });
});
