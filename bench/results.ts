/** The results of a run, as the report reads them (and as `BENCH_RESULTS_JSON` saves them). */
import type { SyncConfig } from '../src/mapping';
import type { MachineInfo } from './machine';
import type { DrainResult, LatencyResult, LoadResult, MemoryResult, NaiveResult, ReorgResult } from './scenarios';
import type { BenchSettings } from './settings';

export interface BenchResults {
  latency?: LatencyResult;
  burst?: DrainResult;
  naive?: NaiveResult;
  reorg?: ReorgResult;
  memory?: MemoryResult;
  load?: LoadResult;
  /** Process -> its peak resident memory over the whole run (VmHWM). */
  peakRssBytes?: Record<string, number>;
  /** The batching and settling the sync ran with (from the mapping file, defaults applied). */
  sync?: Pick<SyncConfig, 'inviteBatching' | 'teamBatching' | 'settleMs'>;
  /** The workers' sticky cache size (`WORKER_MAX_CACHED_WORKFLOWS`). */
  workerCacheSize?: number;
  /** Scenario -> why it failed; the run stops at the first failure. */
  failures: Record<string, string>;
}

/** Everything a report is rendered from. */
export interface ReportInput {
  settings: BenchSettings;
  results: BenchResults;
  machine: MachineInfo;
  startedAt: Date;
  runMs: number;
}
