/**
 * Fault injection: GitBook answering 429s, 5xx, too slowly or not at all; the worker process killed
 * in the middle of an invite; the Temporal server stopped and restarted under a receiver that keeps
 * getting deliveries; the receiver restarted between a delivery and its redelivery. Each scenario
 * ends with GitBook exactly as the directory model says, and no person invited or removed more
 * often than the directory asked for.
 *
 * "Effective" invites and removals are counted on the GitBook side: a watcher samples the sandbox's
 * members every few milliseconds and counts the member ids that appear and disappear per person.
 * Request counts would include the retries these faults are meant to cause.
 *
 * Batching is off here, so each request is one person's and the request counts below read per
 * person; the batched paths run under the convergence property and in batching.test.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { request } from 'undici';
import { GitBookClient } from '../src/gitbook/client';
import { startReceiver, type RunningReceiver } from '../src/receiver';
import {
  startSandbox,
  type FaultMatch,
  type GitBookSandbox,
  type SandboxCall,
  type SandboxFault,
} from '../src/sandbox';
import { startDevServer, type DevServer } from '../src/temporal/dev-server';
import { createSyncWorker } from '../src/worker';
import { statusQuery, userWorkflowId, type UserSyncStatus } from '../workflows/api';
import { TEST_ORG, TEST_TOKEN, eventually, startTestEnvironment } from './helpers/harness';
import {
  MODEL_SEED,
  DirectoryHistory,
  checkOrganization,
  inOrder,
  invitedEmails,
  modelSyncConfig,
  planRequests,
  type DirectoryOp,
  type HookRequest,
  type ModelUser,
} from './helpers/model';

const SECRET = 'faults-hook-secret-7c2a';
/** The in-process worker's GitBook timeout; delay faults last longer than this. */
const CLIENT_TIMEOUT_MS = 2_000;
const QUIET_MS = 1_000;
const syncConfig = modelSyncConfig({ batching: false });
/** What every receiver of this file shares: the mapping, the secret, and no logs. */
const hookOptions = { syncConfig, secret: SECRET, logger: false } as const;

let env: TestWorkflowEnvironment;
let sandbox: GitBookSandbox;
let gitbook: GitBookClient;
let worker: Worker;
let running: Promise<void>;
let receiver: RunningReceiver;
let taskQueue: string;
let watcher: MembershipWatcher;

/** Figures for RELIABILITY.md, printed at the end. */
const figures: Record<string, Record<string, number>> = {};

beforeAll(async () => {
  taskQueue = `faults-${randomUUID()}`;
  env = await startTestEnvironment();
  sandbox = await startSandbox({ token: TEST_TOKEN, organizationId: TEST_ORG, seed: MODEL_SEED });
  gitbook = new GitBookClient({
    baseUrl: sandbox.url,
    token: TEST_TOKEN,
    organizationId: TEST_ORG,
    requestTimeoutMs: CLIENT_TIMEOUT_MS,
  });
  worker = await createSyncWorker({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    gitbook,
    syncConfig,
    client: env.client,
    workflowBundle: process.env.WORKFLOW_BUNDLE_PATH ? { codePath: process.env.WORKFLOW_BUNDLE_PATH } : undefined,
    shutdownGraceTime: '1 second',
  });
  running = worker.run();
  receiver = await startReceiver({ client: env.client, taskQueue, ...hookOptions });
});

afterAll(async () => {
  await receiver?.close();
  worker?.shutdown();
  await running;
  await gitbook?.close();
  await sandbox?.close();
  await env?.teardown();
  console.log(`fault figures: ${JSON.stringify(figures)}`);
});

beforeEach(() => {
  sandbox.reset();
  sandbox.setRateLimit(undefined);
  watcher = new MembershipWatcher(sandbox);
});

afterEach(() => {
  watcher.stop();
  sandbox.clearFaults();
  sandbox.setRateLimit(undefined);
});

// ---------------------------------------------------------------------------------------------
// Helpers

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const newHistory = () => new DirectoryHistory(`f${randomUUID().slice(0, 8)}`);

