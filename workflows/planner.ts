/**
 * The planner: compares what the directory wants with what this workflow knows of GitBook and
 * returns the steps that close the gap, in order. Pure and deterministic; recomputed after every
 * step, so a change that arrives mid-step simply changes the next plan.
 */
import type { ActualState, DesiredState, PlannedStep } from './api';
import { GITBOOK_ROLES, type GitBookRole } from './events';
import type { BatchSettings } from './batching';
import { ownEntry } from './state';

/**
 * What the worker's settings say for this user: what their groups grant (from the mapping file),
 * and whether the custom search attributes are registered and may be set.
 */
export interface MappingSnapshot {
  /** Directory group id -> the teams and role it grants (empty for an unmapped group). */
  grants: Record<string, { teamIds: string[]; role?: GitBookRole }>;
  defaultRole: GitBookRole;
  sso: boolean;
  retainAfterOffboardMs: number;
  searchAttributes: boolean;
  /** The removal circuit breaker's settings; undefined when it is off. */
  removalBreaker?: RemovalBreakerSettings;
  /** Invite batching settings; undefined when each invite is its own request. */
  inviteBatching?: BatchSettings;
  /** Team batching settings; undefined when each person's team change is its own request. */
  teamBatching?: BatchSettings;
  /** Quiet time before a step that takes something away; undefined or 0: none (older workers). */
  settleMs?: number;
}

/**
 * Removals pause for an operator's approval once more than `max(minimum, maxShare x members)` people
 * would be removed within `windowMs`.
 */
export interface RemovalBreakerSettings {
  maxShare: number;
  minimum: number;
  windowMs: number;
}

export interface OnboardInput {
  /** Other addresses this person may already be a member under (after an uncertain step). */
  otherEmails?: string[];
  email: string;
  role: GitBookRole;
  sso: boolean;
  teamIds: string[];
  /** Send the invite through the organization's invite batcher. */
  batched?: boolean;
  /** Send the team changes through the organization's team batcher. */
  teamBatched?: boolean;
}

export interface OnboardResult {
  gitbookUserId: string;
  teamIds: string[];
  /** False when the person was a member already, so the invite did not set their role. */
  roleApplied: boolean;
}

export interface OffboardInput {
  gitbookUserId?: string;
  email?: string;
  /** When membership is uncertain: every address to look the person up by, besides `email`. */
  otherEmails?: string[];
}

export interface OffboardResult {
  outcome: 'removed' | 'not-member' | 'pending-approval';
  gitbookUserId?: string;
}

export interface SetRoleInput {
  gitbookUserId?: string;
  email: string;
  role: GitBookRole;
}

export interface SetRoleResult {
  gitbookUserId: string;
}

export interface TeamChange {
  teamId: string;
  action: 'add' | 'remove';
}

export interface UpdateTeamsInput {
  gitbookUserId?: string;
  email: string;
  changes: TeamChange[];
  /** Send the changes through the organization's team batcher. */
  teamBatched?: boolean;
}

export interface UpdateTeamsResult {
  gitbookUserId?: string;
  applied: TeamChange[];
}

export type Step =
  | (PlannedStep & { kind: 'onboard'; input: OnboardInput })
  | (PlannedStep & { kind: 'set-role'; input: SetRoleInput })
  | (PlannedStep & { kind: 'update-teams'; input: UpdateTeamsInput })
  | (PlannedStep & { kind: 'offboard'; input: OffboardInput });

export interface Plan {
  steps: Step[];
  /** Why nothing can be done yet, when the directory has not said enough. */
  waitingFor?: string;
}

/** The other addresses to check, only while membership is uncertain (known state needs no lookups). */
function otherAddresses(actual: ActualState, email: string | undefined): { otherEmails?: string[] } {
  if (actual.membership !== 'unknown') return {};
  const others = (actual.addresses ?? []).filter((address) => address !== email);
  return others.length > 0 ? { otherEmails: others } : {};
}

/** Failure keys: a step that failed permanently is not planned again until the directory changes. */
export const teamFailureKey = (teamId: string) => `team:${teamId}`;

/** The GitBook role the directory's groups give this user. */
export function desiredRole(desired: DesiredState, mapping: MappingSnapshot): GitBookRole {
  let role: GitBookRole | undefined;
  for (const [groupId, membership] of Object.entries(desired.groups)) {
    const granted = membership.value ? ownEntry(mapping.grants, groupId)?.role : undefined;
    if (granted && (!role || rank(granted) > rank(role))) role = granted;
  }
  return role ?? mapping.defaultRole;
}

