/**
 * The removal circuit breaker: one long-lived workflow (`gitbook-removal-guard`) that every user
 * workflow asks before removing someone from the organization. A directory misconfiguration can
 * deactivate everyone at once; once more than `max(minimum, maxShare x members)` removals happen
 * within the window, further removals are held until an operator approves them
 * (`gitbook-sync approve-removals`, or the `approveRemovals` signal). The pause shows in the Web UI.
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
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { GitBookActivities } from '../activities/gitbook';
import type { MappingActivities } from '../activities/mapping';
import {
  approveRemovalsSignal,
  outcomeAttribute,
  removalDecisionSignal,
  removalGuardStatusQuery,
  removalRequestSignal,
  type RemovalGuardInput,
  type RemovalGuardStatus,
  type RemovalRequest,
} from './api';
import { GITBOOK_ACTIVITY_OPTIONS, MAPPING_ACTIVITY_OPTIONS, MAX_HISTORY_EVENTS } from './policies';

const { resolveMapping } = proxyLocalActivities<MappingActivities>(MAPPING_ACTIVITY_OPTIONS);
const { countMembers } = proxyActivities<GitBookActivities>(GITBOOK_ACTIVITY_OPTIONS);

/** How long a member count is trusted before it is read again. */
const MEMBER_COUNT_TTL_MS = 5 * 60_000;

type HeldRequest = RemovalGuardStatus['held'][number];

/** Grants removals up to the window's limit; holds the rest until an operator approves. */
export async function removalGuardWorkflow(input: RemovalGuardInput = {}): Promise<never> {
  const granted: number[] = input.carried?.granted ?? [];
  const held: HeldRequest[] = input.carried?.held ?? [];
  let paused = input.carried?.paused ?? false;
  let lastApproval = input.carried?.lastApproval;
  const inbox: RemovalRequest[] = [];
  const approvals: string[] = [];
  let limit: number | undefined;
  let members: { count: number; readAt: number } | undefined;
  let searchAttributes = false;

  setHandler(removalRequestSignal, (request) => void inbox.push(request));
  setHandler(approveRemovalsSignal, (approval) => void approvals.push(approval?.approvedBy ?? 'an operator'));
  setHandler(removalGuardStatusQuery, () => ({
    paused,
    held,
    grantedInWindow: granted.length,
    limit,
    organizationMembers: members?.count,
    lastApproval,
  }));

  const answer = async (request: RemovalRequest) => {
    try {
      await getExternalWorkflowHandle(request.workflowId).signal(removalDecisionSignal, {
        requestId: request.requestId,
        approved: true,
      });
    } catch (err) {
      // The user's workflow has ended (cancelled, or its run was replaced): nothing waits for this.
      log.info('removal decision not delivered', { workflowId: request.workflowId, error: (err as Error).message });
    }
  };

  const show = () => {
    if (searchAttributes) upsertSearchAttributes([{ key: outcomeAttribute, value: paused ? 'needs-approval' : 'in-sync' }]);
    const lines = paused
      ? [
          `**Removals paused**: ${held.length} waiting for approval (${granted.length} removed in the window, limit ${limit}).`,
          'Approve with `gitbook-sync approve-removals`, or cancel the users whose removal is wrong.',
          ...held.slice(0, 20).map((request) => `- directory user \`${request.userId}\` since ${request.requestedAt}`),
        ]
      : [`Removals flowing: ${granted.length} in the window${limit === undefined ? '' : `, limit ${limit}`}.`];
    setCurrentDetails(lines.join('\n'));
  };

  for (;;) {
    await condition(() => inbox.length > 0 || approvals.length > 0 || workflowInfo().continueAsNewSuggested);

    while (approvals.length > 0) {
      const approvedBy = approvals.shift()!;
      const released = held.splice(0, held.length);
      granted.splice(0, granted.length);
      paused = false;
      lastApproval = { approvedBy, at: new Date().toISOString(), released: released.length };
      log.warn('removals approved', { approvedBy, released: released.length });
      for (const request of released) await answer(request);
    }

    while (inbox.length > 0) {
      const request = inbox.shift()!;
      if (held.some((h) => h.requestId === request.requestId)) continue;
      const snapshot = await resolveMapping({ groups: [] });
      searchAttributes = snapshot.searchAttributes;
      const settings = snapshot.removalBreaker;
      if (!settings) {
        await answer(request);
        continue;
      }

      const now = Date.now();
      while (granted.length > 0 && granted[0]! <= now - settings.windowMs) granted.shift();
      if (!members || now - members.readAt > MEMBER_COUNT_TTL_MS) members = { count: await countMembers(), readAt: now };
      limit = Math.max(settings.minimum, Math.floor(settings.maxShare * members.count));

      if (paused || granted.length >= limit) {
        if (!paused) log.warn('removal breaker tripped: removals paused', { limit, members: members.count });
        paused = true;
        held.push({ ...request, requestedAt: new Date(now).toISOString() });
        continue;
      }
      granted.push(now);
      await answer(request);
    }
    show();

    const info = workflowInfo();
    if (info.continueAsNewSuggested || info.historyLength > MAX_HISTORY_EVENTS) {
      await condition(allHandlersFinished);
      if (inbox.length === 0 && approvals.length === 0) {
        await continueAsNew<typeof removalGuardWorkflow>({ carried: { granted, held, paused, lastApproval } });
      }
    }
  }
}
