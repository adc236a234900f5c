/**
 * Model-based convergence: random directory histories for a few users, delivered through the real
 * hook receiver (Okta deliveries and generic events, repeated, late, batched, on concurrent lanes),
 * must leave GitBook exactly as the plain model in `helpers/model.ts` says, with no invite or
 * removal the directory did not ask for.
 *
 * CI runs a few histories; `npm run soak` runs many (`CONVERGENCE_RUNS`, default 200 there). Replay
 * a failure with the seed (and path) that fast-check prints: `CONVERGENCE_SEED=<seed>
 * CONVERGENCE_PATH=<path> npx jest test/convergence.test.ts`. Timing is not part of the seed, so a
 * race the seed exposed may need a few replays; `CONVERGENCE_SHRINK=1` lets fast-check shrink, and
 * `CONVERGENCE_BATCHING=0` runs the same property with invite and team batching off (on by default,
 * as in the product).
 */
import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import fc from 'fast-check';
import { request } from 'undici';
import { GitBookClient, type InviteUsersInput, type InviteUsersResult } from '../src/gitbook/client';
import { startReceiver, type RunningReceiver } from '../src/receiver';
import { startSandbox, type GitBookSandbox, type SandboxCall } from '../src/sandbox';
import { createSyncWorker } from '../src/worker';
import { statusQuery, userWorkflowId, type UserSyncStatus } from '../workflows/api';
import { TEST_ORG, TEST_TOKEN, startTestEnvironment } from './helpers/harness';
import {
  MODEL_SEED,
  buildCase,
  checkCallLog,
  checkOrganization,
  countCalls,
  historyCaseArbitrary,
  modelSyncConfig,
  planRequests,
  type DirectoryHistory,
  type HistoryCase,
  type HookRequest,
  type ModelGroupId,
} from './helpers/model';

const SEED = Number(process.env.CONVERGENCE_SEED ?? 20_261_204);
const RUNS = Number(process.env.CONVERGENCE_RUNS ?? 15);
const PATH = process.env.CONVERGENCE_PATH || undefined;
const SHRINK = process.env.CONVERGENCE_SHRINK === '1';
/** `CONVERGENCE_BATCHING=0` sends each person's calls on their own (batching is on by default, as in the product). */
const BATCHING = process.env.CONVERGENCE_BATCHING !== '0';

const SECRET = 'convergence-hook-secret-5d1e';
/** How long the organization must stay unchanged, with no step planned, to count as settled. */
const QUIET_MS = 1_000;
/** A run that has not settled by then has failed to converge. */
const SETTLE_TIMEOUT_MS = 60_000;
/** A 503 is redelivered after this, as an IdP would, at most `REDELIVERY_LIMIT` times. */
const REDELIVERY_DELAY_MS = 1_000;
const REDELIVERY_LIMIT = 10;

/** The real GitBook client, keeping what GitBook answered to invites: which id each address got. */
class ObservedGitBookClient extends GitBookClient {
  readonly emailOfId = new Map<string, string>();
  /** Address -> how many people an invite naming it actually added. */
  readonly effectiveInvites = new Map<string, number>();

  override async inviteUsers(input: InviteUsersInput): Promise<InviteUsersResult> {
    const result = await super.inviteUsers(input);
    // One address per invite: that is all the sync sends, so `invited` belongs to it.
    input.emails.forEach((email, index) => {
      const id = result.userIds[index];
      if (id) this.emailOfId.set(id, email.toLowerCase());
    });
    if (input.emails.length === 1) {
      const email = input.emails[0]!.toLowerCase();
      this.effectiveInvites.set(email, (this.effectiveInvites.get(email) ?? 0) + result.invited);
    }
    return result;
  }

  forget(): void {
    this.emailOfId.clear();
    this.effectiveInvites.clear();
  }
}

/** What the runs did, for the summary printed at the end (and RELIABILITY.md). */
const totals = {
  runs: 0,
  users: 0,
  changes: 0,
  requests: 0,
  deliveredEvents: 0,
  redeliveredEvents: 0,
  answered503: 0,
  invites: 0,
  removals: 0,
  problems: 0,
  slowestSettleMs: 0,
};

let env: TestWorkflowEnvironment;
let sandbox: GitBookSandbox;
let gitbook: ObservedGitBookClient;
let worker: Worker;
let running: Promise<void>;
let receiver: RunningReceiver;
let runNumber = 0;

beforeAll(async () => {
  const syncConfig = modelSyncConfig({ batching: BATCHING });
  const taskQueue = `convergence-${randomUUID()}`;
  env = await startTestEnvironment();
  sandbox = await startSandbox({ token: TEST_TOKEN, organizationId: TEST_ORG, seed: MODEL_SEED });
  gitbook = new ObservedGitBookClient({
    baseUrl: sandbox.url,
    token: TEST_TOKEN,
    organizationId: TEST_ORG,
    requestTimeoutMs: 5_000,
  });
  const bundlePath = process.env.WORKFLOW_BUNDLE_PATH;
  worker = await createSyncWorker({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    gitbook,
    syncConfig,
    client: env.client,
    workflowBundle: bundlePath ? { codePath: bundlePath } : undefined,
    shutdownGraceTime: '1 second',
  });
  running = worker.run();
  receiver = await startReceiver({ client: env.client, taskQueue, syncConfig, secret: SECRET, logger: false });
});

