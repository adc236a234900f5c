/**
 * The report: every figure beside its floor or baseline, each target of the issue marked met or not
 * and by how much. The same Markdown goes to the console and to `BENCHMARKS.md`.
 */
import type { MachineInfo } from './machine';
import type { BenchResults, ReportInput } from './results';
import type { DrainResult, LoadStep, MemoryCheckpoint, MemoryResult, ReorgResult, Usage } from './scenarios';
import { SHIPPED_SYNC_CONFIG, type BenchSettings } from './settings';
import { formatBytes, formatMs, maximum, percentile, round } from './stats';
import { callsPerChange, floorOf, memoryEnds, memoryShortfall, verdicts } from './targets';
import { BATCHER_MAX_WAITING, MAX_HISTORY_EVENTS_WHILE_SENDING } from '../workflows/policies';

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
    ...settingsSection(settings, results),
    ...methodSection(settings),
    ...targetsSection(results, settings, input.machine.cpuCount),
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

function settingsSection(settings: BenchSettings, results: BenchResults): string[] {
  const { rateLimit, load, latency, memory } = settings;
  const batching = (name: string, value: NonNullable<BenchResults['sync']>['inviteBatching']) =>
    value.enabled
      ? `\`${name}\` on: up to ${value.maxBatchSize} per call, sent after ${formatMs(value.quietMs)} without a new ` +
        `one or ${formatMs(value.maxWaitMs)} after the first`
      : `\`${name}\` off: one call per change`;
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
      `${settings.reorgSize} people, Engineering -> Design`,
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
    row(
      'memory hand-off: activations per call (`BENCH_MEMORY_BATCH`), calls in flight (`BENCH_MEMORY_CONCURRENCY`)',
      `${memory.batchSize}, ${memory.concurrency}`,
    ),
    row(
      'worker sticky cache (`BENCH_WORKER_CACHE` -> `WORKER_MAX_CACHED_WORKFLOWS`)',
      `${results.workerCacheSize ?? 'n/a'} workflows` +
        (settings.workerMaxCachedWorkflows === undefined ? " (the worker's default)" : ''),
    ),
    row('worker `NODE_OPTIONS` (`BENCH_WORKER_NODE_OPTIONS`)', settings.workerNodeOptions ?? 'unset'),
    row(
      'Temporal dev server SQLite pragmas (`BENCH_SQLITE_PRAGMAS`)',
      settings.sqlitePragmas.map((pragma) => `\`${pragma}\``).join(', ') || "the CLI's defaults",
    ),
    row('naive baseline, people in flight (`BENCH_NAIVE_CONCURRENCY`)', settings.naiveConcurrency),
    row('worker and receiver log level (`BENCH_LOG_LEVEL`)', settings.logLevel),
    row('group mapping (`BENCH_SYNC_CONFIG`)', mappingName(settings.syncConfigPath)),
    ...(results.sync
      ? [
          row('invite batching (mapping, defaults applied)', batching('inviteBatching', results.sync.inviteBatching)),
          row('team batching (mapping, defaults applied)', batching('teamBatching', results.sync.teamBatching)),
          row(
            '`settleMs`: a lower role or leaving a team waits for quiet',
            results.sync.settleMs > 0 ? formatMs(results.sync.settleMs) : 'off',
          ),
        ]
      : []),
    '',
  ];
}

/** The mapping file as a reader of the report knows it: the shipped one by its repository path. */
function mappingName(path: string | undefined): string {
  if (!path || path === SHIPPED_SYNC_CONFIG) return 'the shipped `config/sync.json`';
  return `\`${path}\``;
}

