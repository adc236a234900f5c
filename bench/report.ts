/**
 * The report: every figure beside its floor or baseline, each target of the issue marked met or not
 * and by how much. The same Markdown goes to the console and to `BENCHMARKS.md`.
 */
import type { MachineInfo } from './machine';
import type { BenchResults, ReportInput } from './results';
import type { DrainResult, LoadStep, MemoryCheckpoint, MemoryResult, ReorgResult, Usage } from './scenarios';
import { SHIPPED_SYNC_CONFIG, type BenchSettings } from './settings';
import { formatBytes, formatMs, maximum, percentile, round } from './stats';
import { callsPerChange, floorOf, verdicts } from './targets';

export type { BenchResults, ReportInput } from './results';

/** A Markdown table row. */
const row = (...cells: Array<string | number>) => `| ${cells.join(' | ')} |`;

/** A Markdown table head. */
const head = (...titles: string[]) => [row(...titles), `|${titles.map(() => '---').join('|')}|`];

const mark = (met: boolean | undefined) => (met === undefined ? 'not measured' : met ? '**met**' : '**not met**');

/** p50, p99 and max of a list of durations, formatted. */
const spread = (values: number[]) =>
  [percentile(values, 50), percentile(values, 99), maximum(values)].map((ms) => formatMs(ms));

/** `2x 503, 1x ECONNRESET`, or `none`. */
const counts = (byKey: Record<string, number>) =>
  Object.entries(byKey)
    .map(([key, count]) => `${count}x ${key}`)
    .join(', ') || 'none';

/** The whole report as Markdown. */
export function renderReport(input: ReportInput): string {
  const { settings, results } = input;
  return [
    '# Benchmarks',
    '',
    'Written by `npm run bench` (`bench/run.ts`); every figure below comes from one run, on the machine described. ' +
      'Run it again to refresh this file; settings are `BENCH_*` environment variables (see `bench/settings.ts`).',
    '',
    ...partialNote(settings, results),
    ...runSection(input),
    ...settingsSection(settings),
    ...methodSection(),
    ...targetsSection(results, settings),
    ...burstSection(results, settings),
    ...reorgSection(results.reorg, settings),
    ...latencySection(results),
    ...loadSection(results),
    ...memorySection(results),
    ...usageSection(results, input.machine),
    ...failuresSection(results),
  ].join('\n');
}

function partialNote(settings: BenchSettings, results: BenchResults): string[] {
  const failed = Object.keys(results.failures);
  if (settings.phases.length === 6 && failed.length === 0) return [];
  const failures = failed.length ? `; failed: ${failed.join(', ')}` : '';
  return [`**Partial run**: scenarios ${settings.phases.join(', ')}${failures}.`, ''];
}

function runSection({ machine, startedAt, runMs }: ReportInput): string[] {
  const dirty = machine.uncommittedFiles
    ? ` plus ${machine.uncommittedFiles} uncommitted or untracked files (others were editing the tree)`
    : '';
  const code = machine.commit ? `commit ${machine.commit}${dirty}` : 'unknown';
  let load = `load average (1 min) at start ${machine.loadAtStart}`;
  if (machine.loadAtEnd !== undefined) load += `, at end ${machine.loadAtEnd}`;
  if (machine.machineCpuSeconds !== undefined && machine.ourCpuSeconds !== undefined) {
    const others = Math.max(0, machine.machineCpuSeconds - machine.ourCpuSeconds);
    load +=
      `; the machine was busy for ${round(machine.machineCpuSeconds, 0)} CPU-seconds during the run, ` +
      `${round(machine.ourCpuSeconds, 0)} of them ours ` +
      `(${round(others, 0)} CPU-seconds of other work competed with the run)`;
  }
  return [
    '## Run',
    '',
    `- date: ${startedAt.toISOString()}; run time ${formatMs(runMs)}`,
    `- machine: ${machine.cpuCount} x ${machine.cpuModel}, ${formatBytes(machine.memoryBytes)} memory, ` +
      `Linux ${machine.kernel}`,
    `- Node ${machine.node}; Temporal CLI dev server (SQLite file in a temporary folder); \`@temporalio/*\` 1.24`,
    `- code measured: ${code}`,
    `- ${load}`,
    '',
  ];
}