/**
 * Samples the sandbox's members every 10 ms: which member ids each address has had, and how many
 * of them went away. A member lives for seconds in these scenarios, so none is missed.
 */
class MembershipWatcher {
  readonly idsByEmail = new Map<string, Set<string>>();
  readonly emailOfId = new Map<string, string>();
  readonly removedByEmail = new Map<string, number>();
  #present = new Set<string>();
  readonly #timer: NodeJS.Timeout;

  constructor(private readonly target: GitBookSandbox) {
    this.#timer = setInterval(() => this.sample(), 10);
  }

  sample(): void {
    const members = this.target.state().members;
    const now = new Set(members.map((member) => member.id));
    for (const member of members) {
      const email = member.email.toLowerCase();
      this.emailOfId.set(member.id, email);
      this.idsByEmail.set(email, (this.idsByEmail.get(email) ?? new Set()).add(member.id));
    }
    for (const id of this.#present) {
      if (now.has(id)) continue;
      const email = this.emailOfId.get(id)!;
      this.removedByEmail.set(email, (this.removedByEmail.get(email) ?? 0) + 1);
    }
    this.#present = now;
  }

  /** People GitBook added for this user (distinct member ids under any of their addresses). */
  invitesOf(user: ModelUser): number {
    return user.emails.reduce((sum, email) => sum + (this.idsByEmail.get(email)?.size ?? 0), 0);
  }

  removalsOf(user: ModelUser): number {
    return user.emails.reduce((sum, email) => sum + (this.removedByEmail.get(email) ?? 0), 0);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.sample();
  }
}

/**
 * Posts one request to a receiver; returns the status and body. Each request gets its own
 * connection, as a restarted receiver does not keep its predecessor's keep-alive sockets.
 */
async function post(baseUrl: string, hook: Pick<HookRequest, 'path' | 'body'>) {
  const response = await request(`${baseUrl}${hook.path}`, {
    method: 'POST',
    reset: true,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRET}` },
    body: JSON.stringify(hook.body),
  });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

function unexpectedAnswer(hook: Pick<HookRequest, 'path'>, answer: { status: number; body: unknown }): Error {
  return new Error(`${hook.path} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
}

/** Delivers `ops` in order, one request each, and expects every one to be taken (200). */
async function deliver(history: DirectoryHistory, ops: DirectoryOp[], baseUrl = receiver.url): Promise<void> {
  for (const hook of planRequests(history, inOrder(history), ops)) {
    const answer = await post(baseUrl, hook);
    if (answer.status !== 200) throw unexpectedAnswer(hook, answer);
  }
}

/** Redelivers a request until it is taken, as an IdP retrying a 503 would; returns the attempts. */
async function redeliverUntilTaken(baseUrl: string, hook: HookRequest, attempts = 60): Promise<number> {
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const answer = await post(baseUrl, hook);
    if (answer.status === 200) return attempt;
    if (answer.status !== 503) throw unexpectedAnswer(hook, answer);
    await sleep(1_000);
  }
  throw new Error(`${hook.path} was not taken after ${attempts} attempts`);
}

/**
 * Waits until every user's workflow has applied its events and has nothing running or planned,
 * and the sandbox has seen no new request for {@link QUIET_MS}. (A request whose connection was
 * dropped never gets a status, so "no new request" is the sandbox's quiet, not "all answered".)
 */
async function settle(history: DirectoryHistory, options: { client?: Client; timeoutMs?: number } = {}) {
  const client = options.client ?? env.client;
  const users = history.users.filter((user) => user.events > 0);
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let quietSince: number | undefined;
  let lastCallCount = -1;

  for (;;) {
    const statuses: UserSyncStatus[] = await Promise.all(
      users.map((user) => client.workflow.getHandle(userWorkflowId(user.id)).query(statusQuery)),
    );
    const calls = sandbox.state().calls;
    const idle =
      statuses.every((s, i) => !s.running && s.pending.length === 0 && s.eventsApplied === users[i]!.events) &&
      calls.length === lastCallCount;
    lastCallCount = calls.length;

    if (!idle) quietSince = undefined;
    else if (quietSince === undefined) quietSince = Date.now();
    else if (Date.now() - quietSince >= QUIET_MS) return statuses;

    if (Date.now() > deadline) {
      const busy = statuses.map((s, i) => ({
        user: users[i]!.index,
        applied: `${s.eventsApplied} of ${users[i]!.events}`,
        running: s.running?.description,
        pending: s.pending.map((p) => p.description),
        lastError: s.lastError,
      }));
      throw new Error(`not settled in time: ${JSON.stringify(busy)}`);
    }
    await sleep(200);
  }
}

