/**
 * Starts everything a benchmark run measures, all on 127.0.0.1 and on free ports: a Temporal dev
 * server with its data in a temporary folder, the GitBook sandbox with a rate limit, and the worker
 * and the hook receiver as separate processes from `dist/` (so their memory can be read apart).
 * Everything started is registered with a {@link Cleanup}, which stops it in reverse order.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { request } from 'undici';
import { configSchema } from '../src/config';
import type { Logger } from '../src/logger';
import { startSandbox, type GitBookSandbox, type SandboxSeed } from '../src/sandbox';
import { findTemporalCli } from '../src/temporal/cli';
import { startDevServer } from '../src/temporal/dev-server';
import { findChildPid, freePort, ProcessSampler, startNodeChild, type BenchChild } from './processes';
import type { BenchSettings } from './settings';

/** Stops what was started, newest first; safe to run twice. */
export class Cleanup {
  readonly #steps: Array<{ name: string; stop: () => Promise<unknown> }> = [];
  #running?: Promise<void>;

  constructor(private readonly logger: Logger) {}

  add(name: string, stop: () => Promise<unknown>): void {
    this.#steps.push({ name, stop });
  }

  run(): Promise<void> {
    this.#running ??= (async () => {
      for (const step of this.#steps.reverse()) {
        await step.stop().catch((err: unknown) => this.logger.warn({ err, step: step.name }, 'cleanup step failed'));
      }
    })();
    return this.#running;
  }
}

/** An organization with only its owner, and the teams the shipped mapping names. */
export const BENCH_SEED: SandboxSeed = {
  members: [{ id: 'u_owner', email: 'owner@bench.example.com', role: 'admin' }],
  teams: [
    { id: 'team_engineering', title: 'Engineering' },
    { id: 'team_design', title: 'Design' },
    { id: 'team_support', title: 'Support' },
  ],
};

export const BENCH_ORGANIZATION_ID = 'org_bench';

export interface BenchStack {
  tempDir: string;
  sandbox: GitBookSandbox;
  /** The sandbox's token, for the naive baseline's own sandbox too. */
  gitbookToken: string;
  temporalAddress: string;
  /** The benchmark's own Temporal client (to count workflows); the worker and receiver have theirs. */
  client: Client;
  taskQueue: string;
  worker: BenchChild;
  receiver: BenchChild;
  receiverUrl: string;
  hookSecret: string;
  workerMetricsUrl: string;
  sampler: ProcessSampler;
  /** The workers' sticky cache size (`WORKER_MAX_CACHED_WORKFLOWS`, as the worker reads it). */
  workerCacheSize: number;
  /**
   * Starts one more worker process on `taskQueue`, watched by the sampler as `name`, and resolves
   * once it polls. Stopped at cleanup like the others.
   */
  launchWorker(name: string, taskQueue: string): Promise<{ child: BenchChild; metricsUrl: string }>;
}

const DIST_ROOT = resolve(__dirname, '..');

