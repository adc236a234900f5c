/**
 * A large delivery, held in one step: the receiver starts this workflow with the whole batch (one
 * call to Temporal, so even a big Okta batch is acknowledged within Okta's 3 seconds), and the
 * workflow hands each event to its user's workflow, chunk by chunk, retrying until all are held.
 * One user's events keep their order; the users' workflows deduplicate as always.
 */
import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { GuardActivities } from '../activities/guard';
import { describeIssues, eventSchemas, loadZod, type DirectoryEvent } from './events';
import { GITBOOK_ACTIVITY_OPTIONS } from './policies';

const { submitEvents } = proxyActivities<GuardActivities>(GITBOOK_ACTIVITY_OPTIONS);

/** Events handed over per activity call. */
const CHUNK_SIZE = 50;

export interface DeliveryInput {
  events: DirectoryEvent[];
}

/** Hands every event of the delivery to its user's workflow; returns how many were handed over. */
export async function deliveryWorkflow(input: DeliveryInput): Promise<{ submitted: number }> {
  const { z } = loadZod();
  const parsed = z.object({ events: z.array(eventSchemas().event).min(1).max(20_000) }).safeParse(input);
  if (!parsed.success) {
    throw ApplicationFailure.create({ type: 'InvalidInput', message: describeIssues(parsed.error), nonRetryable: true });
  }

  // Chunks hold whole users, so each user's events stay in one call, in order.
  const byUser = new Map<string, DirectoryEvent[]>();
  for (const event of parsed.data.events) byUser.set(event.userId, [...(byUser.get(event.userId) ?? []), event]);
  let chunk: DirectoryEvent[] = [];
  let submitted = 0;
  for (const events of byUser.values()) {
    chunk.push(...events);
    if (chunk.length >= CHUNK_SIZE) {
      submitted += await submitEvents({ events: chunk });
      chunk = [];
    }
  }
  if (chunk.length > 0) submitted += await submitEvents({ events: chunk });
  return { submitted };
}
