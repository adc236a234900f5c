/**
 * Deadlines for the receiver's calls to Temporal. Okta gives up on an answer after 3 seconds, so the
 * receiver would rather answer 503 in time (and be retried) than hold the connection open. How the
 * deliveries are grouped into calls is in `group-commit.ts`.
 */
import type { DirectoryEvent } from '../../workflows/events';

/** Puts events into their users' workflows; resolves once Temporal holds every one of them. */
export type SubmitEvents = (events: DirectoryEvent[]) => Promise<unknown>;

/**
 * Resolves with `work` if it settles within `timeoutMs`, else rejects with `onTimeout()`. A late
 * rejection of `work` is swallowed: nobody is waiting for it any more.
 */
export async function withTimeout<T>(work: Promise<T>, timeoutMs: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), timeoutMs);
  });
  work.catch(() => undefined);

  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Adds `work` to `inFlight` until it settles. The receiver waits for these on close: a call that
 * timed out may still be retrying in the background (until its deadline), and closing the Temporal
 * connection under it would fail that retry outside any caller.
 */
export function track<T>(work: Promise<T>, inFlight: Set<Promise<unknown>> | undefined): Promise<T> {
  if (!inFlight) return work;
  inFlight.add(work);
  const forget = () => inFlight.delete(work);
  work.then(forget, forget);
  return work;
}
