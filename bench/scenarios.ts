/**
 * The measured scenarios. Each clears the sandbox's record of calls, drives the receiver the way an
 * IdP would, waits until GitBook holds what the directory asked for and has gone quiet, and reads
 * the result from what the sandbox received and from `/proc`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { getHeapStatistics } from 'node:v8';
import { request } from 'undici';
import type { Logger } from '../src/logger';
import type { SyncConfig } from '../src/mapping';
import { mapOktaEvent } from '../src/receiver';
import { submitDirectoryEvents } from '../src/submit';
import { batcherWorkflowId, INVITE_BATCHER_WORKFLOW_ID } from '../workflows/api';
import { startSandbox, type SandboxCall, type SandboxSnapshot } from '../src/sandbox';
import {
  invitedEmails,
  isSuccess,
  operationOf,
  roleFlaps,
  summarizeCalls,
  waitForGitBook,
  type CallSummary,
  type RoleFlaps,
} from './calls';
import { neededCalls, roleOf, type NeededCalls } from './floor';
import { deliverAll, HookSender, type DeliveryRun } from './hooks';
import { runLoad, type LoadRun } from './load';
import { runNaiveSync } from './naive';
import { activationEvent, benchUser, chunk, groupEvent, oktaDelivery, type BenchUser, type OktaEvent } from './okta';
import type { ProcessUsage } from './processes';
import type { BenchSettings } from './settings';
import { readWorkerMetrics, summarizeWorkerTasks, type WorkerTaskSummary } from './worker-metrics';
import { BENCH_ORGANIZATION_ID, BENCH_SEED, type BenchStack } from './stack';
import { formatBytes, formatMs } from './stats';

export interface ScenarioContext {
  settings: BenchSettings;
  stack: BenchStack;
  logger: Logger;
  /** The group mapping the worker and receiver run with, as the project parses it. */
  syncConfig: SyncConfig;
}

/** CPU time and memory of each process over a scenario. */
export type Usage = Record<string, ProcessUsage | undefined>;

function usageBetween(stack: BenchStack, fromMs: number, toMs: number): Usage {
  return Object.fromEntries(stack.sampler.names.map((name) => [name, stack.sampler.usage(name, fromMs, toMs)]));
}

/** The two directory groups of the reorganization, as the shipped `config/sync.json` maps them. */
const FROM_GROUP = { id: 'engineering', name: 'Engineering' };
const TO_GROUP = { id: 'design', name: 'Design' };
const FROM_TEAM = 'team_engineering';
const TO_TEAM = 'team_design';

