/**
 * The step workflows: onboarding, offboarding, role and team changes for one user. Each runs as a
 * child of the user's workflow, so it shows as its own run in the Web UI, and each is a durable,
 * retrying sequence of idempotent GitBook calls.
 */
import { ApplicationFailure, log, proxyActivities } from '@temporalio/workflow';
import type { GitBookActivities } from '../activities/gitbook';
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

/** Invites the person, then adds them to their teams. A team that refuses does not undo the invite. */
export async function onboardUserWorkflow(input: OnboardInput): Promise<OnboardResult & { failures: StepFailure[] }> {
  const { gitbookUserId, created } = await gitbook.inviteMember.executeWithOptions(
    { summary: `invite ${input.email} as ${input.role}${input.sso ? ' (SSO)' : ''}` },
    [{ email: input.email, role: input.role, sso: input.sso }],
  );
  log.info('invited', { teams: input.teamIds.length });

  const changes: TeamChange[] = input.teamIds.map((teamId) => ({ teamId, action: 'add' }));
  const { applied, failures } = await applyTeamChanges(gitbookUserId, changes);
  return { gitbookUserId, teamIds: applied.map((change) => change.teamId), roleApplied: created, failures };
}

/** Removes the person from the organization, finding their GitBook id by email when it is not known. */
export async function offboardUserWorkflow(input: OffboardInput): Promise<OffboardResult> {
  const gitbookUserId = input.gitbookUserId ?? (await findMemberId(input.email));
  if (!gitbookUserId) {
    log.info('not a member: nothing to remove');
    return { outcome: 'not-member' };
  }

  const { outcome } = await gitbook.removeMember.executeWithOptions({ summary: `remove member ${gitbookUserId}` }, [
    { gitbookUserId },
  ]);
  return { outcome, gitbookUserId };
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
  const { applied, failures } = await applyTeamChanges(member, input.changes);
  return { gitbookUserId: input.gitbookUserId, applied, failures };
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
