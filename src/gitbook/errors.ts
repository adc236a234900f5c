/**
 * Errors of the GitBook REST client: one class per condition, each with a stable `code` and a
 * `retryable` flag. The activity layer turns permanent ones into non-retryable Temporal failures and
 * lets retryable ones retry, honouring `retryAfterMs` when GitBook says how long to wait.
 *
 * None of these ever holds a request header, a request body or the API token: they carry the
 * operation name, the HTTP status and GitBook's own error message, nothing more.
 */

/** The stable codes of every GitBook client error, for matching without `instanceof`. */
export const GitBookErrorCode = {
  rateLimited: 'GITBOOK_RATE_LIMITED',
  serverError: 'GITBOOK_SERVER_ERROR',
  networkError: 'GITBOOK_NETWORK_ERROR',
  timeout: 'GITBOOK_TIMEOUT',
  badRequest: 'GITBOOK_BAD_REQUEST',
  unauthorized: 'GITBOOK_UNAUTHORIZED',
  forbidden: 'GITBOOK_FORBIDDEN',
  notFound: 'GITBOOK_NOT_FOUND',
  unprocessable: 'GITBOOK_UNPROCESSABLE',
  unexpectedResponse: 'GITBOOK_UNEXPECTED_RESPONSE',
  invalidArgument: 'GITBOOK_INVALID_ARGUMENT',
  clientClosed: 'GITBOOK_CLIENT_CLOSED',
  inviteSSOFailed: 'GITBOOK_INVITE_SSO_FAILED',
} as const;

/** One of the {@link GitBookErrorCode} values, e.g. `'GITBOOK_RATE_LIMITED'`. */
export type GitBookErrorCode = (typeof GitBookErrorCode)[keyof typeof GitBookErrorCode];

/** Wait used for a 429 that names no reset time. */
export const DEFAULT_RATE_LIMIT_WAIT_MS = 1_000;

/** Context shared by every GitBook error. */
export interface GitBookErrorContext {
  /** The client method that failed, e.g. `inviteUsers`. */
  operation?: string;
  /** The HTTP status GitBook answered, when it answered. */
  status?: number;
  /** The underlying error (a socket error, a zod error...). Never serialised by `toJSON`. */
  cause?: unknown;
}

/** Base class of every error thrown by the GitBook client. */
export class GitBookError extends Error {
  override readonly name: string = 'GitBookError';
  readonly code: GitBookErrorCode;
  /** Whether the same call may succeed if tried again later. */
  readonly retryable: boolean;
  readonly status?: number;
  readonly operation?: string;

  constructor(code: GitBookErrorCode, message: string, retryable: boolean, context: GitBookErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.code = code;
    this.retryable = retryable;
    if (context.status !== undefined) this.status = context.status;
    if (context.operation !== undefined) this.operation = context.operation;
  }

  /**
   * A plain object for logs and JSON: name, message and the error's own fields. The `cause` is left
   * out on purpose; it is an object we do not control.
   */
  toJSON(): Record<string, unknown> {
    return { ...Object.fromEntries(Object.entries(this)), name: this.name, message: this.message };
  }
}

/** Context of an error built from a GitBook HTTP answer. */
export interface GitBookHttpErrorContext {
  operation: string;
  status: number;
  /** `error.message` from GitBook's body, when it sent one. */
  gitbookMessage?: string;
}

function describeAnswer(context: GitBookHttpErrorContext): string {
  const detail = context.gitbookMessage ? `: ${context.gitbookMessage}` : '';
  return `GitBook ${context.operation} failed with HTTP ${context.status}${detail}`;
}

/** An error built from an HTTP answer: carries the status and GitBook's message. */
abstract class GitBookHttpError extends GitBookError {
  /** `error.message` from GitBook's body, when it sent one. */
  readonly gitbookMessage?: string;

  protected constructor(code: GitBookErrorCode, retryable: boolean, context: GitBookHttpErrorContext) {
    super(code, describeAnswer(context), retryable, context);
    if (context.gitbookMessage !== undefined) this.gitbookMessage = context.gitbookMessage;
  }
}

/** Context of a 429 answer, as read from GitBook's rate-limit headers. */
export interface GitBookRateLimitContext extends GitBookHttpErrorContext {
  /** How long to wait before the next call, already capped and never negative. */
  retryAfterMs: number;
  /** `X-RateLimit-Limit`, when sent. */
  limit?: number;
  /** `X-RateLimit-Remaining`, when sent. */
  remaining?: number;
}

/** GitBook answered 429: too many requests. Retry after `retryAfterMs`. */
export class GitBookRateLimitError extends GitBookHttpError {
  override readonly name = 'GitBookRateLimitError';
  readonly retryAfterMs: number;
  readonly limit?: number;
  readonly remaining?: number;

