/**
 * Pacing on GitBook's rate-limit headers: once the window is used up, calls wait for its reset (or
 * hand the wait back) instead of spending a request on a 429.
 */
import { GitBookClient } from '../src/gitbook/client';
import { GitBookRateLimitError } from '../src/gitbook/errors';
import { RateLimitPacer } from '../src/gitbook/pacing';
import { startSandbox } from '../src/sandbox';
import { TEST_ORG, TEST_SEED, TEST_TOKEN } from './helpers/harness';

describe('RateLimitPacer', () => {
  const headers = (remaining: number, resetAtMs: number) => ({
    'x-ratelimit-remaining': String(remaining),
    'x-ratelimit-reset': String(Math.ceil(resetAtMs / 1_000)),
  });

  it('lets calls through while the window has calls left, counting its own reservations', async () => {
    const pacer = new RateLimitPacer(1_000, async () => undefined);
    const now = 1_800_000_000_000;
    pacer.observe(headers(2, now + 30_000), now);

    expect(await pacer.reserve(now)).toBeUndefined();
    expect(await pacer.reserve(now)).toBeUndefined();
    expect(await pacer.reserve(now)).toBe(30_000);
  });

  it('sleeps through a short wait for the reset, then lets the call go', async () => {
    const slept: number[] = [];
    const pacer = new RateLimitPacer(5_000, async (ms) => void slept.push(ms));
    const now = Date.now();
    const resetAtMs = Math.ceil((now + 1_000) / 1_000) * 1_000;
    pacer.observe(headers(0, resetAtMs), now);

    expect(await pacer.reserve(now)).toBeUndefined();
    expect(slept).toEqual([resetAtMs - now]);
  });

  it('keeps the lowest count seen within one window, whatever order answers arrive in', async () => {
    const pacer = new RateLimitPacer(1_000, async () => undefined);
    const now = 1_800_000_000_000;
    pacer.observe(headers(0, now + 10_000), now);
    pacer.observe(headers(5, now + 10_000), now);

    expect(await pacer.reserve(now)).toBe(10_000);
  });
});

describe('GitBookClient pacing against the sandbox', () => {
  it('sends no request that GitBook would refuse with 429 when the limit is known', async () => {
    const sandbox = await startSandbox({
      token: TEST_TOKEN,
      organizationId: TEST_ORG,
      seed: TEST_SEED,
      rateLimit: { limit: 3, windowMs: 1_500 },
    });
    const client = new GitBookClient({ baseUrl: sandbox.url, token: TEST_TOKEN, organizationId: TEST_ORG });
    try {
      let handedBack = 0;
      for (let done = 0; done < 8; ) {
        try {
          await client.countMembers();
          done++;
        } catch (err) {
          expect(err).toBeInstanceOf(GitBookRateLimitError);
          handedBack++;
          await new Promise((wake) => setTimeout(wake, (err as GitBookRateLimitError).retryAfterMs));
        }
      }

      const statuses = sandbox.state().calls.map((call) => call.status);
      expect(statuses).toEqual(Array(8).fill(200));
      expect(handedBack).toBeGreaterThan(0);
    } finally {
      await client.close();
      await sandbox.close();
    }
  });
});
