/**
 * Reading what the GitBook sandbox received: which operation each call was, and waiting until the
 * calls a scenario needs have all succeeded and GitBook has gone quiet.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { GitBookSandbox, SandboxCall, SandboxSnapshot } from '../src/sandbox';

/** The GitBook operations the sync makes, named by method and path. */
export type Operation = 'invite' | 'team' | 'role' | 'remove' | 'list' | 'other';

export function operationOf(call: SandboxCall): Operation {
  if (call.method === 'POST' && call.path.endsWith('/invites')) return 'invite';
  if (call.method === 'PUT' && /\/teams\/[^/]+\/members$/.test(call.path)) return 'team';
  if (call.method === 'PATCH' && /\/members\/[^/]+$/.test(call.path)) return 'role';
  if (call.method === 'DELETE') return 'remove';
  if (call.method === 'GET') return 'list';
  return 'other';
}

export function isSuccess(call: SandboxCall): boolean {
  return call.status !== null && call.status >= 200 && call.status < 300;
}

/** The team id of a team PUT. */
export function teamOf(call: SandboxCall): string | undefined {
  return /\/teams\/([^/]+)\/members$/.exec(call.path)?.[1];
}

/** The emails of an invite call. */
export function invitedEmails(call: SandboxCall): string[] {
  const emails = (call.body as { emails?: unknown } | undefined)?.emails;
  return Array.isArray(emails) ? emails.filter((email): email is string => typeof email === 'string') : [];
}

/** Counts of a scenario's calls. */
export interface CallSummary {
  calls: number;
  successes: number;
  rateLimited: number;
  /** Other failures (not 2xx, not 429), and calls that got no answer. */
  otherFailures: number;
  byOperation: Partial<Record<Operation, number>>;
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
