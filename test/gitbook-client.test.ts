/**
 * The GitBook client against a scripted HTTP server on 127.0.0.1: a stand-in for GitBook that
 * answers what each test queues and records every request as it arrived on the wire.
 */
import { once } from 'node:events';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';

import type { OrganizationMember, OrganizationTeam } from '@gitbook/api';
import { Agent } from 'undici';

import {
  DEFAULT_RATE_LIMIT_WAIT_MS,
  GitBookBadRequestError,
  GitBookClient,
  GitBookClientClosedError,
  GitBookError,
  GitBookErrorCode,
  GitBookForbiddenError,
  GitBookInviteSSOError,
  GitBookNetworkError,
  GitBookNotFoundError,
  GitBookRateLimitError,
  GitBookResponseError,
  GitBookServerError,
  GitBookTimeoutError,
  GitBookUnauthorizedError,
  GitBookUnprocessableError,
  GitBookValidationError,
  isRetryableGitBookError,
  readRateLimitHeaders,
  type GitBookClientOptions,
} from '../src/gitbook';
import { validateRequestBody, validateResponseBody } from '../src/gitbook/openapi';
import { startSandbox, type GitBookSandbox, type SandboxSeed } from '../src/sandbox';

const TOKEN = 'sandbox-S3cr3tT0kenThatMustNeverLeak';
const ORG = 'org_1';

interface RecordedRequest {
  method: string;
  /** The request target exactly as sent, e.g. `/v1/orgs/org_1/members?search=a%2Bb%40c.d`. */
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** What the fake answers: a JSON reply, or a handler that does something odd with the socket. */
type ScriptedReply =
  | { status: number; body?: unknown; headers?: Record<string, string> }
  | ((req: IncomingMessage, res: ServerResponse) => void);

/** A fake GitBook: replies are consumed in order; with none left it answers 500. */
class ScriptedGitBook {
  readonly requests: RecordedRequest[] = [];
  readonly #replies: ScriptedReply[] = [];

  private constructor(
    readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<ScriptedGitBook> {
    let fake: ScriptedGitBook | undefined;
    const server = createServer((req, res) => void fake?.handle(req, res));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    fake = new ScriptedGitBook(server, `http://127.0.0.1:${port}/v1`);
    return fake;
  }

  reply(...replies: ScriptedReply[]): void {
    this.#replies.push(...replies);
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    this.requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
    });

    const reply = this.#replies.shift() ?? { status: 500, body: errorBody(500, 'no reply scripted') };
    if (typeof reply === 'function') return reply(req, res);

    const isText = typeof reply.body === 'string';
    const text = isText ? String(reply.body) : reply.body === undefined ? '' : JSON.stringify(reply.body);
    const type = isText ? 'text/plain' : 'application/json';
    res.writeHead(reply.status, { ...(text ? { 'content-type': type } : {}), ...reply.headers });
    res.end(text);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }
}

function member(id: string, email: string): OrganizationMember {
  return {
    object: 'member',
    id,
    role: 'read' as OrganizationMember['role'],
    user: {
      object: 'user',
      id,
      displayName: email.split('@')[0] ?? id,
      email,
      urls: { location: `https://api.gitbook.com/v1/users/${id}` },
    },
    disabled: false,
    joinedAt: '2026-01-01T00:00:00.000Z',
    sso: false,
    spaces: 0,
    teams: 0,
    sites: 0,
  };
}

function team(id: string, title: string): OrganizationTeam {
  return {
    object: 'team',
    id,
    title,
    members: 0,
    spaces: 0,
    createdAt: '2026-01-01T00:00:00.000Z',
    permissions: { admin: true, view: true },
  };
}

/** A page of members, checked against the spec so the fake never says what GitBook could not. */
function membersPage(items: OrganizationMember[], nextPage?: string) {
  const body = { items, ...(nextPage ? { next: { page: nextPage } } : {}) };
  expect(validateResponseBody('listMembersInOrganizationById', 200, body)).toEqual({ ok: true });
  return { status: 200, body };
}

function errorBody(status: number, message: string) {
  return { error: { code: status, message } };
}

