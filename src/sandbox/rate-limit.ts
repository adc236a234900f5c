/**
 * A fixed-window rate limit shared by every request, reported the way GitBook reports its own:
 * `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (epoch seconds).
 */

/** A budget of `limit` requests per window of `windowMs`. */
export interface RateLimitOptions {
  limit: number;
  windowMs: number;
}

/** The three headers' values. */
export interface RateLimitState {
  limit: number;
  remaining: number;
  /** When the window ends, in epoch milliseconds. */
  resetAtMs: number;
}

/** The header names GitBook uses. */
export const RATE_LIMIT_HEADERS = {
  limit: 'x-ratelimit-limit',
  remaining: 'x-ratelimit-remaining',
  reset: 'x-ratelimit-reset',
} as const;

/**
 * Counts requests in windows that start with the first request after the previous window ended.
 */
export class FixedWindowRateLimiter {
  readonly #options: RateLimitOptions;
  #windowEndsAtMs = 0;
  #used = 0;

  /** @throws RangeError when the limit or the window is not a positive number. */
  constructor(options: RateLimitOptions) {
    if (!Number.isInteger(options.limit) || options.limit < 1) {
      throw new RangeError(`rateLimit.limit must be a positive integer, got ${options.limit}`);
    }
    if (!Number.isFinite(options.windowMs) || options.windowMs <= 0) {
      throw new RangeError(`rateLimit.windowMs must be positive, got ${options.windowMs}`);
    }
    this.#options = { ...options };
  }

  /** The configured budget. */
  get limit(): number {
    return this.#options.limit;
  }

  /** Spends one request if the window has any left; `allowed` says whether it had. */
  consume(nowMs: number): { allowed: boolean; state: RateLimitState } {
    this.#roll(nowMs);
    const allowed = this.#used < this.#options.limit;
    if (allowed) {
      this.#used += 1;
    }
    return { allowed, state: this.#state() };
  }

  /** The current state, without spending anything. */
  peek(nowMs: number): RateLimitState {
    this.#roll(nowMs);
    return this.#state();
  }

  #roll(nowMs: number): void {
    if (nowMs >= this.#windowEndsAtMs) {
      this.#windowEndsAtMs = nowMs + this.#options.windowMs;
      this.#used = 0;
    }
  }

  #state(): RateLimitState {
    return {
      limit: this.#options.limit,
      remaining: this.#options.limit - this.#used,
      resetAtMs: this.#windowEndsAtMs,
    };
  }
}

/**
 * The headers for a state. The reset time is rounded up to the next whole second, so a client that
 * waits until then always finds the window renewed.
 */
export function rateLimitHeaders(state: RateLimitState): Record<string, string> {
  return {
    [RATE_LIMIT_HEADERS.limit]: String(state.limit),
    [RATE_LIMIT_HEADERS.remaining]: String(state.remaining),
    [RATE_LIMIT_HEADERS.reset]: String(Math.ceil(state.resetAtMs / 1_000)),
  };
}
