/**
 * The hook receiver: a Fastify app that turns IdP deliveries into directory events and hands them to
 * Temporal. It answers 2xx only once every accepted event is held by its user's workflow, and 503
 * (with `Retry-After`) when Temporal cannot take them in time, so the IdP retries; redeliveries are
 * recognised by event id in the workflow. Bad input gets a 4xx naming the field, never a 500.
 */
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { createLogger, type Logger } from '../logger';
import type { SyncConfig } from '../mapping';
import type { DirectoryEvent } from '../../workflows/events';
import { handOffDirectoryEvents, startDeliveryWorkflow } from '../submit';
import { isAuthorized } from './auth';
import { collectBatch, type EventOutcome } from './batch';
import { directoryEventIdField, mapDirectoryHookEvent, parseDirectoryDelivery } from './directory';
import {
  HandoffError,
  HookRequestError,
  ReceiverConfigError,
  ReceiverErrorCode,
  errorAnswer,
  type ErrorAnswer,
} from './errors';
import { GroupCommit, type CommitEvents } from './group-commit';
import { track, withTimeout, type SubmitEvents } from './handoff';
import { ReceiverMetrics } from './metrics';
import { mapOktaEvent, oktaEventIdField, parseOktaDelivery } from './okta';

/** The receiver's routes (fixed names operators rely on). */
export const RECEIVER_ROUTES = {
  health: '/healthz',
  ready: '/readyz',
  okta: '/hooks/okta',
  directory: '/hooks/directory',
  metrics: '/metrics',
} as const;

/** Events one delivery may carry; a larger one is refused whole (413) before any is read. */
export const MAX_EVENTS_PER_DELIVERY = 2_000;

/** Ignored or rejected events logged one by one per delivery; the rest are counted. */
const MAX_EVENT_LOG_LINES = 20;

/** The header of Okta's one-time verification request. */
export const OKTA_CHALLENGE_HEADER = 'x-okta-verification-challenge';

/** @default the largest body accepted: 1 MiB. */
export const DEFAULT_BODY_LIMIT_BYTES = 1_048_576;

/** @default how long a delivery may wait for Temporal; Okta itself waits 3 s for the answer. */
export const DEFAULT_SUBMIT_TIMEOUT_MS = 2_500;

/** @default how long `/readyz` waits for Temporal to answer. */
export const DEFAULT_READINESS_TIMEOUT_MS = 1_000;

/** @default the `Retry-After` of a 503. */
export const DEFAULT_RETRY_AFTER_SECONDS = 5;

/**
 * @default how long `close()` waits for Temporal calls that outlived their request. They end at
 * their deadline, but the SDK may have one retry scheduled (its backoff is at most 5 s).
 */
export const DEFAULT_CLOSE_GRACE_MS = 7_500;

/** A whole request (headers and body) must arrive within this; slow senders are cut off. */
const REQUEST_TIMEOUT_MS = 10_000;

const NOT_JSON_MESSAGE = 'the content-type must be application/json';

