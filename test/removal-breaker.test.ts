/**
 * The removal circuit breaker: a mass deactivation removes people up to the window's limit, holds
 * the rest (visible in status and the breaker's run), and releases them on an operator's approval.
 */
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { batcherWorkflowId, REMOVAL_GUARD_WORKFLOW_ID, removalGuardStatusQuery, statusQuery, userWorkflowId } from '../workflows/api';
import type { DirectoryEvent } from '../workflows/events';
import { parseSyncConfig } from '../src/mapping';
import { submitDirectoryEvents } from '../src/submit';
import { main } from '../src/cli';
import { TEST_SEED, TEST_SYNC_CONFIG, event, eventually, startSyncStack, startTestEnvironment, type SyncStack } from './helpers/harness';

let env: TestWorkflowEnvironment;
let stack: SyncStack;
let running: Promise<void>;

beforeAll(async () => {
  env = await startTestEnvironment();
  const syncConfig = parseSyncConfig({
    ...TEST_SYNC_CONFIG,
    retainAfterOffboardHours: 1,
    removalBreaker: { enabled: true, maxShare: 0.4, minimum: 1, windowMinutes: 60 },
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

const members = () => stack.sandbox.state().members;

describe('the removal circuit breaker', () => {
  it('holds removals past the limit until an operator approves, then removes them all', async () => {
    const prefix = `00ubrk${randomUUID().slice(0, 6)}`;
    const users = Array.from({ length: 5 }, (_, i) => ({ id: `${prefix}${i}`, email: `${prefix}${i}@example.com` }));
    await submitDirectoryEvents(
      env.client,
      stack.taskQueue,
      users.map((u) => event({ kind: 'user.activated', userId: u.id, email: u.email }) as DirectoryEvent),
    );
    const seeded = TEST_SEED.members!.length;
    await eventually(() => (members().length === seeded + 5 ? true : undefined));

    // 7 members, 40%: at most 2 removals in the window before the breaker holds the rest.
    await submitDirectoryEvents(
      env.client,
      stack.taskQueue,
      users.map((u) => event({ kind: 'user.deactivated', userId: u.id }) as DirectoryEvent),
    );
    const guard = env.client.workflow.getHandle(batcherWorkflowId(REMOVAL_GUARD_WORKFLOW_ID, stack.taskQueue));
    const paused = await eventually(async () => {
      const status = await guard.query(removalGuardStatusQuery);
      return status.paused && status.held.length === 3 ? status : undefined;
    });
    expect(paused).toMatchObject({ grantedInWindow: 2, limit: 2, organizationMembers: seeded + 5 });
    await eventually(() => (members().length === seeded + 3 ? true : undefined));
    await new Promise((done) => setTimeout(done, 1_000));
    expect(members()).toHaveLength(seeded + 3);
    const heldUser = paused.held[0]!.userId;
    const waiting = await env.client.workflow.getHandle(userWorkflowId(heldUser)).query(statusQuery);
    expect(waiting.waitingFor).toMatch(/circuit breaker/);

    const saved = { ...process.env };
    Object.assign(process.env, { TEMPORAL_ADDRESS: env.address, TEMPORAL_TASK_QUEUE: stack.taskQueue });
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      expect(await main(['node', 'gitbook-sync', 'approve-removals', '--by', 'it-admin'])).toBe(0);
    } finally {
      process.env = saved;
      log.mockRestore();
    }

    await eventually(() => (members().length === seeded ? true : undefined));
    const after = await guard.query(removalGuardStatusQuery);
    expect(after).toMatchObject({ paused: false, held: [], lastApproval: { approvedBy: 'it-admin', released: 3 } });
    const deletes = stack.sandbox.state().calls.filter((call) => call.method === 'DELETE');
    expect(deletes.map((call) => call.status)).toEqual([205, 205, 205, 205, 205]);
  });
});