function settingsSection(settings: BenchSettings): string[] {
  const { rateLimit, load, latency, memory } = settings;
  return [
    '### Settings',
    '',
    ...head('setting', 'value'),
    row(
      'GitBook sandbox rate limit (`BENCH_RATE_LIMIT` per `BENCH_RATE_WINDOW_MS`)',
      `${rateLimit.limit} per ${rateLimit.windowMs} ms = ${settings.gitbookCallsPerSecond} calls/s`,
    ),
    row('worker task-queue activity rate limit (`BENCH_WORKER_RATE`)', `${settings.workerCallsPerSecond} activities/s`),
    row(
      'burst (`BENCH_N`), events per delivery (`BENCH_BATCH`), deliveries in flight (`BENCH_DELIVERY_CONCURRENCY`)',
      `${settings.burstSize}, ${settings.eventsPerDelivery}, ${settings.deliveryConcurrency}`,
    ),
    row(
      'reorganization (`BENCH_REORG`)',
      `${settings.reorgSize} people, Engineering -> Design (shipped \`config/sync.json\`: both grant role edit)`,
    ),
    row(
      'receiver load (`BENCH_LOAD_RPS`, `BENCH_LOAD_SECONDS`, `BENCH_LOAD_MAX_EVENTS`)',
      `${load.deliveriesPerSecond} deliveries/s for ${load.durationSeconds} s, ` +
        `1-${load.maxEventsPerDelivery} events each`,
    ),
    row(
      'latency (`BENCH_LATENCY_COUNT`, `BENCH_LATENCY_GAP_MS`)',
      `${latency.count} single onboardings, ${latency.gapMs} ms apart`,
    ),
    row(
      'memory (`BENCH_MEMORY_N`, `BENCH_MEMORY_BUDGET_S`)',
      `${memory.pendingWorkflows} pending workflows, ${formatMs(memory.budgetMs)} budget`,
    ),
    row('naive baseline, people in flight (`BENCH_NAIVE_CONCURRENCY`)', settings.naiveConcurrency),
    row('worker and receiver log level (`BENCH_LOG_LEVEL`)', settings.logLevel),
    row('group mapping (`BENCH_SYNC_CONFIG`)', mappingName(settings.syncConfigPath)),
    '',
  ];
}

/** The mapping file as a reader of the report knows it: the shipped one by its repository path. */
function mappingName(path: string | undefined): string {
  if (!path || path === SHIPPED_SYNC_CONFIG) return 'the shipped `config/sync.json`';
  return `\`${path}\``;
}

function methodSection(): string[] {
  return [
    '### How the figures are taken',
    '',
    '- Everything runs on this machine, on 127.0.0.1: the Temporal CLI dev server, the GitBook sandbox (inside the ' +
      'benchmark process), and the worker and the hook receiver as their own processes from `dist/` ' +
      '(`src/worker-main.js`, `src/receiver-main.js`), configured through their usual environment variables.',
    '- Directory changes arrive as Okta Event Hook deliveries (`POST /hooks/okta` with the shared secret), sent one ' +
      'delivery at a time; a 503 is retried after its `Retry-After`.',
    '- **Drain time**: from sending the first delivery to the last successful GitBook call the scenario needed, read ' +
      "from the sandbox's record of calls; the scenario ends once GitBook holds the expected state and 3 s pass " +
      'without a call.',
    '- **Floor**: the calls strictly needed (one per directory change, as the sync makes them today) divided by the ' +
      "sandbox's rate limit: the least time the limit allows. With batching, far fewer calls would be needed; the " +
      'tables say how many.',
    '- **Calls per change**: every GitBook call the scenario caused (429s included) divided by the directory changes ' +
      "delivered. **Steady state** is everything after the first 5 s of a scenario's calls.",
    '- Memory is VmRSS from `/proc/<pid>/status`, sampled every 250 ms, and VmHWM; CPU is user + system time from ' +
      "`/proc/<pid>/stat`. Worker task figures come from the worker's own Prometheus metrics.",
    '',
  ];
}

