/**
 * What the organization's batchers (invites, team changes) and the steps that use them share. A step
 * hands its request to the batcher and waits for the answer; a batcher sends many requests as one
 * GitBook call and answers each step. Deterministic helpers only.
 */
import {
  allHandlersFinished,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  setHandler,
  sleep,
  workflowInfo,
  type SignalDefinition,
} from '@temporalio/workflow';
import { batcherWorkflowId } from './api';
import { BATCHER_BUSY_RETRY, BATCHER_MAX_WAITING, MAX_HISTORY_EVENTS_WHILE_SENDING } from './policies';

/** How long a cancelled step waits for the batcher to say whether its request went out. */
const WITHDRAW_CONFIRMATION_TIMEOUT = '5 minutes';

/** Steps signal the batcher themselves instead of through an activity (fewer round trips, no rate budget). */
export const DIRECT_REQUEST_PATCH = 'batcher-direct-request';
/** Batchers answer every step of a batch at once instead of one after the other. */
export const PARALLEL_ANSWERS_PATCH = 'batcher-parallel-answers';
/**
 * Batchers hold at most `BATCHER_MAX_WAITING` requests (the rest are told `busy`) and stop a send
 * that is stuck while their history grows, so a long GitBook outage cannot outgrow Temporal's limits.
 */
export const BOUNDED_BATCHER_PATCH = 'batcher-bounded';

/**
 * How a batcher is configured: it sends once `maxBatchSize` items wait, once no new item came for
 * `quietMs`, or `maxWaitMs` after the first item, whichever comes first.
 */
export interface BatchSettings {
  maxBatchSize: number;
  maxWaitMs: number;
  /** Unset (settings of older workers): wait the whole `maxWaitMs` unless the batch fills. */
  quietMs?: number;
}

/** Waits for the batch to fill, as `settings` say; `size` counts the items waiting now. */
export async function fillBatch(size: () => number, settings: BatchSettings): Promise<void> {
  if (settings.quietMs === undefined) {
    await condition(() => size() >= settings.maxBatchSize, settings.maxWaitMs);
    return;
  }
  const deadline = Date.now() + settings.maxWaitMs;
  for (;;) {
    const seen = size();
    const wait = Math.min(deadline - Date.now(), settings.quietMs);
    // (A zero timeout would make `condition` wait without one.)
    if (seen >= settings.maxBatchSize || wait <= 0) return;
    const moved = await condition(() => size() !== seen, wait);
    if (!moved) return;
  }
}

interface Request {
  requestId: string;
  workflowId: string;
  attempted?: boolean;
}

interface Outcome {
  requestId: string;
  status: string;
}

export interface AskBatcherOptions<R extends Request, O extends Outcome> {
  /** The batcher's base id; the task queue completes it (`batcherWorkflowId`). */
  batcherBaseId: string;
  request: R;
  requestSignal: SignalDefinition<[R]>;
  withdrawSignal: SignalDefinition<[{ requestId: string }]>;
  outcomeSignal: SignalDefinition<[O]>;
  /** Signal-with-start through an activity: used when the batcher is not running yet. */
  startBatcher: (request: R) => Promise<void>;
}

/**
 * Hands `request` to a batcher and waits for its outcome. If the step is cancelled meanwhile, it
 * withdraws the request and waits for the batcher to say whether the request had already gone out,
 * so the user's workflow never mistakes a sent change for an unsent one. Returns the outcome, or
 * rethrows the cancellation once that is settled.
 */
