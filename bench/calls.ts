/**
 * Reading what the GitBook sandbox received: which operation each call was, and waiting until the
 * calls a scenario needs have all succeeded and GitBook has gone quiet.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { GitBookSandbox, SandboxCall, SandboxSnapshot } from '../src/sandbox';

/**
 * The GitBook operations the sync makes, named by method and path: `lookup` is a read of the
 * organization's members (finding someone by email, counting members), `get` any other read.
 */
export type Operation = 'invite' | 'team' | 'role' | 'remove' | 'lookup' | 'get' | 'other';

export const OPERATIONS: readonly Operation[] = ['invite', 'team', 'role', 'lookup', 'remove', 'get', 'other'];

export function operationOf(call: SandboxCall): Operation {
  if (call.method === 'POST' && call.path.endsWith('/invites')) return 'invite';
  if (call.method === 'PUT' && /\/teams\/[^/]+\/members$/.test(call.path)) return 'team';
  if (call.method === 'PATCH' && /\/members\/[^/]+$/.test(call.path)) return 'role';
  if (call.method === 'DELETE') return 'remove';
  if (call.method === 'GET' && /\/orgs\/[^/]+\/members(\/[^/]+)?$/.test(call.path)) return 'lookup';
  if (call.method === 'GET') return 'get';
  return 'other';
}

export function isSuccess(call: SandboxCall): boolean {
  return call.status !== null && call.status >= 200 && call.status < 300;
}

/** The team id of a team PUT. */
export function teamOf(call: SandboxCall): string | undefined {
  return /\/teams\/([^/]+)\/members$/.exec(call.path)?.[1];
}

/** The people of an invite call, each with the role the call gives them (its own, else the call's). */
export function invitedPeople(call: SandboxCall): Array<{ email: string; role?: string }> {
  const body = call.body as { emails?: unknown; role?: unknown } | undefined;
  const callRole = typeof body?.role === 'string' ? body.role : undefined;
  if (!Array.isArray(body?.emails)) return [];
  return body.emails.flatMap((entry: unknown) => {
    if (typeof entry === 'string') return [{ email: entry, role: callRole }];
    const { email, role } = (entry ?? {}) as { email?: unknown; role?: unknown };
    return typeof email === 'string' ? [{ email, role: typeof role === 'string' ? role : callRole }] : [];
  });
}

/** The emails of an invite call. */
export function invitedEmails(call: SandboxCall): string[] {
  return invitedPeople(call).map((person) => person.email);
}

/** The `add` and `remove` entries of a team PUT. */
export function teamEntries(call: SandboxCall): { add: string[]; remove: string[] } {
  const body = call.body as { add?: unknown; remove?: unknown } | undefined;
  const list = (value: unknown) =>
    Array.isArray(value) ? value.filter((entry): entry is string => typeof entry === 'string') : [];
  return { add: list(body?.add), remove: list(body?.remove) };
}

/** Counts of a scenario's calls. */
export interface CallSummary {
  calls: number;
  successes: number;
  rateLimited: number;
  /** Other failures (not 2xx, not 429), and calls that got no answer. */
  otherFailures: number;
  byOperation: Partial<Record<Operation, number>>;
  /** Successful calls by operation. */
  successesByOperation: Partial<Record<Operation, number>>;
  /** What the successful calls carried: people invited, team entries added and removed. */
  carried: { invitedPeople: number; teamAdds: number; teamRemoves: number };
  firstCallAtMs?: number;
  lastSuccessAtMs?: number;
  /** 429s after the first {@link STEADY_STATE_AFTER_MS} of the scenario's calls: at steady state. */
  rateLimitedAtSteadyState: number;
  /** How many distinct wall-clock seconds had at least one 429. */
  secondsWith429: number;
  /** The most calls that arrived within any 1 s span (429s included). */
  busiestSecondCalls: number;
}

/** Calls in the first 5 s of a scenario are its ramp-up; after that it is at steady state. */
export const STEADY_STATE_AFTER_MS = 5_000;

/** The most instants within any span of 1 s. */
function busiestSecond(instantsMs: number[]): number {
  const sorted = [...instantsMs].sort((a, b) => a - b);
  let most = 0;
  for (let end = 0, start = 0; end < sorted.length; end++) {
    while ((sorted[end] as number) - (sorted[start] as number) >= 1_000) start++;
    most = Math.max(most, end - start + 1);
  }
  return most;
}