/** `application/json` and any `application/<something>+json`, with parameters or not. */
const JSON_MEDIA_TYPE = /^application\/(?:[\w!#$&^.-]+\+)?json(?:;|$)/;

export interface ReceiverOptions {
  /** The Temporal client that starts and signals the users' workflows. */
  client: Client;
  taskQueue: string;
  /** The group mapping: events about groups it does not map are acknowledged and dropped. */
  syncConfig: SyncConfig;
  /** The shared secret expected in `Authorization` (as is, or `Bearer <secret>`). */
  secret?: string;
  /** Serve the hook routes without a secret. For a laptop only; a warning is logged. @default false */
  allowInsecure?: boolean;
  /** @default {@link DEFAULT_BODY_LIMIT_BYTES} */
  bodyLimitBytes?: number;
  /** @default {@link DEFAULT_SUBMIT_TIMEOUT_MS} */
  submitTimeoutMs?: number;
  /** @default {@link DEFAULT_READINESS_TIMEOUT_MS} */
  readinessTimeoutMs?: number;
  /** @default {@link DEFAULT_RETRY_AFTER_SECONDS} */
  retryAfterSeconds?: number;
  /** @default {@link DEFAULT_CLOSE_GRACE_MS} */
  closeGraceMs?: number;
  /** A pino logger, or `false` for none. @default a new `receiver` logger from `createLogger` */
  logger?: Logger | false;
  /**
   * How a delivery's events reach Temporal when it goes alone (nothing else in flight, or one event).
   * @default `handOffDirectoryEvents(client, taskQueue, events)`
   */
  submit?: SubmitEvents;
  /**
   * How a group of concurrent deliveries reaches Temporal, with one call.
   * @default `submit` when that is set, else the start of one `deliveryWorkflow` (`startDeliveryWorkflow`)
   */
  submitGroup?: SubmitEvents;
  /** Calls to Temporal in flight at once; deliveries arriving meanwhile wait and are grouped. @default 4 */
  maxConcurrentHandoffs?: number;
  /** Events per group (at most 20,000, what `deliveryWorkflow` accepts). @default 2,000 */
  maxGroupEvents?: number;
  /** Serialized events per group, under Temporal's 512 KiB payload warning. @default 524,288 */
  maxGroupBytes?: number;
  /** Events waiting for a call; a delivery that would exceed it gets 503 at once. @default 8,000 */
  maxQueuedEvents?: number;
}

export interface StartReceiverOptions extends ReceiverOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** `0` picks a free port. @default 0 */
  port?: number;
}

/** A listening receiver. */
export interface RunningReceiver {
  /** The base URL, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  readonly app: FastifyInstance;
  /**
   * Stops accepting requests, waits for those in flight and for Temporal calls still running in the
   * background (they end at their deadline), then closes. Close the Temporal connection after this.
   */
  close(): Promise<void>;
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  const resolved = value ?? fallback;
  if (!Number.isInteger(resolved) || resolved <= 0) {
    throw new ReceiverConfigError(`${name} must be a positive integer, got ${resolved}`);
  }
  return resolved;
}

/**
 * Builds the receiver's Fastify app, not listening (use `app.listen` or {@link startReceiver}).
 *
 * @throws ReceiverConfigError without a secret unless `allowInsecure` is set, or for a bad limit.
 */
export function buildReceiver(options: ReceiverOptions): FastifyInstance {
  const secret = options.secret || undefined;
  if (!secret && !options.allowInsecure) {
    throw new ReceiverConfigError('a hook secret is required (HOOK_SECRET); set allowInsecure to run without one');
  }

  const bodyLimitBytes = positiveInteger('bodyLimitBytes', options.bodyLimitBytes, DEFAULT_BODY_LIMIT_BYTES);
  const submitTimeoutMs = positiveInteger('submitTimeoutMs', options.submitTimeoutMs, DEFAULT_SUBMIT_TIMEOUT_MS);
  const readinessTimeoutMs = positiveInteger(
    'readinessTimeoutMs',
    options.readinessTimeoutMs,
    DEFAULT_READINESS_TIMEOUT_MS,
  );
  const retryAfterSeconds = positiveInteger(
    'retryAfterSeconds',
    options.retryAfterSeconds,
    DEFAULT_RETRY_AFTER_SECONDS,
  );
  const closeGraceMs = positiveInteger('closeGraceMs', options.closeGraceMs, DEFAULT_CLOSE_GRACE_MS);
  const { client, taskQueue, syncConfig } = options;
  const submit = options.submit ?? ((events) => handOffDirectoryEvents(client, taskQueue, events));
  const submitGroup: (events: DirectoryEvent[], deliveries: number) => Promise<unknown> =
    options.submitGroup ??
    options.submit ??
    ((events, deliveries) => {
      const summary = `Directory deliveries: ${deliveries} received together, ${events.length} events`;
      return startDeliveryWorkflow(client, taskQueue, events, { summary });
    });

  // Temporal calls that outlived their request (they end at their deadline) and readiness probes.
  const inFlight = new Set<Promise<unknown>>();
  /** A call to Temporal under the hand-off's deadline, tracked until it settles. */
  const viaTemporal =
    (submitEvents: (events: DirectoryEvent[], deliveries: number) => Promise<unknown>): CommitEvents =>
    (events, { deadlineMs, deliveries }) =>
      track(client.withDeadline(deadlineMs, () => submitEvents(events, deliveries)), inFlight);
  const metrics = new ReceiverMetrics(() => handoffs.queuedEvents);
  const handoffs = new GroupCommit({
    commitAlone: viaTemporal(submit),
    commitGroup: viaTemporal(submitGroup),
    timeoutMs: submitTimeoutMs,
    maxConcurrent: options.maxConcurrentHandoffs,
    maxGroupEvents: options.maxGroupEvents,
    maxGroupBytes: options.maxGroupBytes,
    maxQueuedEvents: options.maxQueuedEvents,
    onHandoff: (record) => metrics.countHandoff(record),
  });

  const logger = options.logger === false ? undefined : (options.logger ?? createLogger({ name: 'receiver' }));
  const app: FastifyInstance = Fastify({
    ...(logger ? { loggerInstance: logger as FastifyBaseLogger } : { logger: false }),
    bodyLimit: bodyLimitBytes,
    requestTimeout: REQUEST_TIMEOUT_MS,
    // Each hook logs one line of its own; per-request lines would mostly be health probes.
    logController: new LogController({ disableRequestLogging: true }),
  });
  if (!secret) {
    app.log.warn(
      { routes: [RECEIVER_ROUTES.okta, RECEIVER_ROUTES.directory] },
      'NO HOOK SECRET: anyone who can reach the receiver can change GitBook membership',
    );
  }

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url;
    if (route !== RECEIVER_ROUTES.okta && route !== RECEIVER_ROUTES.directory) return;
    metrics.requests.inc({ route, status: String(reply.statusCode) });
    metrics.latency.observe({ route }, reply.elapsedTime / 1_000);
  });
  app.addHook('onSend', async (request, reply, payload) => {
    const route = request.routeOptions.url;
    if ((route === RECEIVER_ROUTES.okta || route === RECEIVER_ROUTES.directory) && reply.statusCode >= 400) {
      const code = typeof payload === 'string' ? /"code":"([A-Z_]+)"/.exec(payload)?.[1] : undefined;
      metrics.refusals.inc({ route, reason: code ?? String(reply.statusCode) });
    }
    return payload;
  });

  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // Deliveries still waiting are handed over or answered by their deadline, and Temporal calls that
  // outlived their request end at theirs; wait for both so the caller can close the Temporal
  // connection safely after `close()`.
  app.addHook('onClose', async () => {
    const settled = handoffs.idle().then(() => Promise.allSettled([...inFlight]));
    await withTimeout(settled, closeGraceMs, () => new Error('Temporal calls still running')).catch(() => {
      app.log.warn({ calls: inFlight.size }, 'closed with Temporal calls still running');
    });
  });

  // Only JSON is parsed; any other content type is refused with 415 before the body is read.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(JSON_MEDIA_TYPE, { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      // Bytes that are not UTF-8 would be replaced by U+FFFD and could make two event ids one.
      done(null, parseJson(decodeUtf8(body as Buffer)));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  app.setErrorHandler((error: FastifyError | HookRequestError, request, reply) => {
    const { status, answer } = describeError(error, bodyLimitBytes);
    if (status >= 500) request.log.error({ err: error }, 'hook request failed');
    else request.log.info({ status, code: answer.error.code, route: request.routeOptions.url }, 'hook request refused');
    return reply.code(status).send(answer);
  });

  app.setNotFoundHandler((request, reply) => {
    const [path] = request.url.split('?');
    return reply.code(404).send(errorAnswer(ReceiverErrorCode.notFound, `no route ${request.method} ${path}`));
  });

  /** Refuses a hook request without the secret, before its body is read. */
  const authenticate = async (request: FastifyRequest, reply: FastifyReply) => {
    if (!secret || isAuthorized(request.headers.authorization, secret)) return;

    const reason = request.headers.authorization === undefined ? 'no Authorization header' : 'wrong secret';
    request.log.warn({ route: request.routeOptions.url, method: request.method, reason }, 'hook request unauthorized');
    return reply
      .code(401)
      .header('www-authenticate', 'Bearer')
      .send(errorAnswer(ReceiverErrorCode.unauthorized, 'a valid Authorization header is required'));
  };

  /** Hands the accepted events to Temporal, then answers with the report (or 503). */
  const deliver = async (
    request: FastifyRequest,
    reply: FastifyReply,
    delivery: { outcomes: EventOutcome[]; idField: (index: number) => string; deliveryId?: string },
  ) => {
    const { events, report } = collectBatch(delivery.outcomes, delivery.idField);
    const route = request.routeOptions.url;
    for (const ignored of report.ignoredEvents.slice(0, MAX_EVENT_LOG_LINES)) {
      request.log.info({ route, index: ignored.index, eventId: ignored.id, reason: ignored.reason }, 'event ignored');
    }
    for (const rejected of report.rejectedEvents.slice(0, MAX_EVENT_LOG_LINES)) {
      const fields = rejected.issues.map((issue) => issue.field);
      request.log.warn({ route, index: rejected.index, eventId: rejected.id, fields }, 'event rejected');
    }

    try {
      await handoffs.submit(events);
    } catch (err) {
      const { deliveryId } = delivery;
      request.log.warn({ route, deliveryId, events: events.length, err }, 'events not handed to Temporal');
      if (err instanceof HandoffError) metrics.countRefusedHandoff(err);
      const message =
        err instanceof HandoffError && err.code === 'HANDOFF_QUEUE_FULL'
          ? 'too many events are waiting for Temporal; retry later'
          : 'the events could not be handed to Temporal; retry later';
      return reply
        .code(503)
        .header('retry-after', String(retryAfterSeconds))
        .send(errorAnswer(ReceiverErrorCode.temporalUnavailable, message));
    }

    metrics.countReport(route ?? 'unknown', report);
    const { ignoredEvents: _ignored, rejectedEvents: _rejected, ...counts } = report;
    request.log.info({ route, deliveryId: delivery.deliveryId, ...counts }, 'delivery handled');
    return reply.code(200).send(report);
  };

  app.get(RECEIVER_ROUTES.health, async () => ({ status: 'ok' }));

  // Prometheus scraping; serve the receiver's port only inside the cluster, as usual for metrics.
  app.get(RECEIVER_ROUTES.metrics, async (_request, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.get(RECEIVER_ROUTES.ready, async (_request, reply) => {
    if (closing) return reply.code(503).send({ status: 'closing' });

    const deadline = Date.now() + readinessTimeoutMs;
    const probe = track(
      client.connection.withDeadline(deadline, () => client.connection.workflowService.getSystemInfo({})),
      inFlight,
    );
    try {
      await withTimeout(probe, readinessTimeoutMs, () => new Error('Temporal did not answer in time'));
      return { status: 'ready' };
    } catch (err) {
      reply.log.warn({ err }, 'not ready: Temporal did not answer');
      return reply.code(503).header('retry-after', String(retryAfterSeconds)).send({ status: 'unavailable' });
    }
  });

  // Okta's one-time verification: echo the challenge; nothing else happens.
  app.get(RECEIVER_ROUTES.okta, { onRequest: authenticate }, async (request) => {
    const challenge = request.headers[OKTA_CHALLENGE_HEADER];
    if (typeof challenge !== 'string' || challenge.length === 0) {
      const message = `the ${OKTA_CHALLENGE_HEADER} header is required`;
      throw new HookRequestError(400, ReceiverErrorCode.missingHeader, message);
    }
    request.log.info({ route: RECEIVER_ROUTES.okta }, 'okta verification answered');
    return { verification: challenge };
  });

  app.post(RECEIVER_ROUTES.okta, { onRequest: authenticate }, async (request, reply) => {
    const parsed = parseOktaDelivery(requireBody(request));
    if (!parsed.ok) {
      const message = 'the body is not an Okta event hook delivery';
      throw new HookRequestError(400, ReceiverErrorCode.invalidBody, message, parsed.issues);
    }

    const { deliveryId, events } = parsed.delivery;
    refuseOversizedDelivery(events.length);
    const outcomes = events.map((raw, index) => mapOktaEvent(raw, index, syncConfig));
    return await deliver(request, reply, { outcomes, idField: oktaEventIdField, deliveryId });
  });

  app.post(RECEIVER_ROUTES.directory, { onRequest: authenticate }, async (request, reply) => {
    const delivery = parseDirectoryDelivery(requireBody(request));
    refuseOversizedDelivery(delivery.events.length);
    const outcomes = delivery.events.map((raw, index) => mapDirectoryHookEvent(raw, index, delivery, syncConfig));

    // A lone event that fails validation is the whole body: refuse it. In a batch, the rest goes on.
    const [only] = outcomes;
    if (!delivery.batch && only?.kind === 'rejected') {
      throw new HookRequestError(400, ReceiverErrorCode.invalidEvent, 'the event is invalid', only.issues);
    }
    return await deliver(request, reply, { outcomes, idField: (index) => directoryEventIdField(delivery, index) });
  });

  return app;
}

/** Builds the receiver and listens on `host:port`. */
export async function startReceiver(options: StartReceiverOptions): Promise<RunningReceiver> {
  const { host = '127.0.0.1', port = 0, ...receiverOptions } = options;
  const app = buildReceiver(receiverOptions);

  try {
    await app.listen({ host, port });
  } catch (err) {
    await app.close();
    throw err;
  }
  const { port: boundPort } = app.server.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return { url: `http://${urlHost}:${boundPort}`, app, close: () => app.close() };
}

function refuseOversizedDelivery(events: number): void {
  if (events <= MAX_EVENTS_PER_DELIVERY) return;
  const message = `a delivery may carry at most ${MAX_EVENTS_PER_DELIVERY} events; this one has ${events}: split it`;
  throw new HookRequestError(413, ReceiverErrorCode.tooManyEvents, message);
}

function decodeUtf8(body: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new HookRequestError(400, ReceiverErrorCode.malformedJson, 'the body is not valid UTF-8');
  }
}