export async function askBatcher<R extends Request, O extends Outcome>(options: AskBatcherOptions<R, O>): Promise<O> {
  const { request } = options;
  // Runs from before the per-queue ids kept using the base id.
  const direct = patched(DIRECT_REQUEST_PATCH);
  const batcherId = direct ? batcherWorkflowId(options.batcherBaseId, workflowInfo().taskQueue) : options.batcherBaseId;
  let outcome: O | undefined;
  setHandler(options.outcomeSignal, (answer) => {
    if (answer.requestId === request.requestId) outcome = answer;
  });

  for (let refusals = 0; ; refusals++) {
    await handOver(options, batcherId, direct);
    try {
      await condition(() => outcome !== undefined);
    } catch (err) {
      if (!isCancellation(err)) throw err;
      await withdraw(options, batcherId, () => outcome);
      throw err;
    }
    if (outcome!.status !== 'busy') return outcome!;

    // The batcher holds nothing of this request: wait, then ask again (a cancellation needs no
    // withdrawal). The wait varies from step to step (Math.random is deterministic in a workflow),
    // so steps refused together do not all come back at once.
    const waitMs = Math.round(Math.min(BATCHER_BUSY_RETRY.firstMs * 2 ** refusals, BATCHER_BUSY_RETRY.maxMs) * (0.5 + Math.random()));
    log.info('batcher busy; asking again later', { batcherId, waitMs });
    outcome = undefined;
    await sleep(waitMs);
  }
}

/** Gives the request to the batcher, starting the batcher when it is not running. */
async function handOver<R extends Request, O extends Outcome>(options: AskBatcherOptions<R, O>, batcherId: string, direct: boolean): Promise<void> {
  const { request } = options;
  // Once asked, the batcher may send the request: the asking itself must not be cut short, or a
  // cancellation could land between the batcher getting it and this step knowing it did.
  await CancellationScope.nonCancellable(async () => {
    if (direct) {
      try {
        await getExternalWorkflowHandle(batcherId).signal(options.requestSignal, request);
        return;
      } catch (err) {
        // Not running yet (or closed between runs): start it with the request.
        log.info('batcher not reached by signal; starting it', { batcherId, error: (err as Error).message });
      }
    }
    await options.startBatcher(request);
  });
}

/**
 * Takes the request back after a cancellation, and waits (a while) for the batcher to say whether
 * it had already gone out.
 */
async function withdraw<R extends Request, O extends Outcome>(options: AskBatcherOptions<R, O>, batcherId: string, outcome: () => O | undefined): Promise<void> {
  await CancellationScope.nonCancellable(async () => {
    try {
      await getExternalWorkflowHandle(batcherId).signal(options.withdrawSignal, { requestId: options.request.requestId });
    } catch (signalError) {
      // The batcher is between runs or gone: it cannot take the request back, but may still answer.
      log.warn('batched request could not be withdrawn', { batcherId, error: (signalError as Error).message });
    }
    await condition(() => outcome() !== undefined, WITHDRAW_CONFIRMATION_TIMEOUT);
  });
  log.info('batched request withdrawn', { batcherId, outcome: outcome()?.status ?? 'unconfirmed' });
}

/**
 * Sends each step its outcome. A step that has ended (its user's workflow was cancelled and closed)
 * is skipped: nothing waits for that answer.
 */
export async function answerSteps<O>(
  signal: SignalDefinition<[O]>,
  answers: Array<{ workflowId: string; outcome: O }>,
  parallel: boolean,
): Promise<void> {
  const send = async ({ workflowId, outcome }: { workflowId: string; outcome: O }) => {
    try {
      await getExternalWorkflowHandle(workflowId).signal(signal, outcome);
    } catch (err) {
      log.info('batch outcome not delivered', { workflowId, error: (err as Error).message });
    }
  };
  if (parallel) {
    await Promise.all(answers.map(send));
  } else {
    for (const answer of answers) await send(answer);
  }
}

/**
 * A batcher's requests: those waiting (oldest first), and those in the send under way. Bounded (see
 * `BOUNDED_BATCHER_PATCH`), it holds at most `BATCHER_MAX_WAITING` waiting requests, and remembers
 * withdrawals of requests in a send, so that a stopped send never sends them again.
 */
export class BatchQueue<R extends Request> {
  readonly #inFlight = new Set<string>();
  readonly #withdrawnInFlight = new Set<string>();

  constructor(
    readonly pending: R[],
    private readonly bounded: boolean,
  ) {}

