/**
 * The production worker process (`npm run worker`) against a dev server and the sandbox: a SIGTERM
 * lets the GitBook call in flight finish and exits 0; a second signal exits at once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startSandbox, type GitBookSandbox } from '../src/sandbox';
import { submitDirectoryEvent } from '../src/submit';
import type { DirectoryEvent } from '../workflows/events';
import { TEST_ORG, TEST_SEED, TEST_TOKEN, event, eventually, startTestEnvironment } from './helpers/harness';

let env: TestWorkflowEnvironment;
let sandbox: GitBookSandbox;
let syncConfigPath: string;

beforeAll(async () => {
  env = await startTestEnvironment();
  sandbox = await startSandbox({ token: TEST_TOKEN, organizationId: TEST_ORG, seed: TEST_SEED });
  syncConfigPath = join(await mkdtemp(join(tmpdir(), 'sync-config-')), 'sync.json');
  await writeFile(syncConfigPath, JSON.stringify({ groups: [{ group: 'engineering', teams: ['team_engineering'] }] }));
});

afterAll(async () => {
  await sandbox?.close();
  await env?.teardown();
});

function startWorkerProcess(taskQueue: string): { child: ChildProcess; exited: Promise<number | null>; output: () => string } {
  let output = '';
  const child = spawn(process.execPath, [join(__dirname, '..', 'dist', 'src', 'worker-main.js')], {
    env: {
      PATH: process.env.PATH,
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_TASK_QUEUE: taskQueue,
      GITBOOK_API_URL: sandbox.url,
      GITBOOK_API_TOKEN: TEST_TOKEN,
      GITBOOK_ORG_ID: TEST_ORG,
      SYNC_CONFIG: syncConfigPath,
      WORKER_METRICS_ADDRESS: 'off',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return { child, exited, output: () => output };
}

describe('the worker process', () => {
  it('finishes the GitBook call in flight on SIGTERM and exits 0', async () => {
    const taskQueue = `lifecycle-${randomUUID()}`;
    const worker = startWorkerProcess(taskQueue);
    await eventually(() => (worker.output().includes('worker started') ? true : undefined));
    sandbox.injectFault({ kind: 'delay', delayMs: 3_000, match: { pathIncludes: '/invites' } });

    await submitDirectoryEvent(env.client, taskQueue, event({ kind: 'user.activated', userId: '00uLife1', email: 'life@example.com' }) as DirectoryEvent);
    await eventually(() => sandbox.state().calls.find((call) => call.path.endsWith('/invites')));
    worker.child.kill('SIGTERM');

    expect(await worker.exited).toBe(0);
    const invite = sandbox.state().calls.find((call) => call.path.endsWith('/invites'));
    expect(invite?.status).toBe(200);
    expect(worker.output()).toContain('worker stopped');
    expect(worker.output()).not.toContain(TEST_TOKEN);
  });

  it('exits at once on a second signal', async () => {
    const worker = startWorkerProcess(`lifecycle-${randomUUID()}`);
    await eventually(() => (worker.output().includes('worker started') ? true : undefined));
    sandbox.injectFault({ kind: 'delay', delayMs: 20_000, match: { pathIncludes: '/invites' } });
    await submitDirectoryEvent(
      env.client,
      (worker.output().match(/"taskQueue":"([^"]+)"/) ?? [])[1]!,
      event({ kind: 'user.activated', userId: '00uLife2', email: 'life2@example.com' }) as DirectoryEvent,
    );
    await eventually(() => sandbox.state().calls.find((call) => JSON.stringify(call.body ?? '').includes('life2@')));

    const started = Date.now();
    worker.child.kill('SIGTERM');
    await new Promise((done) => setTimeout(done, 300));
    worker.child.kill('SIGTERM');

    expect(await worker.exited).toBe(130);
    expect(Date.now() - started).toBeLessThan(5_000);
    sandbox.clearFaults();
  });

  it('the receiver process answers a delivery, then stops taking requests on SIGTERM and exits 0', async () => {
    const taskQueue = `lifecycle-${randomUUID()}`;
    let output = '';
    const child = spawn(process.execPath, [join(__dirname, '..', 'dist', 'src', 'receiver-main.js')], {
      env: {
        PATH: process.env.PATH,
        TEMPORAL_ADDRESS: env.address,
        TEMPORAL_TASK_QUEUE: taskQueue,
        SYNC_CONFIG: syncConfigPath,
        HOOK_SECRET: 'lifecycle-hook-secret',
        HOOK_HOST: '127.0.0.1',
        HOOK_PORT: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    const url = await eventually(() => /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(output)?.[1]);

    const delivery = await fetch(`${url}/hooks/directory`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer lifecycle-hook-secret' },
      body: JSON.stringify({
        id: 'life-1',
        type: 'user.created',
        occurredAt: new Date().toISOString(),
        user: { id: '00uLife3', email: 'life3@example.com' },
      }),
    });
    expect(delivery.status).toBe(200);
    child.kill('SIGTERM');

    expect(await exited).toBe(0);
    expect(output).toContain('receiver stopped');
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    const handle = env.client.workflow.getHandle('gitbook-user-00uLife3');
    expect((await handle.describe()).status.name).toBe('RUNNING');
    await handle.terminate('test done');
  });
});
