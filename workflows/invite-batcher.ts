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
  getExternalWorkflowHandle,
  log,
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
  const withdrawn = new Set<string>();
  let sent = 0;
  let batches = 0;

  const answer = async (request: InviteRequest, outcome: Omit<InviteOutcome, 'requestId'>) => {
    try {
      await getExternalWorkflowHandle(request.workflowId).signal(inviteOutcomeSignal, { requestId: request.requestId, ...outcome });
    } catch (err) {
      // The step has ended (its parent was cancelled and closed): nothing waits for the answer.
      log.info('invite outcome not delivered', { workflowId: request.workflowId, error: (err as Error).message });
    }
  };

  setHandler(inviteRequestSignal, (request) => {
    if (!pending.some((p) => p.requestId === request.requestId) && !inFlight.has(request.requestId)) pending.push(request);
  });
  setHandler(inviteWithdrawSignal, async ({ requestId }) => {
    const index = pending.findIndex((p) => p.requestId === requestId);
    if (index >= 0) {
      const [request] = pending.splice(index, 1);
      await answer(request!, { status: 'withdrawn' });
    } else if (inFlight.has(requestId)) {
      // Already sent: the real outcome follows when GitBook answers.
      withdrawn.add(requestId);
    }
  });

  for (;;) {
    await condition(() => pending.length > 0 || workflowInfo().continueAsNewSuggested);

    if (pending.length > 0) {
      const settings = (await resolveMapping({ groups: [] })).inviteBatching ?? FALLBACK_SETTINGS;
      // Let the batch fill up, but never hold the first invite longer than maxWaitMs.
      await condition(() => pending.length >= settings.maxBatchSize, settings.maxWaitMs);
      const batch = pending.splice(0, settings.maxBatchSize);
      batch.forEach((request) => inFlight.add(request.requestId));
      await sendBatch(batch, answer);
      batch.forEach((request) => inFlight.delete(request.requestId));
      sent += batch.length;
      batches++;
      setCurrentDetails(`${sent} invites sent in ${batches} requests; ${pending.length} waiting.`);
    }

    const info = workflowInfo();
    if (pending.length === 0 && (info.continueAsNewSuggested || info.historyLength > MAX_HISTORY_EVENTS)) {
      await condition(allHandlersFinished);
      if (pending.length === 0) await continueAsNew<typeof inviteBatcherWorkflow>({ pending });
    }
  }
}

async function sendBatch(
  batch: InviteRequest[],
  answer: (request: InviteRequest, outcome: Omit<InviteOutcome, 'requestId'>) => Promise<void>,
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
      for (const request of requests) await answer(request, { status: 'failed', failure });
      continue;
    }

    for (const request of requests) {
      const result = results[request.email];
      if (!result || result.failure || !result.gitbookUserId) {
        const failure = result?.failure ?? { type: 'GITBOOK_INVITE_UNRESOLVED', message: 'no result for this email' };
        await answer(request, { status: 'failed', failure });
      } else {
        await answer(request, { status: 'invited', gitbookUserId: result.gitbookUserId, created: result.created });
      }
    }
  }
}
