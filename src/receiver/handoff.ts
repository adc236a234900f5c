/**
 * Hands accepted events to Temporal within a deadline. Okta gives up on an answer after 3 seconds,
 * so the receiver would rather answer 503 in time (and be retried) than hold the connection open.
 */
import type { Client } from '@temporalio/client';
import type { DirectoryEvent } from '../../workflows/events';
import { HandoffError } from './errors';

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

/**
 * Submits `events` with a deadline of `timeoutMs` on every Temporal call made meanwhile, and a timer
 * as a backstop for submit functions that ignore it. Throws {@link HandoffError} on failure or timeout.
 */
export async function handOff(
  events: DirectoryEvent[],
  options: { client: Client; submit: SubmitEvents; timeoutMs: number; inFlight?: Set<Promise<unknown>> },
): Promise<void> {
  if (events.length === 0) return;

  const { client, submit, timeoutMs } = options;
  const work = track(
    client.withDeadline(Date.now() + timeoutMs, () => submit(events)),
    options.inFlight,
  );
  const timedOut = () =>
    new HandoffError('HANDOFF_TIMEOUT', `Temporal did not confirm the events within ${timeoutMs} ms`, { timeoutMs });

  try {
    await withTimeout(work, timeoutMs, timedOut);
  } catch (cause) {
    if (cause instanceof HandoffError) throw cause;
    throw new HandoffError('HANDOFF_FAILED', 'the events could not be handed to Temporal', { cause });
  }
}