export async function startStack(settings: BenchSettings, logger: Logger, cleanup: Cleanup): Promise<BenchStack> {
  const tempDir = await mkdtemp(join(tmpdir(), 'gitbook-sync-bench-'));
  cleanup.add('temporary folder', () => rm(tempDir, { recursive: true, force: true }));
  logger.info({ tempDir }, 'temporary folder');

  const sampler = new ProcessSampler();
  sampler.watch('bench', process.pid);
  sampler.start();
  cleanup.add('sampler', async () => sampler.stop());

  const cliPath = await findTemporalCli({ onProgress: (message) => logger.info(message) });
  const [grpcPort, uiPort] = [await freePort(), await freePort()];
  const dataDir = join(tempDir, 'temporal');
  const devServer = await startDevServer({
    cliPath,
    dataDir,
    port: grpcPort,
    uiPort,
    logger,
    sqlitePragmas: settings.sqlitePragmas,
  });
  cleanup.add('Temporal dev server', () => devServer.stop());
  const devServerPid = await findChildPid('start-dev');
  if (devServerPid) sampler.watch('temporal', devServerPid);
  logger.info({ address: devServer.address, webUi: devServer.uiUrl }, 'Temporal dev server started');

  const gitbookToken = randomBytes(24).toString('hex');
  const sandbox = await startSandbox({
    token: gitbookToken,
    organizationId: BENCH_ORGANIZATION_ID,
    seed: BENCH_SEED,
    rateLimit: settings.rateLimit,
  });
  cleanup.add('GitBook sandbox', () => sandbox.close());
  logger.info({ url: sandbox.url, rateLimit: settings.rateLimit }, 'GitBook sandbox started');

  const connection = await Connection.connect({ address: devServer.address });
  cleanup.add('Temporal client', () => connection.close());
  const client = new Client({ connection, namespace: 'default' });

  const taskQueue = `bench-${randomBytes(4).toString('hex')}`;
  const common = {
    TEMPORAL_ADDRESS: devServer.address,
    TEMPORAL_NAMESPACE: 'default',
    TEMPORAL_TASK_QUEUE: taskQueue,
    SYNC_CONFIG: settings.syncConfigPath,
    LOG_LEVEL: settings.logLevel,
  };

  const launchWorker = async (name: string, queue: string) => {
    const metricsPort = await freePort();
    const child = startNodeChild(
      name,
      join(DIST_ROOT, 'src/worker-main.js'),
      {
        ...common,
        TEMPORAL_TASK_QUEUE: queue,
        GITBOOK_API_URL: sandbox.url,
        GITBOOK_API_TOKEN: gitbookToken,
        GITBOOK_ORG_ID: BENCH_ORGANIZATION_ID,
        GITBOOK_MAX_CALLS_PER_SECOND: String(settings.workerCallsPerSecond),
        WORKER_METRICS_ADDRESS: `127.0.0.1:${metricsPort}`,
        ...(settings.workerMaxCachedWorkflows !== undefined
          ? { WORKER_MAX_CACHED_WORKFLOWS: String(settings.workerMaxCachedWorkflows) }
          : {}),
        ...(settings.workerNodeOptions ? { NODE_OPTIONS: settings.workerNodeOptions } : {}),
      },
      join(tempDir, `${name}.log`),
    );
    cleanup.add(name, () => child.stop(25_000));
    sampler.watch(name, child.pid);
    await untilReady(child, () => hasPollers(client, queue), 120_000);
    return { child, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics` };
  };
  const worker = launchWorker('worker', taskQueue);

  const hookSecret = randomBytes(24).toString('hex');
  const hookPort = await freePort();
  const receiver = startNodeChild(
    'receiver',
    join(DIST_ROOT, 'src/receiver-main.js'),
    { ...common, HOOK_SECRET: hookSecret, HOOK_PORT: String(hookPort), HOOK_HOST: '127.0.0.1' },
    join(tempDir, 'receiver.log'),
  );
  cleanup.add('receiver', () => receiver.stop());
  sampler.watch('receiver', receiver.pid);

  const receiverUrl = `http://127.0.0.1:${hookPort}`;
  const [started] = await Promise.all([worker, untilReady(receiver, () => isReady(`${receiverUrl}/readyz`), 60_000)]);
  logger.info({ taskQueue, worker: started.child.pid, receiver: receiver.pid }, 'worker and receiver ready');

  return {
    tempDir,
    sandbox,
    gitbookToken,
    temporalAddress: devServer.address,
    client,
    taskQueue,
    worker: started.child,
    receiver,
    receiverUrl,
    hookSecret,
    workerMetricsUrl: started.metricsUrl,
    sampler,
    workerCacheSize: workerCacheSize(settings),
    launchWorker,
  };
}

/** The cache size the workers run with: the benchmark's setting, else the worker's own default. */
export function workerCacheSize(settings: BenchSettings): number {
  return settings.workerMaxCachedWorkflows ?? configSchema.shape.WORKER_MAX_CACHED_WORKFLOWS.parse(undefined);
}

/** Polls `probe` until it holds; fails at once, with the end of the child's log, if the child exits. */
async function untilReady(child: BenchChild, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: string | undefined;
  void child.exited.then((how) => (exited = how));
  for (;;) {
    if (exited !== undefined) throw new Error(`the ${child.name} exited (${exited}):\n${await logTail(child.logFile)}`);
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) {
      throw new Error(`the ${child.name} was not ready within ${timeoutMs} ms:\n${await logTail(child.logFile)}`);
    }
    await sleep(250);
  }
}

/** The last lines of a log file, for an error message. */
export async function logTail(path: string, lines = 20): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Whether a worker polls both the workflow and the activity side of the task queue. */
async function hasPollers(client: Client, taskQueue: string): Promise<boolean> {
  const { TaskQueueType } = temporal.api.enums.v1;
  for (const taskQueueType of [TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY]) {
    const answer = await client.workflowService.describeTaskQueue({
      namespace: 'default',
      taskQueue: { name: taskQueue },
      taskQueueType,
    });
    if ((answer.pollers ?? []).length === 0) return false;
  }
  return true;
}

async function isReady(url: string): Promise<boolean> {
  const response = await request(url, { headersTimeout: 2_000, bodyTimeout: 2_000 });
  await response.body.dump();
  return response.statusCode === 200;
}