  constructor(context: GitBookRateLimitContext) {
    super(GitBookErrorCode.rateLimited, true, context);
    this.retryAfterMs = context.retryAfterMs;
    if (context.limit !== undefined) this.limit = context.limit;
    if (context.remaining !== undefined) this.remaining = context.remaining;
  }
}

/** GitBook answered 5xx. Retryable. */
export class GitBookServerError extends GitBookHttpError {
  override readonly name = 'GitBookServerError';

  constructor(context: GitBookHttpErrorContext) {
    super(GitBookErrorCode.serverError, true, context);
  }
}

/** GitBook answered 400: the request was malformed. Permanent. */
export class GitBookBadRequestError extends GitBookHttpError {
  override readonly name = 'GitBookBadRequestError';

  constructor(context: GitBookHttpErrorContext) {
    super(GitBookErrorCode.badRequest, false, context);
  }
}

/** GitBook answered 401: the token is missing, wrong or expired. Permanent. */
export class GitBookUnauthorizedError extends GitBookHttpError {
  override readonly name = 'GitBookUnauthorizedError';

  constructor(context: GitBookHttpErrorContext) {
    super(GitBookErrorCode.unauthorized, false, context);
  }
}

/** GitBook answered 403: the token may not do this. Permanent. */
export class GitBookForbiddenError extends GitBookHttpError {
  override readonly name = 'GitBookForbiddenError';

  constructor(context: GitBookHttpErrorContext) {
    super(GitBookErrorCode.forbidden, false, context);
  }
}

/** GitBook answered 404: the organization, team or member does not exist. Permanent. */
export class GitBookNotFoundError extends GitBookHttpError {
  override readonly name = 'GitBookNotFoundError';

  constructor(context: GitBookHttpErrorContext) {
    super(GitBookErrorCode.notFound, false, context);
  }
}

/** GitBook answered 422: well-formed but refused (e.g. an invalid email). Permanent. */
export class GitBookUnprocessableError extends GitBookHttpError {
  override readonly name = 'GitBookUnprocessableError';

  constructor(context: GitBookHttpErrorContext) {
    super(GitBookErrorCode.unprocessable, false, context);
  }
}

/** Context of an answer we did not expect: its status, or a body of the wrong shape. */
export interface GitBookResponseErrorContext {
  operation: string;
  status: number;
  /** What was wrong, e.g. `users.0: expected string` or `unexpected status`. */
  problem: string;
  cause?: unknown;
}

/**
 * GitBook answered with a status this call does not expect, or with a body that does not have the
 * shape we rely on. An unexpected 4xx is permanent; anything else (3xx, odd 2xx, a bad body) may be
 * a passing glitch, so it is retryable.
 */
export class GitBookResponseError extends GitBookError {
  override readonly name = 'GitBookResponseError';

  constructor(context: GitBookResponseErrorContext) {
    const retryable = !(context.status >= 400 && context.status < 500);
    const answer = `an unexpected answer (HTTP ${context.status})`;
    const message = `GitBook ${context.operation} gave ${answer}: ${context.problem}`;
    super(GitBookErrorCode.unexpectedResponse, message, retryable, context);
  }
}

/** Context of a failure to reach GitBook or to read its answer. */
export interface GitBookTransportErrorContext {
  operation: string;
  /** The low-level error code (`ECONNRESET`, `UND_ERR_SOCKET`...), when there is one. */
  causeCode?: string;
  cause?: unknown;
}

/** The connection failed: refused, reset, closed early, DNS... Retryable. */
export class GitBookNetworkError extends GitBookError {
  override readonly name = 'GitBookNetworkError';
  readonly causeCode?: string;

  constructor(context: GitBookTransportErrorContext) {
    const detail = context.causeCode ? ` (${context.causeCode})` : '';
    super(GitBookErrorCode.networkError, `GitBook ${context.operation} failed: network error${detail}`, true, context);
    if (context.causeCode !== undefined) this.causeCode = context.causeCode;
  }
}

/** Context of a timeout. */
export interface GitBookTimeoutErrorContext extends GitBookTransportErrorContext {
  timeoutMs: number;
}

/** GitBook did not connect, answer or finish its body within the timeout. Retryable. */
export class GitBookTimeoutError extends GitBookError {
  override readonly name = 'GitBookTimeoutError';
  readonly timeoutMs: number;
  readonly causeCode?: string;

  constructor(context: GitBookTimeoutErrorContext) {
    const message = `GitBook ${context.operation} timed out after ${context.timeoutMs} ms`;
    super(GitBookErrorCode.timeout, message, true, context);
    this.timeoutMs = context.timeoutMs;
    if (context.causeCode !== undefined) this.causeCode = context.causeCode;
  }
}

/** One rejected argument: where it is and what was expected. */
export interface GitBookValidationIssue {
  path: string;
  message: string;
}