/**
 * The end state every scenario must reach: the organization as the model says, and per person no
 * more people added than activations, nor removed than deactivations.
 */
function expectConverged(history: DirectoryHistory): void {
  watcher.sample();
  const snapshot = sandbox.state();
  const problems = checkOrganization(history, snapshot);
  for (const user of history.users) {
    const invites = watcher.invitesOf(user);
    const removals = watcher.removalsOf(user);
    const { index, activations, deactivations } = user;
    if (invites > activations) problems.push(`u${index}: ${invites} people added for ${activations} activations`);
    if (removals > deactivations) problems.push(`u${index}: ${removals} removed for ${deactivations} deactivations`);
  }
  if (problems.length > 0) {
    const calls = snapshot.calls
      .filter((call) => call.method !== 'GET')
      .map((call) => {
        const path = call.path.replace(/^.*\/orgs\/[^/]+/, '');
        return `  ${call.method} ${path} ${call.status} ${call.body === undefined ? '' : JSON.stringify(call.body)}`;
      });
    const listed = problems.map((problem) => `  - ${problem}`).join('\n');
    throw new Error(
      `GitBook does not match the directory:\n${listed}\nhistory:\n${history.describe()}\ncalls:\n${calls.join('\n')}`,
    );
  }
}

/** Requests the sandbox answered with one of `statuses`. */
const callsWithStatus = (statuses: number[]) =>
  sandbox.state().calls.filter((call) => call.status !== null && statuses.includes(call.status));

/** Invite requests naming one of the user's addresses (retries included). */
const invitesFor = (user: ModelUser) =>
  sandbox
    .state()
    .calls.filter((call) => call.path.endsWith('/invites') && invitedEmails(call).some((e) => user.emails.includes(e)));

/**
 * The standard three-phase story used under each GitBook fault: two people join and get teams and
 * roles, then change groups (role changes, a team removal), then one of them leaves. `beforePhase`
 * injects the faults of each phase.
 */
async function runStandardStory(beforePhase: (phase: 1 | 2 | 3) => void): Promise<DirectoryHistory> {
  const history = newHistory();
  const ada = history.addUser();
  const bob = history.addUser();

  beforePhase(1);
  await deliver(history, [
    history.create(ada),
    history.join(ada, 'engineering', { route: 'directory' }),
    history.join(ada, 'design'),
    history.create(bob, { route: 'directory' }),
    history.join(bob, 'docs-admins'),
  ]);
  await settle(history);

  beforePhase(2);
  await deliver(history, [
    history.leave(ada, 'design'),
    history.leave(bob, 'docs-admins', { route: 'directory' }),
    history.join(ada, 'docs-admins'),
  ]);
  await settle(history);

  beforePhase(3);
  await deliver(history, [history.deactivate(bob)]);
  await settle(history);
  return history;
}