function targetsSection(results: BenchResults, settings: BenchSettings): string[] {
  const lines = ['## Targets', '', ...head('target', 'measured', 'verdict', 'by how much')];
  for (const verdict of verdicts(results, settings)) {
    lines.push(row(verdict.target, verdict.measured, mark(verdict.met), verdict.by));
  }
  return [...lines, ''];
}

// ---------------------------------------------------------------------------------------------------

const DRAIN_HEAD = head('figure', 'measured', 'floor / baseline', 'ratio');

/** The rows every drain scenario has: time against the floor, calls, 429s, hand-off, CPU, tasks. */
function drainRows(result: DrainResult, settings: BenchSettings): string[] {
  const { calls, delivery } = result;
  const floorMs = floorOf(result.callsNeeded, settings);
  const byOperation = Object.entries(calls.byOperation)
    .map(([operation, count]) => `${count} ${operation}`)
    .join(', ');
  const batched = Math.ceil(result.callsNeeded / 100);
  const rows = [
    row(
      'drain time (first delivery to last GitBook call)',
      formatMs(result.drainMs),
      `floor ${formatMs(floorMs)} (${result.callsNeeded} calls / ${settings.gitbookCallsPerSecond} per s)`,
      `${round(result.drainMs / floorMs, 2)}x`,
    ),
    row(
      'GitBook calls',
      `${calls.calls} (${byOperation})`,
      `needed: ${result.callsNeeded}; with batching (100 per call) about ${batched}`,
      `${round(calls.calls / result.callsNeeded, 2)}x needed`,
    ),
    row(
      '429s received',
      `${calls.rateLimited} (${calls.rateLimitedAtSteadyState} after the first 5 s, ` +
        `in ${calls.secondsWith429} distinct seconds)`,
      0,
      `busiest 1 s span: ${calls.busiestSecondCalls} calls (limit ${settings.rateLimit.limit} per ` +
        `${formatMs(settings.rateLimit.windowMs)}, worker ${settings.workerCallsPerSecond}/s)`,
    ),
    row('calls per directory change', round(callsPerChange(result), 3), '<= 1; < 0.1 with batching', ''),
    row(
      'hand-off: the receiver acknowledged every event after',
      formatMs(result.handoffMs),
      `${result.deliveries} deliveries planned, ${delivery.sent} sent`,
      handoffNote(result),
    ),
    row(
      'deliveries Okta would have dropped (no 200 in its 2 attempts)',
      `${delivery.oktaWouldDrop} of ${result.deliveries}`,
      0,
      '',
    ),
    row('GitBook matches the directory afterwards', result.converged ? 'yes' : '**no**', '', ''),
    row(
      'CPU per directory change: worker / Temporal dev server / receiver',
      cpuPerChange(result),
      '',
      cpuCeiling(result, settings),
    ),
  ];

  const tasks = result.workerTasks;
  if (tasks && tasks.workflowTasks > 0) {
    const cache = `${tasks.cacheHits} hits, ${tasks.cacheMisses} misses, ${tasks.forcedEvictions} forced evictions`;
    const times = [tasks.avgScheduleToStartMs, tasks.avgExecutionMs, tasks.avgCompleteMs].map((ms) => formatMs(ms));
    rows.push(
      row(
        'workflow tasks run by the worker',
        tasks.workflowTasks,
        `${round(tasks.workflowTasks / result.changes, 1)} per change`,
        `workflow cache: ${cache}`,
      ),
      row(
        "workflow task: queue wait / run time / Temporal's answer to its completion (averages)",
        times.join(' / '),
        '',
        '',
      ),
    );
  }
  return rows;
}

function cpuMsPerChange(result: DrainResult, name: string): number {
  return ((result.usage[name]?.cpuSeconds ?? NaN) * 1_000) / result.changes;
}

const DRAIN_PROCESSES = ['worker', 'temporal', 'receiver'];

function cpuPerChange(result: DrainResult): string {
  return DRAIN_PROCESSES.map((name) => `${round(cpuMsPerChange(result, name), 0)} ms`).join(' / ');
}

