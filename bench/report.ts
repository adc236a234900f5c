/**
 * The report: every figure beside its floor or baseline, each target of the issue marked met or not
 * and by how much. The same Markdown goes to the console and to `BENCHMARKS.md`.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { promisify } from 'node:util';
import type {
  DrainResult,
  LatencyResult,
  LoadResult,
  MemoryCheckpoint,
  MemoryResult,
  NaiveResult,
  ReorgResult,
  Usage,
} from './scenarios';
import { MEMORY_BASE_PENDING } from './scenarios';
import type { BenchSettings } from './settings';
import { formatBytes, formatMs, maximum, percentile, round } from './stats';

export interface BenchResults {
  latency?: LatencyResult;
  burst?: DrainResult;
  naive?: NaiveResult;
  reorg?: ReorgResult;
  memory?: MemoryResult;
  load?: LoadResult;
  /** Process -> its peak resident memory over the whole run (VmHWM). */
  peakRssBytes?: Record<string, number>;
  /** Scenario -> why it failed; the run stops at the first failure. */
  failures: Record<string, string>;
}

export interface MachineInfo {
  cpuCount: number;
  cpuModel: string;
  memoryBytes: number;
  node: string;
  kernel: string;
  /** 1-minute load average when the run started and ended: other work on the machine skews figures. */
  loadAtStart: number;
  loadAtEnd?: number;
  /** CPU time the whole machine spent during the run, and how much of it our processes took. */
  machineCpuSeconds?: number;
  ourCpuSeconds?: number;
  /** The commit measured, and how many files differed from it. */
  commit?: string;
  uncommittedFiles?: number;
}

/** Busy CPU time of the whole machine since boot, from the first line of `/proc/stat`. */
export async function machineBusySeconds(): Promise<number | undefined> {
  try {
    const [cpuLine] = (await readFile('/proc/stat', 'utf8')).split('\n');
    const ticks = (cpuLine ?? '').trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
    const busy = ticks.reduce((sum, value, index) => (index === 3 || index === 4 ? sum : sum + value), 0);
    return busy / 100;
  } catch {
    return undefined;
  }
}

/** The checked-out commit and the count of changed files, read with read-only git commands. */
export async function describeSource(cwd: string): Promise<{ commit?: string; uncommittedFiles?: number }> {
  const git = promisify(execFile);
  try {
    const { stdout: commit } = await git('git', ['rev-parse', '--short', 'HEAD'], { cwd });
    const { stdout: status } = await git('git', ['status', '--porcelain'], { cwd });
    return { commit: commit.trim(), uncommittedFiles: status.split('\n').filter(Boolean).length };
  } catch {
    return {};
  }
}

export function describeMachine(): MachineInfo {
  const processors = cpus();
  return {
    cpuCount: processors.length,
    cpuModel: processors[0]?.model.trim() ?? 'unknown',
    memoryBytes: totalmem(),
    node: process.version,
    kernel: release(),
    loadAtStart: round(loadavg()[0] ?? NaN),
  };
}

/** One target of the issue and how the run fared. */
interface Verdict {
  target: string;
  measured: string;
  met: boolean | undefined;
  by: string;
}

const mark = (met: boolean | undefined) => (met === undefined ? 'not measured' : met ? '**met**' : '**not met**');

/** Drain time against `1.2 x floor`. */
function drainVerdict(name: string, result: DrainResult | undefined, settings: BenchSettings): Verdict {
  if (!result) return { target: `${name}: drain time <= 1.2x the floor`, measured: 'n/a', met: undefined, by: '' };
  const floorMs = floorOf(result.callsNeeded, settings);
  const ratio = result.drainMs / floorMs;
  const met = ratio <= 1.2;
  const by = met
    ? `${round((1.2 - ratio) * 100, 0)} points of the floor to spare`
    : `${round(ratio / 1.2, 2)}x slower than the target (${formatMs(result.drainMs - 1.2 * floorMs)} over)`;
  return { target: `${name}: drain time <= 1.2x the floor`, measured: `${round(ratio, 2)}x the floor`, met, by };
}

/** The least time the rate limit allows for `calls` calls: calls / limit. */
export function floorOf(calls: number, settings: BenchSettings): number {
  return (calls / settings.gitbookCallsPerSecond) * 1_000;
}

