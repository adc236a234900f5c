/**
 * The invite batcher (`gitbook-invite-batcher`, when `inviteBatching` is on): onboarding steps hand
 * it their invites, and it sends the invites of people onboarded close together as one
 * `POST /invites`, then tells each step its own outcome. A step that is cancelled (the person was
 * offboarded meanwhile) withdraws its request; the answer says whether it was still unsent, so the
 * step's user workflow always knows whether GitBook saw the invite.
 */
import {
  CancellationScope,
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
import { answerSteps, BatchQueue, BOUNDED_BATCHER_PATCH, fillBatch, HandlerAnswers, PARALLEL_ANSWERS_PATCH, sendWhileHistoryAllows } from './batching';
import { describeFailure } from './failures';
import { GITBOOK_ACTIVITY_OPTIONS, MAPPING_ACTIVITY_OPTIONS, MAX_HISTORY_EVENTS } from './policies';

const { resolveMapping } = proxyLocalActivities<MappingActivities>(MAPPING_ACTIVITY_OPTIONS);
const { inviteMembers } = proxyActivities<GitBookActivities>(GITBOOK_ACTIVITY_OPTIONS);

/** Used when the worker's settings have batching off but requests still arrive (a setting change). */
const FALLBACK_SETTINGS = { maxBatchSize: 50, maxWaitMs: 1_000 };

/** Collects invites and sends them in batches; never ends (continues as new). */
export async function inviteBatcherWorkflow(input: InviteBatcherInput = {}): Promise<never> {
  const parallel = patched(PARALLEL_ANSWERS_PATCH);
  const bounded = patched(BOUNDED_BATCHER_PATCH);
  const queue = new BatchQueue<InviteRequest>(input.pending ?? [], bounded);
  const { pending } = queue;
  let sent = 0;
  let batches = 0;

  type Answer = [InviteRequest, Omit<InviteOutcome, 'requestId'>];
  const outcomes = (answers: Answer[]) =>
    answers.map(([request, outcome]) => ({ workflowId: request.workflowId, outcome: { requestId: request.requestId, ...outcome } }));
  const answer = (answers: Answer[]) => answerSteps(inviteOutcomeSignal, outcomes(answers), parallel);
  // Handlers answer through this, so that continue-as-new can hold their answers (once bounded).
  const handlerAnswers = new HandlerAnswers(inviteOutcomeSignal, { parallel, hold: bounded });

  setHandler(inviteRequestSignal, async (request) => {
    if (queue.offer(request) === 'busy') await handlerAnswers.send(outcomes([[request, { status: 'busy' }]]));
  });
  setHandler(inviteWithdrawSignal, async ({ requestId }) => {
    // Once sent, the real outcome follows when GitBook answers.
    const request = queue.withdraw(requestId);
    if (request) await handlerAnswers.send(outcomes([[request, { status: 'withdrawn', ...(request.attempted ? { attempted: true } : {}) }]]));
  });
  if (input.answers?.length) await answerSteps(inviteOutcomeSignal, input.answers, true);

  for (;;) {
    await condition(() => pending.length > 0 || workflowInfo().continueAsNewSuggested);

    if (pending.length > 0) {
      const settings = (await resolveMapping({ groups: [] })).inviteBatching ?? FALLBACK_SETTINGS;
      // Let the batch fill up, but never hold the first invite longer than maxWaitMs.
      await fillBatch(() => pending.length, parallel ? settings : { ...settings, quietMs: undefined });
      const batch = pending.splice(0, settings.maxBatchSize);
      queue.sending(batch);
      if (bounded) {
        // Answers go out even while the send is being stopped, so every answered request is known.
        const answered = new Set<string>();
        const answerNow = (answers: Answer[]) => {
          for (const [request] of answers) answered.add(request.requestId);
          return CancellationScope.nonCancellable(() => answer(answers));
        };
        const done = await sendWhileHistoryAllows(() => sendBatch(batch, answerNow, true));
        const unanswered = done ? [] : batch.filter((request) => !answered.has(request.requestId));
        const withdrawn = queue.sent(batch, unanswered);
        await answer(withdrawn.map((request) => [request, { status: 'withdrawn', attempted: true }]));
        sent += batch.length - unanswered.length;
      } else {
        await sendBatch(batch, answer, false);
        queue.sent(batch);
        sent += batch.length;
      }
      batches++;
      setCurrentDetails(`${sent} invites sent in ${batches} requests; ${pending.length} waiting.`);
    }

    const info = workflowInfo();
    // Between batches nothing is in flight, so waiting requests can move to the next run.
    const mayCarry = parallel || pending.length === 0;
    if (mayCarry && (info.continueAsNewSuggested || info.historyLength > MAX_HISTORY_EVENTS)) {
      await handlerAnswers.close();
      if (parallel || pending.length === 0) await continueAsNew<typeof inviteBatcherWorkflow>({ pending, answers: handlerAnswers.held });
    }
  }
}

/**
 * Sends the batch (one request for non-SSO invites, one for SSO ones) and answers each group's
 * steps. `bounded`: once the send is being stopped, an error is thrown instead of answered.
 */
async function sendBatch(
  batch: InviteRequest[],
  answer: (answers: Array<[InviteRequest, Omit<InviteOutcome, 'requestId'>]>) => Promise<void>,
  bounded: boolean,
): Promise<void> {
  // SSO and non-SSO invites cannot share a request.
  for (const sso of [false, true]) {
    const requests = batch.filter((request) => request.sso === sso);
    if (requests.length === 0) continue;

    let results: Awaited<ReturnType<typeof inviteMembers>>;
    try {
      results = await inviteMembers({ invites: requests.map(({ email, role }) => ({ email, role })), sso });
    } catch (err) {
      // A stopped send answers nothing: its requests stay, to be sent again.
      if (bounded && CancellationScope.current().consideredCancelled) throw err;
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
