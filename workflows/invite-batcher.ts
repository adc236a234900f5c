/**
 * The invite batcher (`gitbook-invite-batcher`, when `inviteBatching` is on): onboarding steps hand
 * it their invites, and it sends the invites of people onboarded close together as one
 * `POST /invites`, then tells each step its own outcome. A step that is cancelled (the person was
 * offboarded meanwhile) withdraws its request; the answer says whether it was still unsent, so the
 * step's user workflow always knows whether GitBook saw the invite.
 */
import {
  allHandlersFinished,
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
  inviteOutcomeSignal,
  inviteRequestSignal,
  inviteWithdrawSignal,
  type InviteBatcherInput,
  type InviteOutcome,
  type InviteRequest,
} from './api';
import { answerSteps, fillBatch, PARALLEL_ANSWERS_PATCH } from './batching';
import { describeFailure } from './failures';
import { GITBOOK_ACTIVITY_OPTIONS, MAPPING_ACTIVITY_OPTIONS, MAX_HISTORY_EVENTS } from './policies';

const { resolveMapping } = proxyLocalActivities<MappingActivities>(MAPPING_ACTIVITY_OPTIONS);
const { inviteMembers } = proxyActivities<GitBookActivities>(GITBOOK_ACTIVITY_OPTIONS);

/** Used when the worker's settings have batching off but requests still arrive (a setting change). */
const FALLBACK_SETTINGS = { maxBatchSize: 50, maxWaitMs: 1_000 };

/** Collects invites and sends them in batches; never ends (continues as new). */
export async function inviteBatcherWorkflow(input: InviteBatcherInput = {}): Promise<never> {
  const pending: InviteRequest[] = input.pending ?? [];
  const inFlight = new Set<string>();
  let sent = 0;
  let batches = 0;
  const parallel = patched(PARALLEL_ANSWERS_PATCH);

  const answer = async (answers: Array<[InviteRequest, Omit<InviteOutcome, 'requestId'>]>) => {
    const outcomes = answers.map(([request, outcome]) => ({ workflowId: request.workflowId, outcome: { requestId: request.requestId, ...outcome } }));
    await answerSteps(inviteOutcomeSignal, outcomes, parallel);
  };

  setHandler(inviteRequestSignal, (request) => {
    if (!pending.some((p) => p.requestId === request.requestId) && !inFlight.has(request.requestId)) pending.push(request);
  });
  setHandler(inviteWithdrawSignal, async ({ requestId }) => {
    const index = pending.findIndex((p) => p.requestId === requestId);
    // Once sent, the real outcome follows when GitBook answers.
    if (index < 0) return;
    const [request] = pending.splice(index, 1);
    await answer([[request!, { status: 'withdrawn' }]]);
  });

  for (;;) {
    await condition(() => pending.length > 0 || workflowInfo().continueAsNewSuggested);

    if (pending.length > 0) {
      const settings = (await resolveMapping({ groups: [] })).inviteBatching ?? FALLBACK_SETTINGS;
      // Let the batch fill up, but never hold the first invite longer than maxWaitMs.
      await fillBatch(() => pending.length, parallel ? settings : { ...settings, quietMs: undefined });
      const batch = pending.splice(0, settings.maxBatchSize);
      batch.forEach((request) => inFlight.add(request.requestId));
      await sendBatch(batch, answer);
      batch.forEach((request) => inFlight.delete(request.requestId));
      sent += batch.length;
      batches++;
      setCurrentDetails(`${sent} invites sent in ${batches} requests; ${pending.length} waiting.`);
    }

    const info = workflowInfo();
    // Between batches nothing is in flight, so waiting requests can move to the next run.
    const mayCarry = parallel || pending.length === 0;
    if (mayCarry && (info.continueAsNewSuggested || info.historyLength > MAX_HISTORY_EVENTS)) {
      await condition(allHandlersFinished);
      if (parallel || pending.length === 0) await continueAsNew<typeof inviteBatcherWorkflow>({ pending });
    }
  }
}

async function sendBatch(
  batch: InviteRequest[],
  answer: (answers: Array<[InviteRequest, Omit<InviteOutcome, 'requestId'>]>) => Promise<void>,
): Promise<void> {
  // SSO and non-SSO invites cannot share a request.
  for (const sso of [false, true]) {
    const requests = batch.filter((request) => request.sso === sso);
    if (requests.length === 0) continue;

    let results: Awaited<ReturnType<typeof inviteMembers>>;
    try {
      results = await inviteMembers({ invites: requests.map(({ email, role }) => ({ email, role })), sso });
    } catch (err) {
      const failure = describeFailure(err);
      await answer(requests.map((request) => [request, { status: 'failed', failure }]));
      continue;
    }

    await answer(
      requests.map((request): [InviteRequest, Omit<InviteOutcome, 'requestId'>] => {
        const result = results[request.email];
        if (!result || result.failure || !result.gitbookUserId) {
          const failure = result?.failure ?? { type: 'GITBOOK_INVITE_UNRESOLVED', message: 'no result for this email' };
          return [request, { status: 'failed', failure }];
        }
        return [request, { status: 'invited', gitbookUserId: result.gitbookUserId, created: result.created }];
      }),
    );
  }
}