function callsPerChange(result: DrainResult): number {
  return result.calls.calls / result.changes;
}

function verdicts(results: BenchResults, settings: BenchSettings): Verdict[] {
  const list: Verdict[] = [drainVerdict('burst', results.burst, settings), drainVerdict('reorganization', results.reorg, settings)];

  const drains: Array<[string, DrainResult | undefined]> = [
    ['burst', results.burst],
    ['reorganization', results.reorg],
  ];
  const measuredDrains = drains.filter((entry): entry is [string, DrainResult] => entry[1] !== undefined);
  const steady429 = measuredDrains.map(([name, result]) => `${name} ${result.calls.rateLimitedAtSteadyState} (${result.calls.rateLimited} in all)`);
  list.push({
    target: 'zero 429s at steady state (the limit is known to the worker)',
    measured: steady429.join(', ') || 'n/a',
    met: measuredDrains.length ? measuredDrains.every(([, result]) => result.calls.rateLimitedAtSteadyState === 0) : undefined,
    by: measuredDrains.length
      ? `${measuredDrains.reduce((sum, [, result]) => sum + result.calls.rateLimitedAtSteadyState, 0)} 429s after the first 5 s of each scenario`
      : '',
  });

  for (const [name, result] of measuredDrains) {
    const perChange = callsPerChange(result);
    list.push({
      target: `${name}: calls per change <= 1`,
      measured: String(round(perChange, 3)),
      met: perChange <= 1,
      by: perChange <= 1 ? `${round(1 - perChange, 3)} under` : `${round(perChange - 1, 3)} over (${round(perChange * 100 - 100, 0)}% more calls than changes)`,
    });
    list.push({
      target: `${name}: calls per change < 0.1 (needs batching)`,
      measured: String(round(perChange, 3)),
      met: perChange < 0.1,
      by: perChange < 0.1 ? 'met' : `${round(perChange / 0.1, 1)}x the target: each change still costs its own call`,
    });
  }

  const load = results.load;
  if (load) {
    const p99 = percentile(load.answerMs, 99);
    const errors = Object.values(load.errors).reduce((sum, count) => sum + count, 0);
    const met = p99 <= 1_000 && errors === 0;
    list.push({
      target: `p99 acknowledgement well under Okta's 3 s at ${load.deliveriesPerSecond} deliveries/s (read as <= 1 s, every answer a 200)`,
      measured: `p99 ${formatMs(p99)} (any answer), ${errors} of ${load.sent} not 200`,
      met,
      by: met
        ? `${formatMs(3_000 - p99)} under Okta's timeout`
        : `${p99 > 1_000 ? `${formatMs(p99 - 1_000)} over 1 s` : 'p99 fine'}${errors ? `; ${round((errors / load.sent) * 100, 0)}% of deliveries refused or lost` : ''}`,
    });
  } else {
    list.push({ target: 'p99 acknowledgement well under 3 s', measured: 'n/a', met: undefined, by: '' });
  }

  const memory = results.memory;
  const base = memory?.checkpoints.find((point) => point.pending >= MEMORY_BASE_PENDING);
  const top = memory?.checkpoints[memory.checkpoints.length - 1];
  const flatTarget = `worker memory flat from ${MEMORY_BASE_PENDING} to ${settings.memory.pendingWorkflows} pending workflows (read as peak RSS within +20%)`;
  if (memory && base?.workerPeakRssBytes && top?.workerPeakRssBytes && top !== base) {
    const growth = top.workerPeakRssBytes / base.workerPeakRssBytes;
    const met = growth <= 1.2 && !memory.cutShort;
    list.push({
      target: flatTarget,
      measured: `${formatBytes(base.workerPeakRssBytes)} at ${base.pending} -> ${formatBytes(top.workerPeakRssBytes)} at ${top.pending} pending`,
      met: memory.cutShort && growth <= 1.2 ? undefined : met,
      by: `${growth >= 1 ? '+' : ''}${round((growth - 1) * 100, 0)}%${memory.cutShort ? `; only ${top.pending} of ${settings.memory.pendingWorkflows} fitted in the time budget` : ''}`,
    });
  } else {
    const reached = top ? `only ${top.pending} pending within the budget` : 'n/a';
    list.push({ target: flatTarget, measured: reached, met: undefined, by: `never reached ${MEMORY_BASE_PENDING} pending` });
  }
  return list;
}

