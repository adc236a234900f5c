/**
 * The team batcher (`gitbook-team-batcher`, when `teamBatching` is on): onboarding and team steps
 * hand it their people's team changes, and it sends the changes of people moved close together as
 * one `PUT /teams/{teamId}/members` per team, with net `add` and `remove` lists, then tells each
 * step which of its changes GitBook took. One person's refused change does not fail the others.
 * Like the invite batcher, a cancelled step withdraws its request and learns whether it was sent.
 */
import {
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { GitBookActivities } from '../activities/gitbook';
import type { MappingActivities } from '../activities/mapping';
import {
  teamChangeOutcomeSignal,
  teamChangeRequestSignal,
  teamChangeWithdrawSignal,
  type TeamBatcherInput,
  type TeamChangeItem,
  type TeamChangeOutcome,
  type TeamChangeRequest,
} from './api';
import { allSettledOrThrow, answerSteps, BatchQueue, BOUNDED_BATCHER_PATCH, fillBatch, HandlerAnswers, sendWhileHistoryAllows, type BatchSettings } from './batching';
import { permanentFailureOf } from './failures';
import { GITBOOK_ACTIVITY_OPTIONS, MAPPING_ACTIVITY_OPTIONS, MAX_HISTORY_EVENTS } from './policies';

const { resolveMapping } = proxyLocalActivities<MappingActivities>(MAPPING_ACTIVITY_OPTIONS);
const { updateTeamMembers } = proxyActivities<GitBookActivities>(GITBOOK_ACTIVITY_OPTIONS);

/** Used when the worker's settings have batching off but requests still arrive (a setting change). */
const FALLBACK_SETTINGS: BatchSettings = { maxBatchSize: 100, maxWaitMs: 2_000, quietMs: 500 };

/** One person's change of one team, with the request it came from. */
interface Item extends TeamChangeItem {
  requestId: string;
  member: string;
}

type Failure = TeamChangeOutcome['failures'][number];

/** Collects team changes and sends them in batches; never ends (continues as new). */
export async function teamBatcherWorkflow(input: TeamBatcherInput = {}): Promise<never> {
  const bounded = patched(BOUNDED_BATCHER_PATCH);
  const queue = new BatchQueue<TeamChangeRequest>(input.pending ?? [], bounded);
  const { pending } = queue;
  let changes = 0;
  let calls = 0;

  const answer = async (requests: TeamChangeRequest[], outcome: (request: TeamChangeRequest) => Omit<TeamChangeOutcome, 'requestId'>) => {
    const answers = requests.map((request) => ({
      workflowId: request.workflowId,
      outcome: { requestId: request.requestId, ...outcome(request) },
    }));
    await answerSteps(teamChangeOutcomeSignal, answers, true);
  };
  const withdrawn = (request: TeamChangeRequest): Omit<TeamChangeOutcome, 'requestId'> => ({
    status: 'withdrawn',
    ...(request.attempted ? { attempted: true } : {}),
    applied: [],
    failures: [],
  });

  // Handlers answer through this, so that continue-as-new can hold their answers (once bounded).
  const handlerAnswers = new HandlerAnswers(teamChangeOutcomeSignal, { parallel: true, hold: bounded });
  const answerFromHandler = (request: TeamChangeRequest, outcome: Omit<TeamChangeOutcome, 'requestId'>) =>
    handlerAnswers.send([{ workflowId: request.workflowId, outcome: { requestId: request.requestId, ...outcome } }]);

  setHandler(teamChangeRequestSignal, async (request) => {
    if (queue.offer(request) === 'busy') await answerFromHandler(request, { status: 'busy', applied: [], failures: [] });
  });
  setHandler(teamChangeWithdrawSignal, async ({ requestId }) => {
    // In flight (the real outcome follows) or answered already: nothing to take back.
    const request = queue.withdraw(requestId);
    if (request) await answerFromHandler(request, withdrawn(request));
  });
  if (input.answers?.length) await answerSteps(teamChangeOutcomeSignal, input.answers, true);

  const waitingItems = () => pending.reduce((sum, request) => sum + request.changes.length, 0);

  for (;;) {
    await condition(() => pending.length > 0 || workflowInfo().continueAsNewSuggested);

    if (pending.length > 0) {
      const settings = (await resolveMapping({ groups: [] })).teamBatching ?? FALLBACK_SETTINGS;
      // Let the batch fill up, but never hold the first change longer than maxWaitMs.
      await fillBatch(waitingItems, settings);
      const batch = takeBatch(pending, settings.maxBatchSize);
      queue.sending(batch);

      const send = () => sendBatch(batch, settings.maxBatchSize);
      const done = bounded ? await sendWhileHistoryAllows(send) : { result: await send() };
      if (done) {
        const results = done.result;
        await answer(batch, (request) => ({
          status: 'done',
          applied: results.applied.get(request.requestId) ?? [],
          failures: results.failures.get(request.requestId) ?? [],
        }));
        queue.sent(batch);
        changes += batch.reduce((sum, request) => sum + request.changes.length, 0);
        calls += results.calls;
      } else {
        // Stopped: the whole batch goes again later (team changes are idempotent), except withdrawals.
        await answer(queue.sent(batch, batch), (request) => ({ ...withdrawn(request), attempted: true }));
      }
      setCurrentDetails(`${changes} team changes sent in ${calls} requests; ${pending.length} people waiting.`);
    }

    // Between batches nothing is in flight, so waiting requests can move to the next run.
    const info = workflowInfo();
    if (info.continueAsNewSuggested || info.historyLength > MAX_HISTORY_EVENTS) {
      await handlerAnswers.close();
      await continueAsNew<typeof teamBatcherWorkflow>({ pending, answers: handlerAnswers.held });
    }
  }
}

/** Whole requests, oldest first, up to `maxItems` changes (at least one request). */
function takeBatch(pending: TeamChangeRequest[], maxItems: number): TeamChangeRequest[] {
  let items = 0;
  let count = 0;
  while (count < pending.length && (count === 0 || items + pending[count]!.changes.length <= maxItems)) {
    items += pending[count]!.changes.length;
    count++;
  }
  return pending.splice(0, count);
}

/**
 * The net change per team (a later request for the same person and team wins, so nobody is in
 * both lists), sent in chunks of at most `maxBatchSize` people. Returns what each request got.
 */
async function sendBatch(batch: TeamChangeRequest[], maxBatchSize: number) {
  const byTeam = new Map<string, Map<string, Item>>();
  for (const request of batch) {
    for (const change of request.changes) {
      const team = byTeam.get(change.teamId) ?? new Map<string, Item>();
      byTeam.set(change.teamId, team);
      team.delete(request.member); // Keep arrival order of the latest change.
      team.set(request.member, { ...change, requestId: request.requestId, member: request.member });
    }
  }

  const applied = new Map<string, TeamChangeItem[]>();
  const failures = new Map<string, Failure[]>();
  let calls = 0;
  const chunks: Array<{ teamId: string; items: Item[] }> = [];
  for (const [teamId, team] of byTeam) {
    const items = [...team.values()];
    for (let start = 0; start < items.length; start += maxBatchSize) chunks.push({ teamId, items: items.slice(start, start + maxBatchSize) });
  }

  // Every call settles before this returns, even when one is stopped: none may land after the batch is sent again.
  await allSettledOrThrow(
    chunks.map(async ({ teamId, items }) => {
      const outcome = await sendChunk(teamId, items);
      calls += outcome.calls;
      for (const item of outcome.applied) push(applied, item.requestId, { teamId, action: item.action });
      for (const { item, failure } of outcome.failed) push(failures, item.requestId, { teamId, ...failure });
    }),
  );

  return { applied, failures, calls };
}

/**
 * One PUT for the chunk. When GitBook refuses it for good, the people are sent one by one to find
 * whose change it was, so one refusal fails only that person's change.
 */
async function sendChunk(
  teamId: string,
  items: Item[],
): Promise<{ applied: Item[]; failed: Array<{ item: Item; failure: { type: string; message: string } }>; calls: number }> {
  const add = items.filter((item) => item.action === 'add').map((item) => item.member);
  const remove = items.filter((item) => item.action === 'remove').map((item) => item.member);
  try {
    await updateTeamMembers.executeWithOptions(
      { summary: `team ${teamId}: add ${add.length}, remove ${remove.length}` },
      [{ teamId, ...(add.length ? { add } : {}), ...(remove.length ? { remove } : {}) }],
    );
    return { applied: items, failed: [], calls: 1 };
  } catch (err) {
    const failure = permanentFailureOf(err);
    if (!failure) throw err;
    if (items.length === 1) return { applied: [], failed: [{ item: items[0]!, failure }], calls: 1 };
    const one = await allSettledOrThrow(items.map((item) => sendChunk(teamId, [item])));
    return {
      applied: one.flatMap((outcome) => outcome.applied),
      failed: one.flatMap((outcome) => outcome.failed),
      calls: 1 + one.reduce((sum, outcome) => sum + outcome.calls, 0),
    };
  }
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  map.set(key, [...(map.get(key) ?? []), value]);
}