afterAll(async () => {
  await receiver?.close();
  worker?.shutdown();
  await running;
  await gitbook?.close();
  await sandbox?.close();
  await env?.teardown();
  console.log(`convergence summary (seed ${SEED}): ${JSON.stringify(totals)}`);
});

/** Posts one request; a 503 is redelivered later (as the IdP would), anything else but 200 fails. */
async function deliver(hook: HookRequest): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const response = await request(`${receiver.url}${hook.path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRET}` },
      body: JSON.stringify(hook.body),
    });
    const text = await response.body.text();
    if (response.statusCode === 200) {
      const report = JSON.parse(text) as { received: number; accepted: number; duplicates: number };
      if (report.accepted + report.duplicates !== hook.eventIds.length) {
        throw new Error(`the receiver did not take every event of ${hook.path}: ${text}`);
      }
      return;
    }
    if (response.statusCode !== 503 || attempt >= REDELIVERY_LIMIT) {
      throw new Error(`${hook.path} answered ${response.statusCode}: ${text}`);
    }
    totals.answered503++;
    await new Promise((done) => setTimeout(done, REDELIVERY_DELAY_MS));
  }
}

/** Sends the requests lane by lane, the lanes concurrently. */
async function deliverAll(requests: HookRequest[]): Promise<void> {
  const lanes = new Map<number, HookRequest[]>();
  for (const hook of requests) lanes.set(hook.lane, [...(lanes.get(hook.lane) ?? []), hook]);
  await Promise.all(
    [...lanes.values()].map(async (lane) => {
      for (const hook of lane) {
        if (hook.pauseMs > 0) await new Promise((done) => setTimeout(done, hook.pauseMs));
        await deliver(hook);
      }
    }),
  );
}

/**
 * Waits until every user's workflow has applied all of its events and has no step running or
 * planned, and the sandbox has had no new request for {@link QUIET_MS}. A user's workflow may not
 * exist yet although every delivery was acknowledged: a delivery held by a deliveryWorkflow is
 * handed to the users' workflows after the acknowledgement, so that counts as not settled yet.
 */
async function settle(history: DirectoryHistory): Promise<Map<number, UserSyncStatus>> {
  const users = history.users.filter((user) => user.events > 0);
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  let quietSince: number | undefined;
  let lastCallCount = -1;

  for (;;) {
    const statuses = await Promise.all(users.map((user) => queryStatus(user.id)));
    const calls = sandbox.state().calls;
    const idle =
      statuses.every((status, i) => status !== undefined && isIdle(status, users[i]!.events)) &&
      calls.length === lastCallCount;
    lastCallCount = calls.length;

    if (!idle) quietSince = undefined;
    else if (quietSince === undefined) quietSince = Date.now();
    else if (Date.now() - quietSince >= QUIET_MS) return new Map(users.map((user, i) => [user.index, statuses[i]!]));

    if (Date.now() > deadline) {
      const busy = statuses.map((status, i) =>
        status
          ? {
              user: users[i]!.index,
              applied: `${status.eventsApplied} of ${users[i]!.events}`,
              running: status.running?.description,
              pending: status.pending.map((step) => step.description),
              lastError: status.lastError,
            }
          : { user: users[i]!.index, applied: `no workflow for ${users[i]!.events} events` },
      );
      throw new Error(`not settled within ${SETTLE_TIMEOUT_MS} ms: ${JSON.stringify(busy)}`);
    }
    await new Promise((done) => setTimeout(done, 200));
  }
}

