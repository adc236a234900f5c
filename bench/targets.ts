/**
 * The targets, and how a run fared against each: met, not met (and by how much), or not
 * measured. Where the issue says "well under" or "flat", the reading used is named in the target.
 */
import type { BenchResults } from './results';
import { MEMORY_BASE_PENDING, type DrainResult, type LoadResult, type MemoryResult } from './scenarios';
import type { BenchSettings } from './settings';
import { formatBytes, formatMs, percentile, round } from './stats';

/** One target of the issue and how the run fared. */
export interface Verdict {
  target: string;
  measured: string;
  /** `undefined` when the run could not tell. */
  met: boolean | undefined;
  by: string;
}

/** Drain time may be this many times the floor. */
export const DRAIN_TARGET_RATIO = 1.2;
/** "Well under Okta's 3 s", read as a third of it. */
export const ACK_P99_TARGET_MS = 1_000;
/** "Flat", read as a peak RSS growth of at most this share. */
export const MEMORY_GROWTH_TARGET = 0.2;

/** The least time the rate limit allows for `calls` calls: calls / limit. */
export function floorOf(calls: number, settings: BenchSettings): number {
  return (calls / settings.gitbookCallsPerSecond) * 1_000;
}

/** Every GitBook call of a scenario (429s included) per directory change delivered. */
export function callsPerChange(result: DrainResult): number {
  return result.calls.calls / result.changes;
}

/** The verdicts of a run, in the order the issue lists the targets. */
export function verdicts(results: BenchResults, settings: BenchSettings): Verdict[] {
  const drains: Array<[string, DrainResult | undefined]> = [
    ['burst', results.burst],
    ['reorganization', results.reorg],
  ];
  const measured = drains.filter((entry): entry is [string, DrainResult] => entry[1] !== undefined);

  return [
    ...drains.map(([name, result]) => drainVerdict(name, result, settings)),
    rateLimitVerdict(measured),
    ...measured.flatMap(([name, result]) => callVerdicts(name, result)),
    loadVerdict(results.load),
    memoryVerdict(results.memory, settings),
  ];
}

function drainVerdict(name: string, result: DrainResult | undefined, settings: BenchSettings): Verdict {
  const target = `${name}: drain time <= ${DRAIN_TARGET_RATIO}x the floor`;
  if (!result) return { target, measured: 'n/a', met: undefined, by: '' };

  const floorMs = floorOf(result.callsNeeded, settings);
  const ratio = result.drainMs / floorMs;
  const met = ratio <= DRAIN_TARGET_RATIO;
  const overMs = result.drainMs - DRAIN_TARGET_RATIO * floorMs;
  const by = met
    ? `${formatMs(-overMs)} to spare`
    : `${round(ratio / DRAIN_TARGET_RATIO, 2)}x slower than the target (${formatMs(overMs)} over)`;
  return { target, measured: `${round(ratio, 2)}x the floor`, met, by };
}

function rateLimitVerdict(drains: Array<[string, DrainResult]>): Verdict {
  const target = 'zero 429s at steady state (the limit is known to the worker)';
  if (drains.length === 0) return { target, measured: 'n/a', met: undefined, by: '' };

  const steady = drains.reduce((sum, [, result]) => sum + result.calls.rateLimitedAtSteadyState, 0);
  const measured = drains
    .map(([name, result]) => `${name} ${result.calls.rateLimitedAtSteadyState} (${result.calls.rateLimited} in all)`)
    .join(', ');
  return { target, measured, met: steady === 0, by: `${steady} 429s after the first 5 s of the scenarios` };
}

function callVerdicts(name: string, result: DrainResult): Verdict[] {
  const perChange = callsPerChange(result);
  const measured = String(round(perChange, 3));
  const overOne = `${round(perChange - 1, 3)} over (${round(perChange * 100 - 100, 1)}% more calls than changes)`;
  const unbatched = perChange >= 0.95 ? ': each change still costs its own call' : '';
  return [
    {
      target: `${name}: calls per change <= 1`,
      measured,
      met: perChange <= 1,
      by: perChange <= 1 ? `${round(1 - perChange, 3)} under` : overOne,
    },
    {
      target: `${name}: calls per change < 0.1 (needs batching)`,
      measured,
      met: perChange < 0.1,
      by:
        perChange < 0.1
          ? `${round(0.1 - perChange, 3)} under`
          : `${round(perChange / 0.1, 1)}x the target${unbatched}`,
    },
  ];
}

function loadVerdict(load: LoadResult | undefined): Verdict {
  if (!load) return { target: "p99 acknowledgement well under Okta's 3 s", measured: 'n/a', met: undefined, by: '' };

  const p99 = percentile(load.answerMs, 99);
  const errors = Object.values(load.errors).reduce((sum, count) => sum + count, 0);
  const met = p99 <= ACK_P99_TARGET_MS && errors === 0;
  const slow =
    p99 > ACK_P99_TARGET_MS ? `${formatMs(p99 - ACK_P99_TARGET_MS)} over ${formatMs(ACK_P99_TARGET_MS)}` : 'p99 fine';
  const refused = errors ? `; ${round((errors / load.sent) * 100, 0)}% of deliveries refused or lost` : '';
  return {
    target:
      `p99 acknowledgement well under Okta's 3 s at ${load.deliveriesPerSecond} deliveries/s ` +
      `(read as <= ${formatMs(ACK_P99_TARGET_MS)}, every answer a 200)`,
    measured: `p99 ${formatMs(p99)} (any answer), ${errors} of ${load.sent} not 200`,
    met,
    by: met ? `${formatMs(3_000 - p99)} under Okta's timeout` : `${slow}${refused}`,
  };
}

function memoryVerdict(memory: MemoryResult | undefined, settings: BenchSettings): Verdict {
  const target =
    `worker memory flat from ${MEMORY_BASE_PENDING} to ${settings.memory.pendingWorkflows} pending workflows ` +
    `(read as peak RSS within +${MEMORY_GROWTH_TARGET * 100}%)`;
  const base = memory?.checkpoints.find((point) => point.pending >= MEMORY_BASE_PENDING);
  const top = memory?.checkpoints[memory.checkpoints.length - 1];
  if (!memory || !base?.workerPeakRssBytes || !top?.workerPeakRssBytes || top === base) {
    const reached = top ? `only ${top.pending} pending within the budget` : 'n/a';
    return { target, measured: reached, met: undefined, by: `never reached ${MEMORY_BASE_PENDING} pending` };
  }

  const growth = top.workerPeakRssBytes / base.workerPeakRssBytes - 1;
  const flatSoFar = growth <= MEMORY_GROWTH_TARGET;
  const shortNote = memory.cutShort ? `; only ${top.pending} of ${memory.target} fitted in the time budget` : '';
  return {
    target,
    measured:
      `${formatBytes(base.workerPeakRssBytes)} at ${base.pending} -> ` +
      `${formatBytes(top.workerPeakRssBytes)} at ${top.pending} pending`,
    // Flat so far but cut short says nothing about 10,000; growing already says "not flat".
    met: memory.cutShort && flatSoFar ? undefined : flatSoFar,
    by: `${growth >= 0 ? '+' : ''}${round(growth * 100, 0)}%${shortNote}`,
  };
}