function usageTable(rows: Array<[string, Usage | undefined]>): string[] {
  const names = ['worker', 'memory-worker', 'receiver', 'temporal', 'bench'];
  const lines = [
    `| scenario | ${names.map((name) => `${name} CPU s / peak RSS`).join(' | ')} |`,
    `|---|${names.map(() => '---').join('|')}|`,
  ];
  for (const [scenario, usage] of rows) {
    if (!usage) continue;
    const cells = names.map((name) => {
      const entry = usage[name];
      return entry ? `${round(entry.cpuSeconds, 1)} / ${formatBytes(entry.peakRssBytes)}` : 'n/a';
    });
    lines.push(`| ${scenario} | ${cells.join(' | ')} |`);
  }
  return lines;
}

function drainRows(result: DrainResult, settings: BenchSettings): string[] {
  const floorMs = floorOf(result.callsNeeded, settings);
  const batchedCalls = Math.ceil(result.callsNeeded / 100);
  const refusals = Object.entries(result.delivery.refusals).map(([status, count]) => `${count}x ${status}`);
  return [
    `| drain time (first delivery to last GitBook call) | ${formatMs(result.drainMs)} | floor ${formatMs(floorMs)} (${result.callsNeeded} calls / ${settings.gitbookCallsPerSecond} per s) | ${round(result.drainMs / floorMs, 2)}x |`,
    `| GitBook calls | ${result.calls.calls} (${Object.entries(result.calls.byOperation).map(([op, n]) => `${n} ${op}`).join(', ')}) | needed: ${result.callsNeeded}; with batching (100 per call) about ${batchedCalls} | ${round(result.calls.calls / result.callsNeeded, 2)}x needed |`,
    `| 429s received | ${result.calls.rateLimited} (${result.calls.rateLimitedAtSteadyState} after the first 5 s, in ${result.calls.secondsWith429} distinct seconds) | 0 | |`,
    `| calls per directory change | ${round(callsPerChange(result), 3)} | <= 1; < 0.1 with batching | |`,
    `| hand-off: the receiver acknowledged every event after | ${formatMs(result.handoffMs)} | ${result.deliveries} deliveries planned, ${result.delivery.sent} sent | ${handoffNote(result)} |`,
    `| deliveries Okta would have dropped (no 200 in its 2 attempts) | ${result.delivery.oktaWouldDrop} of ${result.deliveries} | 0 | |`,
    `| GitBook matches the directory afterwards | ${result.converged ? 'yes' : '**no**'} | | |`,
    `| CPU per directory change: worker / Temporal dev server / receiver | ${cpuPerChange(result)} | | ${cpuCeiling(result, settings)} |`,
    ...workerTaskRows(result),
  ];
}

function workerTaskRows(result: DrainResult): string[] {
  const tasks = result.workerTasks;
  if (!tasks || tasks.workflowTasks === 0) return [];
  return [
    `| workflow tasks run by the worker / of them replaying history | ${tasks.workflowTasks} / ${tasks.replays} (${round((tasks.replays / tasks.workflowTasks) * 100, 0)}%) | ${round(tasks.workflowTasks / result.changes, 1)} tasks per change | workflow cache: ${tasks.cacheHits} hits, ${tasks.cacheMisses} misses, ${tasks.forcedEvictions} forced evictions |`,
    `| workflow task: queue wait / run time / Temporal's answer to its completion (averages) | ${formatMs(tasks.avgScheduleToStartMs)} / ${formatMs(tasks.avgExecutionMs)} / ${formatMs(tasks.avgCompleteMs)} | | |`,
  ];
}

function cpuMsPerChange(result: DrainResult, name: string): number {
  return ((result.usage[name]?.cpuSeconds ?? NaN) * 1_000) / result.changes;
}

function cpuPerChange(result: DrainResult): string {
  return ['worker', 'temporal', 'receiver'].map((name) => `${round(cpuMsPerChange(result, name), 0)} ms`).join(' / ');
}

