import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { Agent, fetch, request } from 'undici';

import { validateResponseBody } from '../src/gitbook/openapi';
import {
  loadSeedFile,
  SandboxSeedError,
  startSandbox,
  type GitBookSandbox,
  type SandboxOptions,
  type SandboxSeed,
} from '../src/sandbox';
import { readSandboxEnv } from '../src/sandbox/main';

const TOKEN = 'gb_sandbox_test_token';
const ORG = 'org_test';

const SEED: SandboxSeed = {
  members: [
    { id: 'u_owner', email: 'owner@example.com', displayName: 'Olivia Owner', role: 'admin' },
    { id: 'u_ann', email: 'ann@example.com', displayName: 'Ann Example' },
    { id: 'u_joann', email: 'joann@example.com', displayName: 'Jo Ann' },
    { id: 'u_grace', email: 'grace+docs@example.com', displayName: 'Grace Hopper', sso: true },
    { id: 'u_locked', email: 'locked@example.com', displayName: 'Locked Member', role: 'edit' },
  ],
  teams: [
    { id: 'team_engineering', title: 'Engineering', memberIds: ['u_ann', 'u_grace'] },
    { id: 'team_design', title: 'Design', memberIds: ['u_ann'] },
    { id: 'team_support', title: 'Support' },
  ],
  foreignSsoEmails: ['taken@elsewhere.example'],
  approvalRequiredUserIds: ['u_locked'],
};

interface MemberPage {
  items: Array<{ user: { email: string } }>;
  next?: { page: string };
  count: number;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

/** Calls the sandbox with undici's `request` and reads the whole answer. */
async function call(
  sandbox: GitBookSandbox,
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  path: string,
  options: { body?: unknown; token?: string | null } = {},
): Promise<Answer> {
  const token = options.token === undefined ? TOKEN : options.token;
  const headers: Record<string, string> = {};
  if (token !== null) {
    headers.authorization = `Bearer ${token}`;
  }
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
  }

