/**
 * What the organization's batchers (invites, team changes) and the steps that use them share. A step
 * hands its request to the batcher and waits for the answer; a batcher sends many requests as one
 * GitBook call and answers each step. Deterministic helpers only.
 */
import {
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  setHandler,
  workflowInfo,
  type SignalDefinition,
} from '@temporalio/workflow';
import { batcherWorkflowId } from './api';

/** How long a cancelled step waits for the batcher to say whether its request went out. */
const WITHDRAW_CONFIRMATION_TIMEOUT = '5 minutes';

/** Steps signal the batcher themselves instead of through an activity (fewer round trips, no rate budget). */
export const DIRECT_REQUEST_PATCH = 'batcher-direct-request';
/** Batchers answer every step of a batch at once instead of one after the other. */
export const PARALLEL_ANSWERS_PATCH = 'batcher-parallel-answers';

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

  try {
    await condition(() => outcome !== undefined);
  } catch (err) {
    if (!isCancellation(err)) throw err;
    await CancellationScope.nonCancellable(async () => {
      try {
        await getExternalWorkflowHandle(batcherId).signal(options.withdrawSignal, { requestId: request.requestId });
      } catch (signalError) {
        // The batcher is between runs or gone: it cannot take the request back, but may still answer.
        log.warn('batched request could not be withdrawn', { batcherId, error: (signalError as Error).message });
      }
      await condition(() => outcome !== undefined, WITHDRAW_CONFIRMATION_TIMEOUT);
    });
    log.info('batched request withdrawn', { batcherId, outcome: outcome?.status ?? 'unconfirmed' });
    throw err;
  }
  return outcome!;
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
