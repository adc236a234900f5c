/**
 * Hands directory events to Temporal: each goes to its user's workflow by signal-with-start, so it
 * is durably held once this resolves. Events of one user go in order; users go in parallel.
 */
import type { Client } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { directoryEventSignal, userWorkflowId, type UserSyncInput } from '../workflows/api';
import type { DirectoryEvent } from '../workflows/events';
import { createHash } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { deliveryWorkflow } from '../workflows/delivery';
import { userSyncWorkflow } from '../workflows/user-sync';

export interface SubmittedEvent {
  eventId: string;
  workflowId: string;
  runId: string;
}

/** Signals (starting when needed) the user's workflow with one event. */
export async function submitDirectoryEvent(client: Client, taskQueue: string, event: DirectoryEvent): Promise<SubmittedEvent> {
  const workflowId = userWorkflowId(event.userId);
  const input: UserSyncInput = { userId: event.userId };
  const handle = await client.workflow.signalWithStart(userSyncWorkflow, {
    workflowId,
    taskQueue,
    args: [input],
    signal: directoryEventSignal,
    signalArgs: [event],
    // A user's workflow ends some time after offboarding; a later event starts a fresh run.
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    staticSummary: `GitBook sync for directory user ${event.userId}`,
    staticDetails: `Started by a \`${event.kind}\` event from ${event.source} (event \`${event.id}\`, directory time ${event.occurredAt}).`,
  });
  return { eventId: event.id, workflowId, runId: handle.signaledRunId };
}

/**
 * Submits a batch: per user, group events first, the rest in arrival order; users concurrently.
 * Resolves when every event is held by a workflow; rejects on the first failure (the caller answers
 * 503 so the IdP retries, and the events already held are recognised as redeliveries by their ids).
 *
 * Why group events first: a person's workflow plans on each event it gets, so an activation that
 * arrives before the same delivery's group additions would be invited with the default role and
 * promoted a moment later (one call more, and a moment with the wrong role). Each event sets its
 * own attributes, last writer wins by event time, so the order changes no outcome, only the plans
 * on the way.
 */
export async function submitDirectoryEvents(
  client: Client,
  taskQueue: string,
  events: DirectoryEvent[],
): Promise<SubmittedEvent[]> {
  const byUser = new Map<string, DirectoryEvent[]>();
  for (const event of events) byUser.set(event.userId, [...(byUser.get(event.userId) ?? []), event]);
  const groupsFirst = (event: DirectoryEvent) => (event.kind.startsWith('group.') ? 0 : 1);

  const perUser = await Promise.all(
    [...byUser.values()].map(async (arrived) => {
      const userEvents = [...arrived].sort((a, b) => groupsFirst(a) - groupsFirst(b));
      const submitted: SubmittedEvent[] = [];
      for (const event of userEvents) submitted.push(await submitDirectoryEvent(client, taskQueue, event));
      return submitted;
    }),
  );
  return perUser.flat();
}

/** Deliveries larger than this are held by one `deliveryWorkflow` instead of one call per event. */
export const DIRECT_SUBMIT_LIMIT = 20;

/**
 * Hands a delivery to Temporal the fastest durable way: a few events go straight to their users'
 * workflows; a larger batch is held in one call by a `deliveryWorkflow` that fans it out.
 */
export async function handOffDirectoryEvents(client: Client, taskQueue: string, events: DirectoryEvent[]): Promise<void> {
  if (events.length <= DIRECT_SUBMIT_LIMIT) {
    await submitDirectoryEvents(client, taskQueue, events);
    return;
  }
  await startDeliveryWorkflow(client, taskQueue, events);
}

/**
 * The id of the `deliveryWorkflow` holding `events`: a hash of their ids in order, so the same
 * batch handed over again while its workflow runs is recognised rather than held twice.
 */
export function deliveryWorkflowId(events: readonly DirectoryEvent[]): string {
  const digest = createHash('sha256');
  for (const event of events) digest.update(event.id).update('\n');
  return `gitbook-delivery-${digest.digest('hex').slice(0, 32)}`;
}

/**
 * Holds `events` with one call to Temporal: the start of a `deliveryWorkflow` that hands each to its
 * user's workflow, in order per user. Resolves once Temporal holds the workflow, also when one with
 * the same id (the same events) is already running.
 */
export async function startDeliveryWorkflow(
  client: Client,
  taskQueue: string,
  events: DirectoryEvent[],
  options: { summary?: string } = {},
): Promise<void> {
  try {
    await client.workflow.start(deliveryWorkflow, {
      workflowId: deliveryWorkflowId(events),
      taskQueue,
      args: [{ events }],
      staticSummary: options.summary ?? `Directory delivery of ${events.length} events`,
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}