/** A free 127.0.0.1 port (bound, read, released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const { port } = server.address() as { port: number };
  await new Promise((closed) => server.close(closed));
  return port;
}

// ---------------------------------------------------------------------------------------------
// GitBook faults

describe('sync under GitBook faults', () => {
  it('converges through 429 storms, waiting until X-RateLimit-Reset before each retry', async () => {
    const resetInMs = 1_500;
    const history = await runStandardStory((phase) => {
      if (phase === 1) sandbox.injectFault({ kind: 'rate-limit', resetInMs, times: 4 });
      // Later phases run under a real limit: two requests a second for the whole organization.
      if (phase === 2) sandbox.setRateLimit({ limit: 2, windowMs: 1_000 });
    });

    expectConverged(history);
    const calls = sandbox.state().calls;
    const limited = calls.filter((call) => call.status === 429);
    expect(limited.length).toBeGreaterThanOrEqual(4);
    // The first four 429s are the injected ones; each retry came after the reset GitBook announced.
    for (const answer of limited.slice(0, 4)) {
      const resetAtMs = Math.ceil((answer.receivedAtMs + resetInMs) / 1_000) * 1_000;
      const retry = calls.find((call) => call.receivedAtMs > answer.receivedAtMs && sameRequest(call, answer));
      expect(retry).toBeDefined();
      expect(retry!.receivedAtMs).toBeGreaterThanOrEqual(resetAtMs - 50);
    }
    figures.rateLimit = { answers429: limited.length, requests: calls.length };
  }, 120_000);

  it('converges through bursts of 5xx answers', async () => {
    const history = await runStandardStory((phase) => {
      const faults: SandboxFault[][] = [
        [
          { kind: 'status', status: 500, times: 2, match: { pathIncludes: '/invites' } },
          { kind: 'status', status: 502, times: 2, match: { pathIncludes: '/teams/' } },
        ],
        [{ kind: 'status', status: 503, times: 3 }],
        [{ kind: 'status', status: 500, times: 2, match: { method: 'DELETE' } }],
      ];
      faults[phase - 1]!.forEach((fault) => sandbox.injectFault(fault));
    });

    expectConverged(history);
    const failed = callsWithStatus([500, 502, 503]);
    expect(failed).toHaveLength(9);
    figures.serverErrors = { answers5xx: failed.length, requests: sandbox.state().calls.length };
  }, 120_000);

  it('converges when GitBook answers after the client has given up, without a second member', async () => {
    const delayMs = CLIENT_TIMEOUT_MS + 1_000;
    const history = await runStandardStory((phase) => {
      const slow = (match: FaultMatch): SandboxFault => ({ kind: 'delay', delayMs, match });
      const faults: SandboxFault[][] = [
        [slow({ pathIncludes: '/invites' }), slow({ pathIncludes: '/teams/' })],
        [slow({ method: 'PATCH' })],
        [slow({ method: 'DELETE' })],
      ];
      faults[phase - 1]!.forEach((fault) => sandbox.injectFault(fault));
    });

    expectConverged(history);
    const [ada, bob] = history.users;
    // The slow invite was carried out by GitBook, and its retry found the member.
    expect(invitesFor(ada!).length + invitesFor(bob!).length).toBe(3);
    expect(watcher.invitesOf(ada!) + watcher.invitesOf(bob!)).toBe(2);
    // The slow removal was carried out too; its retry was told "not a member".
    const removals = sandbox.state().calls.filter((call) => call.method === 'DELETE');
    expect(removals.map((call) => call.status)).toContain(204);
    figures.slowAnswers = {
      delayedRequests: 4,
      inviteRequests: invitesFor(ada!).length + invitesFor(bob!).length,
      peopleAdded: watcher.invitesOf(ada!) + watcher.invitesOf(bob!),
      removalRequests: removals.length,
      peopleRemoved: watcher.removalsOf(bob!),
    };
  }, 120_000);

  it('converges through connection resets', async () => {
    const history = await runStandardStory((phase) => {
      const faults: SandboxFault[][] = [
        [
          { kind: 'reset', times: 2, match: { pathIncludes: '/invites' } },
          { kind: 'reset', times: 1, match: { pathIncludes: '/teams/' } },
        ],
        [{ kind: 'reset', times: 2 }],
        [{ kind: 'reset', times: 1, match: { method: 'DELETE' } }],
      ];
      faults[phase - 1]!.forEach((fault) => sandbox.injectFault(fault));
    });

    expectConverged(history);
    const dropped = sandbox.state().calls.filter((call) => call.status === null);
    expect(dropped).toHaveLength(6);
    figures.resets = { droppedConnections: dropped.length, requests: sandbox.state().calls.length };
  }, 120_000);
});

function sameRequest(a: SandboxCall, b: SandboxCall): boolean {
  return a.method === b.method && a.path === b.path && JSON.stringify(a.body) === JSON.stringify(b.body);
}

// ---------------------------------------------------------------------------------------------
// A step cancelled while its GitBook call is in flight

/*
 * Reproductions of a bug these tests found (fixed in ecd4c3f): when a newer event cancelled a
 * running step, the workflow compensated before the step's GitBook call had ended, removed the id
 * of an earlier, already removed membership, and looked the person up by the newest directory
 * address instead of the address their invite used. An offboarded person stayed in GitBook, or one
 * person became two members. Each case holds one GitBook answer while the newer change arrives.
 */
