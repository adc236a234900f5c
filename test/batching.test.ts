/**
 * Invite batching: people onboarded close together are invited with one `POST /invites`, each
 * person's workflow gets their own GitBook id, one refusal does not fail the others, and an
 * offboarding that arrives while the invite waits in a batch still ends with the person removed.
 */
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { statusQuery, userWorkflowId } from '../workflows/api';
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
