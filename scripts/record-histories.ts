/**
 * Records the workflow histories that `test/replay.test.ts` replays: representative scenarios run
 * against a fresh dev server, a real worker and the GitBook sandbox, and every workflow they touch
 * (the user's workflow, its step workflows, the removal breaker) is written to `test/histories/` in
 * the JSON format of `temporal workflow show --output json`.
 *
 * Run with `npm run histories:record`. It replaces the files at the top of `test/histories/`;
 * subfolders (older sets kept while runs started by older code may still be replayed) stay. When
 * to re-record, and how to change a workflow safely: RELIABILITY.md, "Replay safety".
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode } from '@temporalio/worker';
import { parseSyncConfig } from '../src/mapping';
import type { GitBookSandbox, SandboxCall } from '../src/sandbox';
import { DIRECT_SUBMIT_LIMIT, handOffDirectoryEvents, submitDirectoryEvents } from '../src/submit';
import { findTemporalCli } from '../src/temporal/cli';
import { startSyncStack, startTestEnvironment, eventually } from '../test/helpers/harness';
import { cancelSignal, REMOVAL_GUARD_WORKFLOW_ID, statusQuery, userWorkflowId } from '../workflows/api';
import type { DirectoryEvent, DirectoryEventInput } from '../workflows/events';
import { userSyncWorkflow } from '../workflows/user-sync';

/** The repository root: the nearest folder up with the workflow sources (this also runs from `.cache/`). */
function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'workflows', 'index.ts'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no workflows/index.ts in ${from} or above`);
  }
}

const ROOT = findRoot(resolve(__dirname));
/** Where the histories are kept, one JSON file per workflow run. */
export const HISTORIES_DIR = join(ROOT, 'test', 'histories');

type History = proto.temporal.api.history.v1.IHistory;

/**
 * The proto3 JSON converter of the protobufjs copy that `@temporalio/proto` was built with.
 *
 * TODO(protobufjs-dedupe): use the SDK's `historyToJSON` / `historyFromJSON`
 * (`@temporalio/common/lib/proto-utils`) again once the install shares one protobufjs 8. Here npm
 * gave `@temporalio/common`, `/proto` and `/worker` a copy each (a protobufjs 7 for grpc holds the
 * top level), so the SDK's converter rejects the message types of another copy with "type must
 * be a Type", and `Worker.runReplayHistories` cannot read JSON histories either.
 */
const protojsonPath = require.resolve('protobufjs/ext/protojson', {
  paths: [dirname(require.resolve('@temporalio/proto'))],
});
const protojson = require(protojsonPath) as {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options: { ignoreUnknownFields: boolean }): unknown;
};
type MessageType = { fromObject(value: object): unknown };
const protoRoot = patchProtobufRoot(proto) as unknown as { lookupType(name: string): MessageType };
const historyType = protoRoot.lookupType('temporal.api.history.v1.History');

/** A history in the JSON format of `temporal workflow show --output json`. */
export function historyToJson(history: History): unknown {
  return protojson.toJson(historyType, historyType.fromObject(history));
}

/** A history read from that JSON format, ready for `Worker.runReplayHistories`. */
export function historyFromJson(json: unknown): History {
  const history = protojson.fromJson(historyType, json, { ignoreUnknownFields: true }) as History | null;
  if (!history?.events?.length) throw new TypeError('not a workflow history: no events');
  return history;
}

/** The file name of a workflow run's history: `/` (of step workflows) becomes `~`; run 2 gets `.2`. */
export function historyFileName(workflowId: string, run = 1): string {
  if (workflowId.includes('~')) throw new Error(`workflow id ${workflowId} has a '~': pick another user id`);
  return `${workflowId.replace(/\//g, '~')}${run > 1 ? `.${run}` : ''}.json`;
}

/** The workflow id a history file belongs to (the reverse of {@link historyFileName}). */
export function workflowIdOfFile(fileName: string): string {
  return fileName.replace(/(\.\d+)?\.json$/, '').replace(/~/g, '/');
}

/**
 * The mapping of the recordings: the removal breaker on (its default), so removals go through it;
 * batching off, so each call's own path is recorded too.
 */
const RECORDING_SYNC_CONFIG = parseSyncConfig({
  defaultRole: 'read',
  sso: false,
  retainAfterOffboardHours: 0,
  inviteBatching: { enabled: false },
  teamBatching: { enabled: false },
  groups: [
    { group: 'engineering', teams: ['team_engineering'], role: 'edit' },
    { group: 'design', teams: ['team_design'] },
    { group: 'ghosts', teams: ['team_missing'] },
  ],
});

/**
 * The same, with invite and team batching on: the batched scenarios run on a second worker with it.
 * Invite batches are held 4 s, so a scenario can withdraw an invite from a waiting batch.
 */
const BATCHING_SYNC_CONFIG = parseSyncConfig({
  ...RECORDING_SYNC_CONFIG,
  inviteBatching: { enabled: true, maxBatchSize: 10, maxWaitMs: 4_000, quietMs: 4_000 },
  teamBatching: { enabled: true, maxBatchSize: 10, maxWaitMs: 2_000, quietMs: 500 },
});

const SEED = {
  members: [{ id: 'u_owner', email: 'owner@example.com', displayName: 'Owner', role: 'admin' as const, sso: false }],
  teams: [
    { id: 'team_engineering', title: 'Engineering', memberIds: [] },
    { id: 'team_design', title: 'Design', memberIds: [] },
  ],
  foreignSsoEmails: [],
  approvalRequiredUserIds: [],
};

/** How long a scenario may take to reach its end state. */
const SCENARIO_TIMEOUT_MS = 60_000;

interface ScenarioContext {
  client: Client;
  taskQueue: string;
  sandbox: GitBookSandbox;
}

interface Scenario {
  /** Also the directory user id: `replay-<name>`. */
  name: string;
  /** Run on the worker with invite and team batching on. */
  batched?: boolean;
  run(context: ScenarioContext, userId: string): Promise<void>;
}

type EventFields = Omit<DirectoryEventInput, 'id' | 'userId' | 'occurredAt'>;

/** A directory event for the scenario's user at minute `minute` of a fixed day. */
function event(userId: string, minute: number, fields: EventFields): DirectoryEvent {
  const occurredAt = new Date(Date.UTC(2026, 11, 4, 9, minute)).toISOString();
  const id = `${userId}-${minute}-${fields.kind}`;
  return { id, userId, occurredAt, source: 'replay-recording', ...fields } as DirectoryEvent;
}

const emailOf = (userId: string) => `${userId}@example.com`;
const userHandle = (context: ScenarioContext, userId: string) =>
  context.client.workflow.getHandle(userWorkflowId(userId));

/** Hands events over as the receiver and the CLI do. */
async function send(context: ScenarioContext, events: DirectoryEvent[]): Promise<void> {
  await submitDirectoryEvents(context.client, context.taskQueue, events);
}

/** Waits until `probe` holds (returns true or a value), for at most a scenario's time. */
const until = <T>(probe: () => Promise<T | undefined | false> | T | undefined | false) =>
  eventually(async () => (await probe()) || undefined, SCENARIO_TIMEOUT_MS);

async function closedAs(handle: WorkflowHandle, status: string): Promise<void> {
  await until(async () => (await handle.describe()).status.name === status);
}

async function invitesTried(sandbox: GitBookSandbox, email: string): Promise<void> {
  const isInvite = (call: SandboxCall) => call.path.endsWith('/invites') && JSON.stringify(call.body).includes(email);
  await until(() => sandbox.state().calls.some(isInvite));
}

const member = (sandbox: GitBookSandbox, email: string) => sandbox.state().members.find((m) => m.email === email);
const inTeam = (sandbox: GitBookSandbox, teamId: string, memberId: string) =>
  sandbox.state().teams.find((team) => team.id === teamId)?.memberIds.includes(memberId) ?? false;

const SCENARIOS: Scenario[] = [
  {
    // Invite, then a group that brings a role and a team: set-role and update-teams steps.
    name: 'onboard-with-teams',
    async run(context, userId) {
      const email = emailOf(userId);
      await send(context, [
        event(userId, 0, { kind: 'user.activated', email }),
        event(userId, 1, { kind: 'group.member_added', email, group: { id: 'design' } }),
      ]);
      const invited = await until(() => member(context.sandbox, email));
      await until(() => inTeam(context.sandbox, 'team_design', invited.id));

      const engineering = { id: 'engineering', name: 'Engineering' };
      await send(context, [event(userId, 2, { kind: 'group.member_added', email, group: engineering })]);
      await until(() => inTeam(context.sandbox, 'team_engineering', invited.id));
      await until(() => member(context.sandbox, email)?.role === 'edit');
    },
  },
  {
    // Out of order and redelivered: the newest state wins, each event applies once, then offboard.
    name: 'duplicates-and-reordering',
    async run(context, userId) {
      const email = emailOf(userId);
      const activate = event(userId, 1, { kind: 'user.activated', email });
      const join = event(userId, 2, { kind: 'group.member_added', email, group: { id: 'engineering' } });
      const staleLeave = event(userId, 0, { kind: 'group.member_removed', email, group: { id: 'engineering' } });
      await send(context, [join, activate, join, activate, staleLeave]);
      const invited = await until(() => member(context.sandbox, email));
      await until(() => inTeam(context.sandbox, 'team_engineering', invited.id));

      const deactivate = event(userId, 5, { kind: 'user.deactivated' });
      await send(context, [deactivate, deactivate, activate]);
      await closedAs(userHandle(context, userId), 'COMPLETED');
    },
  },
  {
    // GitBook answers 503 to the invite; the deactivation cancels the retrying step, then offboards.
    name: 'offboard-during-onboard',
    async run(context, userId) {
      const email = emailOf(userId);
      context.sandbox.injectFault({ kind: 'status', status: 503, times: 1_000, match: { pathIncludes: '/invites' } });
      await send(context, [event(userId, 0, { kind: 'user.activated', email })]);
      await invitesTried(context.sandbox, email);

      await send(context, [event(userId, 1, { kind: 'user.deactivated', email })]);
      await closedAs(userHandle(context, userId), 'COMPLETED');
    },
  },
  {
    // The `cancel` signal while a step retries: the run ends with what was and was not done.
    name: 'cancel-signal',
    async run(context, userId) {
      const email = emailOf(userId);
      context.sandbox.injectFault({ kind: 'status', status: 503, times: 1_000, match: { pathIncludes: '/invites' } });
      await send(context, [event(userId, 0, { kind: 'user.activated', email })]);
      await invitesTried(context.sandbox, email);

      await userHandle(context, userId).signal(cancelSignal, { reason: 'paused by an operator' });
      await closedAs(userHandle(context, userId), 'COMPLETED');
    },
  },
  {
    // Temporal's own cancellation while a step retries: the run and the step end Cancelled.
    name: 'temporal-cancel',
    async run(context, userId) {
      const email = emailOf(userId);
      context.sandbox.injectFault({ kind: 'status', status: 503, times: 1_000, match: { pathIncludes: '/invites' } });
      await send(context, [event(userId, 0, { kind: 'user.activated', email })]);
      await invitesTried(context.sandbox, email);

      await userHandle(context, userId).cancel();
      await closedAs(userHandle(context, userId), 'CANCELLED');
    },
  },
  {
    // Permanent failures: a team GitBook does not have (404), and an invite refused with 401.
    name: 'permanent-failure',
    async run(context, userId) {
      const email = emailOf(userId);
      await send(context, [
        event(userId, 0, { kind: 'user.activated', email }),
        event(userId, 1, { kind: 'group.member_added', email, group: { id: 'ghosts' } }),
      ]);
      await until(async () => (await userHandle(context, userId).query(statusQuery)).lastError);

      const refusedId = `${userId}-invite`;
      context.sandbox.injectFault({ kind: 'status', status: 401, match: { pathIncludes: '/invites' } });
      await send(context, [event(refusedId, 0, { kind: 'user.activated', email: emailOf(refusedId) })]);
      await until(async () => (await userHandle(context, refusedId).query(statusQuery)).lastError);
    },
  },
  {
    // A 429 with GitBook's reset time: the invite is retried after it, and succeeds.
    name: 'rate-limit-retry',
    async run(context, userId) {
      const email = emailOf(userId);
      context.sandbox.injectFault({ kind: 'rate-limit', resetInMs: 1_500, match: { pathIncludes: '/invites' } });
      await send(context, [event(userId, 0, { kind: 'user.activated', email })]);
      await until(() => member(context.sandbox, email));
    },
  },
  {
    // Two invites go out as one request; a third person, offboarded while their invite waits in the
    // batch, is withdrawn from it.
    name: 'batched-invites',
    batched: true,
    async run(context, userId) {
      const [first, second, withdrawn] = [`${userId}-a`, `${userId}-b`, `${userId}-c`] as const;
      const activate = (id: string) => event(id, 0, { kind: 'user.activated', email: emailOf(id) });
      await send(context, [activate(first), activate(second), activate(withdrawn)]);
      // Once the third invite is with the batcher (which holds the batch for up to 4 s), offboard.
      const step = context.client.workflow.getHandle(`${userWorkflowId(withdrawn)}/onboard-1`);
      const handedOver = (e: { activityTaskCompletedEventAttributes?: unknown; externalWorkflowExecutionSignaledEventAttributes?: unknown }) =>
        e.activityTaskCompletedEventAttributes || e.externalWorkflowExecutionSignaledEventAttributes;
      await until(async () => (await step.fetchHistory()).events?.some(handedOver));
      await send(context, [event(withdrawn, 1, { kind: 'user.deactivated', email: emailOf(withdrawn) })]);

      await until(() => member(context.sandbox, emailOf(first)) && member(context.sandbox, emailOf(second)));
      await closedAs(userHandle(context, withdrawn), 'COMPLETED');
    },
  },
  {
    // Two people join a team, then move to another: team changes go through the team batcher as
    // net PUTs, and the removal waits for the person's events to settle.
    name: 'batched-team-moves',
    batched: true,
    async run(context, userId) {
      const people = [`${userId}-a`, `${userId}-b`];
      const group = (id: string, minute: number, kind: 'group.member_added' | 'group.member_removed', groupId: string) =>
        event(id, minute, { kind, email: emailOf(id), group: { id: groupId } });
      await send(context, people.flatMap((id) => [event(id, 0, { kind: 'user.activated', email: emailOf(id) }), group(id, 1, 'group.member_added', 'engineering')]));
      const ids = await until(async () => {
        const found = people.map((id) => member(context.sandbox, emailOf(id))?.id);
        return found.every((id) => id && inTeam(context.sandbox, 'team_engineering', id)) && (found as string[]);
      });
      await send(context, people.map((id) => group(id, 2, 'group.member_removed', 'engineering')));
      await send(context, people.map((id) => group(id, 3, 'group.member_added', 'design')));
      await until(() => ids.every((id) => inTeam(context.sandbox, 'team_design', id) && !inTeam(context.sandbox, 'team_engineering', id)));
    },
  },
  {
    // A delivery too large to hand over event by event: one delivery workflow fans it out.
    name: 'large-delivery',
    async run(context, userId) {
      const email = emailOf(userId);
      const groups = Array.from({ length: DIRECT_SUBMIT_LIMIT }, (_, i) => {
        const kind = i % 2 ? 'group.member_removed' : 'group.member_added';
        return event(userId, i + 1, { kind, email, group: { id: i < 2 ? 'design' : `unmapped-${i}` } });
      });
      const events = [event(userId, 0, { kind: 'user.activated', email }), ...groups];
      await handOffDirectoryEvents(context.client, context.taskQueue, events);

      const query = `WorkflowType = 'deliveryWorkflow'`;
      const delivery = await until(async () => {
        for await (const run of context.client.workflow.list({ query })) return run;
        return undefined;
      });
      await until(() => member(context.sandbox, email));
      await closedAs(context.client.workflow.getHandle(delivery.workflowId), 'COMPLETED');
    },
  },
  {
    // A run started by hand with an invalid event fails at once, naming the field.
    name: 'invalid-input',
    async run(context, userId) {
      const invalid = { ...event(userId, 0, { kind: 'user.activated' }), email: 'not-an-email' };
      const handle = await context.client.workflow.start(userSyncWorkflow, {
        workflowId: userWorkflowId(userId),
        taskQueue: context.taskQueue,
        args: [{ userId, events: [invalid] }],
      });
      await closedAs(handle, 'FAILED');
    },
  },
];

/**
 * Waits until nothing more will happen on its own: the run is closed, or it has no pending
 * activity, child or workflow task (it waits for a signal).
 */
async function quiescent(client: Client, workflowId: string, runId: string): Promise<void> {
  const handle = client.workflow.getHandle(workflowId, runId);
  let state = 'not described yet';
  try {
    await eventually(async () => {
      const description = await handle.describe();
      if (description.status.name !== 'RUNNING') return true;
      const { pendingActivities, pendingChildren, pendingWorkflowTask } = description.raw;
      const activities = pendingActivities?.length ?? 0;
      const children = pendingChildren?.length ?? 0;
      const task = pendingWorkflowTask ? 'a' : 'no';
      state = `${activities} pending activities, ${children} pending children, ${task} pending workflow task`;
      return activities === 0 && children === 0 && !pendingWorkflowTask ? true : undefined;
    }, SCENARIO_TIMEOUT_MS);
  } catch (err) {
    throw new Error(`${workflowId} did not come to rest: ${state}`, { cause: err });
  }
}

async function writeHistories(client: Client): Promise<string[]> {
  const executions: Array<{ workflowId: string; runId: string; startMs: number }> = [];
  for await (const execution of client.workflow.list()) {
    const { workflowId, runId, startTime } = execution;
    executions.push({ workflowId, runId, startMs: startTime.getTime() });
  }
  executions.sort((a, b) => a.workflowId.localeCompare(b.workflowId) || a.startMs - b.startMs);

  await mkdir(HISTORIES_DIR, { recursive: true });
  for (const old of (await readdir(HISTORIES_DIR)).filter((name) => name.endsWith('.json'))) {
    await rm(join(HISTORIES_DIR, old));
  }

  const written: string[] = [];
  const runs = new Map<string, number>();
  for (const { workflowId, runId } of executions) {
    await quiescent(client, workflowId, runId);
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const run = (runs.get(workflowId) ?? 0) + 1;
    runs.set(workflowId, run);
    const name = historyFileName(workflowId, run);
    const { events } = historyToJson(history) as { events: unknown[] };
    // One event per line: compact, and a re-recording diffs event by event.
    // Stack traces name files on the recording machine: keep only paths relative to the project.
    const lines = events
      .map((historyEvent) => JSON.stringify(historyEvent).split(`${ROOT}/`).join(''))
      .join(',\n');
    await writeFile(join(HISTORIES_DIR, name), `{"events": [\n${lines}\n]}\n`);
    written.push(name);
  }
  return written;
}

async function main(): Promise<void> {
  process.env.TEMPORAL_CLI_PATH ??= await findTemporalCli({ onProgress: (message) => console.log(message) });

  // The same bundle the worker would build, made once from the TypeScript sources.
  const quiet = () => undefined;
  const logger = { log: quiet, trace: quiet, debug: quiet, info: quiet, warn: quiet, error: console.error };
  const { code } = await bundleWorkflowCode({ workflowsPath: join(ROOT, 'workflows', 'index.ts'), logger });
  const bundlePath = join(await mkdtemp(join(tmpdir(), 'record-histories-')), 'workflow-bundle.js');
  await writeFile(bundlePath, code);
  process.env.WORKFLOW_BUNDLE_PATH = bundlePath;

  const env: TestWorkflowEnvironment = await startTestEnvironment();
  const stack = await startSyncStack(env, {
    syncConfig: RECORDING_SYNC_CONFIG,
    sandbox: { seed: SEED },
    taskQueue: `record-${randomUUID()}`,
  });
  const batching = await startSyncStack(env, {
    syncConfig: BATCHING_SYNC_CONFIG,
    sandbox: { seed: SEED },
    taskQueue: `record-batching-${randomUUID()}`,
  });
  try {
    // Both workers run throughout: the removal breaker and the batcher serve both task queues.
    const written = await stack.withWorker(() =>
      batching.withWorker(async () => {
        for (const scenario of SCENARIOS) {
          const { taskQueue, sandbox } = scenario.batched ? batching : stack;
          console.log(`scenario ${scenario.name}`);
          try {
            await scenario.run({ client: env.client, taskQueue, sandbox }, `replay-${scenario.name}`);
          } finally {
            sandbox.clearFaults();
          }
        }
        return await writeHistories(env.client);
      }),
    );
    if (!written.some((file) => file.startsWith(REMOVAL_GUARD_WORKFLOW_ID))) {
      throw new Error('the removal breaker was never asked');
    }
    console.log(`wrote ${written.length} histories to ${HISTORIES_DIR}:\n  ${written.join('\n  ')}`);
  } finally {
    await Promise.all([stack.close(), batching.close()]);
    await env.teardown();
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