/** The changes per second two dedicated cores could push at that CPU cost, against the rate limit. */
function cpuCeiling(result: DrainResult, settings: BenchSettings): string {
  const totalMs = ['worker', 'temporal', 'receiver'].reduce((sum, name) => sum + cpuMsPerChange(result, name), 0);
  const perSecond = (1_000 * 2) / totalMs;
  const callsPerSecond = perSecond * (result.calls.calls / result.changes);
  return `at this cost 2 cores do at most ${round(perSecond, 1)} changes/s (${round(callsPerSecond, 1)} calls/s; the limit is ${settings.gitbookCallsPerSecond})`;
}

/** The checkpoints worth a row: the first past each round number, and the last. */
function memoryRows(memory: MemoryResult): MemoryCheckpoint[] {
  const marks = [0, 500, 1_000, 2_000, 3_000, 5_000, 7_500, 10_000, 15_000, 20_000];
  const rows = new Set<MemoryCheckpoint>();
  for (const mark of marks) {
    const point = memory.checkpoints.find((candidate) => candidate.pending >= mark);
    if (point) rows.add(point);
  }
  const last = memory.checkpoints[memory.checkpoints.length - 1];
  if (last) rows.add(last);
  return [...rows];
}

/** What the checkpoints say per cached workflow, and where the cache stops growing. */
function memoryNotes(memory: MemoryResult, results: BenchResults): string[] {
  const notes: string[] = [];
  const first = memory.checkpoints[0];
  const last = memory.checkpoints[memory.checkpoints.length - 1];
  const grownBy = (last?.stickyCacheSize ?? 0) - (first?.stickyCacheSize ?? 0);
  if (first?.workerRssBytes && last?.workerPeakRssBytes && grownBy > 0) {
    const perWorkflow = (last.workerPeakRssBytes - first.workerRssBytes) / grownBy;
    const plateau = first.workerRssBytes + perWorkflow * memory.defaultCacheSize;
    notes.push(
      `The worker grew by about ${round(perWorkflow / 1_048_576, 2)} MiB per cached workflow (from ${formatBytes(first.workerRssBytes)} idle). ` +
        `Its cache is not set, so the SDK sizes it from the heap limit: ${memory.defaultCacheSize} workflows on this machine, ` +
        `so memory should keep growing to about ${formatBytes(plateau)} before evictions hold it flat.`,
    );
  }
  if (results.burst?.usage.worker) {
    notes.push(
      `For comparison, the scenarios' worker peaked at ${formatBytes(results.burst.usage.worker.peakRssBytes)} during the burst of ${results.burst.changes} (draining, not held).`,
    );
  }
  return notes;
}

/** ` (19 to read, 19 to edit)`, or nothing. */
function roleBreakdown(byRole: Record<string, number> | undefined): string {
  const entries = Object.entries(byRole ?? {});
  return entries.length ? ` (${entries.map(([role, count]) => `${count} to ${role}`).join(', ')})` : '';
}

/** Refusals, splits and losses of a scenario's deliveries, in words. */
function handoffNote(result: DrainResult): string {
  const { refusals, splits, lostEvents } = result.delivery;
  const parts = Object.entries(refusals).map(([status, count]) => `${count}x ${status}`);
  if (parts.length === 0) return 'no refusals';
  let note = `refused and retried: ${parts.join(', ')}`;
  if (splits > 0) note += `; ${splits} deliveries failed 4 attempts and were split in halves`;
  if (lostEvents > 0) note += `; ${lostEvents} events never accepted`;
  return note;
}

export interface ReportInput {
  settings: BenchSettings;
  results: BenchResults;
  machine: MachineInfo;
  startedAt: Date;
  runMs: number;
}

