/**
 * The invite batcher through a GitBook outage while thousands of invites wait: its history and its
 * waiting list stay within Temporal's limits, and nobody is lost. The batcher holds at most
 * BATCHER_MAX_WAITING requests and tells the rest `busy` (their steps ask again later); a send
 * stuck in its retries is stopped once the history passes MAX_HISTORY_EVENTS_WHILE_SENDING, its
 * requests kept, and the batcher continues as new; a person offboarded while their invite was in
 * that stopped send is never invited afterwards. The team batcher keeps its changes the same way.
 */
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import {
  batcherWorkflowId,
  INVITE_BATCHER_WORKFLOW_ID,
  inviteRequestSignal,
  statusQuery,
  TEAM_BATCHER_WORKFLOW_ID,
  teamChangeRequestSignal,
  userWorkflowId,
  type InviteRequest,
  type TeamChangeRequest,
} from '../workflows/api';
import type { DirectoryEvent } from '../workflows/events';
import { BATCHER_MAX_WAITING, MAX_HISTORY_EVENTS_WHILE_SENDING } from '../workflows/policies';
import { parseSyncConfig } from '../src/mapping';
import { submitDirectoryEvent } from '../src/submit';
import { TEST_SYNC_CONFIG, event, eventually, startSyncStack, startTestEnvironment, type SyncStack } from './helpers/harness';

const EventType = temporal.api.enums.v1.EventType;

let env: TestWorkflowEnvironment;
let stack: SyncStack;
let running: Promise<void>;

beforeAll(async () => {
  env = await startTestEnvironment();
  const syncConfig = parseSyncConfig({
    ...TEST_SYNC_CONFIG,
    inviteBatching: { enabled: true, maxBatchSize: 100, maxWaitMs: 1_000, quietMs: 300 },
    teamBatching: { enabled: true, maxBatchSize: 100, maxWaitMs: 1_000, quietMs: 300 },
  });
  stack = await startSyncStack(env, { syncConfig });
  running = stack.worker.run();
});

afterAll(async () => {
  stack?.sandbox.clearFaults();
  stack?.worker.shutdown();
  await running;
  await stack?.close();
  await env?.teardown();
});

const sentInvites = () =>
  stack.sandbox
    .state()
    .calls.filter((call) => call.method === 'POST' && call.path.endsWith('/invites') && call.status === 200)
    .map((call) => (call.body as { emails: string[] }).emails);
const attemptsCarrying = (email: string) =>
  stack.sandbox.state().calls.filter((call) => call.method === 'POST' && call.path.endsWith('/invites') && JSON.stringify(call.body).includes(email));
const teamMembers = (teamId: string) => stack.sandbox.state().teams.find((team) => team.id === teamId)?.memberIds ?? [];
const memberByEmail = (email: string) => stack.sandbox.state().members.find((member) => member.email === email);
const status = (userId: string) => env.client.workflow.getHandle(userWorkflowId(userId)).query(statusQuery);

/** The first run of `workflowId` after `runId`'s history: checks it ended by continuing as new within bounds. */
async function expectStoppedAndContinued(workflowId: string, runId: string): Promise<number> {
  const history = await env.client.workflow.getHandle(workflowId, runId).fetchHistory();
  const events = history.events ?? [];
  expect(events.at(-1)?.eventType).toBe(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW);
  expect(events.length).toBeGreaterThan(MAX_HISTORY_EVENTS_WHILE_SENDING);
  // Requests keep arriving while the send is stopped; the run must still end below the count at
  // which Temporal starts warning (10,240; it terminates a run at 51,200).
  expect(events.length).toBeLessThan(10_240);
  return events.length;
}

/** Runs `task` over `items`, `concurrency` at a time. */
async function forEachLimited<T>(items: T[], concurrency: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: concurrency }, async () => {
    while (next < items.length) await task(items[next++]!);
  });
  await Promise.all(lanes);
}

