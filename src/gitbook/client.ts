/**
 * A small client for the parts of the GitBook REST API that directory sync uses: invites, members
 * and team membership. It makes one attempt per call and reports failures as typed errors
 * (see `./errors`); retrying is left to the caller (Temporal activities), which GitBook allows
 * because these calls are idempotent.
 */
import type { MemberRole, OrganizationMember, OrganizationTeam } from '@gitbook/api';
import { RateLimitPacer } from './pacing';
import { Pool, type Dispatcher } from 'undici';
import { z } from 'zod';
import { normalizeEmail } from '../../workflows/events';
import {
  GitBookBadRequestError,
  GitBookClientClosedError,
  GitBookForbiddenError,
  GitBookNetworkError,
  GitBookNotFoundError,
  GitBookRateLimitError,
  GitBookResponseError,
  GitBookServerError,
  GitBookTimeoutError,
  GitBookUnauthorizedError,
  GitBookUnprocessableError,
  GitBookValidationError,
  readRateLimitHeaders,
  type GitBookError,
  type GitBookHttpErrorContext,
  type GitBookValidationIssue,
  type HeaderValue,
} from './errors';

/** GitBook's public API, version 1. */
export const DEFAULT_GITBOOK_API_URL = 'https://api.gitbook.com/v1';

/**
 * A GitBook organization role. Accepts the `MemberRole` enum of `@gitbook/api` or its string
 * values (`'admin'`, `'read'`...), so callers need not import the enum at run time.
 */
export type GitBookMemberRole = MemberRole | `${MemberRole}`;

/** Every organization role, as GitBook spells it. */
export const GITBOOK_MEMBER_ROLES = [
  'admin',
  'create',
  'edit',
  'review',
  'comment',
  'read',
] as const satisfies readonly `${MemberRole}`[];

/** Settings of a {@link GitBookClient}. */
export interface GitBookClientOptions {
  /**
   * API base URL, including the version path.
   * @default 'https://api.gitbook.com/v1'
   */
  baseUrl?: string;
  /** API token, sent as a bearer token. Never logged nor put in errors. */
  token: string;
  /** The organization every call acts on. */
  organizationId: string;
  /**
   * Limit on connecting, on waiting for the response headers and on each pause while reading the
   * body.
   * @default 10_000
   */
  requestTimeoutMs?: number;
  /**
   * Cap on the wait a 429 asks for (`GitBookRateLimitError.retryAfterMs`).
   * @default 60_000
   */
  maxRateLimitWaitMs?: number;
  /**
   * Keep-alive connections in the client's pool.
   * @default 10
   */
  connections?: number;
  /**
   * Items asked for per page (`limit`) when listing members or teams. GitBook allows up to 1000.
   * @default 100
   */
  pageSize?: number;
  /** Sends requests through this dispatcher instead of the client's own pool; `close()` leaves it open. */
  dispatcher?: Dispatcher;
  /** @default 'gitbook-directory-sync' */
  userAgent?: string;
}

/** The options of a {@link GitBookClient} once defaults are applied. */
export type ResolvedGitBookClientOptions = Required<Omit<GitBookClientOptions, 'dispatcher'>> &
  Pick<GitBookClientOptions, 'dispatcher'>;

/** The defaults of every optional {@link GitBookClientOptions} setting. */
export function defaultGitBookClientOptions() {
  return {
    baseUrl: DEFAULT_GITBOOK_API_URL,
    requestTimeoutMs: 10_000,
    maxRateLimitWaitMs: 60_000,
    connections: 10,
    pageSize: 100,
    userAgent: 'gitbook-directory-sync',
  } satisfies Omit<ResolvedGitBookClientOptions, 'token' | 'organizationId' | 'dispatcher'>;
}

/** Input of {@link GitBookClient.inviteUsers}. */
export interface InviteUsersInput {
  emails: string[];
  /** Role of the invited members; GitBook's default when absent. */
  role?: GitBookMemberRole;
  /** Invite as SSO users of the organization. */
  sso?: boolean;
}

/** Result of {@link GitBookClient.inviteUsers}. */
export interface InviteUsersResult {
  /** GitBook user ids of the people added (GitBook's `users`). */
  userIds: string[];
  /** How many people were added. */
  invited: number;
  /**
   * People invited but not made SSO users (they belong to another organization). Treat as a
   * failure for those emails; see `GitBookInviteSSOError`.
   */
  failedSSOEmails: string[];
}

