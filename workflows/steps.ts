/**
 * The step workflows: onboarding, offboarding, role and team changes for one user. Each runs as a
 * child of the user's workflow, so it shows as its own run in the Web UI, and each is a durable,
 * retrying sequence of idempotent GitBook calls.
 */
import {
  ApplicationFailure,
  log,
  proxyActivities,
  sleep,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { GitBookActivities } from '../activities/gitbook';
import type { GuardActivities } from '../activities/guard';
import {
  INVITE_BATCHER_WORKFLOW_ID,
  inviteOutcomeSignal,
  inviteRequestSignal,
  inviteWithdrawSignal,
  TEAM_BATCHER_WORKFLOW_ID,
  teamChangeOutcomeSignal,
  teamChangeRequestSignal,
  teamChangeWithdrawSignal,
  type InviteOutcome,
  type InviteRequest,
  type TeamChangeOutcome,
  type TeamChangeRequest,
} from './api';
import { askBatcher } from './batching';
import type {
  OffboardInput,
  OffboardResult,
  OnboardInput,
  OnboardResult,
  SetRoleInput,
  SetRoleResult,
  TeamChange,
  UpdateTeamsInput,
  UpdateTeamsResult,
} from './planner';
import { teamFailureKey } from './planner';
import { GITBOOK_ACTIVITY_OPTIONS } from './policies';
import { permanentFailureOf, type StepFailure } from './failures';

const gitbook = proxyActivities<GitBookActivities>(GITBOOK_ACTIVITY_OPTIONS);
const { requestInvite, requestTeamChange } = proxyActivities<GuardActivities>(GITBOOK_ACTIVITY_OPTIONS);

/** Invites the person, then adds them to their teams. A team that refuses does not undo the invite. */
export async function onboardUserWorkflow(input: OnboardInput): Promise<OnboardResult & { failures: StepFailure[] }> {
  // After an uncertain step the person may be a member already, under an older address: adopt that.
  const existing = await findFirstMember(input.otherEmails ?? []);
  const { gitbookUserId, created } = existing
    ? { gitbookUserId: existing, created: false }
    : input.batched
    ? await inviteThroughBatcher(input)
    : await gitbook.inviteMember.executeWithOptions(
        { summary: `invite ${input.email} as ${input.role}${input.sso ? ' (SSO)' : ''}` },
        [{ email: input.email, role: input.role, sso: input.sso }],
      );
  log.info('invited', { teams: input.teamIds.length });

  const changes: TeamChange[] = input.teamIds.map((teamId) => ({ teamId, action: 'add' }));
  const { applied, failures } =
    input.teamBatched && changes.length > 0
      ? await teamChangesThroughBatcher(gitbookUserId, changes)
      : await applyTeamChanges(gitbookUserId, changes);
  return { gitbookUserId, teamIds: applied.map((change) => change.teamId), roleApplied: created, failures };
}

/** Removes the person from the organization, finding their GitBook id by email when it is not known. */
export async function offboardUserWorkflow(input: OffboardInput): Promise<OffboardResult> {
  if (input.otherEmails?.length) return await offboardEverywhere(input);

  const gitbookUserId = input.gitbookUserId ?? (await findMemberId(input.email));
  if (!gitbookUserId) {
    log.info('not a member: nothing to remove');
    return { outcome: 'not-member' };
  }
  return { outcome: await remove(gitbookUserId), gitbookUserId };
}

/** When it is not certain under which address the person is a member: remove every match. */
async function offboardEverywhere(input: OffboardInput): Promise<OffboardResult> {
  const ids = new Set<string>(input.gitbookUserId ? [input.gitbookUserId] : []);
  for (const email of [input.email, ...(input.otherEmails ?? [])]) {
    const found = await findMemberId(email);
    if (found) ids.add(found);
  }

  const outcomes: OffboardResult['outcome'][] = [];
  for (const id of ids) outcomes.push(await remove(id));
  if (outcomes.includes('pending-approval')) return { outcome: 'pending-approval' };
  return { outcome: outcomes.includes('removed') ? 'removed' : 'not-member' };
}

async function remove(gitbookUserId: string): Promise<OffboardResult['outcome']> {
  const { outcome } = await gitbook.removeMember.executeWithOptions({ summary: `remove member ${gitbookUserId}` }, [
    { gitbookUserId },
  ]);
  return outcome;
}

async function findFirstMember(emails: string[]): Promise<string | undefined> {
  for (const email of emails) {
    const found = await findMemberId(email);
    if (found) return found;
  }
  return undefined;
}

/** Sets the person's organization role. */
export async function setUserRoleWorkflow(input: SetRoleInput): Promise<SetRoleResult> {
  const gitbookUserId = input.gitbookUserId ?? (await findMemberId(input.email));
  if (!gitbookUserId) {
    throw ApplicationFailure.create({
      type: 'GITBOOK_MEMBER_NOT_FOUND',
      message: 'no GitBook member has this email',
      nonRetryable: true,
    });
  }
  await gitbook.setMemberRole.executeWithOptions({ summary: `set role ${input.role} on ${gitbookUserId}` }, [
    { gitbookUserId, role: input.role },
  ]);
  return { gitbookUserId };
}

/** Adds the person to and removes them from teams: one net change per team. */
export async function updateUserTeamsWorkflow(input: UpdateTeamsInput): Promise<UpdateTeamsResult & { failures: StepFailure[] }> {
  const member = input.gitbookUserId ?? input.email;
  const { applied, failures } = input.teamBatched
    ? await teamChangesThroughBatcher(member, input.changes)
    : await applyTeamChanges(member, input.changes);
  return { gitbookUserId: input.gitbookUserId, applied, failures };
}

/**
 * Hands the invite to the organization's invite batcher and waits for its outcome (a cancelled step
 * withdraws it first: see `askBatcher`).
 */
async function inviteThroughBatcher(input: OnboardInput): Promise<{ gitbookUserId: string; created: boolean }> {
  for (let attempt = 1; ; attempt++) {
    const result = await askBatcher<InviteRequest, InviteOutcome>({
      batcherBaseId: INVITE_BATCHER_WORKFLOW_ID,
      request: { requestId: uuid4(), workflowId: workflowInfo().workflowId, email: input.email, role: input.role, sso: input.sso },
      requestSignal: inviteRequestSignal,
      withdrawSignal: inviteWithdrawSignal,
      outcomeSignal: inviteOutcomeSignal,
      startBatcher: requestInvite,
    });
    if (result.status === 'invited' && result.gitbookUserId) {
      return { gitbookUserId: result.gitbookUserId, created: result.created ?? false };
    }
    const failure = result.failure ?? { type: 'GITBOOK_INVITE_UNRESOLVED', message: `invite ${result.status}` };
    // GitBook took the invite but its answer did not name the person: ask again after a pause.
    if (failure.type === 'GITBOOK_INVITE_UNRESOLVED' && attempt < 5) {
      await sleep(attempt * 5_000);
      continue;
    }
    throw ApplicationFailure.create({ type: failure.type, message: failure.message, nonRetryable: true });
  }
}

/** Hands the person's team changes to the team batcher; returns what GitBook took and refused. */
async function teamChangesThroughBatcher(member: string, changes: TeamChange[]) {
  const outcome = await askBatcher<TeamChangeRequest, TeamChangeOutcome>({
    batcherBaseId: TEAM_BATCHER_WORKFLOW_ID,
    request: { requestId: uuid4(), workflowId: workflowInfo().workflowId, member, changes },
    requestSignal: teamChangeRequestSignal,
    withdrawSignal: teamChangeWithdrawSignal,
    outcomeSignal: teamChangeOutcomeSignal,
    startBatcher: requestTeamChange,
  });
  const failures: StepFailure[] = outcome.failures.map(({ teamId, type, message }) => ({ key: teamFailureKey(teamId), type, message }));
  return { applied: outcome.applied, failures };
}

async function findMemberId(email: string | undefined): Promise<string | undefined> {
  if (!email) return undefined;
  const found = await gitbook.findMember.executeWithOptions({ summary: `find the member ${email}` }, [{ email }]);
  return found.gitbookUserId;
}

/** Applies each team change; a permanent refusal for one team is reported and the others go on. */
async function applyTeamChanges(member: string, changes: TeamChange[]) {
  const applied: TeamChange[] = [];
  const failures: StepFailure[] = [];
  for (const change of changes) {
    try {
      await gitbook.updateTeamMembers.executeWithOptions({ summary: `${change.action} ${member} ${change.action === 'add' ? 'to' : 'from'} ${change.teamId}` }, [
        { teamId: change.teamId, ...(change.action === 'add' ? { add: [member] } : { remove: [member] }) },
      ]);
      applied.push(change);
    } catch (err) {
      const failure = permanentFailureOf(err);
      if (!failure) throw err;
      failures.push({ key: teamFailureKey(change.teamId), ...failure });
    }
  }
  return { applied, failures };
}
