/**
 * Sends Okta deliveries to the receiver the way Okta does: a POST with the shared secret, waiting
 * for the answer. A 503 is retried after its `Retry-After`, as Okta would (Okta retries once; the
 * benchmark retries a few times more, since it needs every event in to measure the drain).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { oktaDelivery, type OktaEvent } from './okta';

/** One delivery's answer. */
export interface HookAnswer {
  /** HTTP status, or 0 when no answer came (timeout, connection error). */
  status: number;
  /** From sending to the end of the answer. */
  ackMs: number;
  /** The report's `accepted` count, on a 200. */
  accepted: number;
  retryAfterSeconds?: number;
  error?: string;
}

/** A keep-alive pool to the receiver's Okta route. */
export class HookSender {
  readonly #pool: Pool;
  readonly #origin: string;

  constructor(
    receiverUrl: string,
    private readonly secret: string,
    options: { connections: number; timeoutMs?: number },
  ) {
    this.#origin = new URL(receiverUrl).origin;
    const timeoutMs = options.timeoutMs ?? 10_000;
    this.#pool = new Pool(this.#origin, {
      connections: options.connections,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      connectTimeout: timeoutMs,
    });
  }

  /** Posts one delivery and reads the answer; never throws. */
  async send(delivery: unknown): Promise<HookAnswer> {
    const startedMs = performance.now();
    try {
      const response = await this.#pool.request({
        origin: this.#origin,
        path: '/hooks/okta',
        method: 'POST',
        headers: { authorization: `Bearer ${this.secret}`, 'content-type': 'application/json' },
        body: JSON.stringify(delivery),
      });
      const text = await response.body.text();
      const ackMs = performance.now() - startedMs;
      const retryAfter = Number(response.headers['retry-after']);
      const report = response.statusCode === 200 ? (JSON.parse(text) as { accepted?: number }) : undefined;
      const accepted = Number(report?.accepted ?? 0);
      return {
        status: response.statusCode,
        ackMs,
        accepted,
        ...(Number.isFinite(retryAfter) ? { retryAfterSeconds: retryAfter } : {}),
      };
    } catch (err) {
      const code = (err as { code?: string }).code ?? (err as Error).name;
      return { status: 0, ackMs: performance.now() - startedMs, accepted: 0, error: code };
    }
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}

/** What happened to a series of deliveries. */
export interface DeliveryRun {
  firstSentAtMs: number;
  lastAnsweredAtMs: number;
  /** Deliveries planned, and deliveries actually sent (splits add some). */
  deliveries: number;
  sent: number;
  acceptedEvents: number;
  /** Answers other than 200, including those later retried with success. */
  refusals: Record<string, number>;
  /** Deliveries without a 200 after Okta's two attempts (the first and its one retry): Okta would drop them. */
  oktaWouldDrop: number;
  /** Deliveries that failed every attempt and were sent again as two halves. */
  splits: number;
  /** Events that never got a 200, even alone. */
  lostEvents: number;
  ackMs: number[];
}

/** Okta sends a delivery once and retries it once. */
const OKTA_ATTEMPTS = 2;

/**
 * Sends each batch of events as one Okta delivery, `concurrency` at a time. A 503 or a missing
 * answer is retried after a pause (the `Retry-After`, or 1 s), at most `maxAttempts` times; then the
 * batch is split in two and each half sent as its own delivery, so every event gets in eventually
 * and the drain can be measured (the report counts the splits: Okta would not split). `shouldStop`
 * ends it early.
 */
export async function deliverAll(
  sender: HookSender,
  batches: OktaEvent[][],
  options: { concurrency: number; maxAttempts?: number; shouldStop?: () => boolean },
): Promise<DeliveryRun> {
  const maxAttempts = options.maxAttempts ?? 4;
  const run: DeliveryRun = {
    firstSentAtMs: Date.now(),
    lastAnsweredAtMs: Date.now(),
    deliveries: batches.length,
    sent: 0,
    acceptedEvents: 0,
    refusals: {},
    oktaWouldDrop: 0,
    splits: 0,
    lostEvents: 0,
    ackMs: [],
  };

  const queue = batches.map((events) => ({ events, split: false }));
  let busy = 0;
  const sendBatch = async (events: OktaEvent[], split: boolean) => {
    const delivery = oktaDelivery(events);
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const answer = await sender.send(delivery);
      run.lastAnsweredAtMs = Date.now();
      run.ackMs.push(answer.ackMs);
      if (answer.status === 200) {
        run.acceptedEvents += answer.accepted;
        return;
      }
      const key = answer.status === 0 ? (answer.error ?? 'no answer') : String(answer.status);
      run.refusals[key] = (run.refusals[key] ?? 0) + 1;
      if (attempt === OKTA_ATTEMPTS && !split) run.oktaWouldDrop++;
      if (answer.status !== 503 && answer.status !== 0) break;
      if (attempt < maxAttempts) await sleep((answer.retryAfterSeconds ?? 1) * 1_000);
    }

    if (events.length === 1) {
      run.lostEvents++;
      return;
    }
    run.splits++;
    const half = Math.ceil(events.length / 2);
    queue.unshift({ events: events.slice(0, half), split: true }, { events: events.slice(half), split: true });
  };

  // Lanes take batches off the queue; a lane that finds it empty waits while others may still split.
  const lane = async () => {
    for (;;) {
      if (options.shouldStop?.()) return;
      const next = queue.shift();
      if (!next) {
        if (busy === 0) return;
        await sleep(50);
        continue;
      }
      busy++;
      run.sent++;
      try {
        await sendBatch(next.events, next.split);
      } finally {
        busy--;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, lane));
  return run;
}