/** Outcome of {@link GitBookClient.removeMember}. */
export type RemoveMemberResult = 'removed' | 'not-member' | 'pending-approval';

/** A team membership change: user ids or emails to add and to remove. */
export interface TeamMembersChange {
  add?: string[];
  remove?: string[];
}

const entityIdSchema = z.string().regex(/^[a-zA-Z0-9_-]+$/, 'must be letters, digits, "_" or "-"');
const nonEmptySchema = z.string().trim().min(1, 'must not be empty');
const roleSchema = z.enum(GITBOOK_MEMBER_ROLES);

const optionsSchema = z.object({
  baseUrl: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .refine((value) => !new URL(value).search && !new URL(value).hash, 'must have no query or fragment')
    .refine((value) => !new URL(value).username && !new URL(value).password, 'must not contain credentials'),
  token: z.string().regex(/^[\x21-\x7e]+$/, 'must be a non-empty token of printable characters'),
  organizationId: entityIdSchema,
  requestTimeoutMs: z.number().int().positive(),
  maxRateLimitWaitMs: z.number().int().nonnegative(),
  connections: z.number().int().positive(),
  pageSize: z.number().int().min(1).max(1_000),
  dispatcher: z
    .custom<Dispatcher>((value) => typeof (value as Dispatcher | undefined)?.dispatch === 'function', {
      error: 'must be an undici Dispatcher',
    })
    .optional(),
  userAgent: nonEmptySchema,
});

const inviteInputSchema = z.object({
  emails: z.array(z.email({ error: 'must be an email address' })).min(1, 'must list at least one email'),
  role: roleSchema.optional(),
  sso: z.boolean().optional(),
});

const teamChangeSchema = z.object({
  teamId: entityIdSchema,
  add: z.array(nonEmptySchema).default([]),
  remove: z.array(nonEmptySchema).default([]),
});

// Response schemas check only the fields this client or its callers rely on; unknown fields pass
// through, so a GitBook addition never breaks us.
const inviteResultSchema = z.object({
  users: z.array(z.string()),
  invited: z.number(),
  failedSSOEmails: z.array(z.string()).optional(),
});

const memberSchema = z.looseObject({
  id: z.string().min(1),
  // A plain string, not the role enum: a role GitBook adds later must not break listing members.
  role: z.string().nullable(),
  user: z.looseObject({ id: z.string().min(1), email: z.string().optional() }),
});

const teamSchema = z.looseObject({ id: z.string().min(1), title: z.string() });

const listSchema = <T extends z.ZodType>(item: T) =>
  z.looseObject({
    items: z.array(item),
    next: z.object({ page: z.string().min(1) }).optional(),
    count: z.number().int().min(0).optional(),
  });

const gitbookErrorBodySchema = z.object({ error: z.object({ message: z.string() }) });

/** GitBook's messages are short; anything longer is cut before it goes into an error. */
const MAX_MESSAGE_CHARS = 500;

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);
const CLOSED_CODES = new Set(['UND_ERR_DESTROYED', 'UND_ERR_CLOSED']);
/** Errors that mean our request was wrong, not that the network failed: rethrown untouched. */
const PROGRAMMING_CODES = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_INVALID_RETURN_VALUE', 'UND_ERR_NOT_SUPPORTED']);

type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

/** One call: what to send and which statuses count as success. */
interface CallSpec {
  operation: string;
  method: HttpMethod;
  /** Path segments after `/orgs/{organizationId}`, not yet encoded. */
  segments: string[];
  query?: Record<string, string | undefined>;
  body?: unknown;
  okStatuses: readonly number[];
}

/** A response, fully read. */
interface Answer {
  status: number;
  headers: Record<string, HeaderValue>;
  text: string;
}

function toIssues(error: z.ZodError): GitBookValidationIssue[] {
  return error.issues.map((issue) => ({
    path: issue.path.length ? issue.path.join('.') : '(root)',
    message: issue.message,
  }));
}

function validate<T extends z.ZodType>(operation: string, schema: T, input: unknown): z.output<T> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new GitBookValidationError(operation, toIssues(parsed.error));
  return parsed.data;
}

/** Identity of a team entry: emails compare trimmed, NFC and case-insensitively; ids exactly. */
function teamEntryKey(entry: string): string {
  return entry.includes('@') ? normalizeEmail(entry) : entry.trim();
}