/** The changes per second two dedicated cores could push at that CPU cost, against the rate limit. */
function cpuCeiling(result: DrainResult, settings: BenchSettings): string {
  const totalMs = DRAIN_PROCESSES.reduce((sum, name) => sum + cpuMsPerChange(result, name), 0);
  const changesPerSecond = (1_000 * 2) / totalMs;
  const callsPerSecond = changesPerSecond * callsPerChange(result);
  return (
    `at this cost 2 cores do at most ${round(changesPerSecond, 1)} changes/s ` +
    `(${round(callsPerSecond, 1)} calls/s; the limit is ${settings.gitbookCallsPerSecond})`
  );
}

/** Refusals, splits and losses of a scenario's deliveries, in words. */
function handoffNote(result: DrainResult): string {
  const { refusals, splits, lostEvents } = result.delivery;
  if (Object.keys(refusals).length === 0) return 'no refusals';
  let note = `refused and retried: ${counts(refusals)}`;
  if (splits > 0) note += `; ${splits} deliveries failed 4 attempts and were split in halves`;
  if (lostEvents > 0) note += `; ${lostEvents} events never accepted`;
  return note;
}

/** ` (19 to read, 19 to edit)`, or nothing. */
function roleBreakdown(byRole: Record<string, number> | undefined): string {
  const entries = Object.entries(byRole ?? {});
  return entries.length ? ` (${entries.map(([role, count]) => `${count} to ${role}`).join(', ')})` : '';
}

function burstSection(results: BenchResults, settings: BenchSettings): string[] {
  const { burst, naive } = results;
  if (!burst) {
    if (!naive) return [];
    return ['## Naive baseline', '', `${formatMs(naive.drainMs)}, ${naive.calls} calls, ${naive.rateLimited} 429s`, ''];
  }

  const onboardings = burst.changes - (burst.joinedTeam ?? 0);
  const lines = [`## Burst: ${onboardings} onboardings in ${burst.deliveries} Okta deliveries`, ''];
  if (burst.joinedTeam) {
    lines.push(
      `${burst.joinedTeam} of the ${onboardings} people also join Engineering (team_engineering, role edit): their ` +
        'delivery carries the activation and, right after it, the group add. So the burst is ' +
        `${burst.changes} directory changes, each needing one call: an invite per person (with the role) and a team ` +
        'change per joiner.',
      '',
    );
  }

  const roleCalls = Object.values(burst.roleCallsByRole ?? {}).reduce((sum, count) => sum + count, 0);
  lines.push(
    ...DRAIN_HEAD,
    ...drainRows(burst, settings),
    row(
      'role changes sent after the invite (the invite could carry the role)',
      `${roleCalls}${roleBreakdown(burst.roleCallsByRole)}`,
      0,
      '',
    ),
  );
  if (burst.historyEvents) {
    const { user, step } = burst.historyEvents;
    const figure = 'history events for one onboarding: user workflow + onboarding step (child workflow)';
    lines.push(row(figure, `${user} + ${step}`, '', ''));
  }
  if (naive) {
    const failed = naive.failures ? `, ${naive.failures} failed` : '';
    lines.push(
      row(
        `naive script: one undici call per event, ${naive.concurrency} people in flight, waits for the reset on 429`,
        `${formatMs(naive.drainMs)}, ${naive.calls} calls, ${naive.rateLimited} 429s${failed}`,
        'same events, same limit, its own sandbox, run at the same time as the burst',
        `ours / naive: ${round(burst.drainMs / naive.drainMs, 2)}x time, ` +
          `${round(burst.calls.calls / naive.calls, 2)}x calls`,
      ),
    );
  }
  return [...lines, ''];
}

function reorgSection(reorg: ReorgResult | undefined, settings: BenchSettings): string[] {
  if (!reorg) return [];
  return [
    `## Reorganization: ${reorg.people} people from Engineering to Design (group remove + group add each)`,
    '',
    ...DRAIN_HEAD,
    ...drainRows(reorg, settings),
    row(
      'role changes sent (both groups grant edit, so none are needed)',
      `${reorg.roleCalls}${roleBreakdown(reorg.roleCallsByRole)}`,
      0,
      '',
    ),
    '',
  ];
}

// ---------------------------------------------------------------------------------------------------

