/**
 * A bounded, open-loop load generator for the receiver: deliveries leave on a fixed schedule
 * whatever the answers, as an IdP's do, so a slow answer cannot slow the offered load down and hide
 * itself. It sends exactly `deliveriesPerSecond x durationSeconds` deliveries, then waits for the
 * answers still due, and stops by itself.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { HookSender, type HookAnswer } from './hooks';

export interface LoadOptions {
  receiverUrl: string;
  secret: string;
  deliveriesPerSecond: number;
  durationSeconds: number;
  /** Builds delivery `index`, and says how many events it carries. */
  makeDelivery: (index: number) => { body: unknown; events: number };
  /** Deliveries waiting for an answer at once; one more is counted as an error, not sent. @default 2_000 */
  maxInFlight?: number;
  /** How long an answer may take before it counts as lost. @default 10_000 */
  answerTimeoutMs?: number;
}

export interface LoadRun {
  sent: number;
  offeredEvents: number;
  acceptedEvents: number;
  /** Status (or error code) -> deliveries, for every answer other than 200. */
  errors: Record<string, number>;
  /** Acknowledgement times of the 200 answers, from the scheduled send time. */
  ackMs: number[];
  /** Times of every answer (any status, or the timeout), from the scheduled send time. */
  answerMs: number[];
  /** From the first scheduled send to the last answer. */
  elapsedMs: number;
  /** How late the generator itself sent, at worst (a busy machine delays timers). */
  maxSendLagMs: number;
}

export async function runLoad(options: LoadOptions): Promise<LoadRun> {
  const total = Math.round(options.deliveriesPerSecond * options.durationSeconds);
  const intervalMs = 1_000 / options.deliveriesPerSecond;
  const maxInFlight = options.maxInFlight ?? 2_000;
  const sender = new HookSender(options.receiverUrl, options.secret, {
    connections: Math.min(512, maxInFlight),
    timeoutMs: options.answerTimeoutMs ?? 10_000,
  });

  const run: LoadRun = {
    sent: 0,
    offeredEvents: 0,
    acceptedEvents: 0,
    errors: {},
    ackMs: [],
    answerMs: [],
    elapsedMs: 0,
    maxSendLagMs: 0,
  };
  const answers: Promise<void>[] = [];
  let inFlight = 0;
  let lastAnswerAtMs = 0;
  const startMs = performance.now() + 50;

  const record = (answer: HookAnswer, scheduledMs: number) => {
    lastAnswerAtMs = performance.now();
    run.answerMs.push(lastAnswerAtMs - scheduledMs);
    if (answer.status === 200) {
      run.acceptedEvents += answer.accepted;
      run.ackMs.push(lastAnswerAtMs - scheduledMs);
      return;
    }
    const key = answer.status === 0 ? (answer.error ?? 'no answer') : String(answer.status);
    run.errors[key] = (run.errors[key] ?? 0) + 1;
  };

  try {
    for (let index = 0; index < total; index++) {
      const scheduledMs = startMs + index * intervalMs;
      const waitMs = scheduledMs - performance.now();
      if (waitMs > 1) await sleep(waitMs);
      run.maxSendLagMs = Math.max(run.maxSendLagMs, performance.now() - scheduledMs);

      const { body, events } = options.makeDelivery(index);
      run.sent++;
      run.offeredEvents += events;
      if (inFlight >= maxInFlight) {
        run.errors['not sent: generator limit'] = (run.errors['not sent: generator limit'] ?? 0) + 1;
        continue;
      }
      inFlight++;
      answers.push(
        sender.send(body).then((answer) => {
          inFlight--;
          record(answer, scheduledMs);
        }),
      );
    }
    // Every send has its own timeout, so this ends within `answerTimeoutMs` of the last send.
    await Promise.all(answers);
  } finally {
    await sender.close();
  }
  run.elapsedMs = (lastAnswerAtMs || performance.now()) - startMs;
  return run;
}