/** An argument or option was invalid; nothing was sent. Permanent. */
export class GitBookValidationError extends GitBookError {
  override readonly name = 'GitBookValidationError';
  readonly issues: readonly GitBookValidationIssue[];

  constructor(operation: string, issues: readonly GitBookValidationIssue[]) {
    const listed = issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
    super(GitBookErrorCode.invalidArgument, `GitBook ${operation} rejected its arguments: ${listed}`, false, {
      operation,
    });
    this.issues = issues;
  }
}

/** The client was closed; make a new one. Permanent for this client. */
export class GitBookClientClosedError extends GitBookError {
  override readonly name = 'GitBookClientClosedError';

  constructor(operation: string) {
    super(GitBookErrorCode.clientClosed, `GitBook ${operation} called on a closed client`, false, { operation });
  }
}

/**
 * GitBook invited these people but could not make them SSO users (they belong to another
 * organization). The client returns such emails in `failedSSOEmails`; callers throw this error to
 * report them as a failure. Permanent: retrying the invite gives the same answer.
 */
export class GitBookInviteSSOError extends GitBookError {
  override readonly name = 'GitBookInviteSSOError';
  readonly emails: readonly string[];

  constructor(emails: readonly string[]) {
    const message = `GitBook could not invite ${emails.length} user(s) as SSO users: ${emails.join(', ')}`;
    super(GitBookErrorCode.inviteSSOFailed, message, false, { operation: 'inviteUsers' });
    this.emails = [...emails];
  }
}

/** True when `err` is a GitBook client error that may succeed if the call is tried again. */
export function isRetryableGitBookError(err: unknown): boolean {
  return err instanceof GitBookError && err.retryable;
}

/** True when `err` is any GitBook client error. */
export function isGitBookError(err: unknown): err is GitBookError {
  return err instanceof GitBookError;
}

/** A response header as undici gives it: one value, several, or absent. */
export type HeaderValue = string | string[] | undefined;

/** What {@link readRateLimitHeaders} needs: lower-cased response headers and the time now. */
export interface RateLimitHeaderInput {
  headers: Record<string, HeaderValue>;
  nowMs: number;
  /** Upper bound on the returned wait. */
  maxWaitMs: number;
}

/** GitBook's rate-limit headers, read. */
export interface RateLimitInfo {
  retryAfterMs: number;
  limit?: number;
  remaining?: number;
}

/** Epoch seconds below this are read as "seconds from now" instead (a year-2001 reset is no reset). */
const SMALLEST_EPOCH_SECONDS = 1_000_000_000;

function firstHeader(value: HeaderValue): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  const trimmed = first?.trim();
  return trimmed ? trimmed : undefined;
}

function headerNumber(value: HeaderValue): number | undefined {
  const text = firstHeader(value);
  if (text === undefined || !/^\d+(\.\d+)?$/.test(text)) return undefined;
  return Number(text);
}

function waitFromReset(headers: Record<string, HeaderValue>, nowMs: number): number | undefined {
  const resetSeconds = headerNumber(headers['x-ratelimit-reset']);
  if (resetSeconds === undefined) return undefined;
  if (resetSeconds < SMALLEST_EPOCH_SECONDS) return resetSeconds * 1_000;
  return resetSeconds * 1_000 - nowMs;
}

function waitFromRetryAfter(headers: Record<string, HeaderValue>, nowMs: number): number | undefined {
  const seconds = headerNumber(headers['retry-after']);
  if (seconds !== undefined) return seconds * 1_000;

  const text = firstHeader(headers['retry-after']);
  const dateMs = text === undefined ? NaN : Date.parse(text);
  return Number.isNaN(dateMs) ? undefined : dateMs - nowMs;
}

/**
 * Reads a 429's headers: the wait comes from `X-RateLimit-Reset` (epoch seconds), else from
 * `Retry-After` (seconds or an HTTP date), else {@link DEFAULT_RATE_LIMIT_WAIT_MS}. The wait is
 * rounded up to whole milliseconds, never negative and at most `maxWaitMs`.
 */
export function readRateLimitHeaders(input: RateLimitHeaderInput): RateLimitInfo {
  const { headers, nowMs, maxWaitMs } = input;
  const rawWaitMs = waitFromReset(headers, nowMs) ?? waitFromRetryAfter(headers, nowMs) ?? DEFAULT_RATE_LIMIT_WAIT_MS;
  const retryAfterMs = Math.min(Math.max(0, Math.ceil(rawWaitMs)), maxWaitMs);

  const info: RateLimitInfo = { retryAfterMs };
  const limit = headerNumber(headers['x-ratelimit-limit']);
  const remaining = headerNumber(headers['x-ratelimit-remaining']);
  if (limit !== undefined) info.limit = limit;
  if (remaining !== undefined) info.remaining = remaining;
  return info;
}