/** Each user's events, in batches of at most `eventsPerDelivery` events (a user's stay together). */
function batchesOf(
  users: BenchUser[],
  eventsOf: (user: BenchUser) => OktaEvent[],
  eventsPerDelivery: number,
): OktaEvent[][] {
  const batches: OktaEvent[][] = [];
  let current: OktaEvent[] = [];
  for (const user of users) {
    const events = eventsOf(user);
    if (current.length > 0 && current.length + events.length > eventsPerDelivery) {
      batches.push(current);
      current = [];
    }
    current.push(...events);
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** Emails with at least one successful invite among `calls`. */
function invitedSet(calls: readonly SandboxCall[]): Set<string> {
  const invited = new Set<string>();
  for (const call of calls) {
    if (operationOf(call) === 'invite' && isSuccess(call)) for (const email of invitedEmails(call)) invited.add(email);
  }
  return invited;
}

function countInvited(snapshot: SandboxSnapshot, emails: readonly string[]): number {
  const invited = invitedSet(snapshot.calls);
  return emails.filter((email) => invited.has(email)).length;
}

/** Sends `deliveries` to the receiver and waits until `done`; the common shape of burst and reorg. */
async function driveAndDrain(
  context: ScenarioContext,
  deliveries: OktaEvent[][],
  done: (snapshot: SandboxSnapshot) => boolean,
  describe: (snapshot: SandboxSnapshot) => string,
) {
  const { settings, stack } = context;
  stack.sandbox.clearCalls();
  const sender = new HookSender(stack.receiverUrl, stack.hookSecret, { connections: settings.deliveryConcurrency });
  try {
    const metricsBefore = await readWorkerMetrics(stack.workerMetricsUrl);
    const delivery = await deliverAll(sender, deliveries, { concurrency: settings.deliveryConcurrency });
    const snapshot = await waitForGitBook(stack.sandbox, done, { timeoutMs: settings.phaseTimeoutMs, describe });
    const workerTasks = summarizeWorkerTasks(metricsBefore, await readWorkerMetrics(stack.workerMetricsUrl));
    return { delivery, snapshot, calls: summarizeCalls(snapshot.calls), workerTasks };
  } finally {
    await sender.close();
  }
}

// ---------------------------------------------------------------------------------------------------

export interface LatencyResult {
  count: number;
  gapMs: number;
  /** From sending each delivery to GitBook receiving that person's successful invite. */
  endToEndMs: number[];
  ackMs: number[];
  calls: CallSummary;
}

/**
 * End-to-end latency at low load: single onboardings, one delivery each, `gapMs` apart, after a
 * small warm-up so the first ones do not pay for the worker's start.
 */
export async function measureLatency(context: ScenarioContext): Promise<LatencyResult> {
  const { settings, stack, logger } = context;
  const { count, gapMs } = settings.latency;
  const sender = new HookSender(stack.receiverUrl, stack.hookSecret, { connections: 8 });
  try {
    const warmUsers = Array.from({ length: 10 }, (_, index) => benchUser('warm', index));
    stack.sandbox.clearCalls();
    await deliverAll(sender, [warmUsers.map((user) => activationEvent(user))], { concurrency: 1 });
    const warmEmails = warmUsers.map((user) => user.email);
    await waitForGitBook(stack.sandbox, (snapshot) => countInvited(snapshot, warmEmails) === warmEmails.length, {
      timeoutMs: 120_000,
      quietMs: 1_000,
    });
    logger.info({ users: warmUsers.length }, 'warm-up done');

    stack.sandbox.clearCalls();
    const users = Array.from({ length: count }, (_, index) => benchUser('lat', index));
    const sentAtMs: number[] = [];
    const answers = users.map(async (user, index) => {
      await sleep(index * gapMs);
      sentAtMs[index] = Date.now();
      return await sender.send(oktaDelivery([activationEvent(user)]));
    });
    const acks = await Promise.all(answers);
    const emails = users.map((user) => user.email);
    const snapshot = await waitForGitBook(stack.sandbox, (state) => countInvited(state, emails) === emails.length, {
      timeoutMs: 120_000,
      quietMs: 1_000,
    });

    const firstSuccess = new Map<string, number>();
    for (const call of snapshot.calls) {
      if (operationOf(call) !== 'invite' || !isSuccess(call)) continue;
      for (const email of invitedEmails(call)) {
        firstSuccess.set(email, Math.min(firstSuccess.get(email) ?? Infinity, call.receivedAtMs));
      }
    }
    const endToEndMs = users.map((user, index) => (firstSuccess.get(user.email) ?? NaN) - (sentAtMs[index] ?? NaN));
    return { count, gapMs, endToEndMs, ackMs: acks.map((ack) => ack.ackMs), calls: summarizeCalls(snapshot.calls) };
  } finally {
    await sender.close();
  }
}

// ---------------------------------------------------------------------------------------------------

export interface DrainResult {
  /** Directory changes delivered (events). */
  changes: number;
  deliveries: number;
  delivery: DeliveryRun;
  /** From the first delivery sent to the last successful GitBook call. */
  drainMs: number;
  /** From the first delivery sent to the last answer from the receiver. */
  handoffMs: number;
  calls: CallSummary;
  /** The fewest calls the changes need with the batching the sync config sets: the floor's calls. */
  needed: NeededCalls;
  /** People whose role changed away and back during the scenario. */
  roleFlaps: RoleFlaps;
  /** Whether GitBook ended as the directory says. */
  converged: boolean;
  usage: Usage;
  /** The worker's workflow tasks over the scenario, from its metrics. */
  workerTasks?: WorkerTaskSummary;
  /** History events of one person's workflow and of its step's child workflow, for the record. */
  historyEvents?: { user: number; step: number };
  /** People who also joined a team (burst only). */
  joinedTeam?: number;
  /** Role PATCHes, by the role they set. */
  roleCallsByRole?: Record<string, number>;
}

function drainResult(
  context: ScenarioContext,
  run: { delivery: DeliveryRun; snapshot: SandboxSnapshot; calls: CallSummary; workerTasks?: WorkerTaskSummary },
  fields: {
    changes: number;
    deliveries: number;
    needed: NeededCalls;
    roleFlaps: RoleFlaps;
    converged: boolean;
    startedMs: number;
  },
): DrainResult {
  return {
    changes: fields.changes,
    deliveries: fields.deliveries,
    delivery: run.delivery,
    drainMs: (run.calls.lastSuccessAtMs ?? NaN) - run.delivery.firstSentAtMs,
    handoffMs: run.delivery.lastAnsweredAtMs - run.delivery.firstSentAtMs,
    calls: run.calls,
    needed: fields.needed,
    roleFlaps: fields.roleFlaps,
    converged: fields.converged,
    usage: usageBetween(context.stack, fields.startedMs, Date.now()),
    workerTasks: run.workerTasks,
  };
}

export const burstUsers = (settings: BenchSettings) =>
  Array.from({ length: settings.burstSize }, (_, index) => benchUser('burst', index));

/** The burst's people who also join Engineering (the reorganization moves them later). */
const joinsEngineering = (settings: BenchSettings, index: number) =>
  settings.phases.includes('reorg') && index < settings.reorgSize;

/**
 * A burst of onboardings: an activation per person, and for the first `reorgSize` of them (when the
 * reorganization runs) a group add to Engineering right after it, in the same delivery: one invite
 * each, plus one team change for those who join a team (the role goes with the invite).
 */
export async function measureBurst(context: ScenarioContext): Promise<DrainResult> {
  const { settings, logger } = context;
  const users = burstUsers(settings);
  const emails = users.map((user) => user.email);
  const joining = users.filter((_, index) => joinsEngineering(settings, index));
  const eventsOf = (user: BenchUser) => {
    const atMs = Date.now();
    const activation = activationEvent(user, atMs);
    return joining.includes(user) ? [activation, groupEvent(user, FROM_GROUP, 'add', atMs + 1)] : [activation];
  };
  const deliveries = batchesOf(users, eventsOf, settings.eventsPerDelivery);
  const changes = users.length + joining.length;
  const startedMs = Date.now();
  logger.info(
    { onboardings: users.length, joiningTeam: joining.length, deliveries: deliveries.length },
    'burst: delivering',
  );

  const joined = (snapshot: SandboxSnapshot) => {
    const team = teamMembers(snapshot, FROM_TEAM);
    return memberIds(snapshot, joining).filter((id) => team.has(id)).length;
  };
  const run = await driveAndDrain(
    context,
    deliveries,
    (snapshot) => countInvited(snapshot, emails) === emails.length && joined(snapshot) === joining.length,
    (snapshot) =>
      `${countInvited(snapshot, emails)} of ${emails.length} invited, ` +
      `${joined(snapshot)} of ${joining.length} in ${FROM_TEAM}`,
  );

  const groupsOf = (index: number) => (joinsEngineering(settings, index) ? [FROM_GROUP] : []);
  const roles = new Map(run.snapshot.members.map((member) => [member.email, member.role]));
  const converged =
    users.every((user, index) => roles.get(user.email) === roleOf(context.syncConfig, groupsOf(index))) &&
    joined(run.snapshot) === joining.length;
  const counts = {
    changes,
    deliveries: deliveries.length,
    needed: neededCalls(
      context.syncConfig,
      users.map((_, index) => ({ after: groupsOf(index) })),
    ),
    roleFlaps: roleFlaps(run.snapshot.calls, run.snapshot.members),
    converged,
    startedMs,
  };
  const result = drainResult(context, run, counts);
  return {
    ...result,
    joinedTeam: joining.length,
    roleCallsByRole: countRoles(run.snapshot.calls),
    historyEvents: await historySizes(context.stack, users[users.length - 1] as BenchUser, 'onboard-1'),
  };
}

/** How long one person's histories are: the user's workflow and one step's child. */
async function historySizes(stack: BenchStack, user: BenchUser, step: string) {
  try {
    const workflowId = `gitbook-user-${user.id}`;
    const [parent, child] = await Promise.all([
      stack.client.workflow.getHandle(workflowId).describe(),
      stack.client.workflow.getHandle(`${workflowId}/${step}`).describe(),
    ]);
    return { user: parent.historyLength, step: child.historyLength };
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------

export interface NaiveResult {
  calls: number;
  rateLimited: number;
  failures: number;
  drainMs: number;
  concurrency: number;
}

/**
 * The naive script's burst, against a fresh sandbox with the same limit: the same people, one call
 * per event (an invite per activation, a team change by email per group add).
 */
export async function measureNaive(context: ScenarioContext): Promise<NaiveResult> {
  const { settings, stack } = context;
  const sandbox = await startSandbox({
    token: stack.gitbookToken,
    organizationId: BENCH_ORGANIZATION_ID,
    seed: BENCH_SEED,
    rateLimit: settings.rateLimit,
  });
  try {
    const people = Array.from({ length: settings.burstSize }, (_, index) => ({
      email: benchUser('naive', index).email,
      teamId: joinsEngineering(settings, index) ? FROM_TEAM : undefined,
    }));
    const run = await runNaiveSync({
      baseUrl: sandbox.url,
      token: stack.gitbookToken,
      organizationId: BENCH_ORGANIZATION_ID,
      people,
      concurrency: settings.naiveConcurrency,
      deadlineMs: settings.phaseTimeoutMs,
    });
    const calls = summarizeCalls(sandbox.state().calls);
    return {
      calls: calls.calls,
      rateLimited: calls.rateLimited,
      failures: run.failures,
      drainMs: (calls.lastSuccessAtMs ?? NaN) - run.firstCallAtMs,
      concurrency: settings.naiveConcurrency,
    };
  } finally {
    await sandbox.close();
  }
}

// ---------------------------------------------------------------------------------------------------

export interface ReorgResult extends DrainResult {
  people: number;
  /** Role changes GitBook received, though both groups grant the same role. */
  roleCalls: number;
}

/** The GitBook member ids of `users`, from the sandbox's organization. */
function memberIds(snapshot: SandboxSnapshot, users: BenchUser[]): string[] {
  const byEmail = new Map(snapshot.members.map((member) => [member.email.toLowerCase(), member.id]));
  return users.map((user) => byEmail.get(user.email.toLowerCase())).filter((id): id is string => id !== undefined);
}

function teamMembers(snapshot: SandboxSnapshot, teamId: string): Set<string> {
  return new Set(snapshot.teams.find((team) => team.id === teamId)?.memberIds ?? []);
}

/**
 * A reorganization: the `reorgSize` people of the burst who joined Engineering move to Design: each
 * gets a group remove and a group add, in the same delivery, in that order.
 */
export async function measureReorg(context: ScenarioContext): Promise<ReorgResult> {
  const { settings, stack, logger } = context;
  const people = burstUsers(settings).slice(0, settings.reorgSize);
  const before = stack.sandbox.state();
  const ids = memberIds(before, people);
  const rolesBefore = new Map(before.members.map((member) => [member.id, member.role as string]));
  if (ids.length !== people.length) throw new Error(`reorg: only ${ids.length} of ${people.length} people are members`);
  const inTeam = (snapshot: SandboxSnapshot, teamId: string) => {
    const members = teamMembers(snapshot, teamId);
    return ids.filter((id) => members.has(id)).length;
  };
  if (inTeam(stack.sandbox.state(), FROM_TEAM) !== ids.length) {
    throw new Error(`reorg: not everyone is in ${FROM_TEAM}`);
  }

  logger.info({ people: people.length }, 'reorg: moving everyone from Engineering to Design');
  const startedMs = Date.now();
  const deliveries = batchesOf(
    people,
    (user) => {
      const atMs = Date.now();
      return [groupEvent(user, FROM_GROUP, 'remove', atMs), groupEvent(user, TO_GROUP, 'add', atMs + 1)];
    },
    settings.eventsPerDelivery,
  );
  const run = await driveAndDrain(
    context,
    deliveries,
    (snapshot) => inTeam(snapshot, TO_TEAM) === ids.length && inTeam(snapshot, FROM_TEAM) === 0,
    (snapshot) =>
      `${inTeam(snapshot, TO_TEAM)} of ${ids.length} in ${TO_TEAM}, ` +
      `${inTeam(snapshot, FROM_TEAM)} left in ${FROM_TEAM}`,
  );

  const roles = new Map(run.snapshot.members.map((member) => [member.id, member.role]));
  const roleAfter = roleOf(context.syncConfig, [TO_GROUP]);
  const converged =
    inTeam(run.snapshot, TO_TEAM) === ids.length &&
    inTeam(run.snapshot, FROM_TEAM) === 0 &&
    ids.every((id) => roles.get(id) === roleAfter);
  const changes = people.length * 2;
  return {
    ...drainResult(context, run, {
      changes,
      deliveries: deliveries.length,
      needed: neededCalls(
        context.syncConfig,
        people.map(() => ({ before: [FROM_GROUP], after: [TO_GROUP] })),
      ),
      roleFlaps: roleFlaps(run.snapshot.calls, run.snapshot.members, rolesBefore),
      converged,
      startedMs,
    }),
    people: people.length,
    roleCalls: run.calls.byOperation.role ?? 0,
    roleCallsByRole: countRoles(run.snapshot.calls),
  };
}

/** Role PATCHes by the role they set. */
function countRoles(calls: readonly SandboxCall[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const call of calls) {
    if (operationOf(call) !== 'role') continue;
    const role = String((call.body as { role?: unknown } | undefined)?.role ?? 'none');
    counts[role] = (counts[role] ?? 0) + 1;
  }
  return counts;
}

// ---------------------------------------------------------------------------------------------------

/** The worker while the pending workflows pile up: one reading every few seconds. */
export interface MemoryCheckpoint {
  atMs: number;
  /** Activations Temporal holds so far. */
  handedOff: number;
  /** Onboarding steps started (the user's workflow got the activation and planned it). */
  started: number;
  /** Onboarding steps running: people whose invite waits on GitBook. */
  pending: number;
  /** Highest worker RSS since the scenario began, and the RSS now. */
  workerPeakRssBytes?: number;
  workerRssBytes?: number;
  temporalRssBytes?: number;
  /** The worker's workflow cache (`temporal_sticky_cache_size`), when its metrics answer. */
  stickyCacheSize?: number;
}

export interface MemoryResult {
  target: number;
  checkpoints: MemoryCheckpoint[];
  /** True when the budget ran out before `target` workflows were pending. */
  cutShort: boolean;
  budgetMs: number;
  /** Activations handed to Temporal per second while filling. */
  handOffPerSecond: number;
  /** Hand-off calls that failed (Temporal too busy) and were made again. */
  handOffRetries: number;
  /** How the activations were handed off: events per call, calls in flight, most events ahead of the worker. */
  handOff: { batchSize: number; concurrency: number; aheadLimit: number };
  /** Time the filling spent waiting for the worker to catch up (the hand-off was ahead by `aheadLimit`). */
  waitedForWorkerMs: number;
  /** The worker's sticky cache setting (`WORKER_MAX_CACHED_WORKFLOWS`): the most workflows it keeps. */
  cacheSize: number;
  /** The memory worker's workflow tasks and cache over the scenario. */
  workerTasks?: WorkerTaskSummary;
  /**
   * V8's default heap limit for a Node process on this machine, which the worker runs with when
   * `BENCH_WORKER_NODE_OPTIONS` is unset (undefined otherwise): V8 collects lazily below it.
   */
  defaultHeapLimitBytes?: number;
  /** History length of the invite batcher at the end: every waiting invite is a signal in it. */
  inviteBatcherHistory?: number;
  usage: Usage;
}

/**
 * How many onboarding steps of this run's task queue have started (`running` ones only, or all):
 * a started step means the user's workflow has planned it and now waits on GitBook.
 */
async function countOnboardings(stack: BenchStack, taskQueue: string, which: 'running' | 'all'): Promise<number> {
  const status = which === 'running' ? ' AND ExecutionStatus = "Running"' : '';
  const query = `WorkflowType = "onboardUserWorkflow" AND TaskQueue = "${taskQueue}"${status}`;
  return (await stack.client.workflow.count(query)).count;
}

/**
 * Hands activations to Temporal with the receiver's own hand-off (`submitDirectoryEvents`, events
 * mapped by `mapOktaEvent`), `batchSize` events per call and `concurrency` calls in flight, without
 * the receiver's HTTP deadline: this scenario measures the worker, and a 503 storm would only slow
 * the filling. Never more than `aheadLimit` activations ahead of the onboardings the worker has
 * started: handing off faster than the worker starts workflows only queues them, and the queue
 * competes with the worker for the same cores. `progress.held` counts the events Temporal holds.
 */
async function submitActivations(
  stack: BenchStack,
  users: BenchUser[],
  options: {
    taskQueue: string;
    syncConfig: SyncConfig;
    batchSize: number;
    concurrency: number;
    aheadLimit: number;
    deadlineMs: number;
    progress: { held: number; retries: number; waitedMs: number };
    /** How many handed-off activations the worker has started on (read every second). */
    started: () => number;
  },
): Promise<void> {
  const batches = chunk(users, options.batchSize);
  const { progress } = options;
  const lane = async () => {
    for (let batch = batches.shift(); batch; batch = batches.shift()) {
      // Wait while the worker is behind; this also spaces the lanes out.
      const waitFrom = Date.now();
      const behind = () => progress.held - options.started() > options.aheadLimit;
      while (Date.now() < options.deadlineMs && behind()) await sleep(250);
      progress.waitedMs += Date.now() - waitFrom;
      if (Date.now() >= options.deadlineMs) return;

      const events = batch
        .map((user, index) => mapOktaEvent(activationEvent(user), index, options.syncConfig))
        .flatMap((outcome) => (outcome.kind === 'accepted' ? [outcome.event] : []));
      // Temporal may be too busy for part of a batch; sending it again is safe (events are
      // recognised by id), so a batch is retried until it is held or the budget is spent.
      while (Date.now() < options.deadlineMs) {
        try {
          const held = await submitDirectoryEvents(stack.client, options.taskQueue, events);
          // Not `progress.held += await ...`: that reads the count before the await, losing other lanes' adds.
          progress.held += held.length;
          break;
        } catch {
          progress.retries++;
          await sleep(1_000);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, lane));
}

/** Below this many pending workflows, a checkpoint is not a fair base for "flat". */
export const MEMORY_BASE_PENDING = 1_000;

/** The worker process of the memory scenario, as the sampler names it. */
export const MEMORY_WORKER = 'memory-worker';

/**
 * Leaves GitBook no call for the next hour: a limit of one call an hour, spent by the benchmark
 * itself, so every invite is answered 429 and every onboarding stays pending.
 */
async function exhaustGitBook(stack: BenchStack): Promise<void> {
  stack.sandbox.setRateLimit({ limit: 1, windowMs: 3_600_000 });
  const response = await request(`${stack.sandbox.url}/orgs/${BENCH_ORGANIZATION_ID}/members`, {
    headers: { authorization: `Bearer ${stack.gitbookToken}` },
  });
  await response.body.dump();
  if (response.statusCode !== 200) throw new Error(`memory: the sandbox answered ${response.statusCode}`);
}

/** This process's V8 heap limit, when it is the default that the worker gets too. */
function defaultHeapLimit(settings: BenchSettings): number | undefined {
  const tuned =
    settings.workerNodeOptions || process.env.NODE_OPTIONS || process.execArgv.some((arg) => arg.includes('space'));
  return tuned ? undefined : getHeapStatistics().heap_size_limit;
}

/**
 * Worker memory with many pending workflows. The scenarios' worker is stopped and a fresh one
 * started on a task queue of its own, so nothing earlier is cached or queued; GitBook has no call
 * left for an hour, so every onboarding stays pending (its invite waits in the batcher, which
 * retries after the reset); activations are handed to Temporal until
 * `memory.pendingWorkflows` are pending or `memory.budgetMs` has passed, with a checkpoint (pending
 * count, worker RSS, cache size) every 5 s.
 */
export async function measureMemory(context: ScenarioContext): Promise<MemoryResult> {
  const { settings, stack, logger } = context;
  const target = settings.memory.pendingWorkflows;

  await stack.worker.stop(25_000);
  // The batchers are per task queue: the memory worker's first invite starts its own.
  const taskQueue = `${stack.taskQueue}-memory`;
  const { metricsUrl } = await stack.launchWorker(MEMORY_WORKER, taskQueue);
  await exhaustGitBook(stack);
  const metricsBefore = await readWorkerMetrics(metricsUrl);

  const startedMs = Date.now();
  const deadlineMs = startedMs + settings.memory.budgetMs;
  const progress = { held: 0, retries: 0, waitedMs: 0 };
  const users = Array.from({ length: target }, (_, index) => benchUser('mem', index));
  const { batchSize, concurrency } = settings.memory;
  const aheadLimit = 2 * batchSize * concurrency;
  logger.info(
    { activations: target, budget: formatMs(settings.memory.budgetMs), batchSize, concurrency },
    'memory: handing activations to Temporal',
  );

  // One reading of the started count for every lane, refreshed in the background.
  let started = 0;
  let filled = false;
  let filledAtMs = deadlineMs;
  const watchStarted = (async () => {
    while (!filled) {
      started = await countOnboardings(stack, taskQueue, 'all').catch(() => started);
      await sleep(1_000);
    }
  })();
  const filling = submitActivations(stack, users, {
    taskQueue,
    syncConfig: context.syncConfig,
    batchSize,
    concurrency,
    aheadLimit,
    deadlineMs,
    progress,
    started: () => started,
  }).finally(() => {
    filled = true;
    filledAtMs = Date.now();
  });

  const checkpoints: MemoryCheckpoint[] = [];
  const checkpoint = async () => {
    await stack.sampler.sample();
    const worker = stack.sampler.usage(MEMORY_WORKER, startedMs, Date.now());
    const atMs = Date.now() - startedMs;
    const started = await countOnboardings(stack, taskQueue, 'all');
    const pending = await countOnboardings(stack, taskQueue, 'running');
    const point: MemoryCheckpoint = {
      atMs,
      // Read after the counts, so it covers every onboarding they found.
      handedOff: progress.held,
      started,
      pending,
      workerPeakRssBytes: worker?.peakRssBytes,
      workerRssBytes: worker?.endRssBytes,
      temporalRssBytes: stack.sampler.latest('temporal')?.rssBytes,
      stickyCacheSize: (await readWorkerMetrics(metricsUrl))?.stickyCacheSize,
    };
    checkpoints.push(point);
    return point;
  };

  // Until everything handed off is pending (its onboarding started), or the budget is spent.
  let last = await checkpoint();
  while (Date.now() < deadlineMs && !(filled && last.started >= progress.held)) {
    await sleep(5_000);
    last = await checkpoint();
    const workerRss = formatBytes(last.workerRssBytes);
    logger.info({ pending: last.pending, handedOff: last.handedOff, workerRss }, 'memory: checkpoint');
  }
  await filling;
  await watchStarted;
  // A last reading with everything pending.
  await sleep(5_000);
  last = await checkpoint();

  const inviteBatcherHistory = await stack.client.workflow
    .getHandle(batcherWorkflowId(INVITE_BATCHER_WORKFLOW_ID, taskQueue))
    .describe()
    .then((description) => description.historyLength)
    .catch(() => undefined);
  const fillSeconds = (Math.min(filledAtMs, deadlineMs) - startedMs) / 1_000;
  return {
    target,
    checkpoints,
    cutShort: last.pending < target,
    budgetMs: settings.memory.budgetMs,
    handOffPerSecond: progress.held / fillSeconds,
    handOffRetries: progress.retries,
    handOff: { batchSize, concurrency, aheadLimit },
    waitedForWorkerMs: progress.waitedMs / concurrency,
    cacheSize: stack.workerCacheSize,
    defaultHeapLimitBytes: defaultHeapLimit(settings),
    workerTasks: summarizeWorkerTasks(metricsBefore, await readWorkerMetrics(metricsUrl)),
    inviteBatcherHistory,
    usage: usageBetween(stack, startedMs, Date.now()),
  };
}

// ---------------------------------------------------------------------------------------------------

/** One step of the receiver load: a rate, held for a while. */
export interface LoadStep extends LoadRun {
  deliveriesPerSecond: number;
  durationSeconds: number;
}

export interface LoadResult extends LoadStep {
  /** A gentler step run first (a quarter of the rate, 5 s), to show where the receiver copes. */
  gentle?: LoadStep;
  usage: Usage;
}

/** A deterministic number of events (1 to `max`) for delivery `index`. */
function eventsInDelivery(index: number, max: number): number {
  return 1 + ((index * 2_654_435_761) % 4_294_967_296) % max;
}

/**
 * The receiver under a steady stream: small Okta deliveries (1 to 5 events), each for people never
 * seen before, joining a mapped group. The events go through the real hand-off (signal-with-start);
 * since nobody is activated, the workflows wait without calling GitBook, so this measures the
 * receiver and Temporal, not the rate limit. A gentler step (a quarter of the rate, 5 s) runs
 * first, then, after a 5 s pause, the full rate.
 */
export async function measureLoad(context: ScenarioContext): Promise<LoadResult> {
  const { settings, stack } = context;
  const { deliveriesPerSecond, durationSeconds, maxEventsPerDelivery } = settings.load;
  const group = { id: 'support', name: 'Support' };
  const startedMs = Date.now();
  let nextUser = 0;
  const step = async (rate: number, seconds: number): Promise<LoadStep> => {
    const run = await runLoad({
      receiverUrl: stack.receiverUrl,
      secret: stack.hookSecret,
      deliveriesPerSecond: rate,
      durationSeconds: seconds,
      makeDelivery: (index) => {
        const events = Array.from({ length: eventsInDelivery(index, maxEventsPerDelivery) }, () =>
          groupEvent(benchUser('load', nextUser++), group, 'add'),
        );
        return { body: oktaDelivery(events), events: events.length };
      },
    });
    return { ...run, deliveriesPerSecond: rate, durationSeconds: seconds };
  };

  const gentleRate = Math.max(1, Math.round(deliveriesPerSecond / 4));
  const gentle = gentleRate < deliveriesPerSecond ? await step(gentleRate, 5) : undefined;
  if (gentle) await sleep(5_000);
  const full = await step(deliveriesPerSecond, durationSeconds);
  return { ...full, gentle, usage: usageBetween(stack, startedMs, Date.now()) };
}
