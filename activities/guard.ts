/**
 * The user workflows' way to the removal circuit breaker: signal-with-start of the breaker's
 * workflow, from an activity (a workflow cannot start another, unrelated workflow itself).
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import {
  REMOVAL_GUARD_WORKFLOW_ID,
  REMOVAL_GUARD_WORKFLOW_TYPE,
  removalRequestSignal,
  type RemovalGuardInput,
  type RemovalRequest,
} from '../workflows/api';

/** Builds the breaker activities over a Temporal client. */
export function createGuardActivities(client: Client) {
  return {
    /** Hands a removal request to the breaker, starting it when it is not running. */
    async requestRemoval(request: RemovalRequest): Promise<void> {
      const input: RemovalGuardInput = {};
      await client.workflow.signalWithStart(REMOVAL_GUARD_WORKFLOW_TYPE, {
        workflowId: REMOVAL_GUARD_WORKFLOW_ID,
        taskQueue: Context.current().info.taskQueue,
        args: [input],
        signal: removalRequestSignal,
        signalArgs: [request],
        staticSummary: 'Removal circuit breaker: pauses mass removals until an operator approves',
      });
    },
  };
}

export type GuardActivities = ReturnType<typeof createGuardActivities>;
