/**
 * The way from a user's workflows to the organization-wide ones (the removal circuit breaker, the
 * invite and team batchers): signal-with-start, from an activity, since a workflow cannot start another,
 * unrelated workflow itself.
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { submitDirectoryEvents } from '../src/submit';
import type { DirectoryEvent } from '../workflows/events';
import {
  batcherWorkflowId,
  INVITE_BATCHER_WORKFLOW_ID,
  INVITE_BATCHER_WORKFLOW_TYPE,
  inviteRequestSignal,
  type InviteBatcherInput,
  type InviteRequest,
  REMOVAL_GUARD_WORKFLOW_ID,
  REMOVAL_GUARD_WORKFLOW_TYPE,
  removalRequestSignal,
  type RemovalGuardInput,
  type RemovalRequest,
  TEAM_BATCHER_WORKFLOW_ID,
  TEAM_BATCHER_WORKFLOW_TYPE,
  teamChangeRequestSignal,
  type TeamBatcherInput,
  type TeamChangeRequest,
} from '../workflows/api';

/** Builds the breaker activities over a Temporal client. */
export function createGuardActivities(client: Client) {
  return {
    /** Hands a removal request to the breaker, starting it when it is not running. */
    async requestRemoval(request: RemovalRequest): Promise<void> {
      const input: RemovalGuardInput = {};
      await client.workflow.signalWithStart(REMOVAL_GUARD_WORKFLOW_TYPE, {
        workflowId: batcherWorkflowId(REMOVAL_GUARD_WORKFLOW_ID, Context.current().info.taskQueue),
        taskQueue: Context.current().info.taskQueue,
        args: [input],
        signal: removalRequestSignal,
        signalArgs: [request],
        staticSummary: 'Removal circuit breaker: pauses mass removals until an operator approves',
      });
    },

    /** Hands events to their users' workflows (for a large delivery held by `deliveryWorkflow`). */
    async submitEvents(input: { events: DirectoryEvent[] }): Promise<number> {
      const submitted = await submitDirectoryEvents(client, Context.current().info.taskQueue, input.events);
      return submitted.length;
    },

    /** Hands an invite to the batcher, starting it when it is not running. */
    async requestInvite(request: InviteRequest): Promise<void> {
      const input: InviteBatcherInput = {};
      await client.workflow.signalWithStart(INVITE_BATCHER_WORKFLOW_TYPE, {
        workflowId: batcherWorkflowId(INVITE_BATCHER_WORKFLOW_ID, Context.current().info.taskQueue),
        taskQueue: Context.current().info.taskQueue,
        args: [input],
        signal: inviteRequestSignal,
        signalArgs: [request],
        staticSummary: 'Invite batcher: sends invites for people onboarded close together as one request',
      });
    },

    /** Hands a person's team changes to the team batcher, starting it when it is not running. */
    async requestTeamChange(request: TeamChangeRequest): Promise<void> {
      const input: TeamBatcherInput = {};
      await client.workflow.signalWithStart(TEAM_BATCHER_WORKFLOW_TYPE, {
        workflowId: batcherWorkflowId(TEAM_BATCHER_WORKFLOW_ID, Context.current().info.taskQueue),
        taskQueue: Context.current().info.taskQueue,
        args: [input],
        signal: teamChangeRequestSignal,
        signalArgs: [request],
        staticSummary: 'Team batcher: sends the team changes of people moved close together as one request per team',
      });
    },
  };
}

export type GuardActivities = ReturnType<typeof createGuardActivities>;