function methodSection(settings: BenchSettings): string[] {
  const pragmas = settings.sqlitePragmas.length
    ? `; started with \`${settings.sqlitePragmas.map((pragma) => `--sqlite-pragma ${pragma}`).join(' ')}\`, since ` +
      "the dev server stands in for a Temporal cluster and the run should not wait on this machine's disk for " +
      'every SQLite transaction'
    : '';
  return [
    '### How the figures are taken',
    '',
    '- Everything runs on this machine, on 127.0.0.1: the Temporal CLI dev server (SQLite file in a temporary folder' +
      `${pragmas}), the GitBook sandbox (inside the benchmark process), and the worker and the hook receiver as ` +
      'their own processes from `dist/` (`src/worker-main.js`, `src/receiver-main.js`), configured through their ' +
      'usual environment variables.',
    '- Directory changes arrive as Okta Event Hook deliveries (`POST /hooks/okta` with the shared secret), sent one ' +
      'delivery at a time; a 503 is retried after its `Retry-After`.',
    '- **Drain time**: from sending the first delivery to the last successful GitBook call the scenario needed, read ' +
      "from the sandbox's record of calls; the scenario ends once GitBook holds the expected state and 3 s pass " +
      'without a call.',
    '- **Floor**: the calls strictly needed divided by the sandbox\'s rate limit: the least time the limit allows. ' +
      'The needed calls follow the mapping the sync runs with (`BENCH_SYNC_CONFIG`, read by the project\'s own ' +
      'parser, so its defaults apply): with invite batching on, one `POST /invites` per role per `maxBatchSize` ' +
      'people; with team batching on, one `PUT /teams/{id}/members` per team per `maxBatchSize` people changed; ' +
      'a role change only where the person\'s role differs (there is no batch call for roles); with batching off, ' +
      'one call per change. As context, the tables also give the time one call per change would take at the limit.',
    '- **GitBook calls by kind** come from the sandbox\'s record: what each successful call carried (people in ' +
      'an invite, `add` and `remove` entries in a team change). A **role flap** is a person\'s role set away from ' +
      'a value and back to it within the scenario (A -> B -> A), followed through the invites and `PATCH`es GitBook ' +
      'accepted, in order.',
    '- **Calls per change**: every GitBook call the scenario caused (429s included) divided by the directory changes ' +
      "delivered. **Steady state** is everything after the first 5 s of a scenario's calls.",
    '- Memory is VmRSS from `/proc/<pid>/status`, sampled every 250 ms, and VmHWM; CPU is user + system time from ' +
      "`/proc/<pid>/stat`. Worker task figures come from the worker's own Prometheus metrics.",
    '',
  ];
}

function targetsSection(results: BenchResults, settings: BenchSettings, cores: number): string[] {
  const lines = ['## Targets', '', ...head('target', 'measured', 'verdict', 'by how much', 'measured reason')];
  for (const verdict of verdicts(results, settings, cores)) {
    lines.push(row(verdict.target, verdict.measured, mark(verdict.met), verdict.by, verdict.why ?? ''));
  }
  return [...lines, ''];
}

// ---------------------------------------------------------------------------------------------------

const DRAIN_HEAD = head('figure', 'measured', 'floor / baseline', 'ratio');