/** Drops repeated entries (same key), keeping the first spelling. */
function uniqueEntries(entries: string[]): Map<string, string> {
  const byKey = new Map<string, string>();
  for (const entry of entries) {
    const key = teamEntryKey(entry);
    if (!byKey.has(key)) byKey.set(key, entry.trim());
  }
  return byKey;
}

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Client of the GitBook REST API for one organization. Holds one keep-alive connection pool;
 * call {@link GitBookClient.close} when done.
 *
 * @example
 * const gitbook = new GitBookClient({ token, organizationId });
 * const { userIds } = await gitbook.inviteUsers({ emails: ['ada@example.com'], role: 'read' });
 */
export class GitBookClient {
  readonly #options: ResolvedGitBookClientOptions;
  readonly #origin: string;
  readonly #basePath: string;
  readonly #dispatcher: Dispatcher;
  readonly #pacer = new RateLimitPacer();
  readonly #ownsDispatcher: boolean;
  #closing: Promise<void> | undefined;

  /** @throws {GitBookValidationError} when an option is invalid, naming it. */
  constructor(options: GitBookClientOptions) {
    const withDefaults = { ...defaultGitBookClientOptions(), ...stripUndefined(options) };
    this.#options = validate('createClient', optionsSchema, withDefaults) as ResolvedGitBookClientOptions;

    const baseUrl = new URL(this.#options.baseUrl);
    this.#origin = baseUrl.origin;
    this.#basePath = baseUrl.pathname.replace(/\/+$/, '');

    this.#ownsDispatcher = this.#options.dispatcher === undefined;
    this.#dispatcher =
      this.#options.dispatcher ??
      new Pool(this.#origin, {
        connections: this.#options.connections,
        connectTimeout: this.#options.requestTimeoutMs,
      });
  }

  /** The organization this client acts on. */
  get organizationId(): string {
    return this.#options.organizationId;
  }