it('keeps every invite through a long outage with thousands waiting, and never sends a withdrawn one', async () => {
  const tag = randomUUID().slice(0, 6);
  const kept = { id: `00uoutk${tag}`, email: `outage-kept-${tag}@example.com` };
  const left = { id: `00uoutl${tag}`, email: `outage-left-${tag}@example.com` };
  const late = { id: `00uoutz${tag}`, email: `outage-late-${tag}@example.com` };
  const batcher = env.client.workflow.getHandle(batcherWorkflowId(INVITE_BATCHER_WORKFLOW_ID, stack.taskQueue));

  // GitBook's invites are down.
  stack.sandbox.injectFault({ kind: 'status', status: 503, times: 1_000_000, match: { method: 'POST', pathIncludes: '/invites' } });

  // Two people whose invites go into the send that then keeps failing; one of them leaves meanwhile.
  for (const person of [kept, left]) {
    await submitDirectoryEvent(env.client, stack.taskQueue, event({ kind: 'user.activated', userId: person.id, email: person.email }) as DirectoryEvent);
  }
  await eventually(() => (attemptsCarrying(kept.email).length > 0 && attemptsCarrying(left.email).length > 0 ? true : undefined));
  const firstRun = (await batcher.describe()).runId;
  await submitDirectoryEvent(env.client, stack.taskQueue, event({ kind: 'user.deactivated', userId: left.id }) as DirectoryEvent);

  // Thousands of onboardings arrive (straight from their steps, to keep the test short): more than
  // the batcher may hold, so the rest are told `busy`, and enough to grow its history past the limit.
  const flood = (from: number, count: number): InviteRequest[] =>
    Array.from({ length: count }, (_, i) => ({
      requestId: `flood-${tag}-${from + i}`,
      workflowId: `flood-step-${tag}-${from + i}`,
      email: `flood-${tag}-${from + i}@example.com`,
      role: 'read',
      sso: false,
    }));
  const firstFlood = BATCHER_MAX_WAITING + 1_500;
  await forEachLimited(flood(0, firstFlood), 32, (request) => batcher.signal(inviteRequestSignal, request));

  // While GitBook is still down, the batcher stops its stuck send and continues as new.
  await eventually(async () => ((await batcher.describe()).runId !== firstRun ? true : undefined), 120_000);
  const firstRunEvents = await expectStoppedAndContinued(batcher.workflowId, firstRun);
  expect(sentInvites()).toEqual([]);

  // The person who left: their step learns the invite was withdrawn, and their workflow settles as not a member.
  const leftState = await eventually(async () => {
    const current = await status(left.id);
    return current.actual.membership !== 'member' && !current.running && current.pending.length === 0 ? current : undefined;
  }, 60_000);
  expect(leftState.history.map((step) => `${step.kind}:${step.outcome}`)).toContain('onboard:cancelled');

  // The new run took its first batch out of the queue: fill the queue up again. Then someone
  // onboarded while the batcher is full is told `busy`, and asks again later.
  await forEachLimited(flood(firstFlood, 300), 32, (request) => batcher.signal(inviteRequestSignal, request));
  await submitDirectoryEvent(env.client, stack.taskQueue, event({ kind: 'user.activated', userId: late.id, email: late.email }) as DirectoryEvent);

  // GitBook comes back: everyone the batcher took is invited, once; the late person too.
  stack.sandbox.clearFaults();
  await eventually(() => (memberByEmail(late.email) ? true : undefined), 180_000);
  const kept_ = await eventually(async () => {
    const current = await status(kept.id);
    return current.actual.membership === 'member' && !current.running ? current : undefined;
  }, 60_000);
  expect(kept_.actual.gitbookUserId).toBe(memberByEmail(kept.email)!.id);

  const invited = sentInvites().flat();
  expect(invited.filter((email) => email === kept.email)).toHaveLength(1);
  expect(invited.filter((email) => email === late.email)).toHaveLength(1);
  expect(invited).not.toContain(left.email);
  expect(memberByEmail(left.email)).toBeUndefined();
  // The late person's step was answered twice: `busy`, then invited.
  const lateStep = await env.client.workflow.getHandle(`${userWorkflowId(late.id)}/onboard-1`).fetchHistory();
  const outcomes = (lateStep.events ?? []).filter(
    (e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED && e.workflowExecutionSignaledEventAttributes?.signalName === 'inviteOutcome',
  );
  expect(outcomes.length).toBeGreaterThanOrEqual(2);

  // Of the flood, the batcher kept what it could hold, each invited once; the steps it told `busy`
  // do not exist here, so nobody asked again for those.
  const floodInvited = invited.filter((email) => email.startsWith(`flood-${tag}-`));
  expect(new Set(floodInvited).size).toBe(floodInvited.length);
  expect(floodInvited.length).toBeGreaterThanOrEqual(BATCHER_MAX_WAITING);
  expect(floodInvited.length).toBeLessThan(firstFlood);
  expect(sentInvites().every((emails) => emails.length <= 100)).toBe(true);
  console.log(
    `Invite batcher outage: first run continued as new at ${firstRunEvents} events; ` +
      `${floodInvited.length} of ${firstFlood + 300} flooded requests held and invited once, the rest told busy; ` +
      `${sentInvites().length} invite requests after the outage`,
  );
}, 420_000);

it('keeps a team change through a long outage while thousands of changes wait', async () => {
  const tag = randomUUID().slice(0, 6);
  const person = { id: `00uoutt${tag}`, email: `outage-team-${tag}@example.com` };
  const batcher = env.client.workflow.getHandle(batcherWorkflowId(TEAM_BATCHER_WORKFLOW_ID, stack.taskQueue));

  // The person is invited; then GitBook's team changes go down just as they join Engineering.
  await submitDirectoryEvent(env.client, stack.taskQueue, event({ kind: 'user.activated', userId: person.id, email: person.email }) as DirectoryEvent);
  const member = await eventually(() => memberByEmail(person.email));
  await eventually(async () => ((await status(person.id)).actual.membership === 'member' ? true : undefined));
  stack.sandbox.injectFault({ kind: 'status', status: 503, times: 1_000_000, match: { method: 'PUT', pathIncludes: '/teams/' } });
  await submitDirectoryEvent(
    env.client,
    stack.taskQueue,
    event({ kind: 'group.member_added', userId: person.id, email: person.email, group: { id: 'engineering' } }) as DirectoryEvent,
  );
  const teamCalls = () => stack.sandbox.state().calls.filter((call) => call.method === 'PUT' && call.path.endsWith('/teams/team_engineering/members'));
  await eventually(() => (teamCalls().some((call) => JSON.stringify(call.body).includes(member.id)) ? true : undefined));
  const firstRun = (await batcher.describe()).runId;

  // Thousands of team changes arrive meanwhile (an existing member joins Design, over and over).
  const flood: TeamChangeRequest[] = Array.from({ length: BATCHER_MAX_WAITING + 1_500 }, (_, i) => ({
    requestId: `team-flood-${tag}-${i}`,
    workflowId: `team-flood-step-${tag}-${i}`,
    member: 'u_existing',
    changes: [{ teamId: 'team_design', action: 'add' }],
  }));
  await forEachLimited(flood, 32, (request) => batcher.signal(teamChangeRequestSignal, request));

  await eventually(async () => ((await batcher.describe()).runId !== firstRun ? true : undefined), 120_000);
  const firstRunEvents = await expectStoppedAndContinued(batcher.workflowId, firstRun);
  expect(teamMembers('team_engineering')).not.toContain(member.id);

  // GitBook comes back: the person's change, kept through the stop, is applied.
  stack.sandbox.clearFaults();
  await eventually(() => (teamMembers('team_engineering').includes(member.id) ? true : undefined), 180_000);
  const state = await eventually(async () => {
    const current = await status(person.id);
    return current.actual.teams.team_engineering === 'in' && !current.running ? current : undefined;
  }, 60_000);
  expect(state.lastError).toBeUndefined();
  expect(teamMembers('team_design')).toContain('u_existing');
  console.log(`Team batcher outage: first run continued as new at ${firstRunEvents} events; the change held through it was applied`);
}, 420_000);
