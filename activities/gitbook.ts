/**
 * GitBook activities: thin, idempotent wrappers over the GitBook client. Each turns the client's
 * errors into `ApplicationFailure`s: a permanent answer is non-retryable with GitBook's message, a
 * rate limit retries after GitBook's own wait, everything else retries with backoff.
 */
import { ApplicationFailure } from '@temporalio/common';
import { log } from '@temporalio/activity';
import type { GitBookClient } from '../src/gitbook/client';
import { GitBookError, GitBookInviteSSOError, GitBookRateLimitError } from '../src/gitbook/errors';
import type { GitBookRole } from '../workflows/events';

export interface InviteMemberInput {
  email: string;
  role: GitBookRole;
  sso: boolean;
}

export interface MemberRef {
  gitbookUserId: string;
}

export interface InviteMemberResult extends MemberRef {
  /** False when the person was a member already: their role was left as it was. */
  created: boolean;
}

export interface FindMemberResult {
  gitbookUserId?: string;
  role?: GitBookRole | null;
}

/** One person's result in a batch of invites. */
export interface BatchInviteResult {
  gitbookUserId?: string;
  created: boolean;
  failure?: { type: string; message: string };
}

export interface UpdateTeamInput {
  teamId: string;
  add?: string[];
  remove?: string[];
}

/** Converts any error from the GitBook client into the failure Temporal should see. */
export function toApplicationFailure(err: unknown): unknown {
  if (!(err instanceof GitBookError)) return err;
  return ApplicationFailure.create({
    type: err.code,
    message: err.message,
    nonRetryable: !err.retryable,
    nextRetryDelay: err instanceof GitBookRateLimitError ? err.retryAfterMs : undefined,
    details: err.status === undefined ? [] : [{ status: err.status }],
  });
}

async function call<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (err) {
    throw toApplicationFailure(err);
  }
}

/** Builds the GitBook activities over one shared client (one keep-alive pool per worker). */
export function createGitBookActivities(client: GitBookClient) {
  return {
    /** Invites one person; returns their GitBook user id (also when they were already a member). */
    async inviteMember(input: InviteMemberInput): Promise<InviteMemberResult> {
      const result = await call(() => client.inviteUsers({ emails: [input.email], role: input.role, sso: input.sso }));
      if (result.failedSSOEmails.length > 0) {
        throw toApplicationFailure(new GitBookInviteSSOError(result.failedSSOEmails));
      }

      const gitbookUserId = result.userIds[0];
      if (gitbookUserId) {
        log.info('member invited', { invited: result.invited });
        return { gitbookUserId, created: result.invited > 0 };
      }

      // GitBook may list no id for someone who was a member already: find them instead.
      const member = await call(() => client.findMemberByEmail(input.email));
      if (!member) {
        throw ApplicationFailure.create({
          type: 'GITBOOK_INVITE_UNRESOLVED',
          message: 'GitBook accepted the invite but returned no user id, and no member has that email',
          nonRetryable: false,
        });
      }
      return { gitbookUserId: member.id, created: false };
    },

    /**
     * Invites several people with as few requests as GitBook allows: one per role. Results are
     * routed back per email; one person's refusal (an SSO address of another organization, an
     * address GitBook rejects) does not fail the others.
     */
    async inviteMembers(input: {
      invites: Array<{ email: string; role: GitBookRole }>;
      sso: boolean;
    }): Promise<Record<string, BatchInviteResult>> {
      const results: Record<string, BatchInviteResult> = {};
      const byRole = new Map<GitBookRole, string[]>();
      for (const { email, role } of input.invites) byRole.set(role, [...(byRole.get(role) ?? []), email]);

      for (const [role, emails] of byRole) {
        Object.assign(results, await inviteGroup(client, emails, role, input.sso));
      }
      log.info('invites sent', { people: input.invites.length, requests: byRole.size });
      return results;
    },

    /** Finds a member by exact email (GitBook's search is fuzzy; the client filters exactly). */
    async findMember(input: { email: string }): Promise<FindMemberResult> {
      const member = await call(() => client.findMemberByEmail(input.email));
      return member ? { gitbookUserId: member.id, role: (member.role ?? null) as GitBookRole | null } : {};
    },

    /** How many members the organization has (the removal breaker's denominator). */
    async countMembers(): Promise<number> {
      return await call(() => client.countMembers());
    },

    /** Removes a member. Someone who is already gone counts as removed. */
    async removeMember(input: MemberRef): Promise<{ outcome: 'removed' | 'not-member' | 'pending-approval' }> {
      const outcome = await call(() => client.removeMember(input.gitbookUserId));
      log.info('member removal answered', { outcome });
      return { outcome };
    },

    /** Sets a member's organization role. */
    async setMemberRole(input: MemberRef & { role: GitBookRole }): Promise<void> {
      await call(() => client.updateMemberRole(input.gitbookUserId, input.role));
    },

    /** Adds and removes members of one team (user ids or emails), as one net change. */
    async updateTeamMembers(input: UpdateTeamInput): Promise<void> {
      await call(() => client.updateTeamMembers(input.teamId, { add: input.add, remove: input.remove }));
    },
  };
}

/** One `POST /invites` for people of one role; per-person fallbacks when GitBook refuses the batch. */
async function inviteGroup(
  client: GitBookClient,
  emails: string[],
  role: GitBookRole,
  sso: boolean,
): Promise<Record<string, BatchInviteResult>> {
  let answer;
  try {
    answer = await client.inviteUsers({ emails, role, sso });
  } catch (err) {
    if (!(err instanceof GitBookError) || err.retryable) throw toApplicationFailure(err);
    if (emails.length === 1) return { [emails[0]!]: { created: false, failure: { type: err.code, message: err.message } } };
    // A refusal of the whole batch: find out whose address it was by sending them one at a time.
    const results: Record<string, BatchInviteResult> = {};
    for (const email of emails) Object.assign(results, await inviteGroup(client, [email], role, sso));
    return results;
  }

  const results: Record<string, BatchInviteResult> = {};
  const failed = new Set(answer.failedSSOEmails.map((email) => email.toLowerCase()));
  const accepted = emails.filter((email) => !failed.has(email.toLowerCase()));
  for (const email of emails.filter((e) => failed.has(e.toLowerCase()))) {
    const sso = new GitBookInviteSSOError([email]);
    results[email] = { created: false, failure: { type: sso.code, message: sso.message } };
  }

  // GitBook lists the ids of the accepted people in order; when the counts differ, ask by email.
  const inOrder = answer.userIds.length === accepted.length;
  const allNew = answer.invited === accepted.length;
  for (const [index, email] of accepted.entries()) {
    const gitbookUserId = inOrder ? answer.userIds[index] : (await call(() => client.findMemberByEmail(email)))?.id;
    results[email] = gitbookUserId
      ? { gitbookUserId, created: allNew }
      : { created: false, failure: { type: 'GITBOOK_INVITE_UNRESOLVED', message: 'no member has this email after the invite' } };
  }
  return results;
}

export type GitBookActivities = ReturnType<typeof createGitBookActivities>;