  const response = await request(`${sandbox.url}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.body.text();
  const json: unknown = text === '' ? undefined : JSON.parse(text);
  return { status: response.statusCode, headers: response.headers, text, json };
}

/** Asserts that an answer is what the GitBook OpenAPI document declares for the operation. */
function expectSpecAnswer(operationId: string, answer: Answer): void {
  const body = answer.json === undefined ? answer.text : answer.json;
  expect(validateResponseBody(operationId, answer.status, body)).toEqual({ ok: true });
}

function errorMessage(answer: Answer): string {
  return (answer.json as { error: { message: string } }).error.message;
}

async function withSandbox<T>(options: Partial<SandboxOptions>, run: (sandbox: GitBookSandbox) => Promise<T>) {
  const sandbox = await startSandbox({ token: TOKEN, organizationId: ORG, seed: SEED, ...options });
  try {
    return await run(sandbox);
  } finally {
    await sandbox.close();
  }
}

describe('GitBook sandbox', () => {
  let sandbox: GitBookSandbox;
  const org = `/orgs/${ORG}`;

  beforeAll(async () => {
    sandbox = await startSandbox({ token: TOKEN, organizationId: ORG, seed: SEED });
  });

  afterAll(async () => {
    await sandbox.close();
  });

  beforeEach(() => {
    sandbox.reset();
  });

  describe('authentication and routing', () => {
    it('exposes a base URL on 127.0.0.1 that includes /v1', () => {
      expect(sandbox.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    });

    it('answers 401 in GitBook error shape without a token or with a wrong one', async () => {
      const missing = await call(sandbox, 'GET', `${org}/members`, { token: null });
      const wrong = await call(sandbox, 'GET', `${org}/members`, { token: 'not-the-token' });

      for (const answer of [missing, wrong]) {
        expect(answer.status).toBe(401);
        expect(answer.json).toEqual({ error: { code: 401, message: expect.any(String) } });
        expectSpecAnswer('listMembersInOrganizationById', answer);
      }
    });

    it('answers 404 for an organization it does not know', async () => {
      const answer = await call(sandbox, 'GET', '/orgs/org_other/members');

      expect(answer.status).toBe(404);
      expect(errorMessage(answer)).toContain('org_other');
    });

    it('answers 404 in GitBook error shape for a path it does not serve', async () => {
      const answer = await call(sandbox, 'GET', `${org}/spaces`);

      expect(answer.status).toBe(404);
      expect(answer.json).toEqual({ error: { code: 404, message: expect.stringContaining('/spaces') } });
    });
  });

  describe('invites', () => {
    it('creates a member for each new email, with the body role or the per-email role', async () => {
      const answer = await call(sandbox, 'POST', `${org}/invites`, {
        body: { emails: ['new.one@example.com', { email: 'new.two@example.com', role: 'edit' }], role: 'comment' },
      });

      expect(answer.status).toBe(200);
      expectSpecAnswer('inviteUsersToOrganization', answer);
      const { users, invited } = answer.json as { users: string[]; invited: number };
      expect(invited).toBe(2);
      expect(users).toHaveLength(2);
      expect(users.every((id) => /^u_[0-9a-f]+$/.test(id))).toBe(true);

      const members = sandbox.state().members;
      expect(members.find((m) => m.id === users[0])).toMatchObject({ email: 'new.one@example.com', role: 'comment' });
      expect(members.find((m) => m.id === users[1])).toMatchObject({ email: 'new.two@example.com', role: 'edit' });
    });

    it('gives new members the read role when the body names none', async () => {
      const answer = await call(sandbox, 'POST', `${org}/invites`, { body: { emails: ['plain@example.com'] } });
      const [id] = (answer.json as { users: string[] }).users;

      expect(sandbox.state().members.find((m) => m.id === id)?.role).toBe('read');
    });

    it('answers the existing id for an email that is already a member, in any case, and invites nobody', async () => {
      const answer = await call(sandbox, 'POST', `${org}/invites`, {
        body: { emails: ['OWNER@Example.com', 'fresh@example.com'] },
      });

      expectSpecAnswer('inviteUsersToOrganization', answer);
      const { users, invited } = answer.json as { users: string[]; invited: number };
      expect(users[0]).toBe('u_owner');
      expect(invited).toBe(1);
      expect(sandbox.state().members.filter((m) => m.email.toLowerCase() === 'owner@example.com')).toHaveLength(1);
    });

    it('reports an SSO invite for a foreign email in failedSSOEmails and adds nobody for it', async () => {
      const answer = await call(sandbox, 'POST', `${org}/invites`, {
        body: { emails: ['taken@elsewhere.example', 'sso.ok@example.com'], sso: true },
      });

      expectSpecAnswer('inviteUsersToOrganization', answer);
      const body = answer.json as { users: string[]; invited: number; failedSSOEmails: string[] };
      expect(body.failedSSOEmails).toEqual(['taken@elsewhere.example']);
      expect(body.invited).toBe(1);
      expect(body.users).toHaveLength(1);

      const emails = sandbox.state().members.map((m) => m.email);
      expect(emails).not.toContain('taken@elsewhere.example');
      expect(sandbox.state().members.find((m) => m.id === body.users[0])).toMatchObject({ sso: true });
    });

    it('invites a foreign email normally when the invite is not an SSO one', async () => {
      const answer = await call(sandbox, 'POST', `${org}/invites`, { body: { emails: ['taken@elsewhere.example'] } });

      expect(answer.json).toEqual({ users: [expect.any(String)], invited: 1 });
    });

    it.each([
      ['a malformed email', { emails: ['owner.example.com'] }, '/emails/0'],
      ['an unknown role', { emails: ['x@example.com'], role: 'owner' }, '/role'],
      ['a missing emails list', { role: 'read' }, '/emails'],
    ])('rejects an invite with %s with 400 naming the field, and changes nothing', async (_case, body, field) => {
      const answer = await call(sandbox, 'POST', `${org}/invites`, { body });

      expect(answer.status).toBe(400);
      expectSpecAnswer('inviteUsersToOrganization', answer);
      expect(errorMessage(answer)).toContain(field);
      expect(sandbox.state().members).toHaveLength(5);
    });
  });

  describe('members', () => {
    it('finds an email with a plus sign when the search is URL-encoded, and nothing when it is not', async () => {
      const encoded = new URLSearchParams({ search: 'grace+docs@example.com' }).toString();
      const found = await call(sandbox, 'GET', `${org}/members?${encoded}`);
      const raw = await call(sandbox, 'GET', `${org}/members?search=grace+docs@example.com`);

      expectSpecAnswer('listMembersInOrganizationById', found);
      expect((found.json as { items: Array<{ id: string }> }).items.map((m) => m.id)).toEqual(['u_grace']);
      expect(raw.json).toMatchObject({ items: [], count: 0 });
      expect(sandbox.state().calls.at(-1)?.query).toEqual({ search: 'grace docs@example.com' });
    });

    it('searches fuzzily, so an email also matches longer addresses that contain it', async () => {
      const answer = await call(sandbox, 'GET', `${org}/members?search=${encodeURIComponent('ANN@example.com')}`);

      const ids = (answer.json as { items: Array<{ id: string }> }).items.map((m) => m.id).sort();
      expect(ids).toEqual(['u_ann', 'u_joann']);
    });

    it('walks a search result over several pages with opaque next.page tokens and a total count', async () => {
      const emails = Array.from({ length: 23 }, (_, i) => `bulk-${String(i).padStart(2, '0')}@example.com`);
      await call(sandbox, 'POST', `${org}/invites`, { body: { emails } });

      const seen: string[] = [];
      let page: string | undefined;
      let pages = 0;
      do {
        const query = new URLSearchParams({ search: 'bulk-', limit: '10', ...(page ? { page } : {}) });
        const answer = await call(sandbox, 'GET', `${org}/members?${query}`);
        expectSpecAnswer('listMembersInOrganizationById', answer);

        const body = answer.json as MemberPage;
        expect(body.count).toBe(23);
        seen.push(...body.items.map((m) => m.user.email));
        page = body.next?.page;
        pages += 1;
      } while (page !== undefined);

      expect(pages).toBe(3);
      expect([...seen].sort()).toEqual(emails);
    });

    it('uses the configured page size when the request gives no limit', async () => {
      await withSandbox({ pageSize: 2 }, async (small) => {
        const answer = await call(small, 'GET', `${org}/members`);

        const body = answer.json as { items: unknown[]; next?: { page: string }; count: number };
        expect(body.items).toHaveLength(2);
        expect(body.count).toBe(5);
        expect(body.next?.page).toEqual(expect.any(String));
      });
    });

    it('sorts by name and filters by role when asked', async () => {
      const answer = await call(sandbox, 'GET', `${org}/members?sort=name&order=asc&role=read`);

      const names = (answer.json as { items: Array<{ user: { displayName: string } }> }).items.map(
        (m) => m.user.displayName,
      );
      expect(names).toEqual(['Ann Example', 'Grace Hopper', 'Jo Ann']);
    });

    it('rejects a page token it did not issue and a limit out of range with 400', async () => {
      const badPage = await call(sandbox, 'GET', `${org}/members?page=not-a-token`);
      const badLimit = await call(sandbox, 'GET', `${org}/members?limit=5000`);

      expect(badPage.status).toBe(400);
      expect(badLimit.status).toBe(400);
      expect(errorMessage(badLimit)).toContain('limit');
    });

    it('gets one member with a full user object, and 404 for an unknown id', async () => {
      const found = await call(sandbox, 'GET', `${org}/members/u_ann`);
      const missing = await call(sandbox, 'GET', `${org}/members/u_nobody`);

      expectSpecAnswer('getMemberInOrganizationById', found);
      expect(found.json).toMatchObject({
        id: 'u_ann',
        teams: 2,
        user: { email: 'ann@example.com', urls: { location: `${sandbox.url}/users/u_ann` } },
      });
      expect(missing.status).toBe(404);
    });

    it('changes a role with PATCH and answers the updated member, or 404 for an unknown id', async () => {
      const updated = await call(sandbox, 'PATCH', `${org}/members/u_ann`, { body: { role: 'admin' } });
      const missing = await call(sandbox, 'PATCH', `${org}/members/u_nobody`, { body: { role: 'admin' } });
      const invalid = await call(sandbox, 'PATCH', `${org}/members/u_ann`, { body: { role: 'boss' } });

      expect(updated.status).toBe(200);
      expectSpecAnswer('updateMemberInOrganizationById', updated);
      expect(updated.json).toMatchObject({ id: 'u_ann', role: 'admin' });
      expect(sandbox.state().members.find((m) => m.id === 'u_ann')?.role).toBe('admin');
      expect(missing.status).toBe(404);
      expect(invalid.status).toBe(400);
      expect(errorMessage(invalid)).toContain('/role');
    });
  });

  describe('removals', () => {
    it('answers 205 and removes the member from the organization and every team', async () => {
      const answer = await call(sandbox, 'DELETE', `${org}/members/u_ann`);

      expect(answer.status).toBe(205);
      expectSpecAnswer('removeMemberFromOrganizationById', answer);
      const state = sandbox.state();
      expect(state.members.map((m) => m.id)).not.toContain('u_ann');
      expect(state.teams.flatMap((t) => t.memberIds)).not.toContain('u_ann');
    });

    it('answers 204 for someone who is not a member', async () => {
      const answer = await call(sandbox, 'DELETE', `${org}/members/u_nobody`);

      expect(answer.status).toBe(204);
      expectSpecAnswer('removeMemberFromOrganizationById', answer);
    });

    it('answers 202 and keeps a member whose removal needs approval', async () => {
      const answer = await call(sandbox, 'DELETE', `${org}/members/u_locked`);

      expect(answer.status).toBe(202);
      expectSpecAnswer('removeMemberFromOrganizationById', answer);
      expect(sandbox.state().members.map((m) => m.id)).toContain('u_locked');
    });
  });

  describe('teams', () => {
    const members = (teamId: string) => sandbox.state().teams.find((t) => t.id === teamId)?.memberIds;

    it('lists teams page by page with their member counts', async () => {
      const first = await call(sandbox, 'GET', `${org}/teams?limit=2`);
      const firstBody = first.json as { items: Array<{ id: string; members: number }>; next?: { page: string } };
      const second = await call(sandbox, 'GET', `${org}/teams?limit=2&page=${firstBody.next?.page}`);

      expectSpecAnswer('listTeamsInOrganizationById', first);
      expectSpecAnswer('listTeamsInOrganizationById', second);
      expect(firstBody.items.map((t) => [t.id, t.members])).toEqual([
        ['team_engineering', 2],
        ['team_design', 1],
      ]);
      expect(second.json).toMatchObject({ items: [{ id: 'team_support', members: 0 }], count: 3 });
      expect((second.json as { next?: unknown }).next).toBeUndefined();
    });

    it('adds members by id or email (any case) and removes others, answering 204', async () => {
      const answer = await call(sandbox, 'PUT', `${org}/teams/team_support/members`, {
        body: { add: ['u_owner', 'JoAnn@Example.com'] },
      });
      const removal = await call(sandbox, 'PUT', `${org}/teams/team_engineering/members`, {
        body: { add: ['u_ann'], remove: ['grace+docs@example.com'] },
      });

      expect(answer.status).toBe(204);
      expect(removal.status).toBe(204);
      expectSpecAnswer('updateMembersInOrganizationTeam', answer);
      expect(members('team_support')).toEqual(['u_owner', 'u_joann']);
      expect(members('team_engineering')).toEqual(['u_ann']);
    });

    it('lists the members of a team with their organization membership', async () => {
      const answer = await call(sandbox, 'GET', `${org}/teams/team_engineering/members`);

      expectSpecAnswer('listTeamMembersInOrganizationById', answer);
      const items = (answer.json as { items: Array<{ organization: { id: string } }> }).items;
      expect(items.map((item) => item.organization.id)).toEqual(['u_ann', 'u_grace']);
    });

    it('rejects the same person in both lists with 400 and changes nothing', async () => {
      const answer = await call(sandbox, 'PUT', `${org}/teams/team_support/members`, {
        body: { add: ['u_owner'], remove: ['owner@example.com'] },
      });

      expect(answer.status).toBe(400);
      expect(errorMessage(answer)).toContain('owner@example.com');
      expect(members('team_support')).toEqual([]);
    });

    it('rejects an entry that matches no member with 400 naming it, and changes nothing', async () => {
      const answer = await call(sandbox, 'PUT', `${org}/teams/team_support/members`, {
        body: { add: ['u_owner', 'stranger@example.com'] },
      });

      expect(answer.status).toBe(400);
      expect(errorMessage(answer)).toContain('stranger@example.com');
      expect(members('team_support')).toEqual([]);
    });

    it('answers 404 for a team it does not know', async () => {
      const put = await call(sandbox, 'PUT', `${org}/teams/team_missing/members`, { body: { add: ['u_owner'] } });
      const list = await call(sandbox, 'GET', `${org}/teams/team_missing/members`);

      expect(put.status).toBe(404);
      expect(list.status).toBe(404);
    });
  });

  describe('state', () => {
    it('records every request in order with its status, query and body, but never the token', async () => {
      await call(sandbox, 'POST', `${org}/invites`, { body: { emails: ['rec@example.com'] } });
      await call(sandbox, 'GET', `${org}/members?search=rec`);
      await call(sandbox, 'DELETE', `${org}/members/u_nobody`, { token: 'wrong' });

      const { calls } = sandbox.state();
      expect(calls.map(({ method, path, status }) => [method, path, status])).toEqual([
        ['POST', `/v1${org}/invites`, 200],
        ['GET', `/v1${org}/members`, 200],
        ['DELETE', `/v1${org}/members/u_nobody`, 401],
      ]);
      expect(calls[0]?.body).toEqual({ emails: ['rec@example.com'] });
      expect(calls[1]?.query).toEqual({ search: 'rec' });
      expect(calls[0]?.receivedAtMs).toBeLessThanOrEqual(calls[2]?.receivedAtMs ?? 0);
      expect(JSON.stringify(sandbox.state())).not.toContain(TOKEN);
    });

    it('hands out deep copies, so changing a snapshot changes nothing in the sandbox', () => {
      const snapshot = sandbox.state();
      snapshot.members.length = 0;
      snapshot.teams[0]?.memberIds.push('u_owner');

      expect(sandbox.state().members).toHaveLength(5);
      expect(sandbox.state().teams[0]?.memberIds).toEqual(['u_ann', 'u_grace']);
    });

    it('serves the same snapshot at /_sandbox/state without a token and without recording it', async () => {
      await call(sandbox, 'GET', `${org}/teams`);
      const response = await fetch(sandbox.url.replace(/\/v1$/, '/_sandbox/state'));

      expect(response.status).toBe(200);
      expect(await response.json()).toEqual(sandbox.state());
      expect(sandbox.state().calls).toHaveLength(1);
    });

    it('forgets calls on clearCalls and restores another seed on reset', async () => {
      await call(sandbox, 'GET', `${org}/teams`);
      sandbox.clearCalls();
      expect(sandbox.state().calls).toEqual([]);

      sandbox.reset({ members: [{ id: 'u_solo', email: 'solo@example.com' }] });
      expect(sandbox.state()).toMatchObject({
        members: [{ id: 'u_solo', email: 'solo@example.com', displayName: 'solo', role: 'read', sso: false }],
        teams: [],
        calls: [],
      });
    });
  });

  describe('rate limit', () => {
    it('sends the three headers, answers 429 when the window is spent, and recovers after the reset', async () => {
      sandbox.setRateLimit({ limit: 3, windowMs: 1_000 });
      try {
        const answers: Answer[] = [];
        for (let i = 0; i < 4; i += 1) {
          answers.push(await call(sandbox, 'GET', `${org}/teams`));
        }

        expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429]);
        expect(answers.map((a) => a.headers['x-ratelimit-remaining'])).toEqual(['2', '1', '0', '0']);
        const limited = answers[3] as Answer;
        expect(limited.headers['x-ratelimit-limit']).toBe('3');
        expect(limited.json).toEqual({ error: { code: 429, message: expect.any(String) } });

        const resetMs = Number(limited.headers['x-ratelimit-reset']) * 1_000;
        expect(resetMs).toBeGreaterThan(Date.now());
        expect(resetMs).toBeLessThanOrEqual(Date.now() + 2_000);

        await sleep(resetMs - Date.now() + 20);
        const recovered = await call(sandbox, 'GET', `${org}/teams`);
        expect(recovered.status).toBe(200);
        expect(recovered.headers['x-ratelimit-remaining']).toBe('2');
      } finally {
        sandbox.setRateLimit(undefined);
      }
    });

    it('reports the window on fault answers and unparseable bodies without spending it', async () => {
      sandbox.setRateLimit({ limit: 5, windowMs: 60_000 });
      try {
        sandbox.injectFault({ kind: 'status', status: 502, times: 1 });
        const faulted = await call(sandbox, 'GET', `${org}/teams`);
        const unparseable = await request(`${sandbox.url}${org}/invites`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: '{ not json',
        });
        const unparseableBody = await unparseable.body.json();
        const counted = await call(sandbox, 'GET', `${org}/teams`);

        expect(faulted.status).toBe(502);
        expect(faulted.headers['x-ratelimit-remaining']).toBe('5');
        expect(unparseable.statusCode).toBe(400);
        expect(unparseableBody).toEqual({ error: { code: 400, message: expect.any(String) } });
        expect(unparseable.headers['x-ratelimit-remaining']).toBe('5');
        expect(counted.headers['x-ratelimit-remaining']).toBe('4');
      } finally {
        sandbox.setRateLimit(undefined);
      }
    });

    it('sends no rate-limit headers when no limit is set', async () => {
      const answer = await call(sandbox, 'GET', `${org}/teams`);

      expect(answer.headers['x-ratelimit-limit']).toBeUndefined();
    });
  });

  describe('faults', () => {
    afterEach(() => {
      sandbox.clearFaults();
    });

    it('answers injected statuses in GitBook error shape, only for matching requests, in order', async () => {
      const invites = { method: 'POST', pathIncludes: '/invites' };
      sandbox.injectFault({ kind: 'status', status: 500, times: 1, match: invites });
      sandbox.injectFault({ kind: 'status', status: 503, times: 2, match: { method: 'post' } });
      const body = { emails: ['retry@example.com'] };

      const unrelated = await call(sandbox, 'GET', `${org}/members`);
      const statuses: number[] = [];
      for (let i = 0; i < 4; i += 1) {
        statuses.push((await call(sandbox, 'POST', `${org}/invites`, { body })).status);
      }

      expect(unrelated.status).toBe(200);
      expect(statuses).toEqual([500, 503, 503, 200]);
      expect(sandbox.state().calls.at(1)?.status).toBe(500);
      expect(sandbox.state().members.filter((m) => m.email === 'retry@example.com')).toHaveLength(1);
    });

    it('delays an answer and then handles the request normally', async () => {
      sandbox.injectFault({ kind: 'delay', delayMs: 300, times: 1 });

      const started = Date.now();
      const answer = await call(sandbox, 'GET', `${org}/members/u_ann`);

      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      expect(answer.status).toBe(200);
      expectSpecAnswer('getMemberInOrganizationById', answer);
    });

    it('drops the connection without answering, then serves the next request', async () => {
      sandbox.injectFault({ kind: 'reset', times: 1, match: { pathIncludes: '/invites' } });

      const body = { emails: ['drop@example.com'] };
      await expect(call(sandbox, 'POST', `${org}/invites`, { body })).rejects.toThrow();
      const next = await call(sandbox, 'POST', `${org}/invites`, { body });

      expect(next.status).toBe(200);
      const invites = sandbox.state().calls.filter((c) => c.path.endsWith('/invites'));
      expect(invites.map((c) => c.status)).toEqual([null, 200]);
    });

    it('answers a surprise 429 with no remaining budget and a reset resetInMs from now', async () => {
      sandbox.injectFault({ kind: 'rate-limit', resetInMs: 5_000, times: 1 });

      const before = Date.now();
      const answer = await call(sandbox, 'GET', `${org}/teams`);

      expect(answer.status).toBe(429);
      expect(answer.json).toEqual({ error: { code: 429, message: expect.any(String) } });
      expect(answer.headers['x-ratelimit-remaining']).toBe('0');
      expect(answer.headers['x-ratelimit-limit']).toEqual(expect.stringMatching(/^\d+$/));
      const resetSeconds = Number(answer.headers['x-ratelimit-reset']);
      expect(resetSeconds).toBeGreaterThanOrEqual(Math.floor((before + 5_000) / 1_000));
      expect(resetSeconds).toBeLessThanOrEqual(Math.ceil((Date.now() + 5_000) / 1_000));
      expect((await call(sandbox, 'GET', `${org}/teams`)).status).toBe(200);
    });

    it('refuses a fault with an impossible status', () => {
      expect(() => sandbox.injectFault({ kind: 'status', status: 200, times: 1 })).toThrow(RangeError);
    });
  });
});

describe('startSandbox lifecycle', () => {
  it('closes promptly while a keep-alive client is connected and a delayed request is pending', async () => {
    const sandbox = await startSandbox({ token: TOKEN, organizationId: ORG, seed: SEED });
    const agent = new Agent({ keepAliveTimeout: 60_000 });
    try {
      const first = await request(`${sandbox.url}/orgs/${ORG}/teams`, {
        dispatcher: agent,
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      await first.body.text();
      sandbox.injectFault({ kind: 'delay', delayMs: 30_000, times: 1 });
      const pending = request(`${sandbox.url}/orgs/${ORG}/teams`, {
        dispatcher: agent,
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      await sleep(100);

      const started = Date.now();
      await sandbox.close();

      expect(Date.now() - started).toBeLessThan(2_000);
      await expect(pending).rejects.toThrow();
    } finally {
      await sandbox.close().catch(() => undefined);
      await agent.close();
    }
  });

  it('refuses an invalid seed and names the field', async () => {
    const seed = {
      members: [{ id: 'u_1', email: 'a@example.com' }],
      teams: [{ id: 't', title: 'T', memberIds: ['u_2'] }],
    };

    await expect(startSandbox({ token: TOKEN, organizationId: ORG, seed })).rejects.toThrow(
      /teams\[0\]\.memberIds\[0\]: no seed member has id u_2/,
    );
  });
});

describe('seed files and settings', () => {
  it('loads the default seed file of the repository', async () => {
    const seed = await loadSeedFile(join(__dirname, '..', 'sandbox', 'seed.json'));

    expect(seed.organizationId).toBe('org_sandbox');
    expect(seed.teams.map((team) => [team.id, team.title])).toEqual([
      ['team_engineering', 'Engineering'],
      ['team_design', 'Design'],
      ['team_support', 'Support'],
    ]);
    expect(seed.members.some((member) => member.email === 'owner@example.com' && member.role === 'admin')).toBe(true);
    expect(seed.foreignSsoEmails).toHaveLength(1);
  });

  it('names the file and the field when a seed file is invalid', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sandbox-seed-'));
    try {
      const file = join(dir, 'seed.json');
      await writeFile(file, JSON.stringify({ members: [{ id: 'u_1', email: 'nope' }] }));

      const error = await loadSeedFile(file).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(SandboxSeedError);
      expect((error as SandboxSeedError).message).toContain(file);
      expect((error as SandboxSeedError).message).toContain('members[0].email');

      await writeFile(file, '{ not json');
      await expect(loadSeedFile(file)).rejects.toThrow(/not valid JSON/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads the sandbox settings with defaults and names an invalid variable', () => {
    expect(readSandboxEnv({})).toMatchObject({ SANDBOX_PORT: 8280, SANDBOX_SEED: 'sandbox/seed.json' });
    expect(readSandboxEnv({ SANDBOX_RATE_LIMIT: '120' }).SANDBOX_RATE_LIMIT).toBe(120);
    expect(() => readSandboxEnv({ SANDBOX_PORT: 'eighty' })).toThrow(/SANDBOX_PORT/);
  });
});