describe('a change that arrives while a GitBook call is in flight', () => {
  /** GitBook is slow but answers within the client's timeout: the call is in flight, not abandoned. */
  const HOLD_MS = CLIENT_TIMEOUT_MS - 500;

  /** Holds the next request matching `match` for `delayMs`, and resolves once it has arrived. */
  async function holdNext(match: FaultMatch, delayMs: number, act: () => Promise<void>) {
    const before = sandbox.state().calls.length;
    const matches = (call: SandboxCall) =>
      (!match.method || call.method === match.method) &&
      (!match.pathIncludes || call.path.includes(match.pathIncludes));
    sandbox.injectFault({ kind: 'delay', delayMs, match });
    await act();
    await eventually(() => sandbox.state().calls.slice(before).find((call) => call.status === null && matches(call)));
  }

  /** Holds the next invite while `act` delivers what triggers it. */
  const holdInvite = (act: () => Promise<void>) => holdNext({ pathIncludes: '/invites' }, HOLD_MS, act);

  it('removes the person when the deactivation arrives during their first invite', async () => {
    const history = newHistory();
    const ada = history.addUser();

    await holdInvite(() => deliver(history, [history.create(ada), history.join(ada, 'engineering')]));
    await deliver(history, [history.deactivate(ada)]);
    await sleep(HOLD_MS + 500);
    await settle(history);

    expectConverged(history);
  }, 60_000);

  it('removes the person when the deactivation arrives during a re-invite', async () => {
    const history = newHistory();
    const ada = history.addUser();
    await deliver(history, [history.create(ada)]);
    await settle(history);
    await deliver(history, [history.deactivate(ada)]);
    await settle(history);

    await holdInvite(() => deliver(history, [history.reactivate(ada)]));
    await deliver(history, [history.deactivate(ada)]);
    await sleep(HOLD_MS + 500);
    await settle(history);

    expectConverged(history);
  }, 60_000);

  it('removes the person when the deactivation arrives during a re-invite under a new address', async () => {
    const history = newHistory();
    const ada = history.addUser();
    await deliver(history, [history.create(ada)]);
    await settle(history);
    await deliver(history, [history.deactivate(ada)]);
    await settle(history);

    await holdInvite(() => deliver(history, [history.updateEmail(ada), history.reactivate(ada)]));
    await deliver(history, [history.deactivate(ada)]);
    await sleep(HOLD_MS + 500);
    await settle(history);

    expectConverged(history);
  }, 60_000);

  it('removes the person when their address changes and they leave during the first invite', async () => {
    const history = newHistory();
    const ada = history.addUser();

    await holdInvite(() => deliver(history, [history.create(ada)]));
    await deliver(history, [history.updateEmail(ada), history.deactivate(ada)]);
    await sleep(HOLD_MS + 500);
    await settle(history);

    expectConverged(history);
  }, 60_000);

  it('keeps one member when the person is reactivated under a new address while being removed', async () => {
    const history = newHistory();
    const ada = history.addUser();
    await deliver(history, [history.create(ada), history.join(ada, 'engineering')]);
    await settle(history);

    sandbox.injectFault({ kind: 'status', status: 503, times: 3, match: { method: 'DELETE' } });
    await deliver(history, [history.deactivate(ada)]);
    await eventually(() => (callsWithStatus([503]).length > 0 ? true : undefined));
    await deliver(history, [history.updateEmail(ada), history.reactivate(ada)]);
    await settle(history);

    expectConverged(history);
  }, 60_000);

  it('gives the directory role to a person whose reactivation finds them still a member', async () => {
    const history = newHistory();
    const ada = history.addUser();
    await deliver(history, [history.create(ada), history.join(ada, 'engineering')]);
    await settle(history);

    sandbox.injectFault({ kind: 'status', status: 503, times: 3, match: { method: 'DELETE' } });
    await deliver(history, [history.deactivate(ada)]);
    await eventually(() => (callsWithStatus([503]).length > 0 ? true : undefined));
    await deliver(history, [history.leave(ada, 'engineering'), history.reactivate(ada)]);
    await settle(history);

    expectConverged(history);
  }, 60_000);
});

