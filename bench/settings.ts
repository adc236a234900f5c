/**
 * The benchmark's settings, read once from `BENCH_*` environment variables. With the defaults a full
 * run takes about a quarter of an hour on a 2-core machine, most of it the memory scenario filling
 * the worker with 10,000 pending onboardings (`BENCH_MEMORY_BUDGET_S=180` keeps it to ten minutes,
 * with fewer pending).
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { describeIssues } from '../workflows/events';

/** Every scenario the benchmark knows, in the order they run. */
export const BENCH_PHASES = ['latency', 'burst', 'naive', 'reorg', 'load', 'memory'] as const;
export type BenchPhase = (typeof BENCH_PHASES)[number];

const count = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const phaseList = z
  .string()
  .default(BENCH_PHASES.join(','))
  .transform((text) => text.split(',').map((name) => name.trim()).filter(Boolean))
  .pipe(z.array(z.enum(BENCH_PHASES)).min(1));

const benchEnvSchema = z.object({
  /** Onboardings in the burst. */
  BENCH_N: count(1_000),
  /** Events per Okta delivery in the burst, the reorganization and the memory scenario. */
  BENCH_BATCH: z.coerce.number().int().min(1).max(1_000).default(100),
  /** Deliveries in flight at once when a scenario sends many. */
  BENCH_DELIVERY_CONCURRENCY: count(1),
  /** People moved from one team to another in the reorganization (taken from the burst's people). */
  BENCH_REORG: count(500),
  /** The sandbox's rate limit: requests per window. */
  BENCH_RATE_LIMIT: count(25),
  BENCH_RATE_WINDOW_MS: count(1_000),
  /** The worker's task-queue activity rate limit. @default one call per second under the sandbox's rate */
  BENCH_WORKER_RATE: z.coerce.number().positive().optional(),
  /** The receiver load: deliveries per second, for how long, and the most events per delivery. */
  BENCH_LOAD_RPS: count(200),
  BENCH_LOAD_SECONDS: count(15),
  BENCH_LOAD_MAX_EVENTS: z.coerce.number().int().min(1).max(100).default(5),
  /** End-to-end latency: single onboardings, this far apart. */
  BENCH_LATENCY_COUNT: count(30),
  BENCH_LATENCY_GAP_MS: count(200),
  /**
   * Pending workflows for the worker-memory scenario, and the time it may take. Each onboarding
   * costs the worker and the dev server together about 80 ms of CPU (90 ms and more without the
   * SQLite pragmas below), so 10,000 need about 400 s of two cores: the budget leaves room for that
   * on a quiet 2-core machine.
   */
  BENCH_MEMORY_N: count(10_000),
  BENCH_MEMORY_BUDGET_S: count(600),
  /** Activations per hand-off call in the memory scenario, and hand-off calls in flight at once. */
  BENCH_MEMORY_BATCH: z.coerce.number().int().min(1).max(1_000).default(100),
  BENCH_MEMORY_CONCURRENCY: count(4),
  /**
   * The workers' sticky cache (`WORKER_MAX_CACHED_WORKFLOWS`), for every worker the benchmark starts.
   * @default unset: the worker's own default
   */
  BENCH_WORKER_CACHE: z.coerce.number().int().min(0).optional(),
  /**
   * `NODE_OPTIONS` for the worker processes. @default `--max-old-space-size=1024`, the heap limit
   * docs/deploy.md recommends for a worker (set `none` for Node's own default)
   */
  BENCH_WORKER_NODE_OPTIONS: z
    .string()
    .min(1)
    .default('--max-old-space-size=1024')
    .transform((value) => (value === 'none' ? undefined : value)),
  /**
   * SQLite pragmas for the Temporal dev server's store (comma-separated `name=value`; empty for the
   * CLI's defaults). The dev server stands in for a Temporal cluster: waiting on the disk for every
   * SQLite transaction measures the laptop's disk, not the sync.
   */
  BENCH_SQLITE_PRAGMAS: z
    .string()
    .default('journal_mode=wal,synchronous=off')
    .transform((text) => text.split(',').map((pragma) => pragma.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^[a-z_]+=[A-Za-z0-9_-]+$/, 'each pragma must read name=value'))),
  /** Calls in flight at once in the naive baseline. */
  BENCH_NAIVE_CONCURRENCY: count(10),
  /** The longest a scenario may wait for GitBook to catch up before the run fails. */
  BENCH_PHASE_TIMEOUT_S: count(420),
  /** Which scenarios run (comma-separated). A partial run writes its report to BENCH_OUT all the same. */
  BENCH_PHASES: phaseList,
  /**
   * The group mapping the worker and receiver read. It must map the groups `engineering` and `design`
   * to `team_engineering` and `team_design` with role edit, as the shipped one does; change other
   * settings (such as `inviteBatching`) to measure them. @default the shipped `config/sync.json`
   */
  BENCH_SYNC_CONFIG: z.string().min(1).optional(),
  /** Where the report is written, relative to the working directory. */
  BENCH_OUT: z.string().min(1).default('BENCHMARKS.md'),
  /** Also write the raw results as JSON here, for `node dist/bench/render.js <file>` to render again. */
  BENCH_RESULTS_JSON: z.string().min(1).optional(),
  /** Wait up to this long, before starting, for the machine's 1-minute load to drop below its core count. */
  BENCH_WAIT_FOR_QUIET_S: z.coerce.number().int().min(0).default(0),
  /** The worker's and receiver's log level (their logs stay in the run's temporary folder). */
  BENCH_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug']).default('info'),
});

