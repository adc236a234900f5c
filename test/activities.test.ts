/**
 * The GitBook activities in an activity context, against the sandbox: what GitBook received, and
 * how each kind of answer becomes a failure Temporal retries or not.
 */
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createGitBookActivities, createMappingActivities } from '../activities';
import { GitBookClient } from '../src/gitbook/client';
import { startSandbox, type GitBookSandbox } from '../src/sandbox';
import { TEST_ORG, TEST_SEED, TEST_SYNC_CONFIG, TEST_TOKEN, quietRuntime } from './helpers/harness';

let sandbox: GitBookSandbox;
let gitbook: GitBookClient;
let activities: ReturnType<typeof createGitBookActivities> & ReturnType<typeof createMappingActivities>;
/** Runs one activity in a fresh activity context, keeping its types. */
function run<A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> {
  return new MockActivityEnvironment().run(fn as (...a: unknown[]) => Promise<R>, ...args) as Promise<R>;
}

beforeAll(async () => {
  quietRuntime();
  sandbox = await startSandbox({ token: TEST_TOKEN, organizationId: TEST_ORG, seed: TEST_SEED });
});

// A fresh client per test: a client remembers a used-up rate-limit window and paces on it.
beforeEach(() => {
  gitbook = new GitBookClient({ baseUrl: sandbox.url, token: TEST_TOKEN, organizationId: TEST_ORG, requestTimeoutMs: 1_000 });
  activities = { ...createGitBookActivities(gitbook), ...createMappingActivities(TEST_SYNC_CONFIG) };
});

afterEach(async () => {
  await gitbook.close();
  sandbox.reset();
});

afterAll(async () => {
  await sandbox.close();
});

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

describe('GitBook activities', () => {
  it('invites a person and returns the GitBook user id the sandbox created', async () => {
    const { gitbookUserId } = await run(activities.inviteMember, { email: 'new@example.com', role: 'edit', sso: false });

    const member = sandbox.state().members.find((m) => m.email === 'new@example.com');
    expect(member).toMatchObject({ id: gitbookUserId, role: 'edit' });
  });

  it('returns the existing id when the person is already a member', async () => {
    const result = await run(activities.inviteMember, { email: 'Owner@Example.com', role: 'read', sso: false });

    expect(result).toEqual({ gitbookUserId: 'u_owner', created: false });
    expect(sandbox.state().members.find((m) => m.id === 'u_owner')?.role).toBe('admin');
  });

  it('turns a refused SSO invite into a non-retryable failure naming the email', async () => {
    const failure = await failureOf(
      run(activities.inviteMember, { email: 'taken@elsewhere.example', role: 'read', sso: true }),
    );

    expect(failure).toMatchObject({ type: 'GITBOOK_INVITE_SSO_FAILED', nonRetryable: true });
    expect(failure.message).toContain('taken@elsewhere.example');
  });

  it("turns a 429 into a retryable failure that waits until GitBook's reset", async () => {
    sandbox.injectFault({ kind: 'rate-limit', resetInMs: 5_000 });

    const failure = await failureOf(run(activities.inviteMember, { email: 'a@example.com', role: 'read', sso: false }));

    expect(failure).toMatchObject({ type: 'GITBOOK_RATE_LIMITED', nonRetryable: false });
    const delayMs = Number(failure.nextRetryDelay);
    expect(delayMs).toBeGreaterThan(3_000);
    expect(delayMs).toBeLessThanOrEqual(6_000);
  });

  it('turns a 5xx and a connection reset into retryable failures', async () => {
    sandbox.injectFault({ kind: 'status', status: 502 });
    sandbox.injectFault({ kind: 'reset' });

    const server = await failureOf(run(activities.removeMember, { gitbookUserId: 'u_owner' }));
    const reset = await failureOf(run(activities.removeMember, { gitbookUserId: 'u_owner' }));

    expect(server).toMatchObject({ type: 'GITBOOK_SERVER_ERROR', nonRetryable: false });
    expect(reset).toMatchObject({ type: 'GITBOOK_NETWORK_ERROR', nonRetryable: false });
    expect(sandbox.state().members.some((m) => m.id === 'u_owner')).toBe(true);
  });

  it("turns a 404 into a non-retryable failure carrying GitBook's message", async () => {
    const failure = await failureOf(run(activities.updateTeamMembers, { teamId: 'team_gone', add: ['u_owner'] }));

    expect(failure).toMatchObject({ type: 'GITBOOK_NOT_FOUND', nonRetryable: true });
    expect(failure.message).toMatch(/team/i);
  });

  it('removes a member and treats a second removal as done', async () => {
    const first = await run(activities.removeMember, { gitbookUserId: 'u_owner' });
    const second = await run(activities.removeMember, { gitbookUserId: 'u_owner' });

    expect([first.outcome, second.outcome]).toEqual(['removed', 'not-member']);
    expect(sandbox.state().calls.filter((c) => c.method === 'DELETE').map((c) => c.status)).toEqual([205, 204]);
  });

  it('finds a member by exact email and sets their role', async () => {
    const found = await run(activities.findMember, { email: 'OWNER@example.com' });
    await run(activities.setMemberRole, { gitbookUserId: found.gitbookUserId!, role: 'review' });

    expect(found).toEqual({ gitbookUserId: 'u_owner', role: 'admin' });
    expect(sandbox.state().members.find((m) => m.id === 'u_owner')?.role).toBe('review');
  });

  it('resolves what groups grant from the sync config', async () => {
    const mapping = await run(activities.resolveMapping, {
      groups: [{ id: '00g1', name: 'Engineering' }, { id: 'unmapped' }],
    });

    expect(mapping.grants).toEqual({ '00g1': { teamIds: ['team_engineering'], role: 'edit' }, unmapped: { teamIds: [] } });
    expect(mapping.defaultRole).toBe('read');
  });
});