  /** Queues the request: `known` when it is queued or in the send already, `busy` when the queue is full. */
  offer(request: R): 'taken' | 'known' | 'busy' {
    if (this.#inFlight.has(request.requestId) || this.pending.some((p) => p.requestId === request.requestId)) return 'known';
    if (this.bounded && this.pending.length >= BATCHER_MAX_WAITING) return 'busy';
    this.pending.push(request);
    return 'taken';
  }

  /** Takes a waiting request out and returns it; a request in the send stays there, its real outcome follows. */
  withdraw(requestId: string): R | undefined {
    const index = this.pending.findIndex((p) => p.requestId === requestId);
    if (index >= 0) return this.pending.splice(index, 1)[0];
    if (this.bounded && this.#inFlight.has(requestId)) this.#withdrawnInFlight.add(requestId);
    return undefined;
  }

  /** Marks `batch` (taken from `pending`) as being sent. */
  sending(batch: R[]): void {
    for (const request of batch) this.#inFlight.add(request.requestId);
  }

  /**
   * Ends the send of `batch`. `unanswered` are its requests that a stopped send left without
   * GitBook's answer: they go back to the front of the queue, marked `attempted`, except those
   * withdrawn meanwhile, which are returned to be answered `withdrawn`.
   */
  sent(batch: R[], unanswered: R[] = []): R[] {
    const withdrawn = unanswered.filter((request) => this.#withdrawnInFlight.has(request.requestId));
    const back = unanswered.filter((request) => !this.#withdrawnInFlight.has(request.requestId));
    this.pending.unshift(...back.map((request) => ({ ...request, attempted: true })));
    for (const request of batch) {
      this.#inFlight.delete(request.requestId);
      this.#withdrawnInFlight.delete(request.requestId);
    }
    return withdrawn;
  }
}

/**
 * Answers that a batcher's signal handlers send (`busy`, `withdrawn`). Before continuing as new, the
 * batcher closes it. With `hold` (bounded batchers), answers from then on are held, to be carried
 * into the next run and sent there, so the handlers running finish and no stream of new requests
 * can hold the continue-as-new off (a run that closed cannot send signals any more).
 */
export class HandlerAnswers<O> {
  #closing = false;
  readonly held: Array<{ workflowId: string; outcome: O }> = [];

  constructor(
    private readonly signal: SignalDefinition<[O]>,
    private readonly options: { parallel: boolean; hold: boolean },
  ) {}

  async send(answers: Array<{ workflowId: string; outcome: O }>): Promise<void> {
    if (this.#closing && this.options.hold) this.held.push(...answers);
    else await answerSteps(this.signal, answers, this.options.parallel);
  }

  /** From now on holds answers (with `hold`); returns once no handler is running. */
  async close(): Promise<void> {
    this.#closing = true;
    await condition(allHandlersFinished);
  }
}

/**
 * Runs a batch's GitBook calls (`send`), unless the batcher's history grows past
 * `MAX_HISTORY_EVENTS_WHILE_SENDING` first, as requests keep arriving while GitBook is down and the
 * calls retry: then the calls are cancelled, and once none is left in flight, `undefined` is
 * returned so the batcher can keep the requests and continue as new. A call that GitBook answers
 * before it can be stopped keeps its answer; a retryable failure (the call's retries end with the
 * stop) must reach `send`'s caller as a thrown error, never as an answer to the steps.
 */
export async function sendWhileHistoryAllows<T>(send: () => Promise<T>): Promise<{ result: T } | undefined> {
  const scope = new CancellationScope();
  let settled = false;
  const sending = scope.run(send);
  sending.then(
    () => (settled = true),
    () => (settled = true),
  );
  await condition(() => settled || workflowInfo().historyLength > MAX_HISTORY_EVENTS_WHILE_SENDING);
  const stopped = !settled;
  if (stopped) {
    log.warn('send stopped: the history grew too long while it was retrying; continuing as new', {
      historyLength: workflowInfo().historyLength,
    });
    scope.cancel();
  }
  try {
    return { result: await sending };
  } catch (err) {
    // Cancelled, or (a call stopped between attempts) its last retryable failure.
    if (stopped) return undefined;
    throw err;
  }
}

/** Like `Promise.all`, but waits for every promise to settle before it throws the first failure. */
export async function allSettledOrThrow<T>(promises: Array<Promise<T>>): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((result) => (result as PromiseFulfilledResult<T>).value);
}
