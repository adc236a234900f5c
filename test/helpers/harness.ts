/**
 * The real parts a test needs: a Temporal dev server (one per test file), the GitBook sandbox on
 * port 0, and a sync worker on a unique task queue. Nothing of ours is mocked.
 */
import { randomUUID } from 'node:crypto';
import type { DataConverter } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Runtime, DefaultLogger, type Worker } from '@temporalio/worker';
import { GitBookClient } from '../../src/gitbook/client';
import { parseSyncConfig, type SyncConfig } from '../../src/mapping';
import { startSandbox, type GitBookSandbox, type SandboxOptions } from '../../src/sandbox';
import { createSyncWorker } from '../../src/worker';
import { SEARCH_ATTRIBUTE_KEYS } from '../../workflows/api';

export const TEST_TOKEN = 'gb_test_token_for_sandbox_only';
export const TEST_ORG = 'org_test';

let runtimeInstalled = false;

/** Quiets the SDK's own logs during tests (warnings and errors still show). */
export function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('WARN') });
}

/** Starts a dev server from the CLI that the global setup found or built. */
export async function startTestEnvironment(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  const path = process.env.TEMPORAL_CLI_PATH;
  if (!path) throw new Error('TEMPORAL_CLI_PATH is not set: the jest global setup did not run');
  return await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path },
      ip: '127.0.0.1',
      ui: false,
      searchAttributes: SEARCH_ATTRIBUTE_KEYS,
    },
  });
}

export const TEST_SYNC_CONFIG: SyncConfig = parseSyncConfig({
  defaultRole: 'read',
  sso: false,
  retainAfterOffboardHours: 0,
  // Test files share one sandbox organization; the breaker has its own test (removal-breaker.test.ts).
  removalBreaker: { enabled: false },
  // One request per person, so tests can read GitBook's calls per person; batching (the product's
  // default) has its own tests (batching.test.ts) and runs under the convergence property.
  inviteBatching: { enabled: false },
  teamBatching: { enabled: false },
  groups: [
    { group: 'engineering', teams: ['team_engineering'], role: 'edit' },
    { group: 'design', teams: ['team_design'] },
    { group: 'admins', teams: [], role: 'admin' },
    { group: 'ghosts', teams: ['team_missing'] },
  ],
});

export const TEST_SEED: NonNullable<SandboxOptions['seed']> = {
  members: [
    { id: 'u_owner', email: 'owner@example.com', displayName: 'Owner', role: 'admin', sso: false },
    { id: 'u_existing', email: 'existing@example.com', displayName: 'Existing', role: 'comment', sso: false },
  ],
  teams: [
    { id: 'team_engineering', title: 'Engineering', memberIds: [] },
    { id: 'team_design', title: 'Design', memberIds: [] },
  ],
  foreignSsoEmails: ['taken@elsewhere.example'],
  approvalRequiredUserIds: [],
};

export interface SyncStack {
  env: TestWorkflowEnvironment;
  sandbox: GitBookSandbox;
  gitbook: GitBookClient;
  worker: Worker;
  taskQueue: string;
  /** Runs `fn` while the worker polls, then stops the worker. */
  withWorker<T>(fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A worker on a fresh task queue against a fresh sandbox, on the file's dev server. */
export async function startSyncStack(
  env: TestWorkflowEnvironment,
  options: {
    syncConfig?: SyncConfig;
    sandbox?: Partial<SandboxOptions>;
    taskQueue?: string;
    maxCallsPerSecond?: number;
    identity?: string;
    dataConverter?: DataConverter;
  } = {},
): Promise<SyncStack> {
  const sandbox = await startSandbox({ token: TEST_TOKEN, organizationId: TEST_ORG, seed: TEST_SEED, ...options.sandbox });
  const gitbook = new GitBookClient({ baseUrl: sandbox.url, token: TEST_TOKEN, organizationId: TEST_ORG, requestTimeoutMs: 2_000 });
  const taskQueue = options.taskQueue ?? `test-${randomUUID()}`;
  const bundlePath = process.env.WORKFLOW_BUNDLE_PATH;
  const worker = await createSyncWorker({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    gitbook,
    syncConfig: options.syncConfig ?? TEST_SYNC_CONFIG,
    client: env.client,
    workflowBundle: bundlePath ? { codePath: bundlePath } : undefined,
    shutdownGraceTime: '1 second',
    maxCallsPerSecond: options.maxCallsPerSecond,
    identity: options.identity,
    dataConverter: options.dataConverter,
  });

  return {
    env,
    sandbox,
    gitbook,
    worker,
    taskQueue,
    withWorker: (fn) => worker.runUntil(fn),
    async close() {
      await gitbook.close();
      await sandbox.close();
    },
  };
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms${lastError ? `: ${String(lastError)}` : ''}`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

/** A directory event with a fresh id and the current time, for tests. */
export function event(fields: Record<string, unknown>) {
  return { id: randomUUID(), occurredAt: new Date().toISOString(), source: 'test', ...fields };
}