/** The rows every drain scenario has: time against the floor, calls, 429s, hand-off, CPU, tasks. */
function drainRows(result: DrainResult, settings: BenchSettings): string[] {
  const { calls, delivery, needed } = result;
  const floorMs = floorOf(needed.total, settings);
  const oneEachMs = floorOf(needed.oneCallPerChange, settings);
  const rate = `${settings.gitbookCallsPerSecond} per s`;
  const flaps = result.roleFlaps;
  const rows = [
    row(
      'drain time (first delivery to last GitBook call)',
      formatMs(result.drainMs),
      `floor ${formatMs(floorMs)} (${needed.total} needed calls / ${rate}); one call per change: ` +
        `${formatMs(oneEachMs)} (${needed.oneCallPerChange} calls / ${rate})`,
      `${round(result.drainMs / floorMs, 2)}x the floor; ${round(result.drainMs / oneEachMs, 2)}x one call per change`,
    ),
    row(
      'GitBook calls',
      `${calls.calls} (${calls.successes} succeeded)`,
      `needed: ${needed.total} (one call per change: ${needed.oneCallPerChange})`,
      `${round(calls.calls / needed.total, 2)}x needed`,
    ),
    row(
      '429s received',
      `${calls.rateLimited} (${calls.rateLimitedAtSteadyState} after the first 5 s, ` +
        `in ${calls.secondsWith429} distinct seconds)`,
      0,
      `busiest 1 s span: ${calls.busiestSecondCalls} calls (limit ${settings.rateLimit.limit} per ` +
        `${formatMs(settings.rateLimit.windowMs)}, worker ${settings.workerCallsPerSecond}/s)`,
    ),
    row(
      'calls per directory change',
      round(callsPerChange(result), 3),
      `<= 1; < 0.1 with batching (needed: ${round(needed.total / result.changes, 3)})`,
      '',
    ),
    row(
      'role flaps (a role set away and back: A -> B -> A)',
      `${flaps.people} people, ${flaps.flaps} flaps`,
      0,
      flaps.example ? `e.g. ${flaps.example.join(' -> ')}` : '',
    ),
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

/** Per-call figures: `12.5 people`, or `n/a` with no calls. */
const perCall = (carried: number, calls: number | undefined, unit: string) =>
  calls ? `${round(carried / calls, 1)} ${unit}` : 'n/a';

/** `1 person`, `3 people`. */
const people = (count: number) => `${count} ${count === 1 ? 'person' : 'people'}`;

/** The scenario's GitBook calls by kind, what they carried, and what was strictly needed. */
function callKinds(result: DrainResult): string[] {
  const { byOperation, successesByOperation: ok, carried } = result.calls;
  const { needed } = result;
  const made = (operation: keyof typeof byOperation) => {
    const all = byOperation[operation] ?? 0;
    const succeeded = ok[operation] ?? 0;
    return all === succeeded ? String(all) : `${all} (${succeeded} succeeded)`;
  };
  const roleCalls = ok.role ?? 0;
  const others = (byOperation.get ?? 0) + (byOperation.other ?? 0);
  return [
    ...head('call', 'made', 'carried (successful calls)', 'per call', 'strictly needed'),
    row(
      'invite `POST /invites`',
      made('invite'),
      people(carried.invitedPeople),
      perCall(carried.invitedPeople, ok.invite, 'people'),
      needed.invites,
    ),
    row(
      'team change `PUT /teams/{id}/members`',
      made('team'),
      `${carried.teamAdds} adds, ${carried.teamRemoves} removes`,
      perCall(carried.teamAdds + carried.teamRemoves, ok.team, 'entries'),
      needed.teams,
    ),
    row('role `PATCH /members/{id}`', made('role'), people(roleCalls), roleCalls ? '1 person' : 'n/a', needed.roles),
    row('member lookup `GET /members`', made('lookup'), '', '', 0),
    row('removal `DELETE /members/{id}`', made('remove'), '', '', 0),
    ...(others > 0 ? [row('other calls', others, '', '', 0)] : []),
    row(
      '**all**',
      `${result.calls.calls} (${result.calls.rateLimited} 429s)`,
      `${result.changes} directory changes`,
      perCall(result.changes, result.calls.calls, 'changes'),
      needed.total,
    ),
    '',
    `Strictly needed, from the mapping: ${needed.detail.join('; ')}.`,
  ];
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
      `${burst.joinedTeam} of the ${onboardings} people also join Engineering (team_engineering): their ` +
        'delivery carries the activation and, right after it, the group add. So the burst is ' +
        `${burst.changes} directory changes: an invite per person (carrying the role) and a team change per joiner, ` +
        `${burst.needed.total} calls when batched as the mapping allows.`,
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
      burst.needed.roles,
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
  return [...lines, '', '### Burst: GitBook calls by kind', '', ...callKinds(burst), ''];
}

function reorgSection(reorg: ReorgResult | undefined, settings: BenchSettings): string[] {
  if (!reorg) return [];
  return [
    `## Reorganization: ${reorg.people} people from Engineering to Design (group remove + group add each)`,
    '',
    ...DRAIN_HEAD,
    ...drainRows(reorg, settings),
    row(
      reorg.needed.roles === 0
        ? 'role changes sent (both groups grant the same role, so none are needed)'
        : 'role changes sent (the groups grant different roles)',
      `${reorg.roleCalls}${roleBreakdown(reorg.roleCallsByRole)}`,
      reorg.needed.roles,
      '',
    ),
    '',
    '### Reorganization: GitBook calls by kind',
    '',
    ...callKinds(reorg),
    '',
  ];
}

// ---------------------------------------------------------------------------------------------------

function latencySection(results: BenchResults): string[] {
  const { latency } = results;
  if (!latency) return [];
  return [
    `## End-to-end latency at low load: ${latency.count} single onboardings, ${latency.gapMs} ms apart`,
    '',
    ...head('figure', 'p50', 'p99', 'max'),
    row('delivery sent -> GitBook receives the invite', ...spread(latency.endToEndMs)),
    row('delivery acknowledged', ...spread(latency.ackMs)),
    '',
    `GitBook calls: ${latency.calls.calls} for ${latency.count} onboardings (${latency.calls.carried.invitedPeople} ` +
      `people in ${latency.calls.successesByOperation.invite ?? 0} successful invite calls), ` +
      `${latency.calls.rateLimited} 429s. With ${latency.count} samples, p99 is the second-worst value.` +
      batchingWait(results),
    '',
  ];
}

/** What invite batching adds to a lone onboarding, by design. */
function batchingWait({ sync }: BenchResults): string {
  if (!sync?.inviteBatching.enabled) return '';
  const { quietMs, maxWaitMs } = sync.inviteBatching;
  return (
    ` With invite batching on, a lone invite waits ${formatMs(quietMs)} in its batch for company (at most ` +
    `${formatMs(maxWaitMs)} when more keep coming): that wait is part of these figures by design.`
  );
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

/** What the checkpoints say: 1,000 against the largest N, and what the bounded cache does. */
function memoryNotes(memory: MemoryResult, results: BenchResults): string[] {
  const notes: string[] = [];
  const { base, top } = memoryEnds(memory);
  if (base?.workerPeakRssBytes && top?.workerPeakRssBytes && top !== base) {
    const ratio = top.workerPeakRssBytes / base.workerPeakRssBytes;
    const rssRatio = (top.workerRssBytes ?? NaN) / (base.workerRssBytes ?? NaN);
    const perPerson = ((top.workerRssBytes ?? NaN) - (base.workerRssBytes ?? NaN)) / (top.pending - base.pending);
    notes.push(
      `**${base.pending} -> ${top.pending} pending**: worker peak RSS ${formatBytes(base.workerPeakRssBytes)} -> ` +
        `${formatBytes(top.workerPeakRssBytes)}, **${round(ratio, 2)}x**; RSS at those moments ` +
        `${formatBytes(base.workerRssBytes)} -> ${formatBytes(top.workerRssBytes)} (${round(rssRatio, 2)}x, ` +
        `${round(perPerson / 1_024, 1)} KiB per extra pending person).`,
    );
  } else if (top) {
    notes.push(`The largest count reached was ${top.pending} pending, short of ${1_000} to compare against.`);
  }

  const full = (top?.stickyCacheSize ?? 0) >= memory.cacheSize;
  notes.push(
    `The worker's sticky cache holds at most ${memory.cacheSize} workflows (\`WORKER_MAX_CACHED_WORKFLOWS\`). Each ` +
      'pending person has two (their workflow and its onboarding step), so the cache is full from about ' +
      `${Math.floor(memory.cacheSize / 2)} pending people on; ` +
      (full ? 'it was full by the end of this run. ' : 'this run did not fill it. ') +
      'Beyond that the worker evicts the least recently used workflow, and an evicted one replays its history when ' +
      'its next task comes (here: when its invite is answered).',
  );
  if (memory.defaultHeapLimitBytes) {
    notes.push(
      `The worker runs with V8's default heap limit, ${formatBytes(memory.defaultHeapLimitBytes)} on this machine, ` +
        'and V8 collects lazily while far below it: the RSS also holds garbage, such as evicted workflows not yet ' +
        "collected, so a peak RSS says as much about V8's collection policy as about what the worker keeps. " +
        '`BENCH_WORKER_NODE_OPTIONS=--max-old-space-size=<MiB>` shows how little it can live with.',
    );
  }
  const tasks = memory.workerTasks;
  if (tasks) {
    notes.push(
      `Over the scenario the worker ran ${tasks.workflowTasks} workflow tasks: cache ${tasks.cacheHits} hits, ` +
        `${tasks.cacheMisses} misses (replays), ${tasks.forcedEvictions} forced evictions; tasks waited ` +
        `${formatMs(tasks.avgScheduleToStartMs)} on average in the queue and ran ${formatMs(tasks.avgExecutionMs)}.`,
    );
  }
  if (memory.inviteBatcherHistory !== undefined) {
    notes.push(
      "Every waiting invite is a signal in the invite batcher's history. The batcher holds at most " +
        `${BATCHER_MAX_WAITING.toLocaleString('en-US')} waiting invites (the other steps are told it is busy and ask ` +
        `again later), and continues as new once its history passes ${MAX_HISTORY_EVENTS_WHILE_SENDING.toLocaleString('en-US')} ` +
        'events, even while its send retries (RELIABILITY.md, "A long outage with thousands ' +
        `waiting"): its current run had ${memory.inviteBatcherHistory} events at the end.`,
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
  const { handOff } = memory;
  const lines = [
    '## Worker memory with pending workflows',
    '',
    "The scenarios' worker is stopped and a fresh worker process started on a task queue of its own, so nothing " +
      `earlier is cached or queued; its sticky cache is ${memory.cacheSize} workflows, and it runs its own ` +
      'batchers (they are per task queue). GitBook is left with no call for the next hour (a limit of one an hour, ' +
      'spent by the benchmark), so every onboarding stays pending: its invite waits in the invite batcher, whose ' +
      'send is answered 429 and retries after the reset. ' +
      'Activations are handed to Temporal directly, not as Okta ' +
      "deliveries through the receiver: with the receiver's own hand-off (`submitDirectoryEvents`, signal-with-start " +
      `per person), ${handOff.batchSize} activations per call, ${handOff.concurrency} calls in flight, never more ` +
      `than ${handOff.aheadLimit} ahead of the onboardings the worker has started, and without the receiver's HTTP ` +
      'deadline, so the filling is not slowed by 503s: this scenario is about the worker. Handed off: ' +
      `${round(memory.handOffPerSecond, 1)} activations/s${retries}; each of the ${handOff.concurrency} hand-off ` +
      `lanes waited ${formatMs(memory.waitedForWorkerMs)} on average for the worker to catch up. "Pending" counts ` +
      'onboarding steps still running; peak RSS is the highest VmRSS sampled (every 250 ms) since the scenario began.',
    '',
    ...head(
      'time',
      'handed off',
      'pending',
      'worker peak RSS',
      'worker RSS',
      `workflow cache (max ${memory.cacheSize})`,
      'Temporal RSS',
    ),
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
  lines.push('', ...memoryNotes(memory, results).flatMap((note) => [note, '']));
  if (memory.cutShort) {
    lines.push(
      `**${memory.target} pending workflows did not fit in the ${formatMs(memory.budgetMs)} budget on this ` +
        `machine**: ${memoryShortfall(memory)}.`,
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
