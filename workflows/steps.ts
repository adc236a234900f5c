/**
 * The step workflows: onboarding, offboarding, role and team changes for one user. Each runs as a
 * child of the user's workflow, so it shows as its own run in the Web UI, and each is a durable,
 * retrying sequence of idempotent GitBook calls.
 */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  sleep,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { GitBookActivities } from '../activities/gitbook';
import type { GuardActivities } from '../activities/guard';
import {
  INVITE_BATCHER_WORKFLOW_ID,
  inviteOutcomeSignal,
  inviteWithdrawSignal,
  type InviteOutcome,
} from './api';
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
const { requestInvite } = proxyActivities<GuardActivities>(GITBOOK_ACTIVITY_OPTIONS);

/** How long a cancelled step waits for the batcher to confirm whether its invite went out. */
const WITHDRAW_CONFIRMATION_TIMEOUT = '5 minutes';

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
  const { applied, failures } = await applyTeamChanges(gitbookUserId, changes);
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
  const { applied, failures } = await applyTeamChanges(member, input.changes);
  return { gitbookUserId: input.gitbookUserId, applied, failures };
}

/**
 * Hands the invite to the organization's batcher and waits for its outcome. If this step is
 * cancelled meanwhile, it withdraws the request and waits for the batcher to say whether the invite
 * had already gone out, so the user's workflow never mistakes a sent invite for an unsent one.
 */
async function inviteThroughBatcher(input: OnboardInput): Promise<{ gitbookUserId: string; created: boolean }> {
  for (let attempt = 1; ; attempt++) {
    const requestId = uuid4();
    let outcome: InviteOutcome | undefined;
    setHandler(inviteOutcomeSignal, (answer) => {
      if (answer.requestId === requestId) outcome = answer;
    });

    const { workflowId } = workflowInfo();
    // Once asked, the batcher may send the invite: the request itself must not be cut short, or a
    // cancellation could land between the batcher getting it and this step knowing it did.
    await CancellationScope.nonCancellable(() =>
      requestInvite({ requestId, workflowId, email: input.email, role: input.role, sso: input.sso }),
    );
    try {
      await condition(() => outcome !== undefined);
    } catch (err) {
      if (!isCancellation(err)) throw err;
      await CancellationScope.nonCancellable(async () => {
        await getExternalWorkflowHandle(INVITE_BATCHER_WORKFLOW_ID).signal(inviteWithdrawSignal, { requestId });
        await condition(() => outcome !== undefined, WITHDRAW_CONFIRMATION_TIMEOUT);
      });
      log.info('invite withdrawn', { outcome: outcome?.status ?? 'unconfirmed' });
      throw err;
    }

    const result = outcome!;
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