/** The GitBook teams the directory's groups put this user in. */
export function desiredTeams(desired: DesiredState, mapping: MappingSnapshot): Set<string> {
  const teams = new Set<string>();
  for (const [groupId, membership] of Object.entries(desired.groups)) {
    if (membership.value) ownEntry(mapping.grants, groupId)?.teamIds.forEach((teamId) => teams.add(teamId));
  }
  return teams;
}

/** Plans the steps from `actual` to `desired`, skipping those in `failedKeys`. */
export function planSteps(
  desired: DesiredState,
  actual: ActualState,
  mapping: MappingSnapshot,
  failedKeys: ReadonlySet<string> = new Set(),
): Plan {
  const active = desired.active?.value;
  const email = desired.email?.value;
  if (active === undefined) return { steps: [], waitingFor: 'a lifecycle event (activation or deactivation)' };

  if (!active) {
    if (actual.membership === 'not-member' || failedKeys.has('offboard')) return { steps: [] };
    if (!actual.gitbookUserId && !email) return { steps: [], waitingFor: 'an email address to find the member' };
    return {
      steps: [
        {
          kind: 'offboard',
          key: 'offboard',
          description: `remove ${email ?? actual.gitbookUserId} from the organization`,
          input: { gitbookUserId: actual.gitbookUserId, email, ...otherAddresses(actual, email) },
        },
      ],
    };
  }

  if (!email) return { steps: [], waitingFor: 'an email address to invite' };
  const role = desiredRole(desired, mapping);
  const teams = desiredTeams(desired, mapping);

  if (actual.membership !== 'member') {
    if (failedKeys.has('onboard')) return { steps: [] };
    const teamIds = [...teams].filter((teamId) => !failedKeys.has(teamFailureKey(teamId))).sort();
    return {
      steps: [
        {
          kind: 'onboard',
          key: 'onboard',
          description: `invite ${email} as ${role}${teamIds.length ? ` and add to ${teamIds.join(', ')}` : ''}`,
          input: {
            email,
            role,
            sso: mapping.sso,
            teamIds,
            ...(mapping.inviteBatching ? { batched: true } : {}),
            ...(mapping.teamBatching ? { teamBatched: true } : {}),
            ...otherAddresses(actual, email),
          },
        },
      ],
    };
  }

  const steps: Step[] = [];
  if (actual.role !== role && !failedKeys.has('role')) {
    steps.push({
      kind: 'set-role',
      key: 'role',
      description: `set the role of ${email} to ${role}`,
      input: { gitbookUserId: actual.gitbookUserId, email, role },
    });
  }

  const changes = teamChanges(desired, actual, mapping, teams).filter(
    (change) => !failedKeys.has(teamFailureKey(change.teamId)),
  );
  if (changes.length > 0) {
    steps.push({
      kind: 'update-teams',
      key: 'teams',
      description: changes.map((change) => `${change.action} ${change.teamId}`).join(', '),
      input: { gitbookUserId: actual.gitbookUserId, email, changes, ...(mapping.teamBatching ? { teamBatched: true } : {}) },
    });
  }
  return { steps };
}

/**
 * Net team changes: add where wanted and not known to be in; remove where a group this user was in
 * maps to the team and the team is no longer wanted (unless known to be out already).
 */
function teamChanges(desired: DesiredState, actual: ActualState, mapping: MappingSnapshot, wanted: Set<string>) {
  const managed = new Set<string>(Object.keys(actual.teams));
  for (const groupId of Object.keys(desired.groups)) ownEntry(mapping.grants, groupId)?.teamIds.forEach((t) => managed.add(t));

  const changes: TeamChange[] = [];
  for (const teamId of [...managed].sort()) {
    const known = actual.teams[teamId] ?? 'unknown';
    if (wanted.has(teamId) && known !== 'in') changes.push({ teamId, action: 'add' });
    if (!wanted.has(teamId) && known !== 'out') changes.push({ teamId, action: 'remove' });
  }
  return changes;
}

/**
 * Whether the step takes something away from a member: a lower role, or leaving a team. Such steps
 * wait for the person's events to settle (`settleMs`), since the matching add may be on its way.
 */
export function takesAway(step: Step, actual: ActualState): boolean {
  if (step.kind === 'set-role') return actual.role !== undefined && rank(step.input.role) < rank(actual.role);
  if (step.kind === 'update-teams') return step.input.changes.some((change) => change.action === 'remove');
  return false;
}

function rank(role: GitBookRole): number {
  return GITBOOK_ROLES.indexOf(role);
}
