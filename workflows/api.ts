/**
 * The public surface of the sync workflows: names, signals, queries, workflow ids and the shapes of
 * inputs and results. Worker, client, CLI and hook receiver all import these, so an operator's
 * `temporal workflow signal --name ...` and our code always agree.
 */
import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { DirectoryEvent, GitBookRole } from './events';

/** Default task queue; override with `TEMPORAL_TASK_QUEUE`. */
export const DEFAULT_TASK_QUEUE = 'gitbook-directory-sync';

/** Workflow type of the long-lived per-user workflow. */
export const USER_SYNC_WORKFLOW_TYPE = 'userSyncWorkflow';

/** Prefix of every per-user workflow id: `gitbook-user-<directory user id>`. */
export const USER_WORKFLOW_ID_PREFIX = 'gitbook-user-';

/**
 * The workflow id of a directory user. Derived from the IdP's user id, never from the email,
 * which can change.
 */
export function userWorkflowId(directoryUserId: string): string {
  return `${USER_WORKFLOW_ID_PREFIX}${directoryUserId}`;
}

/**
 * Custom search attributes, so the Web UI and `temporal workflow list --query` can find runs by
 * user, change and outcome. Register them on a cluster with
 * `temporal operator search-attribute create --name <name> --type Keyword` (the dev server started
 * by `npm start` registers them itself). No email is ever put in a search attribute.
 */
export const directoryUserIdAttribute = defineSearchAttributeKey('GitBookDirectoryUserId', SearchAttributeType.KEYWORD);
/** The kind of the latest step: `onboard`, `set-role`, `update-teams`, `offboard`. */
export const changeAttribute = defineSearchAttributeKey('GitBookChange', SearchAttributeType.KEYWORD);
/** `running`, `in-sync`, `failed`, `needs-approval`, `converged` or `cancelled`. */
export const outcomeAttribute = defineSearchAttributeKey('GitBookOutcome', SearchAttributeType.KEYWORD);
export const SEARCH_ATTRIBUTE_KEYS = [directoryUserIdAttribute, changeAttribute, outcomeAttribute];

/** Delivers one directory event to the user's workflow (use with signal-with-start). */
export const directoryEventSignal = defineSignal<[DirectoryEvent]>('directoryEvent');

export interface CancelRequest {
  reason?: string;
}

/** Drops the user's pending steps and ends the workflow with a result saying what was done. */
export const cancelSignal = defineSignal<[CancelRequest?]>('cancel');

/** Returns the user's sync state. */
export const statusQuery = defineQuery<UserSyncStatus>('status');

/** Where a stored attribute came from: the directory's time for it and the event that set it. */
export interface Stamped<T> {
  value: T;
  at: string;
  eventId: string;
}

/** What the directory says this user should be. Each attribute is last-writer-wins on event time. */
export interface DesiredState {
  active?: Stamped<boolean>;
  email?: Stamped<string>;
  displayName?: Stamped<string>;
  /** Directory group id -> whether the user is in it, with the group's name when known. */
  groups: Record<string, Stamped<boolean> & { name?: string }>;
}

/** Membership as far as this workflow knows: `unknown` until it has done or checked something. */
export type Knowledge = 'member' | 'not-member' | 'unknown';

/** What this workflow knows of the user in GitBook. */
export interface ActualState {
  gitbookUserId?: string;
  membership: Knowledge;
  role?: GitBookRole;
  /** GitBook team id -> in or out, for teams this workflow manages for the user. */
  teams: Record<string, 'in' | 'out' | 'unknown'>;
  /**
   * Every address an invite was sent for since the last confirmed removal. GitBook knows a person by
   * the address their invite used, which may not be the directory's newest one.
   */
  addresses?: string[];
}

export type StepKind = 'onboard' | 'set-role' | 'update-teams' | 'offboard';

/** One step toward the desired state, as planned. */
export interface PlannedStep {
  kind: StepKind;
  /** Stable key used to remember permanent failures: `onboard`, `team:<id>`, ... */
  key: string;
  description: string;
}

/** A step that ran, for the trail in status and result. */
export interface StepRecord {
  kind: StepKind;
  description: string;
  outcome: 'done' | 'failed' | 'cancelled' | 'needs-approval';
  detail?: string;
  at: string;
}

