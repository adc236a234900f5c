/**
 * Errors of the hook receiver: one class per condition, each with a stable `code`. The HTTP answer
 * is built from `code`, `message` and `issues` only, so nothing else (a header, a body, the secret)
 * can leak into it.
 */

/** The stable codes the receiver answers with in `{ "error": { "code", ... } }`. */
export const ReceiverErrorCode = {
  unauthorized: 'UNAUTHORIZED',
  tooManyEvents: 'TOO_MANY_EVENTS',
  missingHeader: 'MISSING_HEADER',
  bodyTooLarge: 'BODY_TOO_LARGE',
  unsupportedContentType: 'UNSUPPORTED_CONTENT_TYPE',
  malformedJson: 'MALFORMED_JSON',
  invalidBody: 'INVALID_BODY',
  invalidEvent: 'INVALID_EVENT',
  temporalUnavailable: 'TEMPORAL_UNAVAILABLE',
  notFound: 'NOT_FOUND',
  badRequest: 'BAD_REQUEST',
  internal: 'INTERNAL',
} as const;

export type ReceiverErrorCode = (typeof ReceiverErrorCode)[keyof typeof ReceiverErrorCode];

/** One problem with one field of the request body, named by its path from the body's root. */
export interface FieldIssue {
  /** Dot-separated path from the body's root, e.g. `data.events.2.target.0.alternateId`. */
  field: string;
  reason: string;
}

/** The JSON body of every error answer. */
export interface ErrorAnswer {
  error: { code: ReceiverErrorCode; message: string; issues?: FieldIssue[] };
}

/** A request the receiver refuses with a 4xx; `issues` name the offending fields. */
export class HookRequestError extends Error {
  readonly statusCode: number;
  readonly code: ReceiverErrorCode;
  readonly issues?: FieldIssue[];

  constructor(statusCode: number, code: ReceiverErrorCode, message: string, issues?: FieldIssue[]) {
    super(message);
    this.name = 'HookRequestError';
    this.statusCode = statusCode;
    this.code = code;
    this.issues = issues;
  }
}

/**
 * Events could not be handed to Temporal in time, or at all, or the receiver had too many waiting
 * already (`HANDOFF_QUEUE_FULL`, refused at once). The receiver answers 503 with `Retry-After`;
 * events already held are recognised as redeliveries when the IdP retries.
 */
export class HandoffError extends Error {
  readonly code: 'HANDOFF_TIMEOUT' | 'HANDOFF_FAILED' | 'HANDOFF_QUEUE_FULL';
  readonly timeoutMs?: number;

  constructor(code: HandoffError['code'], message: string, options: { timeoutMs?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'HandoffError';
    this.code = code;
    this.timeoutMs = options.timeoutMs;
  }
}

/** Thrown by `buildReceiver` for options it cannot run with (no secret without `allowInsecure`). */
export class ReceiverConfigError extends Error {
  readonly code = 'RECEIVER_CONFIG_INVALID';

  constructor(message: string) {
    super(message);
    this.name = 'ReceiverConfigError';
  }
}

/** The answer body for an error. */
export function errorAnswer(code: ReceiverErrorCode, message: string, issues?: FieldIssue[]): ErrorAnswer {
  return { error: issues?.length ? { code, message, issues } : { code, message } };
}