/** The settings, with units in their names. */
export interface BenchSettings {
  burstSize: number;
  eventsPerDelivery: number;
  deliveryConcurrency: number;
  reorgSize: number;
  rateLimit: { limit: number; windowMs: number };
  /** The sandbox's limit as calls per second. */
  gitbookCallsPerSecond: number;
  workerCallsPerSecond: number;
  load: { deliveriesPerSecond: number; durationSeconds: number; maxEventsPerDelivery: number };
  latency: { count: number; gapMs: number };
  memory: {
    pendingWorkflows: number;
    budgetMs: number;
    /** Activations per hand-off call, and calls in flight at once. */
    batchSize: number;
    concurrency: number;
  };
  /** `WORKER_MAX_CACHED_WORKFLOWS` for the workers; undefined leaves the worker's default. */
  workerMaxCachedWorkflows?: number;
  /** `NODE_OPTIONS` for the workers, when set. */
  workerNodeOptions?: string;
  /** `--sqlite-pragma` values for the dev server; empty for the CLI's defaults. */
  sqlitePragmas: string[];
  naiveConcurrency: number;
  phaseTimeoutMs: number;
  phases: BenchPhase[];
  outFile: string;
  logLevel: string;
  waitForQuietMs: number;
  resultsFile?: string;
  /** Absolute path of the group mapping file. */
  syncConfigPath: string;
}

/** The mapping the project ships, which the scenarios are written for. */
export const SHIPPED_SYNC_CONFIG = resolve(__dirname, '../../config/sync.json');

/** Parses the settings; throws naming each invalid variable. */
export function readBenchSettings(env: NodeJS.ProcessEnv = process.env): BenchSettings {
  const parsed = benchEnvSchema.safeParse(env);
  if (!parsed.success) throw new Error(`invalid benchmark settings: ${describeIssues(parsed.error)}`);
  const values = parsed.data;

  const gitbookCallsPerSecond = (values.BENCH_RATE_LIMIT * 1_000) / values.BENCH_RATE_WINDOW_MS;
  // "Just under" the sandbox's limit, so a known limit should never be hit.
  const justUnder = Math.max(gitbookCallsPerSecond - 1, gitbookCallsPerSecond * 0.9);
  const workerCallsPerSecond = values.BENCH_WORKER_RATE ?? justUnder;
  const phases = BENCH_PHASES.filter((phase) => values.BENCH_PHASES.includes(phase));
  if (phases.includes('reorg') && !phases.includes('burst')) {
    throw new Error("invalid benchmark settings: BENCH_PHASES: reorg moves the burst's people, so it needs burst");
  }
  if (phases.includes('reorg') && values.BENCH_REORG > values.BENCH_N) {
    const sizes = `BENCH_REORG (${values.BENCH_REORG}) must not exceed BENCH_N (${values.BENCH_N})`;
    throw new Error(`invalid benchmark settings: ${sizes}`);
  }

  return {
    burstSize: values.BENCH_N,
    eventsPerDelivery: values.BENCH_BATCH,
    deliveryConcurrency: values.BENCH_DELIVERY_CONCURRENCY,
    reorgSize: values.BENCH_REORG,
    rateLimit: { limit: values.BENCH_RATE_LIMIT, windowMs: values.BENCH_RATE_WINDOW_MS },
    gitbookCallsPerSecond,
    workerCallsPerSecond,
    load: {
      deliveriesPerSecond: values.BENCH_LOAD_RPS,
      durationSeconds: values.BENCH_LOAD_SECONDS,
      maxEventsPerDelivery: values.BENCH_LOAD_MAX_EVENTS,
    },
    latency: { count: values.BENCH_LATENCY_COUNT, gapMs: values.BENCH_LATENCY_GAP_MS },
    memory: {
      pendingWorkflows: values.BENCH_MEMORY_N,
      budgetMs: values.BENCH_MEMORY_BUDGET_S * 1_000,
      batchSize: values.BENCH_MEMORY_BATCH,
      concurrency: values.BENCH_MEMORY_CONCURRENCY,
    },
    workerMaxCachedWorkflows: values.BENCH_WORKER_CACHE,
    workerNodeOptions: values.BENCH_WORKER_NODE_OPTIONS,
    sqlitePragmas: values.BENCH_SQLITE_PRAGMAS,
    naiveConcurrency: values.BENCH_NAIVE_CONCURRENCY,
    phaseTimeoutMs: values.BENCH_PHASE_TIMEOUT_S * 1_000,
    phases,
    outFile: values.BENCH_OUT,
    logLevel: values.BENCH_LOG_LEVEL,
    waitForQuietMs: values.BENCH_WAIT_FOR_QUIET_S * 1_000,
    resultsFile: values.BENCH_RESULTS_JSON,
    syncConfigPath: values.BENCH_SYNC_CONFIG ? resolve(values.BENCH_SYNC_CONFIG) : SHIPPED_SYNC_CONFIG,
  };
}