export interface UserSyncStatus {
  userId: string;
  desired: DesiredState;
  actual: ActualState;
  /** The step running now, if any. */
  running?: PlannedStep;
  /** Steps still needed to reach the desired state (as of the last plan). */
  pending: PlannedStep[];
  /** Most recent steps, newest last (bounded). */
  history: StepRecord[];
  lastError?: { step: string; type: string; message: string; at: string };
  eventsApplied: number;
  eventsIgnored: number;
  /** What the workflow waits for before it can go on, if anything. */
  waitingFor?: string;
}

/** Start input of {@link USER_SYNC_WORKFLOW_TYPE}. `carried` is set only by continue-as-new. */
export interface UserSyncInput {
  userId: string;
  /** Events to apply at start (a plain `temporal workflow start` can pass them here). */
  events?: DirectoryEvent[];
  carried?: CarriedState;
}

/** State carried across continue-as-new. */
export interface CarriedState {
  desired: DesiredState;
  actual: ActualState;
  seenEventIds: string[];
  history: StepRecord[];
  failedKeys: string[];
  eventsApplied: number;
  eventsIgnored: number;
  stepCount: number;
  removalPermit?: RemovalPermit;
}

/** A removal request sent to the circuit breaker, and whether it was granted. */
export interface RemovalPermit {
  requestId: string;
  approved: boolean;
}

export interface UserSyncResult {
  userId: string;
  /** `converged`: GitBook matches the directory (user offboarded). `cancelled`: stopped by a cancel. */
  outcome: 'converged' | 'cancelled';
  reason?: string;
  done: StepRecord[];
  notDone: PlannedStep[];
  actual: ActualState;
}

/** Base workflow id of the organization's removal circuit breaker (one per task queue: see {@link batcherWorkflowId}). */
export const REMOVAL_GUARD_WORKFLOW_ID = 'gitbook-removal-guard';
export const REMOVAL_GUARD_WORKFLOW_TYPE = 'removalGuardWorkflow';

/** A user's workflow asks the breaker before removing someone from the organization. */
export interface RemovalRequest {
  requestId: string;
  workflowId: string;
  userId: string;
}

export interface RemovalDecision {
  requestId: string;
  approved: boolean;
}

export interface RemovalApproval {
  approvedBy?: string;
}

export const removalRequestSignal = defineSignal<[RemovalRequest]>('removalRequest');
/** The breaker's answer to one request, sent to the requesting user's workflow. */
export const removalDecisionSignal = defineSignal<[RemovalDecision]>('removalDecision');
/** An operator's approval: releases every held removal and starts a new window. */
export const approveRemovalsSignal = defineSignal<[RemovalApproval?]>('approveRemovals');

export interface RemovalGuardStatus {
  paused: boolean;
  /** Removals waiting for an operator's approval, oldest first. */
  held: Array<RemovalRequest & { requestedAt: string }>;
  /** Removals let through in the current window. */
  grantedInWindow: number;
  /** How many removals the window allows before pausing (from the org size at the last check). */
  limit?: number;
  organizationMembers?: number;
  lastApproval?: { approvedBy: string; at: string; released: number };
}

export const removalGuardStatusQuery = defineQuery<RemovalGuardStatus>('removalGuardStatus');

/** State carried across the breaker's continue-as-new. */
export interface RemovalGuardInput {
  carried?: {
    granted: number[];
    held: Array<RemovalRequest & { requestedAt: string }>;
    paused: boolean;
    lastApproval?: RemovalGuardStatus['lastApproval'];
  };
}

/**
 * The id of an organization-wide workflow (the batchers, the removal breaker) for a task queue: the
 * base id on the default queue, and `<base>:<task queue>` on another, so deployments that share a
 * namespace (one per GitBook organization, each on its own queue) never share one or run theirs on
 * another's worker.
 */
export function batcherWorkflowId(baseId: string, taskQueue: string): string {
  return taskQueue === DEFAULT_TASK_QUEUE ? baseId : `${baseId}:${taskQueue}`;
}