/** Runs `action` and returns what it threw (failing the test when it does not throw). */
async function caught(action: () => Promise<unknown>): Promise<unknown> {
  try {
    await action();
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to throw');
}

describe('GitBookClient', () => {
  let gitbook: ScriptedGitBook;
  let client: GitBookClient;

  function makeClient(options: Partial<GitBookClientOptions> = {}): GitBookClient {
    return new GitBookClient({ baseUrl: gitbook.url, token: TOKEN, organizationId: ORG, ...options });
  }

  beforeEach(async () => {
    gitbook = await ScriptedGitBook.start();
    client = makeClient();
  });

  afterEach(async () => {
    await client.close();
    await gitbook.close();
  });

  describe('options', () => {
    it.each([
      ['requestTimeoutMs', { requestTimeoutMs: -1 }],
      ['organizationId', { organizationId: 'org/../other' }],
      ['baseUrl', { baseUrl: 'ftp://127.0.0.1/v1' }],
      ['token', { token: '' }],
      ['connections', { connections: 0 }],
      ['maxRateLimitWaitMs', { maxRateLimitWaitMs: 1.5 }],
    ])('rejects a bad %s, naming it', (field, override) => {
      const build = () => new GitBookClient({ token: TOKEN, organizationId: ORG, ...override });

      expect(build).toThrow(GitBookValidationError);
      expect(build).toThrow(new RegExp(`${field}:`));
    });

    it('applies the defaults when options are left out', async () => {
      const defaults = new GitBookClient({ token: TOKEN, organizationId: ORG });

      expect(defaults.organizationId).toBe(ORG);
      await defaults.close();
    });
  });

  describe('inviteUsers', () => {
    it('posts emails, role and sso as the spec describes and returns the user ids', async () => {
      gitbook.reply({ status: 200, body: { users: ['u_1', 'u_2'], invited: 2 } });

      const emails = ['ada@example.com', 'qa+docs@example.com'];

      const result = await client.inviteUsers({ emails, role: 'edit', sso: true });

      expect(result).toEqual({ userIds: ['u_1', 'u_2'], invited: 2, failedSSOEmails: [] });
      const [request] = gitbook.requests;
      expect(request?.method).toBe('POST');
      expect(request?.url).toBe('/v1/orgs/org_1/invites');
      expect(request?.headers.authorization).toBe(`Bearer ${TOKEN}`);
      expect(request?.headers['content-type']).toBe('application/json');
      const body = JSON.parse(request?.body ?? '');
      expect(body).toEqual({ emails: ['ada@example.com', 'qa+docs@example.com'], role: 'edit', sso: true });
      expect(validateRequestBody('inviteUsersToOrganization', body)).toEqual({ ok: true });
    });

    it('returns failedSSOEmails, which callers can report with GitBookInviteSSOError', async () => {
      gitbook.reply({ status: 200, body: { users: ['u_1'], invited: 1, failedSSOEmails: ['ada@example.com'] } });

      const result = await client.inviteUsers({ emails: ['ada@example.com'], sso: true });
      const error = new GitBookInviteSSOError(result.failedSSOEmails);

      expect(result.failedSSOEmails).toEqual(['ada@example.com']);
      expect(error).toMatchObject({
        code: 'GITBOOK_INVITE_SSO_FAILED',
        emails: ['ada@example.com'],
        retryable: false,
        operation: 'inviteUsers',
      });
      expect(error.message).toContain('ada@example.com');
    });

    it('rejects a malformed email before sending anything', async () => {
      const error = await caught(() => client.inviteUsers({ emails: ['ada@example.com', 'not-an-email'] }));

      expect(error).toBeInstanceOf(GitBookValidationError);
      expect((error as GitBookValidationError).issues).toEqual([
        { path: 'emails.1', message: 'must be an email address' },
      ]);
      expect(gitbook.requests).toHaveLength(0);
    });

    it('rejects an unknown role before sending anything', async () => {
      const error = await caught(() => client.inviteUsers({ emails: ['ada@example.com'], role: 'owner' as 'admin' }));

      expect(error).toBeInstanceOf(GitBookValidationError);
      expect((error as Error).message).toMatch(/role:/);
      expect(gitbook.requests).toHaveLength(0);
    });
  });

  describe('findMemberByEmail', () => {
    it('follows next.page across pages and matches the email exactly, ignoring case and fuzzy hits', async () => {
      gitbook.reply(
        membersPage([member('u_near', 'qa+docs@example.com.au'), member('u_other', 'qa@example.com')], 'p2'),
        membersPage([member('u_near2', 'xqa+docs@example.com')], 'p3'),
        membersPage([member('u_target', ' QA+Docs@Example.COM ')]),
      );

      const found = await client.findMemberByEmail('qa+docs@example.com');

      expect(found?.id).toBe('u_target');
      expect(gitbook.requests.map((request) => request.url)).toEqual([
        '/v1/orgs/org_1/members?search=qa%2Bdocs%40example.com&limit=100',
        '/v1/orgs/org_1/members?search=qa%2Bdocs%40example.com&limit=100&page=p2',
        '/v1/orgs/org_1/members?search=qa%2Bdocs%40example.com&limit=100&page=p3',
      ]);
    });

    it('stops fetching pages once it found the member', async () => {
      gitbook.reply(membersPage([member('u_1', 'ada@example.com')], 'p2'));

      const found = await client.findMemberByEmail('ADA@example.com');

      expect(found?.id).toBe('u_1');
      expect(gitbook.requests).toHaveLength(1);
    });

    it('returns undefined when only near misses come back', async () => {
      gitbook.reply(
        membersPage([member('u_1', 'ada@example.co')], 'p2'),
        membersPage([member('u_2', 'ada.l@example.com')]),
      );

      await expect(client.findMemberByEmail('ada@example.com')).resolves.toBeUndefined();
      expect(gitbook.requests).toHaveLength(2);
    });

    it('compares emails in Unicode NFC', async () => {
      gitbook.reply(membersPage([member('u_jose', 'JOS\u00c9@example.com')]));

      const found = await client.findMemberByEmail('jose\u0301@example.com');

      expect(found?.id).toBe('u_jose');
      expect(gitbook.requests[0]?.url).toBe('/v1/orgs/org_1/members?search=jos%C3%A9%40example.com&limit=100');
    });

    it('fails with a response error when a page repeats, instead of looping', async () => {
      gitbook.reply(membersPage([], 'p2'), membersPage([], 'p2'));

      const error = await caught(() => client.findMemberByEmail('ada@example.com'));

      expect(error).toBeInstanceOf(GitBookResponseError);
      expect(gitbook.requests).toHaveLength(2);
    });
  });

  describe('listMembers and listTeams', () => {
    it('lists members over every page', async () => {
      gitbook.reply(
        membersPage([member('u_1', 'a@example.com')], 'p2'),
        membersPage([member('u_2', 'b@example.com')], 'p3'),
        membersPage([member('u_3', 'c@example.com')]),
      );

      const ids: string[] = [];
      for await (const found of client.listMembers()) ids.push(found.id);

      expect(ids).toEqual(['u_1', 'u_2', 'u_3']);
      expect(gitbook.requests[0]?.url).toBe('/v1/orgs/org_1/members?limit=100');
    });

    it('lists teams over every page', async () => {
      gitbook.reply(
        { status: 200, body: { items: [team('t_1', 'Docs')], next: { page: 'b' } } },
        { status: 200, body: { items: [team('t_2', 'Support')], next: { page: 'c' } } },
        { status: 200, body: { items: [team('t_3', 'Sales')] } },
      );

      const teams = await client.listTeams();

      expect(teams.map((found) => found.title)).toEqual(['Docs', 'Support', 'Sales']);
      expect(gitbook.requests.map((request) => request.url)).toEqual([
        '/v1/orgs/org_1/teams?limit=100',
        '/v1/orgs/org_1/teams?limit=100&page=b',
        '/v1/orgs/org_1/teams?limit=100&page=c',
      ]);
    });
  });

  describe('removeMember', () => {
    it.each([
      [205, 'removed'],
      [204, 'not-member'],
      [202, 'pending-approval'],
    ])('maps HTTP %i to %s', async (status, outcome) => {
      gitbook.reply({ status });

      await expect(client.removeMember('u_1')).resolves.toBe(outcome);
      expect(gitbook.requests[0]).toMatchObject({ method: 'DELETE', url: '/v1/orgs/org_1/members/u_1' });
    });

    it('encodes the user id as one path segment', async () => {
      gitbook.reply({ status: 205 });

      await client.removeMember('a/b?c');

      expect(gitbook.requests[0]?.url).toBe('/v1/orgs/org_1/members/a%2Fb%3Fc');
    });

    it('treats a 200 as an unexpected, retryable answer', async () => {
      gitbook.reply({ status: 200, body: {} });

      const error = await caught(() => client.removeMember('u_1'));

      expect(error).toBeInstanceOf(GitBookResponseError);
      expect(error).toMatchObject({ status: 200, retryable: true, code: 'GITBOOK_UNEXPECTED_RESPONSE' });
    });
  });

  describe('updateMemberRole', () => {
    it('patches the role', async () => {
      gitbook.reply({ status: 200, body: member('u_1', 'ada@example.com') });

      await client.updateMemberRole('u_1', 'admin');

      const [request] = gitbook.requests;
      expect(request).toMatchObject({ method: 'PATCH', url: '/v1/orgs/org_1/members/u_1' });
      const body = JSON.parse(request?.body ?? '');
      expect(body).toEqual({ role: 'admin' });
      expect(validateRequestBody('updateMemberInOrganizationById', body)).toEqual({ ok: true });
    });
  });

  describe('updateTeamMembers', () => {
    it('sends the net change without repeated entries', async () => {
      gitbook.reply({ status: 204 });

      await client.updateTeamMembers('t_1', {
        add: ['u_1', 'Ada@example.com', 'u_1', 'ada@EXAMPLE.com'],
        remove: ['u_2', 'u_2'],
      });

      const [request] = gitbook.requests;
      expect(request).toMatchObject({ method: 'PUT', url: '/v1/orgs/org_1/teams/t_1/members' });
      const body = JSON.parse(request?.body ?? '');
      expect(body).toEqual({ add: ['u_1', 'Ada@example.com'], remove: ['u_2'] });
      expect(validateRequestBody('updateMembersInOrganizationTeam', body)).toEqual({ ok: true });
    });

    it('omits an empty list', async () => {
      gitbook.reply({ status: 204 });

      await client.updateTeamMembers('t_1', { remove: ['u_2'] });

      expect(JSON.parse(gitbook.requests[0]?.body ?? '')).toEqual({ remove: ['u_2'] });
    });

    it('refuses an entry in both lists, comparing emails case-insensitively, and sends nothing', async () => {
      const error = await caught(() =>
        client.updateTeamMembers('t_1', { add: ['u_1', 'Ada@Example.com'], remove: ['ada@example.com'] }),
      );

      expect(error).toBeInstanceOf(GitBookValidationError);
      expect(error).toMatchObject({ code: 'GITBOOK_INVALID_ARGUMENT', retryable: false });
      expect((error as Error).message).toContain('ada@example.com');
      expect(gitbook.requests).toHaveLength(0);
    });

    it('sends nothing when both lists are empty', async () => {
      await client.updateTeamMembers('t_1', { add: [], remove: [] });
      await client.updateTeamMembers('t_1', {});

      expect(gitbook.requests).toHaveLength(0);
    });
  });

  describe('HTTP errors', () => {
    it.each([
      { status: 400, ErrorClass: GitBookBadRequestError, code: 'GITBOOK_BAD_REQUEST' },
      { status: 401, ErrorClass: GitBookUnauthorizedError, code: 'GITBOOK_UNAUTHORIZED' },
      { status: 403, ErrorClass: GitBookForbiddenError, code: 'GITBOOK_FORBIDDEN' },
      { status: 404, ErrorClass: GitBookNotFoundError, code: 'GITBOOK_NOT_FOUND' },
      { status: 422, ErrorClass: GitBookUnprocessableError, code: 'GITBOOK_UNPROCESSABLE' },
    ])('turns $status into a permanent $code error with GitBook’s message', async ({ status, ErrorClass, code }) => {
      gitbook.reply({ status, body: errorBody(status, `GitBook says no (${status})`) });

      const error = await caught(() => client.removeMember('u_1'));

      expect(error).toBeInstanceOf(ErrorClass);
      expect(error).toMatchObject({
        code,
        status,
        retryable: false,
        operation: 'removeMember',
        gitbookMessage: `GitBook says no (${status})`,
      });
      expect((error as Error).message).toBe(
        `GitBook removeMember failed with HTTP ${status}: GitBook says no (${status})`,
      );
      expect(isRetryableGitBookError(error)).toBe(false);
    });

    it.each([500, 502, 503])('turns %i into a retryable server error', async (status) => {
      gitbook.reply({ status, body: 'upstream trouble' });

      const error = await caught(() => client.listTeams());

      expect(error).toBeInstanceOf(GitBookServerError);
      expect(error).toMatchObject({ code: 'GITBOOK_SERVER_ERROR', status, retryable: true, operation: 'listTeams' });
      expect(isRetryableGitBookError(error)).toBe(true);
    });

    it('treats an undocumented 4xx as permanent and a 3xx as retryable', async () => {
      gitbook.reply(
        { status: 409, body: errorBody(409, 'conflict') },
        { status: 302, headers: { location: '/elsewhere' } },
      );

      const conflict = await caught(() => client.updateMemberRole('u_1', 'read'));
      const redirect = await caught(() => client.updateMemberRole('u_1', 'read'));

      expect(conflict).toMatchObject({ name: 'GitBookResponseError', status: 409, retryable: false });
      expect((conflict as Error).message).toContain('conflict');
      expect(redirect).toMatchObject({ name: 'GitBookResponseError', status: 302, retryable: true });
    });
  });

  describe('rate limits', () => {
    it('waits until X-RateLimit-Reset and reports limit and remaining', async () => {
      const resetSeconds = Math.floor(Date.now() / 1_000) + 5;
      gitbook.reply({
        status: 429,
        body: errorBody(429, 'Too many requests'),
        headers: {
          'x-ratelimit-limit': '100',
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': String(resetSeconds),
        },
      });

      const error = await caught(() => client.inviteUsers({ emails: ['ada@example.com'] }));

      expect(error).toBeInstanceOf(GitBookRateLimitError);
      const rateLimit = error as GitBookRateLimitError;
      expect(rateLimit).toMatchObject({
        code: 'GITBOOK_RATE_LIMITED',
        status: 429,
        retryable: true,
        limit: 100,
        remaining: 0,
      });
      expect(rateLimit.retryAfterMs).toBeGreaterThan(3_000);
      expect(rateLimit.retryAfterMs).toBeLessThanOrEqual(5_000);
    });

    it('falls back to Retry-After in seconds', async () => {
      gitbook.reply({ status: 429, headers: { 'retry-after': '7' } });

      const error = await caught(() => client.removeMember('u_1'));

      expect(error).toMatchObject({ name: 'GitBookRateLimitError', retryAfterMs: 7_000 });
    });

    it('caps the wait at maxRateLimitWaitMs', async () => {
      const capped = makeClient({ maxRateLimitWaitMs: 2_000 });
      gitbook.reply({ status: 429, headers: { 'x-ratelimit-reset': String(Math.floor(Date.now() / 1_000) + 3_600) } });

      try {
        const error = await caught(() => capped.removeMember('u_1'));
        expect(error).toMatchObject({ name: 'GitBookRateLimitError', retryAfterMs: 2_000 });
      } finally {
        await capped.close();
      }
    });

    it('waits one second when no header says how long', async () => {
      gitbook.reply({ status: 429 });

      const error = await caught(() => client.removeMember('u_1'));

      expect(error).toMatchObject({ retryAfterMs: DEFAULT_RATE_LIMIT_WAIT_MS });
    });
  });

  describe('readRateLimitHeaders', () => {
    const nowMs = Date.parse('2026-12-04T12:00:00.000Z');
    const nowSeconds = nowMs / 1_000;

    it.each([
      ['a reset 30 s ahead', { 'x-ratelimit-reset': String(nowSeconds + 30) }, 30_000],
      ['a reset in the past', { 'x-ratelimit-reset': String(nowSeconds - 30) }, 0],
      ['a reset that looks like a delay in seconds', { 'x-ratelimit-reset': '12' }, 12_000],
      ['a reset before Retry-After', { 'x-ratelimit-reset': String(nowSeconds + 3), 'retry-after': '50' }, 3_000],
      ['Retry-After in seconds', { 'retry-after': '4' }, 4_000],
      ['Retry-After as an HTTP date', { 'retry-after': 'Fri, 04 Dec 2026 12:00:20 GMT' }, 20_000],
      ['Retry-After as a past HTTP date', { 'retry-after': 'Fri, 04 Dec 2026 11:00:00 GMT' }, 0],
      ['a garbled header', { 'retry-after': 'soon' }, DEFAULT_RATE_LIMIT_WAIT_MS],
      ['a wait above the cap', { 'retry-after': '600' }, 60_000],
    ])('reads %s', (_case, headers, expectedMs) => {
      expect(readRateLimitHeaders({ headers, nowMs, maxWaitMs: 60_000 }).retryAfterMs).toBe(expectedMs);
    });
  });

  describe('transport failures', () => {
    it('reports a connection reset as a retryable network error', async () => {
      gitbook.reply((req) => req.socket.resetAndDestroy());

      const error = await caught(() => client.removeMember('u_1'));

      expect(error).toBeInstanceOf(GitBookNetworkError);
      expect(error).toMatchObject({ code: 'GITBOOK_NETWORK_ERROR', retryable: true, operation: 'removeMember' });
    });

    it('reports a refused connection as a retryable network error', async () => {
      const url = gitbook.url;
      await gitbook.close();
      const refused = new GitBookClient({ baseUrl: url, token: TOKEN, organizationId: ORG });
      gitbook = await ScriptedGitBook.start();

      try {
        const error = await caught(() => refused.listTeams());
        expect(error).toMatchObject({ name: 'GitBookNetworkError', causeCode: 'ECONNREFUSED', retryable: true });
      } finally {
        await refused.close();
      }
    });

    it('times out when GitBook never answers', async () => {
      const impatient = makeClient({ requestTimeoutMs: 200 });
      gitbook.reply(() => undefined);
      const startedMs = Date.now();

      try {
        const error = await caught(() => impatient.findMemberByEmail('ada@example.com'));
        expect(error).toBeInstanceOf(GitBookTimeoutError);
        expect(error).toMatchObject({ code: 'GITBOOK_TIMEOUT', retryable: true, timeoutMs: 200 });
        expect(Date.now() - startedMs).toBeLessThan(2_000);
      } finally {
        await impatient.close();
      }
    });

    it('times out when the body stalls after the headers', async () => {
      const impatient = makeClient({ requestTimeoutMs: 200 });
      gitbook.reply((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"items": [');
      });

      try {
        const error = await caught(() => impatient.listTeams());
        expect(error).toMatchObject({ name: 'GitBookTimeoutError', causeCode: 'UND_ERR_BODY_TIMEOUT' });
      } finally {
        await impatient.close();
      }
    });
  });

  describe('response shapes', () => {
    it('rejects an invite answer without users, naming the field', async () => {
      gitbook.reply({ status: 200, body: { invited: 1 } });

      const error = await caught(() => client.inviteUsers({ emails: ['ada@example.com'] }));

      expect(error).toBeInstanceOf(GitBookResponseError);
      expect(error).toMatchObject({ status: 200, retryable: true, code: 'GITBOOK_UNEXPECTED_RESPONSE' });
      expect((error as Error).message).toMatch(/users:/);
    });

    it('rejects a member without a user id', async () => {
      const broken = { ...member('u_1', 'ada@example.com'), user: { object: 'user', displayName: 'Ada' } };
      gitbook.reply({ status: 200, body: { items: [broken] } });

      const error = await caught(() => client.findMemberByEmail('ada@example.com'));

      expect(error).toBeInstanceOf(GitBookResponseError);
      expect((error as Error).message).toMatch(/items\.0\.user\.id:/);
    });

    it('rejects a body that is not JSON', async () => {
      gitbook.reply({ status: 200, body: '<html>maintenance</html>' });

      const error = await caught(() => client.listTeams());

      expect(error).toBeInstanceOf(GitBookResponseError);
      expect((error as Error).message).toMatch(/not JSON/);
    });
  });

  describe('lifecycle', () => {
    it('refuses calls after close', async () => {
      await client.close();

      const error = await caught(() => client.listTeams());

      expect(error).toBeInstanceOf(GitBookClientClosedError);
      expect(gitbook.requests).toHaveLength(0);
    });

    it('sends through a dispatcher passed in and leaves it open on close', async () => {
      const agent = new Agent();
      const shared = makeClient({ dispatcher: agent, userAgent: 'sync-test/1' });
      gitbook.reply({ status: 205 }, { status: 204 });

      try {
        await expect(shared.removeMember('u_1')).resolves.toBe('removed');
        await shared.close();
        expect(agent.closed).toBe(false);
        expect(gitbook.requests[0]?.headers['user-agent']).toBe('sync-test/1');
      } finally {
        await agent.close();
      }
    });
  });

  describe('secrets', () => {
    it('never puts the token in an error, its JSON, its string, its stack or its inspection', async () => {
      const impatient = makeClient({ requestTimeoutMs: 200 });
      gitbook.reply(
        // A server that echoes the token back must not get it into our errors either.
        { status: 401, body: errorBody(401, `invalid token ${TOKEN}`) },
        { status: 429, headers: { 'retry-after': '1' } },
        { status: 503 },
        { status: 200, body: { users: [TOKEN], invited: 'one' } },
        (req) => req.socket.resetAndDestroy(),
        () => undefined,
      );

      const errors = [
        await caught(() => client.removeMember('u_1')),
        await caught(() => client.removeMember('u_1')),
        await caught(() => client.removeMember('u_1')),
        await caught(() => client.inviteUsers({ emails: ['ada@example.com'] })),
        await caught(() => client.listTeams()),
        await caught(() => impatient.listTeams()),
        await caught(() => client.inviteUsers({ emails: [TOKEN] })),
        caughtSync(() => new GitBookClient({ token: `${TOKEN} with a space`, organizationId: ORG })),
      ];
      await impatient.close();

      expect(errors.map((error) => (error as GitBookError).code)).toEqual([
        GitBookErrorCode.unauthorized,
        GitBookErrorCode.rateLimited,
        GitBookErrorCode.serverError,
        GitBookErrorCode.unexpectedResponse,
        GitBookErrorCode.networkError,
        GitBookErrorCode.timeout,
        GitBookErrorCode.invalidArgument,
        GitBookErrorCode.invalidArgument,
      ]);
      for (const error of errors) {
        const stack = (error as Error).stack ?? '';
        const views = [JSON.stringify(error), String(error), stack, inspect(error, { depth: 5 })];
        for (const view of views) expect(view).not.toContain(TOKEN);
      }
      expect(JSON.parse(JSON.stringify(errors[0]))).toEqual({
        name: 'GitBookUnauthorizedError',
        code: 'GITBOOK_UNAUTHORIZED',
        message: 'GitBook removeMember failed with HTTP 401: invalid token [redacted]',
        retryable: false,
        status: 401,
        operation: 'removeMember',
        gitbookMessage: 'invalid token [redacted]',
      });
    });
  });
});

function caughtSync(action: () => unknown): unknown {
  try {
    action();
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to throw');
}

describe('GitBookClient against the GitBook sandbox', () => {
  const seed: SandboxSeed = {
    members: [
      { id: 'u_ada', email: 'ada@example.com', role: 'read' },
      { id: 'u_qa', email: 'QA+Docs@Example.com', role: 'edit' },
      { id: 'u_near1', email: 'xqa+docs@example.com' },
      { id: 'u_near2', email: 'qa+docs@example.com.au' },
      { id: 'u_boss', email: 'boss@example.com', role: 'admin' },
    ],
    teams: [
      { id: 't_docs', title: 'Docs', memberIds: ['u_ada'] },
      { id: 't_support', title: 'Support' },
      { id: 't_sales', title: 'Sales' },
    ],
    foreignSsoEmails: ['taken@elsewhere.example'],
    approvalRequiredUserIds: ['u_boss'],
  };
  let sandbox: GitBookSandbox;
  let client: GitBookClient;

  beforeEach(async () => {
    sandbox = await startSandbox({ token: TOKEN, organizationId: ORG, seed });
    client = new GitBookClient({ baseUrl: sandbox.url, token: TOKEN, organizationId: ORG, pageSize: 2 });
  });

  afterEach(async () => {
    await client.close();
    await sandbox.close();
  });

  it('invites people and reports SSO failures', async () => {
    const invited = await client.inviteUsers({ emails: ['new+hire@example.com'], role: 'edit' });
    const sso = await client.inviteUsers({ emails: ['taken@elsewhere.example'], sso: true });

    expect(invited.userIds).toHaveLength(1);
    const joined = sandbox.state().members.find((found) => found.email === 'new+hire@example.com');
    expect(joined).toMatchObject({ id: invited.userIds[0], role: 'edit' });
    expect(sso.failedSSOEmails).toEqual(['taken@elsewhere.example']);
  });

  it('finds a member by exact email despite fuzzy hits and sends the + encoded', async () => {
    const found = await client.findMemberByEmail('qa+docs@example.com');

    expect(found?.id).toBe('u_qa');
    const [firstCall] = sandbox.state().calls;
    expect(firstCall?.query.search).toBe('qa+docs@example.com');
    await expect(client.findMemberByEmail('nobody@example.com')).resolves.toBeUndefined();
  });

  it('lists every member and team across pages', async () => {
    const ids: string[] = [];
    for await (const found of client.listMembers()) ids.push(found.id);
    const teams = await client.listTeams();

    expect(ids.sort()).toEqual(['u_ada', 'u_boss', 'u_near1', 'u_near2', 'u_qa']);
    expect(teams.map((found) => found.id).sort()).toEqual(['t_docs', 't_sales', 't_support']);
    const memberPages = sandbox.state().calls.filter((call) => call.path === '/v1/orgs/org_1/members');
    expect(memberPages).toHaveLength(3);
  });

  it('removes a member, then finds them gone, and reports removals that need approval', async () => {
    await expect(client.removeMember('u_ada')).resolves.toBe('removed');
    await expect(client.removeMember('u_ada')).resolves.toBe('not-member');
    await expect(client.removeMember('u_boss')).resolves.toBe('pending-approval');

    expect(sandbox.state().members.map((found) => found.id)).not.toContain('u_ada');
  });

  it('changes a role and team membership', async () => {
    await client.updateMemberRole('u_ada', 'admin');
    await client.updateTeamMembers('t_docs', { add: ['qa+docs@example.com', 'u_near1'], remove: ['u_ada'] });

    const state = sandbox.state();
    expect(state.members.find((found) => found.id === 'u_ada')?.role).toBe('admin');
    expect(state.teams.find((found) => found.id === 't_docs')?.memberIds.sort()).toEqual(['u_near1', 'u_qa']);
  });

  it('turns injected faults into the matching errors', async () => {
    const impatient = new GitBookClient({
      baseUrl: sandbox.url,
      token: TOKEN,
      organizationId: ORG,
      requestTimeoutMs: 200,
    });
    sandbox.injectFault({ kind: 'status', status: 503 });
    sandbox.injectFault({ kind: 'rate-limit', resetInMs: 10_000 });
    sandbox.injectFault({ kind: 'reset' });
    sandbox.injectFault({ kind: 'status', status: 404 });
    sandbox.injectFault({ kind: 'delay', delayMs: 2_000 });

    try {
      const errors = [
        await caught(() => client.listTeams()),
        await caught(() => client.listTeams()),
        // `client` now knows the window is used up: the next faults go through another client.
        await caught(() => impatient.listTeams()),
        await caught(() => impatient.listTeams()),
        await caught(() => impatient.listTeams()),
      ];
      const sent = sandbox.state().calls.length;
      const handedBack = await caught(() => client.listTeams());

      expect(errors.map((error) => (error as GitBookError).name)).toEqual([
        'GitBookServerError',
        'GitBookRateLimitError',
        'GitBookNetworkError',
        'GitBookNotFoundError',
        'GitBookTimeoutError',
      ]);
      const rateLimit = errors[1] as GitBookRateLimitError;
      expect(rateLimit.retryAfterMs).toBeGreaterThan(8_000);
      expect(rateLimit.retryAfterMs).toBeLessThanOrEqual(11_000);
      expect(rateLimit.remaining).toBe(0);
      expect((errors[3] as GitBookNotFoundError).gitbookMessage).toMatch(/404/);
      expect(handedBack).toBeInstanceOf(GitBookRateLimitError);
      expect((handedBack as GitBookRateLimitError).retryAfterMs).toBeGreaterThan(5_000);
      expect(sandbox.state().calls).toHaveLength(sent);
    } finally {
      await impatient.close();
    }
  });

  it('reports a wrong token as unauthorized without echoing either token', async () => {
    const wrong = new GitBookClient({ baseUrl: sandbox.url, token: 'gb_api_wrong', organizationId: ORG });

    try {
      const error = await caught(() => wrong.listTeams());
      expect(error).toBeInstanceOf(GitBookUnauthorizedError);
      expect(JSON.stringify(error)).not.toContain('gb_api_wrong');
    } finally {
      await wrong.close();
    }
  });
});