/** The status of a user's workflow, or undefined while it does not exist. */
async function queryStatus(userId: string): Promise<UserSyncStatus | undefined> {
  try {
    return await env.client.workflow.getHandle(userWorkflowId(userId)).query(statusQuery);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** Applied every event of its user, and nothing running or planned. */
function isIdle(status: UserSyncStatus, events: number): boolean {
  return !status.running && status.pending.length === 0 && status.eventsApplied === events;
}

/** What each workflow says the directory wants must be the model's final state. */
function checkDesiredState(history: DirectoryHistory, statuses: Map<number, UserSyncStatus>): string[] {
  const problems: string[] = [];
  for (const [index, status] of statuses) {
    const user = history.users[index]!;
    const { active, email, groups } = status.desired;
    if (active?.value !== user.active) {
      problems.push(`u${index}: the workflow wants active=${active?.value}, the directory says ${user.active}`);
    }
    if (email?.value !== user.email) {
      problems.push(`u${index}: the workflow keeps ${email?.value} for lookups, the latest address is ${user.email}`);
    }
    for (const [groupId, membership] of Object.entries(groups)) {
      const wanted = user.groups.has(groupId as ModelGroupId);
      if (membership.value !== wanted) problems.push(`u${index}: the workflow has ${groupId}=${membership.value}`);
    }
    if (status.eventsIgnored > 0) {
      problems.push(`u${index}: ${status.eventsIgnored} events ignored: ${status.lastError?.message}`);
    }
  }
  return problems;
}

/** Invites GitBook carried out (it added someone), per user, at most one per activation. */
function checkEffectiveInvites(history: DirectoryHistory): string[] {
  return history.users.flatMap((user) => {
    const effective = user.emails.reduce((sum, email) => sum + (gitbook.effectiveInvites.get(email) ?? 0), 0);
    if (effective <= user.activations) return [];
    return [`u${user.index}: ${effective} people added for ${user.activations} activations`];
  });
}

/** One line per membership-changing GitBook call, for failure messages. */
function describeCalls(calls: SandboxCall[]): string[] {
  return calls
    .filter((call) => call.method !== 'GET')
    .map((call) => {
      const at = new Date(call.receivedAtMs).toISOString().slice(11, 23);
      const path = call.path.replace(/^.*\/orgs\/[^/]+/, '');
      const body = call.body === undefined ? '' : JSON.stringify(call.body);
      return `  ${at} ${call.method} ${path} ${call.status} ${body}`;
    });
}

/** Each user's step trail and what their workflow believes of GitBook, for failure messages. */
function describeSteps(statuses: Map<number, UserSyncStatus>): string[] {
  return [...statuses].map(([index, status]) => {
    const steps = status.history.map((step) => `${step.kind}:${step.outcome}${step.detail ? ` (${step.detail})` : ''}`);
    return `  u${index}: ${steps.join(' -> ') || 'no step'}; believes ${JSON.stringify(status.actual)}`;
  });
}

async function runCase(testCase: HistoryCase): Promise<void> {
  sandbox.reset();
  gitbook.forget();
  const tag = `c${++runNumber}${randomUUID().slice(0, 6)}`;
  const { history, plan } = buildCase(testCase, tag);
  const requests = planRequests(history, plan);
  const startedAt = Date.now();

  await deliverAll(requests);
  const statuses = await settle(history);
  const snapshot = sandbox.state();

  const problems = [
    ...checkOrganization(history, snapshot),
    ...checkCallLog(history, snapshot.calls, gitbook.emailOfId),
    ...checkEffectiveInvites(history),
    ...checkDesiredState(history, statuses),
  ];

  const counts = countCalls(history, snapshot.calls, gitbook.emailOfId).perUser;
  totals.runs++;
  totals.users += history.users.filter((user) => user.events > 0).length;
  totals.changes += history.ops.length;
  totals.requests += requests.length;
  totals.deliveredEvents += requests.reduce((sum, hook) => sum + hook.eventIds.length, 0);
  totals.redeliveredEvents += requests.reduce((sum, hook) => sum + hook.eventIds.length, 0) - history.ops.length;
  totals.invites += counts.reduce((sum, count) => sum + count.invites, 0);
  totals.removals += counts.reduce((sum, count) => sum + count.removals, 0);
  totals.slowestSettleMs = Math.max(totals.slowestSettleMs, Date.now() - startedAt);
  totals.problems += problems.length;

  if (problems.length > 0) {
    const order = requests.map((hook) => {
      const events = hook.eventIds.map((id) => id.split('-').pop()).join(' ');
      return `  lane ${hook.lane} +${hook.pauseMs}ms ${hook.path} [${events}]`;
    });
    throw new Error(
      `GitBook does not match the directory (run tag ${tag}):\n${problems.map((p) => `  - ${p}`).join('\n')}\n` +
        `history:\n${history.describe()}\ndeliveries:\n${order.join('\n')}\n` +
        `members: ${JSON.stringify(snapshot.members.map((m) => ({ id: m.id, email: m.email, role: m.role })))}\n` +
        `teams: ${JSON.stringify(snapshot.teams)}\n` +
        `GitBook calls:\n${describeCalls(snapshot.calls).join('\n')}\n` +
        `workflow steps:\n${describeSteps(statuses).join('\n')}`,
    );
  }
}

describe('convergence', () => {
  it(
    `leaves GitBook as the directory model says after ${RUNS} random histories (seed ${SEED})`,
    async () => {
      const options = [`seed ${SEED}`, `${RUNS} runs`, PATH && `path ${PATH}`, !BATCHING && 'batching off'];
      console.log(`convergence: ${options.filter(Boolean).join(', ')}`);
      await fc.assert(fc.asyncProperty(historyCaseArbitrary(), runCase), {
        seed: SEED,
        numRuns: RUNS,
        path: PATH,
        verbose: 1,
        endOnFailure: !SHRINK,
      });
    },
    RUNS * 45_000 + 60_000,
  );
});