function latencySection({ latency }: BenchResults): string[] {
  if (!latency) return [];
  return [
    `## End-to-end latency at low load: ${latency.count} single onboardings, ${latency.gapMs} ms apart`,
    '',
    ...head('figure', 'p50', 'p99', 'max'),
    row('delivery sent -> GitBook receives the invite', ...spread(latency.endToEndMs)),
    row('delivery acknowledged', ...spread(latency.ackMs)),
    '',
    `GitBook calls: ${latency.calls.calls} for ${latency.count} onboardings, ${latency.calls.rateLimited} 429s. ` +
      `With ${latency.count} samples, p99 is the second-worst value.`,
    '',
  ];
}

function loadSection({ load }: BenchResults): string[] {
  if (!load) return [];
  const steps = load.gentle ? [load.gentle, load] : [load];
  const each = (figure: string, value: (step: LoadStep) => string, reference = '') =>
    row(figure, ...steps.map(value), reference);
  const accepted = (step: LoadStep) => {
    const perSecond = round(step.acceptedEvents / (step.elapsedMs / 1_000), 0);
    return `${perSecond} (${step.acceptedEvents} in ${formatMs(step.elapsedMs)})`;
  };
  const acknowledged = (step: LoadStep) => {
    const [p50, p99] = spread(step.ackMs);
    return `${p50} / ${p99} (${step.ackMs.length} deliveries)`;
  };
  const offered = (step: LoadStep) =>
    `${step.sent} / ${step.offeredEvents} (${round(step.offeredEvents / step.durationSeconds, 0)} events/s)`;
  const slowerThan3s = (step: LoadStep) => String(step.answerMs.filter((ms) => ms > 3_000).length);
  const titles = steps.map((step) => `${step.deliveriesPerSecond}/s for ${step.durationSeconds} s`);

  return [
    `## Receiver under load: ${load.deliveriesPerSecond} deliveries/s for ${load.durationSeconds} s`,
    '',
    ...head('figure', ...titles, 'reference'),
    each('deliveries sent / events offered', offered),
    each('events accepted per second', accepted),
    each(
      'answer time p50 / p99 / max, any status (from the scheduled send)',
      (step) => spread(step.answerMs).join(' / '),
      "Okta's timeout: 3 s",
    ),
    each('acknowledgement (200) time p50 / p99', acknowledged),
    each('answers slower than 3 s (Okta would retry them)', slowerThan3s, '0'),
    each('errors', (step) => counts(step.errors), 'none'),
    each("generator's worst lateness (a busy machine delays its timers)", (step) => formatMs(step.maxSendLagMs)),
    '',
    'Each delivery carries 1-5 `group.user_membership.add` events for people never seen before: the real receiver ' +
      'hands each to its own new workflow by signal-with-start, but nobody is activated, so no GitBook call follows ' +
      "and the rate limit does not enter into it. The scenarios' worker runs meanwhile, starting those workflows on " +
      'the same two cores. The gentler step runs first, then a 5 s pause, then the full rate.',
    '',
  ];
}

// ---------------------------------------------------------------------------------------------------

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
    const full = (last.stickyCacheSize ?? 0) >= memory.defaultCacheSize;
    notes.push(
      `The worker grew by about ${round(perWorkflow / 1_048_576, 2)} MiB per cached workflow ` +
        `(from ${formatBytes(first.workerRssBytes)} idle). Its cache is not set, so the SDK sizes it from the heap ` +
        `limit: ${memory.defaultCacheSize} workflows on this machine, and each pending person holds two (their ` +
        'workflow and its onboarding step), so the cache is full at about ' +
        `${Math.floor(memory.defaultCacheSize / 2)} pending people, with the worker at about ` +
        `${formatBytes(plateau)}. Beyond that it should stay about flat, because the SDK evicts workflows from the ` +
        'full cache (an evicted workflow replays its history when its invite answers); ' +
        (full ? 'the cache was full by the end of this run.' : 'this run did not get that far.'),
    );
  }
  const burstWorker = results.burst?.usage.worker;
  if (burstWorker) {
    notes.push(
      `For comparison, the scenarios' worker peaked at ${formatBytes(burstWorker.peakRssBytes)} during the burst of ` +
        `${results.burst?.changes} changes (draining, not held).`,
    );
  }
  return notes;
}

