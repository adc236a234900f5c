/**
 * Scale-out: two workers on one task queue share one GitBook budget (Temporal's task-queue-wide
 * activity rate limit), so adding workers never multiplies the call rate GitBook sees.
 */
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { NativeConnection } from '@temporalio/worker';
import { createSyncWorker } from '../src/worker';
import { submitDirectoryEvents } from '../src/submit';
import type { DirectoryEvent } from '../workflows/events';
import { TEST_SEED, TEST_SYNC_CONFIG, event, eventually, startSyncStack, startTestEnvironment, type SyncStack } from './helpers/harness';

const LIMIT_PER_SECOND = 4;
const USERS = 24;

let env: TestWorkflowEnvironment;
let stack: SyncStack;

beforeAll(async () => {
  env = await startTestEnvironment();
  stack = await startSyncStack(env, { maxCallsPerSecond: LIMIT_PER_SECOND, identity: 'worker-a' });
});

afterAll(async () => {
  await stack?.close();
  await env?.teardown();
});

describe('two workers on one task queue', () => {
  it('stay together under the configured GitBook call rate, and both do work', async () => {
    // A second connection, as a second worker process would have.
    const connection = await NativeConnection.connect({ address: env.address });
    const second = await createSyncWorker({
      connection,
      namespace: 'default',
      taskQueue: stack.taskQueue,
      gitbook: stack.gitbook,
      syncConfig: TEST_SYNC_CONFIG,
      client: env.client,
      workflowBundle: { codePath: process.env.WORKFLOW_BUNDLE_PATH! },
      maxCallsPerSecond: LIMIT_PER_SECOND,
      identity: 'worker-b',
      shutdownGraceTime: '1 second',
    });
    const prefix = `00uscale${randomUUID().slice(0, 6)}`;
    const events = Array.from({ length: USERS }, (_, i) =>
      event({ kind: 'user.activated', userId: `${prefix}${i}`, email: `${prefix}${i}@example.com` }),
    ) as DirectoryEvent[];

    await Promise.all([
      stack.worker.runUntil(async () => {
        await submitDirectoryEvents(env.client, stack.taskQueue, events);
        await eventually(() => (stack.sandbox.state().members.length >= TEST_SEED.members!.length + USERS ? true : undefined), 60_000);
      }),
      second.runUntil(() => eventually(() => (stack.sandbox.state().members.length >= TEST_SEED.members!.length + USERS ? true : undefined), 60_000)),
    ]);

    const times = stack.sandbox
      .state()
      .calls.filter((call) => call.method === 'POST' && call.path.endsWith('/invites'))
      .map((call) => call.receivedAtMs)
      .sort((a, b) => a - b);
    expect(times).toHaveLength(USERS);
    // The average rate over the run stays at or under the limit (the first call starts the clock).
    const spanSeconds = (times[times.length - 1]! - times[0]!) / 1_000;
    expect((times.length - 1) / spanSeconds).toBeLessThanOrEqual(LIMIT_PER_SECOND * 1.1);
    // No one-second window holds more than the limit plus the token bucket's initial burst.
    const busiest = Math.max(...times.map((start) => times.filter((t) => t >= start && t < start + 1_000).length));
    expect(busiest).toBeLessThanOrEqual(LIMIT_PER_SECOND * 2);

    const identities = new Set<string>();
    for await (const run of env.client.workflow.list({ query: `WorkflowType = "onboardUserWorkflow" AND TaskQueue = "${stack.taskQueue}"` })) {
      const history = await env.client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
      for (const e of history.events ?? []) {
        const identity = e.activityTaskStartedEventAttributes?.identity;
        if (identity) identities.add(identity);
      }
    }
    expect([...identities].sort()).toEqual(['worker-a', 'worker-b']);
    await connection.close();
  });
});
