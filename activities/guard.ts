/**
 * The way from a user's workflows to the organization-wide ones (the removal circuit breaker, the
 * invite and team batchers): signal-with-start, from an activity, since a workflow cannot start another,
 * unrelated workflow itself.
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/common';
import { submitDirectoryEvents } from '../src/submit';
import type { DirectoryEvent } from '../workflows/events';
import {
  batcherWorkflowId,
  INVITE_BATCHER_WORKFLOW_ID,
  INVITE_BATCHER_WORKFLOW_TYPE,
  inviteRequestSignal,
  type InviteRequest,
  REMOVAL_GUARD_WORKFLOW_ID,
  REMOVAL_GUARD_WORKFLOW_TYPE,
  removalRequestSignal,
  type RemovalRequest,
  TEAM_BATCHER_WORKFLOW_ID,
  TEAM_BATCHER_WORKFLOW_TYPE,
  teamChangeRequestSignal,
  type TeamChangeRequest,
} from '../workflows/api';

/** Builds the breaker and batcher activities over a Temporal client. */
export function createGuardActivities(client: Client) {
  /**
   * Signals one of this task queue's organization-wide workflows, starting it when it is not
   * running (its input then is empty: it starts with nothing waiting).
   */
  const signalOrganizationWorkflow = async <R>(
    workflowType: string,
    baseId: string,
    signal: SignalDefinition<[R]>,
    request: R,
    staticSummary: string,
  ): Promise<void> => {
    const { taskQueue } = Context.current().info;
    await client.workflow.signalWithStart(workflowType, {
      workflowId: batcherWorkflowId(baseId, taskQueue),
      taskQueue,
      args: [{}],
      signal,
      signalArgs: [request],
      staticSummary,
    });
  };

  return {
    /** Hands a removal request to the breaker, starting it when it is not running. */
    async requestRemoval(request: RemovalRequest): Promise<void> {
      const summary = 'Removal circuit breaker: pauses mass removals until an operator approves';
      await signalOrganizationWorkflow(REMOVAL_GUARD_WORKFLOW_TYPE, REMOVAL_GUARD_WORKFLOW_ID, removalRequestSignal, request, summary);
    },

    /** Hands events to their users' workflows (for a large delivery held by `deliveryWorkflow`). */
    async submitEvents(input: { events: DirectoryEvent[] }): Promise<number> {
      const submitted = await submitDirectoryEvents(client, Context.current().info.taskQueue, input.events);
      return submitted.length;
    },

    /** Hands an invite to the batcher, starting it when it is not running. */
    async requestInvite(request: InviteRequest): Promise<void> {
      const summary = 'Invite batcher: sends invites for people onboarded close together as one request';
      await signalOrganizationWorkflow(INVITE_BATCHER_WORKFLOW_TYPE, INVITE_BATCHER_WORKFLOW_ID, inviteRequestSignal, request, summary);
    },

    /** Hands a person's team changes to the team batcher, starting it when it is not running. */
    async requestTeamChange(request: TeamChangeRequest): Promise<void> {
      const summary = 'Team batcher: sends the team changes of people moved close together as one request per team';
      await signalOrganizationWorkflow(TEAM_BATCHER_WORKFLOW_TYPE, TEAM_BATCHER_WORKFLOW_ID, teamChangeRequestSignal, request, summary);
    },
  };
}

export type GuardActivities = ReturnType<typeof createGuardActivities>;
