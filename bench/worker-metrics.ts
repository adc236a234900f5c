/**
 * The worker's own Prometheus metrics (served by the SDK at `WORKER_METRICS_ADDRESS`), read before
 * and after a scenario: how many workflow tasks it ran, how its workflow cache fared, how long tasks
 * waited in the queue and how long Temporal took to accept their results. Durations are the SDK's,
 * in milliseconds.
 */
import { request } from 'undici';

/** Sums of the series we read, over all their labels. */
export interface WorkerMetrics {
  workflowTasks: number;
  workflowTaskMs: number;
  scheduleToStartCount: number;
  scheduleToStartMs: number;
  completeCount: number;
  completeMs: number;
  cacheHits: number;
  cacheMisses: number;
  forcedEvictions: number;
  stickyCacheSize?: number;
}

/** What changed between two readings, as averages. */
export interface WorkerTaskSummary {
  workflowTasks: number;
  /** Tasks for a workflow the worker had cached, or not (then it fetched and replayed the history). */
  cacheHits: number;
  cacheMisses: number;
  /** Workflows pushed out of a full cache. */
  forcedEvictions: number;
  avgExecutionMs: number;
  /** Time a workflow task waited between being scheduled and a worker picking it up. */
  avgScheduleToStartMs: number;
  /** Time Temporal took to answer `RespondWorkflowTaskCompleted`. */
  avgCompleteMs: number;
}

function sum(text: string, name: string, labelFilter?: RegExp): number {
  let total = 0;
  const pattern = new RegExp(`^${name}(\\{[^}]*\\})? ([0-9.e+-]+)$`, 'gm');
  for (const match of text.matchAll(pattern)) {
    if (labelFilter && !labelFilter.test(match[1] ?? '')) continue;
    total += Number(match[2]);
  }
  return total;
}

/** Reads the metrics; `undefined` when the worker does not answer. */
export async function readWorkerMetrics(url: string): Promise<WorkerMetrics | undefined> {
  try {
    const response = await request(url, { headersTimeout: 2_000, bodyTimeout: 2_000 });
    const text = await response.body.text();
    const complete = /operation="RespondWorkflowTaskCompleted"/;
    return {
      workflowTasks: sum(text, 'temporal_workflow_task_execution_latency_count'),
      workflowTaskMs: sum(text, 'temporal_workflow_task_execution_latency_sum'),
      scheduleToStartCount: sum(text, 'temporal_workflow_task_schedule_to_start_latency_count'),
      scheduleToStartMs: sum(text, 'temporal_workflow_task_schedule_to_start_latency_sum'),
      completeCount: sum(text, 'temporal_request_latency_count', complete),
      completeMs: sum(text, 'temporal_request_latency_sum', complete),
      cacheHits: sum(text, 'temporal_sticky_cache_hit'),
      cacheMisses: sum(text, 'temporal_sticky_cache_miss'),
      forcedEvictions: sum(text, 'temporal_sticky_cache_total_forced_eviction'),
      stickyCacheSize: /^temporal_sticky_cache_size/m.test(text) ? sum(text, 'temporal_sticky_cache_size') : undefined,
    };
  } catch {
    return undefined;
  }
}

/** The work done between `before` and `after`. */
export function summarizeWorkerTasks(before?: WorkerMetrics, after?: WorkerMetrics): WorkerTaskSummary | undefined {
  if (!before || !after) return undefined;
  const delta = (key: keyof WorkerMetrics) => (after[key] ?? 0) - (before[key] ?? 0);
  const average = (total: keyof WorkerMetrics, count: keyof WorkerMetrics) =>
    delta(count) > 0 ? delta(total) / delta(count) : NaN;
  return {
    workflowTasks: delta('workflowTasks'),
    cacheHits: delta('cacheHits'),
    cacheMisses: delta('cacheMisses'),
    forcedEvictions: delta('forcedEvictions'),
    avgExecutionMs: average('workflowTaskMs', 'workflowTasks'),
    avgScheduleToStartMs: average('scheduleToStartMs', 'scheduleToStartCount'),
    avgCompleteMs: average('completeMs', 'completeCount'),
  };
}