  /**
   * Invites people to the organization (`POST /orgs/{org}/invites`). Emails in `failedSSOEmails`
   * were invited but not as SSO users: the caller should report them as failed.
   * @throws {GitBookValidationError} before sending when an email or the role is invalid.
   */
  async inviteUsers(input: InviteUsersInput): Promise<InviteUsersResult> {
    const operation = 'inviteUsers';
    const { emails, role, sso } = validate(operation, inviteInputSchema, input);

    const answer = await this.#call({
      operation,
      method: 'POST',
      segments: ['invites'],
      body: { emails, role, sso },
      okStatuses: [200, 201],
    });
    const result = this.#parse(operation, answer, inviteResultSchema);

    return { userIds: result.users, invited: result.invited, failedSSOEmails: result.failedSSOEmails ?? [] };
  }

  /**
   * Every member of the organization, page by page (`GET /orgs/{org}/members`).
   * Stop iterating early to stop fetching pages.
   */
  listMembers(): AsyncIterable<OrganizationMember> {
    return this.#listPages<OrganizationMember>('listMembers', ['members'], {}, memberSchema);
  }

  /**
   * How many members the organization has: the list's `count` from a one-item page, or a count of
   * every page when GitBook leaves `count` out.
   */
  async countMembers(): Promise<number> {
    const operation = 'countMembers';
    const answer = await this.#call({ operation, method: 'GET', segments: ['members'], query: { limit: '1' }, okStatuses: [200] });
    const list = this.#parse(operation, answer, listSchema(memberSchema));
    if (list.count !== undefined) return list.count;

    let total = 0;
    for await (const member of this.listMembers()) if (member) total++;
    return total;
  }

  /**
   * The member whose email is exactly `email`, or `undefined`. GitBook's `search` is fuzzy, so
   * every page of results is checked for an exact match (trimmed, Unicode NFC, case-insensitive).
   */
  async findMemberByEmail(email: string): Promise<OrganizationMember | undefined> {
    const operation = 'findMemberByEmail';
    const search = validate(operation, nonEmptySchema.max(320), email).normalize('NFC');
    const wanted = normalizeEmail(search);

    const members = this.#listPages<OrganizationMember>(operation, ['members'], { search }, memberSchema);
    for await (const member of members) {
      if (member.user.email !== undefined && normalizeEmail(member.user.email) === wanted) return member;
    }
    return undefined;
  }

  /**
   * Removes a member (`DELETE /orgs/{org}/members/{userId}`). Someone who is not a member counts as
   * done (`'not-member'`); `'pending-approval'` means an organization admin must approve.
   */
  async removeMember(userId: string): Promise<RemoveMemberResult> {
    const operation = 'removeMember';
    const id = validate(operation, nonEmptySchema, userId);

    const answer = await this.#call({
      operation,
      method: 'DELETE',
      segments: ['members', id],
      okStatuses: [202, 204, 205],
    });

    if (answer.status === 205) return 'removed';
    if (answer.status === 204) return 'not-member';
    return 'pending-approval';
  }

  /** Sets a member's organization role (`PATCH /orgs/{org}/members/{userId}`). */
  async updateMemberRole(userId: string, role: GitBookMemberRole): Promise<void> {
    const operation = 'updateMemberRole';
    const args = validate(operation, z.object({ userId: nonEmptySchema, role: roleSchema }), { userId, role });

    await this.#call({
      operation,
      method: 'PATCH',
      segments: ['members', args.userId],
      body: { role: args.role },
      okStatuses: [200, 204],
    });
  }

  /**
   * Adds and removes team members (`PUT /orgs/{org}/teams/{teamId}/members`); entries are user ids
   * or emails. Sends the net change: repeated entries are dropped, and nothing is sent when both
   * lists are empty.
   * @throws {GitBookValidationError} before sending when an entry is in both lists (emails compared
   * case-insensitively): GitBook would silently remove such a person.
   */
  async updateTeamMembers(teamId: string, change: TeamMembersChange): Promise<void> {
    const operation = 'updateTeamMembers';
    const args = validate(operation, teamChangeSchema, { teamId, ...change });
    const add = uniqueEntries(args.add);
    const remove = uniqueEntries(args.remove);

    const inBoth = [...add.keys()].filter((key) => remove.has(key));
    if (inBoth.length > 0) {
      throw new GitBookValidationError(operation, [
        { path: 'add/remove', message: `must not both list ${inBoth.join(', ')}` },
      ]);
    }
    if (add.size === 0 && remove.size === 0) return;

    const body: { add?: string[]; remove?: string[] } = {};
    if (add.size > 0) body.add = [...add.values()];
    if (remove.size > 0) body.remove = [...remove.values()];
    await this.#call({
      operation,
      method: 'PUT',
      segments: ['teams', args.teamId, 'members'],
      body,
      okStatuses: [200, 204],
    });
  }

  /** Every team of the organization, all pages (`GET /orgs/{org}/teams`). */
  async listTeams(): Promise<OrganizationTeam[]> {
    const teams: OrganizationTeam[] = [];
    for await (const team of this.#listPages<OrganizationTeam>('listTeams', ['teams'], {}, teamSchema)) {
      teams.push(team);
    }
    return teams;
  }

  /** Closes the client's own connection pool (not a dispatcher passed in). Safe to call twice. */
  close(): Promise<void> {
    this.#closing ??= this.#ownsDispatcher ? this.#dispatcher.close() : Promise.resolve();
    return this.#closing;
  }

  /**
   * Follows `next.page` until the last page. The schema checks each item; items are then trusted
   * to match the `@gitbook/api` type `T`.
   */
  async *#listPages<T>(
    operation: string,
    segments: string[],
    query: Record<string, string>,
    itemSchema: z.ZodType,
  ): AsyncGenerator<T, void, undefined> {
    const seenPages = new Set<string>();
    let page: string | undefined;

    do {
      const answer = await this.#call({
        operation,
        method: 'GET',
        segments,
        query: { ...query, limit: String(this.#options.pageSize), page },
        okStatuses: [200],
      });
      const list = this.#parse(operation, answer, listSchema(itemSchema));
      yield* list.items as T[];

      page = list.next?.page;
      if (page !== undefined && seenPages.has(page)) {
        // A server that hands back an earlier page would otherwise keep us looping forever.
        throw new GitBookResponseError({ operation, status: answer.status, problem: 'next.page repeats a page' });
      }
      if (page !== undefined) seenPages.add(page);
    } while (page !== undefined);
  }

  /** Sends one request and checks its status; any other status becomes the matching error. */
  async #call(spec: CallSpec): Promise<Answer> {
    if (this.#closing) throw new GitBookClientClosedError(spec.operation);

    const answer = await this.#send(spec);
    if (!spec.okStatuses.includes(answer.status)) throw this.#statusError(spec.operation, answer);
    return answer;
  }

  async #send(spec: CallSpec): Promise<Answer> {
    // GitBook's window is used up: wait for its reset rather than spend a call on a 429.
    const waitMs = await this.#pacer.reserve();
    if (waitMs !== undefined) {
      const gitbookMessage = 'the rate-limit window is used up; no request sent';
      throw new GitBookRateLimitError({ operation: spec.operation, status: 429, retryAfterMs: waitMs, gitbookMessage });
    }

    const headers: Record<string, string> = {
      accept: 'application/json',
      authorization: `Bearer ${this.#options.token}`,
      'user-agent': this.#options.userAgent,
    };
    if (spec.body !== undefined) headers['content-type'] = 'application/json';

    try {
      const response = await this.#dispatcher.request({
        origin: this.#origin,
        path: this.#path(spec),
        method: spec.method,
        headers,
        body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
        headersTimeout: this.#options.requestTimeoutMs,
        bodyTimeout: this.#options.requestTimeoutMs,
      });
      const text = await response.body.text();
      this.#pacer.observe(response.headers);
      return { status: response.statusCode, headers: response.headers, text };
    } catch (err) {
      throw this.#transportError(spec.operation, err);
    }
  }

  /** `{basePath}/orgs/{org}/{segments}?{query}`, each path segment and query value encoded. */
  #path(spec: CallSpec): string {
    const segments = ['orgs', this.#options.organizationId, ...spec.segments].map(encodeURIComponent);
    const path = `${this.#basePath}/${segments.join('/')}`;

    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(spec.query ?? {})) {
      if (value !== undefined) query.set(name, value);
    }
    const search = query.toString();
    return search ? `${path}?${search}` : path;
  }

  #transportError(operation: string, err: unknown): unknown {
    const causeCode = errorCode(err);
    if (causeCode !== undefined && PROGRAMMING_CODES.has(causeCode)) return err;
    if (this.#closing || (causeCode !== undefined && CLOSED_CODES.has(causeCode))) {
      return new GitBookClientClosedError(operation);
    }

    const timeoutMs = this.#options.requestTimeoutMs;
    if (causeCode !== undefined && TIMEOUT_CODES.has(causeCode)) {
      return new GitBookTimeoutError({ operation, timeoutMs, causeCode, cause: err });
    }
    return new GitBookNetworkError({ operation, cause: err, ...(causeCode === undefined ? {} : { causeCode }) });
  }

  #statusError(operation: string, answer: Answer): GitBookError {
    const { status } = answer;
    const context: GitBookHttpErrorContext = { operation, status };
    const gitbookMessage = this.#gitbookMessage(answer.text);
    if (gitbookMessage !== undefined) context.gitbookMessage = gitbookMessage;

    switch (status) {
      case 400:
        return new GitBookBadRequestError(context);
      case 401:
        return new GitBookUnauthorizedError(context);
      case 403:
        return new GitBookForbiddenError(context);
      case 404:
        return new GitBookNotFoundError(context);
      case 422:
        return new GitBookUnprocessableError(context);
      case 429: {
        const maxWaitMs = this.#options.maxRateLimitWaitMs;
        const rateLimit = readRateLimitHeaders({ headers: answer.headers, nowMs: Date.now(), maxWaitMs });
        return new GitBookRateLimitError({ ...context, ...rateLimit });
      }
    }
    if (status >= 500) return new GitBookServerError(context);

    const problem = gitbookMessage ? `unexpected status: ${gitbookMessage}` : 'unexpected status';
    return new GitBookResponseError({ operation, status, problem });
  }

  /** GitBook's `error.message`, shortened and with the token scrubbed, if the body has one. */
  #gitbookMessage(text: string): string | undefined {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return undefined;
    }
    const parsed = gitbookErrorBodySchema.safeParse(body);
    if (!parsed.success) return undefined;
    return this.#redact(parsed.data.error.message.slice(0, MAX_MESSAGE_CHARS));
  }

  /** Parses a JSON body and checks it against `schema`; a mismatch names the field. */
  #parse<T extends z.ZodType>(operation: string, answer: Answer, schema: T): z.output<T> {
    let body: unknown;
    try {
      body = JSON.parse(answer.text);
    } catch (err) {
      throw new GitBookResponseError({ operation, status: answer.status, problem: 'body is not JSON', cause: err });
    }

    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      const problem = toIssues(parsed.error)
        .map((issue) => `${issue.path}: ${issue.message}`)
        .join('; ');
      throw new GitBookResponseError({ operation, status: answer.status, problem: this.#redact(problem) });
    }
    return parsed.data;
  }

  /** Belt and braces: GitBook should never echo the token, but if it did, it stops here. */
  #redact(text: string): string {
    return text.split(this.#options.token).join('[redacted]');
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as Partial<T>;
}
