/**
 * The GitBook operations the sandbox serves. Each handler validates its body against the OpenAPI
 * document, asks the directory to act, and answers in the shape the document declares. Failures are
 * thrown as `SandboxHttpError` and turned into GitBook's error body by the server.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';

import { validateRequestBody } from '../gitbook/openapi';
import { paginate } from './pagination';
import { MEMBER_ROLES, type MemberRole } from './seed';
import type { InviteEntry, SandboxDirectory, SandboxMember } from './state';
import { memberView, teamMemberView, teamView } from './views';

/** What the routes need from the running sandbox. Functions, because `reset()` swaps the directory. */
export interface RouteContext {
  directory(): SandboxDirectory;
  /** The base URL including `/v1`, for `urls.location`. */
  apiUrl(): string;
  /** Items per page when the request gives no `limit`. */
  pageSize: number;
  now(): Date;
}

/** An answer other than success, with the status and message GitBook's error body will carry. */
export class SandboxHttpError extends Error {
  override readonly name = 'SandboxHttpError';

  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Every path below starts with this; `:organizationId` is checked before any handler runs. */
export const ORG_PREFIX = '/v1/orgs/:organizationId';

const listQuerySchema = z.object({
  page: z.string().optional(),
  // The spec allows 0 to 1000; 0 would yield empty pages forever, so it means "the default size".
  limit: z.coerce.number().min(0).max(1000).optional(),
});

const memberListQuerySchema = listQuerySchema.extend({
  search: z.string().optional(),
  role: z.enum([...MEMBER_ROLES, 'guest']).optional(),
  sort: z.enum(['joinedAt', 'lastSeenAt', 'name']).default('joinedAt'),
  order: z.enum(['asc', 'desc']).default('desc'),
});

const teamListQuerySchema = listQuerySchema.extend({
  title: z.string().optional(),
  // TODO(sandbox-team-owner): `owner` is accepted and ignored; every team is manageable here.
  owner: z.string().optional(),
});

type MemberParams = { userId: string };
type TeamParams = { teamId: string };

/** The invite body, once it has passed the spec's schema. */
interface InviteBody {
  emails: Array<string | { email: string; role: MemberRole | null }>;
  role?: MemberRole | null;
  sso?: boolean;
}

/** The team membership body, once it has passed the spec's schema. */
interface TeamMembersBody {
  add?: string[];
  remove?: string[];
}

/** Registers the GitBook routes on `app`. */
export function registerGitBookRoutes(app: FastifyInstance, context: RouteContext): void {
  const member = (value: SandboxMember) =>
    memberView(value, context.directory().teamCount(value.id), context.apiUrl());
  const pageSize = (limit: number | undefined) =>
    limit === undefined || limit === 0 ? context.pageSize : Math.floor(limit);

  app.post(`${ORG_PREFIX}/invites`, async (request) => {
    const body = validBody<InviteBody>('inviteUsersToOrganization', request.body);
    const entries: InviteEntry[] = body.emails.map((entry) => (typeof entry === 'string' ? { email: entry } : entry));

    const outcome = context.directory().invite({ entries, role: body.role, sso: body.sso }, context.now());
    const answer: { users: string[]; invited: number; failedSSOEmails?: string[] } = {
      users: outcome.users,
      invited: outcome.invited,
    };
    if (outcome.failedSSOEmails.length > 0) {
      answer.failedSSOEmails = outcome.failedSSOEmails;
    }
    return answer;
  });

  app.get(`${ORG_PREFIX}/members`, async (request) => {
    const query = validQuery(memberListQuerySchema, request);
    const members = context.directory().listMembers(query);
    return paginate(members, query.page, pageSize(query.limit), member);
  });

  app.get<{ Params: MemberParams }>(`${ORG_PREFIX}/members/:userId`, async (request) => {
    return member(existingMember(context, request.params.userId));
  });

  app.patch<{ Params: MemberParams }>(`${ORG_PREFIX}/members/:userId`, async (request) => {
    const body = validBody<{ role?: MemberRole | null }>('updateMemberInOrganizationById', request.body);
    const current = existingMember(context, request.params.userId);
    if (body.role === undefined) {
      return member(current);
    }
    const updated = context.directory().updateRole(current.id, body.role);
    return member(updated ?? current);
  });

  app.delete<{ Params: MemberParams }>(`${ORG_PREFIX}/members/:userId`, async (request, reply) => {
    const outcome = context.directory().removeMember(request.params.userId);
    const status = { removed: 205, 'not-a-member': 204, 'approval-required': 202 }[outcome];
    return reply.code(status).send();
  });

  app.get(`${ORG_PREFIX}/teams`, async (request) => {
    const query = validQuery(teamListQuerySchema, request);
    const teams = context.directory().listTeams(query.title);
    return paginate(teams, query.page, pageSize(query.limit), teamView);
  });

  app.put<{ Params: TeamParams }>(`${ORG_PREFIX}/teams/:teamId/members`, async (request, reply) => {
    const body = validBody<TeamMembersBody>('updateMembersInOrganizationTeam', request.body);
    // TODO(sandbox-team-roles): `memberships` passes validation but is ignored; sync never sends it.
    const outcome = context.directory().updateTeamMembers(request.params.teamId, body.add ?? [], body.remove ?? []);

    if (!outcome.ok) {
      switch (outcome.reason) {
        case 'unknown-team':
          throw new SandboxHttpError(404, `Team ${request.params.teamId} not found`);
        case 'unknown-entry':
          throw new SandboxHttpError(400, `${outcome.field}[${outcome.index}] ${outcome.entry} is not a member`);
        case 'in-both-lists': {
          const { added, removed, memberId } = outcome;
          const both = `add[${added.index}] ${added.entry} and remove[${removed.index}] ${removed.entry}`;
          throw new SandboxHttpError(400, `${both} name the same member ${memberId}: send only the net change`);
        }
      }
    }
    return reply.code(204).send();
  });

  app.get<{ Params: TeamParams }>(`${ORG_PREFIX}/teams/:teamId/members`, async (request) => {
    const query = validQuery(listQuerySchema, request);
    const team = context.directory().team(request.params.teamId);
    if (team === undefined) {
      throw new SandboxHttpError(404, `Team ${request.params.teamId} not found`);
    }

    const members = team.memberIds.flatMap((id) => context.directory().member(id) ?? []);
    return paginate(members, query.page, pageSize(query.limit), (value) => teamMemberView(member(value)));
  });
}

function existingMember(context: RouteContext, userId: string): SandboxMember {
  const found = context.directory().member(userId);
  if (found === undefined) {
    throw new SandboxHttpError(404, `Member ${userId} not found`);
  }
  return found;
}

/** The body, if it matches the operation's schema in the GitBook OpenAPI document; otherwise a 400. */
function validBody<T>(operationId: string, body: unknown): T {
  const result = validateRequestBody(operationId, body);
  if (!result.ok) {
    throw new SandboxHttpError(400, result.message);
  }
  return body as T;
}

function validQuery<S extends z.ZodType>(schema: S, request: FastifyRequest): z.output<S> {
  const parsed = schema.safeParse(request.query);
  if (parsed.success) {
    return parsed.data;
  }

  const issue = parsed.error.issues[0];
  const name = issue?.path.map(String).join('.') || 'query';
  throw new SandboxHttpError(400, `query parameter ${name}: ${issue?.message ?? 'is invalid'}`);
}