/** Base workflow id of the organization's invite batcher (see {@link batcherWorkflowId}). */
export const INVITE_BATCHER_WORKFLOW_ID = 'gitbook-invite-batcher';
export const INVITE_BATCHER_WORKFLOW_TYPE = 'inviteBatcherWorkflow';

/** One person to invite, from an onboarding step, answered by {@link inviteOutcomeSignal}. */
export interface InviteRequest {
  requestId: string;
  /** The onboarding step's workflow, which waits for the outcome. */
  workflowId: string;
  email: string;
  role: GitBookRole;
  sso: boolean;
  /** Set by the batcher once a send carrying it was stopped before GitBook answered: GitBook may have seen it. */
  attempted?: boolean;
}

export interface InviteOutcome {
  requestId: string;
  /**
   * `withdrawn`: taken back, and never sent again (GitBook saw it only if `attempted`); `busy`: the
   * batcher holds as many waiting requests as it may, so it did not take this one: ask again later.
   */
  status: 'invited' | 'failed' | 'withdrawn' | 'busy';
  /** With `withdrawn`: a send carrying it was stopped before GitBook answered. */
  attempted?: boolean;
  gitbookUserId?: string;
  /** False when the person was a member already (their role was left as it was). */
  created?: boolean;
  failure?: { type: string; message: string };
}

export const inviteRequestSignal = defineSignal<[InviteRequest]>('inviteRequest');
/** Takes a request back; the batcher answers `withdrawn`, or the real outcome if GitBook answered its send. */
export const inviteWithdrawSignal = defineSignal<[{ requestId: string }]>('inviteWithdraw');
export const inviteOutcomeSignal = defineSignal<[InviteOutcome]>('inviteOutcome');

/** State carried across the batcher's continue-as-new. */
export interface InviteBatcherInput {
  pending?: InviteRequest[];
  /** Answers held while the previous run closed, sent first thing. */
  answers?: Array<{ workflowId: string; outcome: InviteOutcome }>;
}

/** Base workflow id of the organization's team-change batcher (see {@link batcherWorkflowId}). */
export const TEAM_BATCHER_WORKFLOW_ID = 'gitbook-team-batcher';
export const TEAM_BATCHER_WORKFLOW_TYPE = 'teamBatcherWorkflow';

/** One change of one person's teams, as a step plans it. */
export interface TeamChangeItem {
  teamId: string;
  action: 'add' | 'remove';
}

/**
 * One person's team changes, from an onboarding or team step, answered by
 * {@link teamChangeOutcomeSignal}. `member` is their GitBook user id, or their email when the id is
 * not known.
 */
export interface TeamChangeRequest {
  requestId: string;
  /** The step's workflow, which waits for the outcome. */
  workflowId: string;
  member: string;
  changes: TeamChangeItem[];
  /** Set by the batcher once a send carrying it was stopped before GitBook answered: GitBook may have seen it. */
  attempted?: boolean;
}

export interface TeamChangeOutcome {
  requestId: string;
  /**
   * `withdrawn`: taken back, and never sent again (GitBook saw it only if `attempted`); `busy`: the
   * batcher holds as many waiting requests as it may, so it did not take this one: ask again later.
   */
  status: 'done' | 'withdrawn' | 'busy';
  /** With `withdrawn`: a send carrying it was stopped before GitBook answered. */
  attempted?: boolean;
  /** The changes GitBook accepted. */
  applied: TeamChangeItem[];
  /** The changes GitBook refused for good, by team. */
  failures: Array<{ teamId: string; type: string; message: string }>;
}

export const teamChangeRequestSignal = defineSignal<[TeamChangeRequest]>('teamChangeRequest');
/** Takes a request back; the batcher answers `withdrawn`, or the real outcome if GitBook answered its send. */
export const teamChangeWithdrawSignal = defineSignal<[{ requestId: string }]>('teamChangeWithdraw');
export const teamChangeOutcomeSignal = defineSignal<[TeamChangeOutcome]>('teamChangeOutcome');

/** State carried across the team batcher's continue-as-new. */
export interface TeamBatcherInput {
  pending?: TeamChangeRequest[];
  /** Answers held while the previous run closed, sent first thing. */
  answers?: Array<{ workflowId: string; outcome: TeamChangeOutcome }>;
}
