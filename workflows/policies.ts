/**
 * Timeouts and retry policies, named once. GitBook documents its membership calls as idempotent, so
 * every call may be retried; only a permanent answer (4xx other than 429) stops the retries.
 */
import { ActivityCancellationType, type ActivityOptions, type LocalActivityOptions, type RetryPolicy } from '@temporalio/workflow';

/** Error types (the `code` of our GitBook errors) that no retry can fix. */
export const PERMANENT_GITBOOK_ERROR_TYPES = [
  'GITBOOK_BAD_REQUEST',
  'GITBOOK_UNAUTHORIZED',
  'GITBOOK_FORBIDDEN',
  'GITBOOK_NOT_FOUND',
  'GITBOOK_UNPROCESSABLE',
  'GITBOOK_INVITE_SSO_FAILED',
  'GITBOOK_VALIDATION',
  'GITBOOK_MEMBER_NOT_FOUND',
];

/**
 * Retries until GitBook answers: exponential backoff from 1 s to 5 minutes, no attempt limit (the
 * directory is the truth, and an operator can cancel). A 429 overrides the interval with GitBook's
 * own wait through `nextRetryDelay`.
 */
export const GITBOOK_RETRY_POLICY: RetryPolicy = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '5 minutes',
  nonRetryableErrorTypes: PERMANENT_GITBOOK_ERROR_TYPES,
};

/**
 * One GitBook call, including the client's own request timeout and a little slack. A cancelled step
 * ends only once its call in flight has ended: the next plan must not run (say, look the person up
 * to remove them) while an invite is still on its way to GitBook.
 */
export const GITBOOK_ACTIVITY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: GITBOOK_RETRY_POLICY,
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
};

/** Reading the worker's mapping file: local, fast, retried a few times. */
export const MAPPING_ACTIVITY_OPTIONS: LocalActivityOptions = {
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 5, initialInterval: '200 milliseconds' },
};

/** Continue-as-new once the history passes this many events, even if the server has not suggested it. */
export const MAX_HISTORY_EVENTS = 4_000;

/**
 * A batcher whose history passes this many events while a send is stuck (GitBook down, the call
 * retrying) stops waiting for that send, keeps its requests and continues as new, so no outage
 * drives its history towards Temporal's limit (51,200 events, a warning from 10,240).
 */
export const MAX_HISTORY_EVENTS_WHILE_SENDING = 6_000;

/**
 * How many requests a batcher holds waiting. Its waiting requests are carried across
 * continue-as-new in one payload, which Temporal refuses over 2 MB; at about 150 bytes a request
 * this stays near 375 KB. A request beyond it is answered `busy`, and its step asks again later.
 */
export const BATCHER_MAX_WAITING = 2_500;

/**
 * How long a step told `busy` waits before asking the batcher again: doubling from the first to the
 * last, each wait drawn between half and one and a half times that.
 */
export const BATCHER_BUSY_RETRY = { firstMs: 15_000, maxMs: 300_000 };

/** How many recent event ids a user's workflow remembers to recognise redeliveries. */
export const SEEN_EVENT_IDS_LIMIT = 2_000;

/** How many step records the status and result keep. */
export const STEP_HISTORY_LIMIT = 50;