/** The whole report as Markdown. */
export function renderReport({ settings, results, machine, startedAt, runMs }: ReportInput): string {
  const out: string[] = [];
  const partial = settings.phases.length < 6 || Object.keys(results.failures).length > 0;
  out.push('# Benchmarks', '');
  out.push(
    'Written by `npm run bench` (`bench/run.ts`); every figure below comes from one run, on the machine described. ' +
      'Run it again to refresh this file; settings are `BENCH_*` environment variables (see `bench/settings.ts`).',
    '',
  );
  if (partial) out.push(`**Partial run**: scenarios ${settings.phases.join(', ')}${Object.keys(results.failures).length ? `; failed: ${Object.keys(results.failures).join(', ')}` : ''}.`, '');

  out.push('## Run', '');
  out.push(
    `- date: ${startedAt.toISOString()}; run time ${formatMs(runMs)}`,
    `- machine: ${machine.cpuCount} x ${machine.cpuModel}, ${formatBytes(machine.memoryBytes)} memory, Linux ${machine.kernel}`,
    `- Node ${machine.node}; Temporal CLI dev server (SQLite file in a temporary folder); \`@temporalio/*\` 1.24`,
    `- code measured: ${machine.commit ? `commit ${machine.commit}${machine.uncommittedFiles ? ` plus ${machine.uncommittedFiles} uncommitted or untracked files (others were editing the tree)` : ''}` : 'unknown'}`,
    `- load average (1 min) at start ${machine.loadAtStart}${machine.loadAtEnd === undefined ? '' : `, at end ${machine.loadAtEnd}`}` +
      (machine.machineCpuSeconds !== undefined && machine.ourCpuSeconds !== undefined
        ? `; the machine was busy for ${round(machine.machineCpuSeconds, 0)} CPU-seconds during the run, ${round(machine.ourCpuSeconds, 0)} of them ours ` +
          `(${round(Math.max(0, machine.machineCpuSeconds - machine.ourCpuSeconds), 0)} CPU-seconds of other work competed with the run)`
        : ''),
    '',
  );
  out.push('### Settings', '');
  out.push(
    '| setting | value |',
    '|---|---|',
    `| GitBook sandbox rate limit (\`BENCH_RATE_LIMIT\` per \`BENCH_RATE_WINDOW_MS\`) | ${settings.rateLimit.limit} per ${settings.rateLimit.windowMs} ms = ${settings.gitbookCallsPerSecond} calls/s |`,
    `| worker task-queue activity rate limit (\`BENCH_WORKER_RATE\`) | ${settings.workerCallsPerSecond} activities/s |`,
    `| burst (\`BENCH_N\`), events per delivery (\`BENCH_BATCH\`), deliveries in flight (\`BENCH_DELIVERY_CONCURRENCY\`) | ${settings.burstSize}, ${settings.eventsPerDelivery}, ${settings.deliveryConcurrency} |`,
    `| reorganization (\`BENCH_REORG\`) | ${settings.reorgSize} people, Engineering -> Design (shipped \`config/sync.json\`: both grant role edit) |`,
    `| receiver load (\`BENCH_LOAD_RPS\`, \`BENCH_LOAD_SECONDS\`, \`BENCH_LOAD_MAX_EVENTS\`) | ${settings.load.deliveriesPerSecond} deliveries/s for ${settings.load.durationSeconds} s, 1-${settings.load.maxEventsPerDelivery} events each |`,
    `| latency (\`BENCH_LATENCY_COUNT\`, \`BENCH_LATENCY_GAP_MS\`) | ${settings.latency.count} single onboardings, ${settings.latency.gapMs} ms apart |`,
    `| memory (\`BENCH_MEMORY_N\`, \`BENCH_MEMORY_BUDGET_S\`) | ${settings.memory.pendingWorkflows} pending workflows, ${formatMs(settings.memory.budgetMs)} budget |`,
    `| naive baseline in flight (\`BENCH_NAIVE_CONCURRENCY\`) | ${settings.naiveConcurrency} |`,
    `| worker and receiver log level (\`BENCH_LOG_LEVEL\`) | ${settings.logLevel} |`,
    '',
  );

  out.push('## Targets', '');
  out.push('| target | measured | verdict | by how much |', '|---|---|---|---|');
  for (const verdict of verdicts(results, settings)) {
    out.push(`| ${verdict.target} | ${verdict.measured} | ${mark(verdict.met)} | ${verdict.by} |`);
  }
  out.push('');

  if (results.burst) {
    const burst = results.burst;
    const onboardings = burst.changes - (burst.joinedTeam ?? 0);
    out.push(`## Burst: ${onboardings} onboardings in ${burst.deliveries} Okta deliveries`, '');
    if (burst.joinedTeam) {
      out.push(
        `${burst.joinedTeam} of the ${onboardings} people also join Engineering (team_engineering, role edit): their delivery ` +
          'carries the activation and, right after it, the group add. So the burst is ' +
          `${burst.changes} directory changes, each needing one call: an invite per person (with the role) and a team change per joiner.`,
        '',
      );
    }
    out.push('| figure | measured | floor / baseline | ratio |', '|---|---|---|---|');
    out.push(...drainRows(burst, settings));
    const roleCalls = Object.values(burst.roleCallsByRole ?? {}).reduce((sum, count) => sum + count, 0);
    out.push(`| role changes sent after the invite (the invite could carry the role) | ${roleCalls}${roleBreakdown(burst.roleCallsByRole)} | 0 | |`);
    if (burst.historyEvents) {
      out.push(`| history events for one onboarding: user workflow + onboarding step (child workflow) | ${burst.historyEvents.user} + ${burst.historyEvents.step} | | |`);
    }
    if (results.naive) {
      const naive = results.naive;
      out.push(
        `| naive script: one undici call per event, ${naive.concurrency} people in flight, waits for the reset on 429 | ${formatMs(naive.drainMs)}, ${naive.calls} calls, ${naive.rateLimited} 429s${naive.failures ? `, ${naive.failures} failed` : ''} | same events, same limit, its own sandbox, run at the same time as the burst | ours / naive: ${round(burst.drainMs / naive.drainMs, 2)}x time, ${round(burst.calls.calls / naive.calls, 2)}x calls |`,
      );
    }
    out.push('');
  } else if (results.naive) {
    out.push('## Naive baseline', '', `${formatMs(results.naive.drainMs)}, ${results.naive.calls} calls, ${results.naive.rateLimited} 429s`, '');
  }

  if (results.reorg) {
    const reorg = results.reorg;
    out.push(`## Reorganization: ${reorg.people} people from Engineering to Design (group remove + group add each)`, '');
    out.push('| figure | measured | floor / baseline | ratio |', '|---|---|---|---|');
    out.push(...drainRows(reorg, settings));
    out.push(
      `| role changes sent (both groups grant edit, so none are needed) | ${reorg.roleCalls}${roleBreakdown(reorg.roleCallsByRole)} | 0 | |`,
      '',
    );
  }

  if (results.latency) {
    const latency = results.latency;
    out.push(`## End-to-end latency at low load: ${latency.count} single onboardings, ${latency.gapMs} ms apart`, '');
    out.push(
      '| figure | p50 | p99 | max |',
      '|---|---|---|---|',
      `| delivery sent -> GitBook receives the invite | ${formatMs(percentile(latency.endToEndMs, 50))} | ${formatMs(percentile(latency.endToEndMs, 99))} | ${formatMs(maximum(latency.endToEndMs))} |`,
      `| delivery acknowledged | ${formatMs(percentile(latency.ackMs, 50))} | ${formatMs(percentile(latency.ackMs, 99))} | ${formatMs(maximum(latency.ackMs))} |`,
      '',
      `GitBook calls: ${latency.calls.calls} for ${latency.count} onboardings, ${latency.calls.rateLimited} 429s. With ${latency.count} samples, p99 is the second-worst value.`,
      '',
    );
  }

  if (results.load) {
    const load = results.load;
    const errors = Object.entries(load.errors).map(([status, count]) => `${count}x ${status}`);
    const over3s = load.answerMs.filter((ms) => ms > 3_000).length;
    out.push(`## Receiver under load: ${load.deliveriesPerSecond} deliveries/s for ${load.durationSeconds} s`, '');
    out.push(
      '| figure | measured | reference |',
      '|---|---|---|',
      `| deliveries sent / events offered | ${load.sent} / ${load.offeredEvents} | ${round(load.offeredEvents / load.durationSeconds, 0)} events/s offered |`,
      `| events accepted per second | ${round(load.acceptedEvents / (load.elapsedMs / 1_000), 0)} (${load.acceptedEvents} in ${formatMs(load.elapsedMs)}) | offered ${round(load.offeredEvents / load.durationSeconds, 0)}/s |`,
      `| answer time p50 / p99 / max, any status (from the scheduled send) | ${formatMs(percentile(load.answerMs, 50))} / ${formatMs(percentile(load.answerMs, 99))} / ${formatMs(maximum(load.answerMs))} | Okta gives up after 3 s |`,
      `| acknowledgement (200) time p50 / p99 / max | ${formatMs(percentile(load.ackMs, 50))} / ${formatMs(percentile(load.ackMs, 99))} / ${formatMs(maximum(load.ackMs))} (${load.ackMs.length} deliveries) | |`,
      `| answers slower than 3 s (Okta would retry them) | ${over3s} | 0 |`,
      `| errors | ${errors.length ? errors.join(', ') : 'none'} | 0 |`,
      `| generator's worst lateness (a busy machine delays its timers) | ${formatMs(load.maxSendLagMs)} | |`,
      '',
      'Each delivery carries 1-5 `group.user_membership.add` events for people never seen before: the real receiver hands each to ' +
        'its own new workflow by signal-with-start, but nobody is activated, so no GitBook call follows and the rate limit does not ' +
        "enter into it. The scenarios' worker runs meanwhile, starting those workflows on the same two cores.",
      '',
    );
  }

  if (results.memory) {
    const memory = results.memory;
    out.push('## Worker memory with pending workflows', '');
    out.push(
      "The scenarios' worker is stopped and a fresh worker process started on a task queue of its own, so nothing earlier " +
        'is cached or queued. GitBook is slowed to one call a minute, so every onboarding stays pending (its invite retries ' +
        "after the reset). Activations are handed to Temporal with the receiver's own hand-off (`submitDirectoryEvents`, 100 " +
        'events per call, never more than two calls ahead of the workflows the worker has started) but without its HTTP ' +
        'deadline, so the filling is not slowed by 503s: this ' +
        `scenario is about the worker. Handed off: ${round(memory.handOffPerSecond, 1)} activations/s` +
        `${memory.handOffRetries ? ` (${memory.handOffRetries} hand-off calls failed and were made again)` : ''}. "Pending" counts ` +
        'onboarding steps still running; peak RSS is the highest VmRSS sampled (every 250 ms) since the scenario began.',
      '',
      '| time | handed off | pending | worker peak RSS | worker RSS | workflow cache | Temporal dev server RSS |',
      '|---|---|---|---|---|---|---|',
    );
    for (const point of memoryRows(memory)) {
      out.push(
        `| ${formatMs(point.atMs)} | ${point.handedOff} | ${point.pending} | ${formatBytes(point.workerPeakRssBytes)} | ${formatBytes(point.workerRssBytes)} | ${point.stickyCacheSize ?? 'n/a'} | ${formatBytes(point.temporalRssBytes)} |`,
      );
    }
    out.push('', ...memoryNotes(memory, results));
    out.push('');
    if (memory.cutShort) {
      const reached = memory.checkpoints[memory.checkpoints.length - 1]?.pending ?? 0;
      out.push(
        `**${memory.target} pending workflows did not fit in the ${formatMs(memory.budgetMs)} budget on this machine**: ` +
          `the largest measured is ${reached}.`,
        '',
      );
    }
  }

  out.push('## Peak memory and CPU per process', '');
  if (results.peakRssBytes) {
    const peaks = Object.entries(results.peakRssBytes).map(([name, bytes]) => `${name} ${formatBytes(bytes)}`);
    out.push(`Peak resident memory over the whole run (VmHWM from \`/proc/<pid>/status\`): ${peaks.join(', ')}.`, '');
  }
  out.push(
    ...usageTable([
      ['latency', undefined],
      ['burst', results.burst?.usage],
      ['reorganization', results.reorg?.usage],
      ['memory', results.memory?.usage],
      ['receiver load', results.load?.usage],
    ]),
    '',
    'CPU seconds are user + system time over the scenario (from `/proc/<pid>/stat`); the machine has ' +
      `${machine.cpuCount} cores for all the processes. "bench" is this benchmark's own process, which also hosts the GitBook sandbox; ` +
      '"memory-worker" is the fresh worker of the memory scenario.',
    '',
  );

  if (Object.keys(results.failures).length > 0) {
    out.push('## Scenarios that failed', '');
    for (const [phase, message] of Object.entries(results.failures)) out.push(`- ${phase}: ${message.split('\n')[0]}`);
    out.push('');
  }
  return out.join('\n');
}