function memorySection(results: BenchResults): string[] {
  const { memory } = results;
  if (!memory) return [];
  const retries = memory.handOffRetries ? ` (${memory.handOffRetries} hand-off calls failed and were made again)` : '';
  const lines = [
    '## Worker memory with pending workflows',
    '',
    "The scenarios' worker is stopped and a fresh worker process started on a task queue of its own, so nothing " +
      'earlier is cached or queued. GitBook is slowed to one call a minute, so every onboarding stays pending (its ' +
      "invite retries after the reset). Activations are handed to Temporal with the receiver's own hand-off " +
      '(`submitDirectoryEvents`, 100 events per call, never more than two calls ahead of the workflows the worker ' +
      'has started) but without its HTTP deadline, so the filling is not slowed by 503s: this scenario is about the ' +
      `worker. Handed off: ${round(memory.handOffPerSecond, 1)} activations/s${retries}. "Pending" counts onboarding ` +
      'steps still running; peak RSS is the highest VmRSS sampled (every 250 ms) since the scenario began.',
    '',
    ...head('time', 'handed off', 'pending', 'worker peak RSS', 'worker RSS', 'workflow cache', 'Temporal RSS'),
  ];
  for (const point of memoryRows(memory)) {
    lines.push(
      row(
        formatMs(point.atMs),
        point.handedOff,
        point.pending,
        formatBytes(point.workerPeakRssBytes),
        formatBytes(point.workerRssBytes),
        point.stickyCacheSize ?? 'n/a',
        formatBytes(point.temporalRssBytes),
      ),
    );
  }
  lines.push('', ...memoryNotes(memory, results), '');
  if (memory.cutShort) {
    const reached = memory.checkpoints[memory.checkpoints.length - 1]?.pending ?? 0;
    lines.push(
      `**${memory.target} pending workflows did not fit in the ${formatMs(memory.budgetMs)} budget on this ` +
        `machine**: the largest measured is ${reached}.`,
      '',
    );
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------------

const USAGE_PROCESSES = ['worker', 'memory-worker', 'receiver', 'temporal', 'bench'];

function usageSection(results: BenchResults, machine: MachineInfo): string[] {
  const lines = ['## Peak memory and CPU per process', ''];
  if (results.peakRssBytes) {
    const peaks = Object.entries(results.peakRssBytes).map(([name, bytes]) => `${name} ${formatBytes(bytes)}`);
    lines.push(`Peak resident memory over the whole run (VmHWM from \`/proc/<pid>/status\`): ${peaks.join(', ')}.`, '');
  }

  lines.push(...head('scenario', ...USAGE_PROCESSES.map((name) => `${name} CPU s / peak RSS`)));
  const scenarios: Array<[string, Usage | undefined]> = [
    ['burst', results.burst?.usage],
    ['reorganization', results.reorg?.usage],
    ['receiver load', results.load?.usage],
    ['memory', results.memory?.usage],
  ];
  for (const [scenario, usage] of scenarios) {
    if (!usage) continue;
    const cells = USAGE_PROCESSES.map((name) => {
      const entry = usage[name];
      return entry ? `${round(entry.cpuSeconds, 1)} / ${formatBytes(entry.peakRssBytes)}` : 'n/a';
    });
    lines.push(row(scenario, ...cells));
  }
  lines.push(
    '',
    'CPU seconds are user + system time over the scenario (from `/proc/<pid>/stat`); the machine has ' +
      `${machine.cpuCount} cores for all the processes. "bench" is this benchmark's own process, which also hosts ` +
      'the GitBook sandbox; "memory-worker" is the fresh worker of the memory scenario.',
    '',
  );
  return lines;
}

function failuresSection(results: BenchResults): string[] {
  const failures = Object.entries(results.failures);
  if (failures.length === 0) return [];
  const lines = failures.map(([phase, message]) => `- ${phase}: ${message.split('\n')[0]}`);
  return ['## Scenarios that failed', '', ...lines, ''];
}
