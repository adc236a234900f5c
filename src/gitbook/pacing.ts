/**
 * Pacing on GitBook's own rate-limit headers. Every answer says how many calls are left in the
 * window (`X-RateLimit-Remaining`) and when it resets (`X-RateLimit-Reset`, epoch seconds). The
 * budget is GitBook's, shared by every worker using the token, so when it is used up each caller
 * waits for the reset instead of spending a call on a 429.
 */
import type { IncomingHttpHeaders } from 'node:http';

/** Waits shorter than this are slept through; longer ones are handed back to the caller. */
export const DEFAULT_MAX_INLINE_WAIT_MS = 1_000;

interface Window {
  remaining: number;
  resetAtMs: number;
}

function headerNumber(value: string | string[] | undefined): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  return text && /^\d+$/.test(text) ? Number(text) : undefined;
}

/** Tracks the current window from answers and reserves a call from it before each request. */
export class RateLimitPacer {
  #window?: Window;

  constructor(
    private readonly maxInlineWaitMs = DEFAULT_MAX_INLINE_WAIT_MS,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((done) => setTimeout(done, ms)),
  ) {}

  /** Learns the window from an answer's headers. Answers without them change nothing. */
  observe(headers: IncomingHttpHeaders, nowMs = Date.now()): void {
    const remaining = headerNumber(headers['x-ratelimit-remaining']);
    const resetSeconds = headerNumber(headers['x-ratelimit-reset']);
    if (remaining === undefined || resetSeconds === undefined) return;

    const resetAtMs = resetSeconds * 1_000;
    if (resetAtMs <= nowMs) return;
    // Answers arrive out of order under concurrency: within one window, the lowest count is newest.
    const current = this.#window;
    if (current && current.resetAtMs === resetAtMs) current.remaining = Math.min(current.remaining, remaining);
    else this.#window = { remaining, resetAtMs };
  }

  /**
   * Reserves one call. Resolves when the call may go now (after sleeping up to `maxInlineWaitMs`
   * for the reset); returns the wait in ms instead when the reset is further away.
   */
  async reserve(nowMs = Date.now()): Promise<number | undefined> {
    const window = this.#window;
    if (!window || nowMs >= window.resetAtMs) {
      this.#window = undefined;
      return undefined;
    }
    if (window.remaining > 0) {
      window.remaining--;
      return undefined;
    }

    const waitMs = window.resetAtMs - nowMs;
    if (waitMs > this.maxInlineWaitMs) return waitMs;
    await this.sleep(waitMs);
    // A new window has begun; its size is learnt from the next answer.
    if (this.#window === window) this.#window = undefined;
    return undefined;
  }
}