export function summarizeCalls(calls: readonly SandboxCall[]): CallSummary {
  const summary: CallSummary = {
    calls: 0,
    successes: 0,
    rateLimited: 0,
    otherFailures: 0,
    byOperation: {},
    successesByOperation: {},
    carried: { invitedPeople: 0, teamAdds: 0, teamRemoves: 0 },
    rateLimitedAtSteadyState: 0,
    secondsWith429: 0,
    busiestSecondCalls: busiestSecond(calls.map((call) => call.receivedAtMs)),
  };
  const seconds429 = new Set<number>();
  const steadyFromMs = Math.min(...calls.map((call) => call.receivedAtMs)) + STEADY_STATE_AFTER_MS;
  for (const call of calls) {
    summary.calls++;
    const operation = operationOf(call);
    summary.byOperation[operation] = (summary.byOperation[operation] ?? 0) + 1;
    summary.firstCallAtMs = Math.min(summary.firstCallAtMs ?? Infinity, call.receivedAtMs);
    if (isSuccess(call)) {
      summary.successes++;
      summary.successesByOperation[operation] = (summary.successesByOperation[operation] ?? 0) + 1;
      if (operation === 'invite') summary.carried.invitedPeople += invitedPeople(call).length;
      if (operation === 'team') {
        const { add, remove } = teamEntries(call);
        summary.carried.teamAdds += add.length;
        summary.carried.teamRemoves += remove.length;
      }
      summary.lastSuccessAtMs = Math.max(summary.lastSuccessAtMs ?? 0, call.receivedAtMs);
    } else if (call.status === 429) {
      summary.rateLimited++;
      if (call.receivedAtMs >= steadyFromMs) summary.rateLimitedAtSteadyState++;
      seconds429.add(Math.floor(call.receivedAtMs / 1_000));
    } else {
      summary.otherFailures++;
    }
  }
  summary.secondsWith429 = seconds429.size;
  return summary;
}

/** People whose organization role changed away and came back, and how often. */
export interface RoleFlaps {
  /** People with at least one flap. */
  people: number;
  /** Returns to a role held before (A -> B -> A counts one). */
  flaps: number;
  /** One person's role sequence, as an example. */
  example?: string[];
}

/**
 * Follows each member's role through the successful calls, in the order GitBook received them (an
 * invite sets the role it carries, a PATCH the role it names), starting from `before` (member id ->
 * role) when known, and counts returns to a role held earlier.
 */
export function roleFlaps(
  calls: readonly SandboxCall[],
  members: ReadonlyArray<{ id: string; email: string }>,
  before: ReadonlyMap<string, string> = new Map(),
): RoleFlaps {
  const idOf = new Map(members.map((member) => [member.email.toLowerCase(), member.id]));
  const roles = new Map<string, string[]>([...before].map(([id, role]) => [id, [role]]));
  const set = (id: string | undefined, role: string | undefined) => {
    if (!id || !role) return;
    const sequence = roles.get(id) ?? [];
    if (sequence[sequence.length - 1] !== role) sequence.push(role);
    roles.set(id, sequence);
  };
  const ordered = calls.filter(isSuccess).sort((a, b) => a.receivedAtMs - b.receivedAtMs);
  for (const call of ordered) {
    const operation = operationOf(call);
    if (operation === 'invite') {
      for (const person of invitedPeople(call)) set(idOf.get(person.email.toLowerCase()), person.role);
    } else if (operation === 'role') {
      const id = decodeURIComponent(/\/members\/([^/]+)$/.exec(call.path)?.[1] ?? '');
      set(id, (call.body as { role?: unknown } | undefined)?.role as string | undefined);
    }
  }

  const result: RoleFlaps = { people: 0, flaps: 0 };
  for (const sequence of roles.values()) {
    const flaps = sequence.filter((role, index) => sequence.slice(0, Math.max(0, index - 1)).includes(role)).length;
    if (flaps === 0) continue;
    result.people++;
    result.flaps += flaps;
    result.example ??= sequence;
  }
  return result;
}

/**
 * Polls the sandbox (its calls since the last `clearCalls`, and its organization) until `done`
 * holds, then until no call has arrived for `quietMs`, so calls that follow the needed ones are
 * counted too. Throws after `timeoutMs`, saying how far it got.
 */
export async function waitForGitBook(
  sandbox: GitBookSandbox,
  done: (snapshot: SandboxSnapshot) => boolean,
  options: { timeoutMs: number; quietMs?: number; describe?: (snapshot: SandboxSnapshot) => string },
): Promise<SandboxSnapshot> {
  const deadline = Date.now() + options.timeoutMs;
  const quietMs = options.quietMs ?? 3_000;
  let snapshot = sandbox.state();
  while (!done(snapshot)) {
    if (Date.now() > deadline) {
      const progress = options.describe?.(snapshot) ?? `${snapshot.calls.length} calls`;
      throw new Error(`GitBook did not reach the expected state within ${options.timeoutMs} ms (${progress})`);
    }
    await sleep(250);
    snapshot = sandbox.state();
  }

  for (;;) {
    const { calls } = snapshot;
    const last = calls.reduce((latest, call) => Math.max(latest, call.receivedAtMs), 0);
    const pending = calls.some((call) => call.status === null);
    if ((!pending && Date.now() - last >= quietMs) || Date.now() > deadline) return snapshot;
    await sleep(250);
    snapshot = sandbox.state();
  }
}