function parseJson(text: string): unknown {
  if (text.trim().length === 0) {
    throw new HookRequestError(400, ReceiverErrorCode.malformedJson, 'the body is empty; a JSON object is required');
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    const message = `the body is not valid JSON: ${(err as Error).message}`;
    throw new HookRequestError(400, ReceiverErrorCode.malformedJson, message);
  }
}

/** The parsed body. A POST without one reaches the handler only when it had no content type. */
function requireBody(request: FastifyRequest): unknown {
  if (request.body === undefined) {
    throw new HookRequestError(415, ReceiverErrorCode.unsupportedContentType, NOT_JSON_MESSAGE);
  }
  return request.body;
}

/** The status and answer for an error; anything unforeseen is a 500 whose detail stays in the logs. */
function describeError(
  error: FastifyError | HookRequestError,
  bodyLimitBytes: number,
): { status: number; answer: ErrorAnswer } {
  if (error instanceof HookRequestError) {
    return { status: error.statusCode, answer: errorAnswer(error.code, error.message, error.issues) };
  }

  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      const message = `the body is larger than ${bodyLimitBytes} bytes`;
      return { status: 413, answer: errorAnswer(ReceiverErrorCode.bodyTooLarge, message) };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, answer: errorAnswer(ReceiverErrorCode.unsupportedContentType, NOT_JSON_MESSAGE) };
  }

  const status = error.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return { status, answer: errorAnswer(ReceiverErrorCode.badRequest, error.message) };
  }
  const message = 'the receiver failed; the cause is in its logs';
  return { status: 500, answer: errorAnswer(ReceiverErrorCode.internal, message) };
}
