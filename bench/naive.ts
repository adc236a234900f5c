/**
 * The naive baseline: what a script without Temporal does with the same burst. One GitBook call per
 * event, straight from undici, a fixed number of people in flight; on a 429 it waits until
 * `X-RateLimit-Reset` and tries again. It keeps no state, so it loses work if it crashes, but it is
 * the speed to beat.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';

export interface NaiveRun {
  calls: number;
  rateLimited: number;
  /** Events given up: a refusal other than 429, or the deadline. */
  failures: number;
  firstCallAtMs: number;
  lastSuccessAtMs: number;
}

/** One person of the burst: invited, then added to `teamId` by email when set. */
export interface NaivePerson {
  email: string;
  teamId?: string;
}

/** A call that keeps answering 429 is given up after this many attempts. */
const MAX_ATTEMPTS = 100;

/**
 * Syncs each person with one call per event against `baseUrl` (a GitBook API base, including
 * `/v1`), `concurrency` people at a time, each person's calls in order. Stops by itself after
 * `deadlineMs`, counting what was left as failures.
 */
export async function runNaiveSync(options: {
  baseUrl: string;
  token: string;
  organizationId: string;
  people: NaivePerson[];
  concurrency: number;
  deadlineMs: number;
}): Promise<NaiveRun> {
  const base = new URL(options.baseUrl);
  const pool = new Pool(base.origin, { connections: options.concurrency, headersTimeout: 10_000, bodyTimeout: 10_000 });
  const orgPath = `${base.pathname.replace(/\/+$/, '')}/orgs/${encodeURIComponent(options.organizationId)}`;
  const stopAtMs = Date.now() + options.deadlineMs;
  const run: NaiveRun = { calls: 0, rateLimited: 0, failures: 0, firstCallAtMs: Date.now(), lastSuccessAtMs: 0 };

  /** Sends one call until it succeeds; false when it was given up. */
  const call = async (method: 'POST' | 'PUT', path: string, body: unknown): Promise<boolean> => {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS && Date.now() < stopAtMs; attempt++) {
      run.calls++;
      try {
        const response = await pool.request({
          path: `${orgPath}${path}`,
          method,
          headers: { authorization: `Bearer ${options.token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        await response.body.dump();
        if (response.statusCode < 300) {
          run.lastSuccessAtMs = Date.now();
          return true;
        }
        if (response.statusCode !== 429) return false;

        run.rateLimited++;
        const resetSeconds = Number(response.headers['x-ratelimit-reset']);
        const waitMs = Number.isFinite(resetSeconds) ? resetSeconds * 1_000 - Date.now() : 1_000;
        await sleep(Math.max(0, Math.min(waitMs, stopAtMs - Date.now())));
      } catch {
        await sleep(200);
      }
    }
    return false;
  };

  const syncPerson = async (person: NaivePerson) => {
    if (!(await call('POST', '/invites', { emails: [person.email], role: 'read', sso: false }))) run.failures++;
    if (!person.teamId) return;
    const teamPath = `/teams/${encodeURIComponent(person.teamId)}/members`;
    if (!(await call('PUT', teamPath, { add: [person.email] }))) run.failures++;
  };

  let next = 0;
  const lane = async () => {
    while (next < options.people.length) await syncPerson(options.people[next++] as NaivePerson);
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency }, lane));
  } finally {
    await pool.close();
  }
  return run;
}