// ---------------------------------------------------------------------------------------------
// Process failures

describe('sync when its own processes fail', () => {
  it('invites once when the worker process is killed (SIGKILL) during an invite and a new one takes over', async () => {
    const queue = `faults-kill-${randomUUID()}`;
    const configPath = join(await mkdtemp(join(tmpdir(), 'faults-config-')), 'sync.json');
    await writeFile(configPath, JSON.stringify(syncConfig));
    const hooks = await startReceiver({ client: env.client, taskQueue: queue, ...hookOptions });
    const first = startWorkerProcess(queue, configPath);
    let second: WorkerProcess | undefined;
    try {
      await eventually(() => (first.output().includes('worker started') ? true : undefined));
      const history = newHistory();
      const ada = history.addUser();

      // GitBook takes 4 s over the invite; the worker dies while waiting for the answer.
      sandbox.injectFault({ kind: 'delay', delayMs: 4_000, match: { pathIncludes: '/invites' } });
      await deliver(history, [history.create(ada), history.join(ada, 'engineering')], hooks.url);
      await eventually(() => sandbox.state().calls.find((call) => call.path.endsWith('/invites') && !call.status));
      first.child.kill('SIGKILL');
      expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });

      second = startWorkerProcess(queue, configPath);
      // The killed attempt is retried once its start-to-close timeout (30 s) has passed.
      await settle(history, { timeoutMs: 90_000 });

      expectConverged(history);
      const invites = invitesFor(history.users[ada]!);
      const member = sandbox.state().members.find((m) => history.users[ada]!.emails.includes(m.email.toLowerCase()))!;
      expect(invites).toHaveLength(2);
      // The second invite found the member the first one had made: GitBook answered its id.
      expect(Date.parse(member.joinedAt)).toBeLessThanOrEqual(invites[1]!.receivedAtMs);
      expect(watcher.invitesOf(history.users[ada]!)).toBe(1);
      const status = await env.client.workflow.getHandle(userWorkflowId(history.users[ada]!.id)).query(statusQuery);
      expect(status.actual.gitbookUserId).toBe(member.id);
      figures.workerKill = {
        workersKilled: 1,
        inviteRequests: invites.length,
        peopleAdded: watcher.invitesOf(history.users[ada]!),
      };
    } finally {
      first.child.kill('SIGKILL');
      second?.child.kill('SIGTERM');
      await second?.exited;
      await hooks.close();
    }
  }, 150_000);

  it('answers 503 while the Temporal server is down, and applies the redeliveries once after it restarts', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'faults-temporal-'));
    const ports = { port: await freePort(), uiPort: await freePort() };
    const serverOptions = { cliPath: process.env.TEMPORAL_CLI_PATH!, dataDir, ip: '127.0.0.1', ...ports };
    let server: DevServer | undefined = await startDevServer(serverOptions);
    const connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection });
    const nativeConnection = await NativeConnection.connect({ address: server.address });
    const queue = `faults-restart-${randomUUID()}`;
    const restartWorker = await createSyncWorker({
      connection: nativeConnection,
      namespace: 'default',
      taskQueue: queue,
      gitbook,
      syncConfig,
      client,
      workflowBundle: process.env.WORKFLOW_BUNDLE_PATH ? { codePath: process.env.WORKFLOW_BUNDLE_PATH } : undefined,
      shutdownGraceTime: '1 second',
    });
    const workerRun = restartWorker.run();
    const hooks = await startReceiver({ client, taskQueue: queue, ...hookOptions });

    try {
      const history = newHistory();
      const ada = history.addUser();
      const bob = history.addUser();
      const before = planRequests(history, inOrder(history), [history.create(ada), history.join(ada, 'engineering')]);
      for (const hook of before) expect((await post(hooks.url, hook)).status).toBe(200);
      await settle(history, { client });

      await server.stop();
      server = undefined;
      const during = planRequests(history, { ...inOrder(history), batchSizes: [2] }, [
        history.join(ada, 'design'),
        history.create(bob, { route: 'directory' }),
        history.join(bob, 'docs-admins', { route: 'directory' }),
        history.join(bob, 'engineering'),
      ]);
      const refused = [];
      for (const hook of during) refused.push(await post(hooks.url, hook));
      expect(refused.map((answer) => answer.status)).toEqual(during.map(() => 503));
      expect(refused.every((answer) => answer.headers['retry-after'] === '5')).toBe(true);
      expect(await post(hooks.url, before[0]!)).toMatchObject({ status: 503 });

      server = await startDevServer(serverOptions);
      const attempts = [];
      for (const hook of [...during, ...before]) attempts.push(await redeliverUntilTaken(hooks.url, hook));
      await settle(history, { client, timeoutMs: 90_000 });

      expectConverged(history);
      expect(invitesFor(history.users[ada]!)).toHaveLength(1);
      expect(invitesFor(history.users[bob]!)).toHaveLength(1);
      figures.temporalRestart = {
        deliveriesRefused: refused.length + 1,
        eventsInRefusedDeliveries: during.reduce((sum, hook) => sum + hook.eventIds.length, 0),
        redeliveryAttempts: attempts.reduce((sum, n) => sum + n, 0),
        inviteRequests: invitesFor(history.users[ada]!).length + invitesFor(history.users[bob]!).length,
      };
    } finally {
      await hooks.close();
      restartWorker.shutdown();
      await workerRun.catch(() => undefined);
      await nativeConnection.close();
      await connection.close();
      await server?.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 180_000);

  it('applies a delivery once when the receiver restarted before its redelivery', async () => {
    const port = await freePort();
    let hooks = await startReceiver({ client: env.client, taskQueue, ...hookOptions, port });
    const history = newHistory();
    const ada = history.addUser();
    const [okta, generic] = planRequests(history, { ...inOrder(history), batchSizes: [3] }, [
      history.create(ada),
      history.join(ada, 'engineering'),
      history.join(ada, 'design', { route: 'directory' }),
    ]);

    try {
      expect((await post(hooks.url, okta!)).status).toBe(200);
      expect((await post(hooks.url, generic!)).status).toBe(200);
      await hooks.close();
      hooks = await startReceiver({ client: env.client, taskQueue, ...hookOptions, port });
      expect(await post(hooks.url, okta!)).toMatchObject({ status: 200, body: { accepted: 2 } });
      expect(await post(hooks.url, generic!)).toMatchObject({ status: 200, body: { accepted: 1 } });
      const [status] = await settle(history);

      expectConverged(history);
      expect(status!.eventsApplied).toBe(3);
      expect(invitesFor(history.users[ada]!)).toHaveLength(1);
      const teamAdds = sandbox.state().calls.filter((call) => call.method === 'PUT');
      expect(teamAdds).toHaveLength(2);
      figures.receiverRestart = {
        redeliveredEvents: 3,
        eventsApplied: status!.eventsApplied,
        inviteRequests: invitesFor(history.users[ada]!).length,
        teamRequests: teamAdds.length,
      };
    } finally {
      await hooks.close();
    }
  }, 60_000);
});

interface WorkerProcess {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

/** The production worker (`dist/src/worker-main.js`) on `queue`, against the file's dev server. */
function startWorkerProcess(queue: string, configPath: string): WorkerProcess {
  let output = '';
  const child = spawn(process.execPath, [join(__dirname, '..', 'dist', 'src', 'worker-main.js')], {
    env: {
      PATH: process.env.PATH,
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_TASK_QUEUE: queue,
      GITBOOK_API_URL: sandbox.url,
      GITBOOK_API_TOKEN: TEST_TOKEN,
      GITBOOK_ORG_ID: TEST_ORG,
      SYNC_CONFIG: configPath,
      WORKER_METRICS_ADDRESS: 'off',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  );
  return { child, exited, output: () => output };
}
