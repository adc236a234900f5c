/**
 * The per-user workflow against a real Temporal dev server and the GitBook sandbox: what GitBook
 * received and what the workflow reports, under duplicates, races, cancels, rate limits and bad input.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  cancelSignal,
  changeAttribute,
  directoryEventSignal,
  directoryUserIdAttribute,
  outcomeAttribute,
  statusQuery,
  userWorkflowId,
  type UserSyncResult,
} from '../workflows/api';
import type { DirectoryEvent } from '../workflows/events';
import { submitDirectoryEvent, submitDirectoryEvents } from '../src/submit';
import { eventually, event, startSyncStack, startTestEnvironment, type SyncStack } from './helpers/harness';

let env: TestWorkflowEnvironment;
let stack: SyncStack;
let running: Promise<void>;

beforeAll(async () => {
  env = await startTestEnvironment();
  stack = await startSyncStack(env);
  running = stack.worker.run();
});

afterAll(async () => {
  stack?.worker.shutdown();
  await running;
  await stack?.close();
  await env?.teardown();
});

function newUser() {
  const id = `00u${randomUUID().slice(0, 8)}`;
  return { id, email: `${id}@example.com` };
}

const send = (fields: Record<string, unknown>) =>
  submitDirectoryEvent(stack.env.client, stack.taskQueue, event(fields) as DirectoryEvent);

const memberByEmail = (email: string) => stack.sandbox.state().members.find((m) => m.email === email);
const teamMembers = (teamId: string) => stack.sandbox.state().teams.find((t) => t.id === teamId)?.memberIds ?? [];
const callsTo = (method: string, pathPart: string) =>
  stack.sandbox.state().calls.filter((call) => call.method === method && call.path.includes(pathPart));
const invitesOf = (email: string) =>
  callsTo('POST', '/invites').filter((call) => JSON.stringify(call.body).includes(email));
const status = (userId: string) => stack.env.client.workflow.getHandle(userWorkflowId(userId)).query(statusQuery);

async function settled(userId: string) {
  return await eventually(async () => {
    const current = await status(userId);
    return current.pending.length === 0 && !current.running ? current : undefined;
  });
}

afterEach(() => stack.sandbox.clearFaults());

describe('userSyncWorkflow', () => {
  it('onboards a user into the mapped team and reports the GitBook id', async () => {
    const user = newUser();

    await send({ kind: 'user.activated', userId: user.id, email: user.email });
    await send({ kind: 'group.member_added', userId: user.id, email: user.email, group: { id: 'engineering' } });

    const member = await eventually(() => {
      const found = memberByEmail(user.email);
      return found && teamMembers('team_engineering').includes(found.id) ? found : undefined;
    });
    expect(member.role).toBe('edit');
    const state = await settled(user.id);
    expect(state.actual).toMatchObject({ membership: 'member', gitbookUserId: member.id, teams: { team_engineering: 'in' } });
  });

  it('gives someone who was a member before the sync the role and team their groups map to', async () => {
    const userId = `00uexisting${randomUUID().slice(0, 4)}`;

    await send({ kind: 'user.activated', userId, email: 'Existing@Example.com' });
    await send({ kind: 'group.member_added', userId, email: 'existing@example.com', group: { id: 'engineering' } });

    await eventually(() => {
      const found = memberByEmail('existing@example.com');
      return found?.role === 'edit' && teamMembers('team_engineering').includes('u_existing') ? true : undefined;
    });
    expect(stack.sandbox.state().members.filter((m) => m.email === 'existing@example.com')).toHaveLength(1);
    expect((await settled(userId)).actual).toMatchObject({ gitbookUserId: 'u_existing', role: 'edit' });
  });

  it('applies a redelivered event once', async () => {
    const user = newUser();
    const activation = event({ kind: 'user.activated', userId: user.id, email: user.email }) as DirectoryEvent;

    await submitDirectoryEvents(stack.env.client, stack.taskQueue, [activation, activation]);
    await submitDirectoryEvent(stack.env.client, stack.taskQueue, activation);

    await eventually(() => memberByEmail(user.email));
    const state = await settled(user.id);
    expect(state.eventsApplied).toBe(1);
    expect(invitesOf(user.email)).toHaveLength(1);
  });

  it('applies two different events for one user sent back to back, in order', async () => {
    const user = newUser();

    await Promise.all([
      submitDirectoryEvents(stack.env.client, stack.taskQueue, [
        event({ kind: 'user.activated', userId: user.id, email: user.email }) as DirectoryEvent,
        event({ kind: 'group.member_added', userId: user.id, email: user.email, group: { id: 'design' } }) as DirectoryEvent,
      ]),
    ]);

    await eventually(() => {
      const found = memberByEmail(user.email);
      return found && teamMembers('team_design').includes(found.id) ? true : undefined;
    });
    expect((await settled(user.id)).eventsApplied).toBe(2);
  });

  it('invites with the role of the groups that came in the same delivery as the activation, without a role change after', async () => {
    const users = [newUser(), newUser(), newUser()];
    await submitDirectoryEvents(
      stack.env.client,
      stack.taskQueue,
      users.flatMap((user) => [
        event({ kind: 'user.activated', userId: user.id, email: user.email }) as DirectoryEvent,
        event({ kind: 'group.member_added', userId: user.id, email: user.email, group: { id: 'engineering' } }) as DirectoryEvent,
      ]),
    );

    for (const user of users) {
      await eventually(() => (memberByEmail(user.email) ? true : undefined));
      const state = await settled(user.id);
      expect(state.actual.role).toBe('edit');
      expect(invitesOf(user.email).map((call) => (call.body as { role: string }).role)).toEqual(['edit']);
      const id = memberByEmail(user.email)!.id;
      expect(callsTo('PATCH', `/members/${id}`)).toEqual([]);
    }
  });

  it('ends with the person removed when offboarding arrives while onboarding is retrying', async () => {
    const user = newUser();
    stack.sandbox.injectFault({ kind: 'status', status: 503, times: 3, match: { method: 'POST', pathIncludes: '/invites' } });

    await send({ kind: 'user.activated', userId: user.id, email: user.email });
    await eventually(() => (invitesOf(user.email).length > 0 ? true : undefined));
    await send({ kind: 'user.deactivated', userId: user.id, email: user.email });

    const handle = stack.env.client.workflow.getHandle(userWorkflowId(user.id));
    const result: UserSyncResult = await handle.result();
    expect(result.outcome).toBe('converged');
    expect(memberByEmail(user.email)).toBeUndefined();
    stack.sandbox.clearFaults();
  });

  it('stops pending work on a cancel signal and says what was and was not done', async () => {
    const user = newUser();
    stack.sandbox.injectFault({ kind: 'status', status: 500, times: 100, match: { method: 'POST', pathIncludes: '/invites' } });

    await send({ kind: 'user.activated', userId: user.id, email: user.email });
    await eventually(() => (invitesOf(user.email).length > 0 ? true : undefined));
    const handle = stack.env.client.workflow.getHandle(userWorkflowId(user.id));
    await handle.signal(cancelSignal, { reason: 'operator request' });

    const result: UserSyncResult = await handle.result();
    stack.sandbox.clearFaults();
    expect(result).toMatchObject({ outcome: 'cancelled', reason: 'operator request', done: [] });
    expect(result.notDone.map((step) => step.kind)).toEqual(['onboard']);
    expect(memberByEmail(user.email)).toBeUndefined();
  });

  it('is cancelled by a Temporal cancellation request', async () => {
    const user = newUser();
    stack.sandbox.injectFault({ kind: 'status', status: 500, times: 100, match: { method: 'POST', pathIncludes: '/invites' } });

    await send({ kind: 'user.activated', userId: user.id, email: user.email });
    await eventually(() => (invitesOf(user.email).length > 0 ? true : undefined));
    const handle = stack.env.client.workflow.getHandle(userWorkflowId(user.id));
    await handle.cancel();

    await expect(handle.result()).rejects.toThrow(WorkflowFailedError);
    stack.sandbox.clearFaults();
    expect((await handle.describe()).status.name).toBe('CANCELLED');
  });

  it("waits out a 429 until GitBook's reset, then succeeds", async () => {
    const user = newUser();
    stack.sandbox.injectFault({ kind: 'rate-limit', resetInMs: 2_500, times: 1, match: { method: 'POST', pathIncludes: '/invites' } });

    await send({ kind: 'user.activated', userId: user.id, email: user.email });

    await eventually(() => memberByEmail(user.email));
    const [limited, accepted] = invitesOf(user.email);
    expect(limited?.status).toBe(429);
    expect(accepted?.status).toBe(200);
    // X-RateLimit-Reset has whole-second precision: the retry waits until that second.
    expect(accepted!.receivedAtMs - limited!.receivedAtMs).toBeGreaterThanOrEqual(1_500);
  });

  it('does not retry a permanent refusal, and reports it in the status', async () => {
    const user = newUser();

    await send({ kind: 'user.activated', userId: user.id, email: user.email });
    await send({ kind: 'group.member_added', userId: user.id, email: user.email, group: { id: 'ghosts' } });

    const state = await eventually(async () => {
      const current = await status(user.id);
      return current.lastError && !current.running ? current : undefined;
    });
    expect(state.lastError).toMatchObject({ type: 'GITBOOK_NOT_FOUND' });
    await new Promise((done) => setTimeout(done, 1_500));
    expect(callsTo('PUT', '/teams/team_missing/members')).toHaveLength(1);
    expect(memberByEmail(user.email)).toBeDefined();
  });

  it('fails at once, naming the field, when started by hand with a bad event', async () => {
    const user = newUser();

    const handle = await stack.env.client.workflow.start('userSyncWorkflow', {
      taskQueue: stack.taskQueue,
      workflowId: userWorkflowId(user.id),
      args: [{ userId: user.id, events: [{ id: 'e1', kind: 'user.activated', userId: user.id, email: 'not-an-email', occurredAt: 'yesterday' }] }],
    });

    const failure = await handle.result().catch((err: WorkflowFailedError) => err);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const cause = (failure as WorkflowFailedError).cause;
    expect(cause?.message).toMatch(/events\.0\.email/);
    expect(cause?.message).toMatch(/events\.0\.occurredAt/);
    expect(memberByEmail(user.email)).toBeUndefined();
  });

  it('fails at once when signal-with-start carries a bad event, and changes nothing', async () => {
    const user = newUser();

    const handle = await stack.env.client.workflow.signalWithStart('userSyncWorkflow', {
      taskQueue: stack.taskQueue,
      workflowId: userWorkflowId(user.id),
      args: [{ userId: user.id }],
      signal: directoryEventSignal,
      signalArgs: [{ id: 'e1', kind: 'user.exploded', userId: user.id, occurredAt: new Date().toISOString() } as never],
    });

    const failure = await handle.result().catch((err: WorkflowFailedError) => err);
    expect((failure as WorkflowFailedError).cause?.message).toMatch(/kind/);
    expect(invitesOf(user.email)).toHaveLength(0);
  });

  it('completes after offboarding, and a later event starts a fresh run', async () => {
    const user = newUser();
    await send({ kind: 'user.activated', userId: user.id, email: user.email });
    const member = await eventually(() => memberByEmail(user.email));

    await send({ kind: 'user.deactivated', userId: user.id });
    const first: UserSyncResult = await stack.env.client.workflow.getHandle(userWorkflowId(user.id)).result();

    expect(first.outcome).toBe('converged');
    expect(first.done.map((step) => step.kind)).toEqual(['onboard', 'offboard']);
    expect(callsTo('DELETE', `/members/${member.id}`).map((call) => call.status)).toEqual([205]);

    await send({ kind: 'user.activated', userId: user.id, email: user.email });
    await eventually(() => memberByEmail(user.email));
  });

  it('tells the story in the Web UI: summary, search attributes and current details', async () => {
    const user = newUser();
    await send({ kind: 'user.activated', userId: user.id, email: user.email });
    await send({ kind: 'group.member_added', userId: user.id, email: user.email, group: { id: 'engineering' } });
    const state = await settled(user.id);

    const handle = stack.env.client.workflow.getHandle(userWorkflowId(user.id));
    const description = await eventually(async () => {
      const current = await handle.describe();
      return current.typedSearchAttributes.get(outcomeAttribute) === 'in-sync' ? current : undefined;
    });
    expect(description.typedSearchAttributes.get(directoryUserIdAttribute)).toBe(user.id);
    // The latest step depends on whether the group event arrived before the invite went out.
    expect(description.typedSearchAttributes.get(changeAttribute)).toBe(state.history.at(-1)?.kind);
    expect(await description.staticSummary()).toContain(user.id);
    expect(await description.staticDetails()).toContain('user.activated');
    const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(metadata.currentDetails).toContain(user.email);
    expect(metadata.currentDetails).toContain('teams team_engineering');

    const found = [];
    for await (const run of stack.env.client.workflow.list({ query: `GitBookDirectoryUserId = "${user.id}"` })) {
      found.push(run.workflowId);
    }
    expect(found).toEqual([userWorkflowId(user.id)]);
  });
});
