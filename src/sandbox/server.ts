/**
 * The GitBook sandbox: a local HTTP server that answers the GitBook REST operations directory sync
 * uses, as the OpenAPI document declares them, with the failures a real API produces on demand.
 *
 * Every API request passes the same gates, in this order: an injected fault, the rate limit, the
 * Bearer token, the organization id. Every answer to an API request carries the rate-limit headers
 * when a limit is set, and every request is recorded so tests can assert what a client sent.
 */
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { LoggerOptions } from 'pino';

import { type SandboxFault, FaultQueue } from './faults';
import { InvalidPageTokenError } from './pagination';
import { FixedWindowRateLimiter, type RateLimitOptions, type RateLimitState, rateLimitHeaders } from './rate-limit';
import { registerGitBookRoutes, SandboxHttpError } from './routes';
import { resolveSeed, type SandboxSeed } from './seed';
import { SandboxDirectory, type SandboxMember, type SandboxTeamSnapshot } from './state';
import { errorView } from './views';

/** How to start a sandbox. */
export interface SandboxOptions {
  /** The only Bearer token the sandbox accepts. */
  token: string;
  /** The only organization id the sandbox knows; any other answers 404. */
  organizationId: string;
  /** Starting members and teams; `seed.organizationId` is ignored here. @default an empty organization */
  seed?: SandboxSeed;
  /** A fixed-window limit across all API requests. @default no limit (and no rate-limit headers) */
  rateLimit?: RateLimitOptions;
  /** Items per page when a list request gives no `limit`. @default 20 */
  pageSize?: number;
  /** Fastify's request logging: `true`, or pino options. @default false */
  logger?: boolean | LoggerOptions;
  /** @default '127.0.0.1' */
  host?: string;
  /** @default 0 (any free port) */
  port?: number;
}

/** One request the sandbox received. Headers are never recorded, so neither is the token. */
export interface SandboxCall {
  method: string;
  /** The path as sent, still URL-encoded, without the query string. */
  path: string;
  /** The query string, decoded the way the server decodes it (`+` reads as a space). */
  query: Record<string, string | string[]>;
  /** The status answered; `null` while pending or when the connection was dropped without an answer. */
  status: number | null;
  /** A copy of the parsed request body, if any. */
  body?: unknown;
  /** When the request arrived, in epoch milliseconds. */
  receivedAtMs: number;
}

/** A deep copy of the sandbox's organization and of the requests it received. */
export interface SandboxSnapshot {
  organizationId: string;
  /** Members in the order they joined. */
  members: SandboxMember[];
  teams: SandboxTeamSnapshot[];
  /** Every API request, in the order received. */
  calls: SandboxCall[];
}

/** A running sandbox. */
export interface GitBookSandbox {
  /** The base URL including `/v1`, e.g. `http://127.0.0.1:41234/v1`. */
  readonly url: string;
  /** A deep copy of members, teams and recorded calls. */
  state(): SandboxSnapshot;
  /** Forgets the recorded calls. */
  clearCalls(): void;
  /** Sets, replaces or (with `undefined`) removes the rate limit; the window starts afresh. */
  setRateLimit(rateLimit: RateLimitOptions | undefined): void;
  /** Queues a fault behind those already waiting. */
  injectFault(fault: SandboxFault): void;
  /** Drops every waiting fault. */
  clearFaults(): void;
  /**
   * Restores the organization from `seed` (default: the seed it started with), forgets calls and
   * faults, and starts a fresh rate-limit window. The token, organization and limit stay.
   */
  reset(seed?: SandboxSeed): void;
  /** Stops the server, dropping open connections and pending delays. */
  close(): Promise<void>;
}

/** @default page size of list answers */
export const DEFAULT_PAGE_SIZE = 20;

/** The limit reported by a rate-limit fault when no rate limit is configured. */
const FAULT_RATE_LIMIT_FALLBACK = 60;

/** The unauthenticated, read-only route that shows the snapshot. */
export const SANDBOX_STATE_PATH = '/_sandbox/state';

/** Per-request bookkeeping, kept off the request object so no global Fastify typing is touched. */
interface RequestRecord {
  call: SandboxCall;
  rateLimit?: RateLimitState;
}

/**
 * Starts a sandbox and resolves once it listens.
 *
 * @throws SandboxSeedError when the seed is invalid, RangeError when the rate limit or page size is.
 */
export async function startSandbox(options: SandboxOptions): Promise<GitBookSandbox> {
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
    throw new RangeError(`pageSize must be an integer from 1 to 1000, got ${pageSize}`);
  }

  const initialSeed = options.seed;
  let directory = new SandboxDirectory(resolveSeed(initialSeed));
  let rateLimitOptions = options.rateLimit;
  let limiter = rateLimitOptions === undefined ? undefined : new FixedWindowRateLimiter(rateLimitOptions);
  let calls: SandboxCall[] = [];
  let apiUrl = '';
  const faults = new FaultQueue();
  const records = new WeakMap<FastifyRequest, RequestRecord>();
  const closing = new AbortController();

  const app = Fastify({ logger: options.logger ?? false, forceCloseConnections: true });

  app.addHook('onRequest', async (request) => {
    if (!isApiRequest(request)) {
      return;
    }
    const [path = ''] = request.url.split('?');
    const call: SandboxCall = {
      method: request.method,
      path,
      query: { ...(request.query as Record<string, string | string[]>) },
      status: null,
      receivedAtMs: Date.now(),
    };
    calls.push(call);
    records.set(request, { call });
  });

  app.addHook('preHandler', async (request, reply) => {
    const record = records.get(request);
    if (record === undefined) {
      return;
    }
    if (request.body !== undefined) {
      record.call.body = structuredClone(request.body);
    }

    const fault = faults.take(request.method, record.call.path);
    if (fault !== undefined && (await applyFault(fault, request, reply, record))) {
      return reply;
    }

    if (limiter !== undefined) {
      const { allowed, state } = limiter.consume(Date.now());
      record.rateLimit = state;
      if (!allowed) {
        return reply.code(429).send(errorView(429, 'Rate limit exceeded, retry after X-RateLimit-Reset'));
      }
    }

    if (!hasToken(request, options.token)) {
      return reply.code(401).send(errorView(401, 'A valid API token is required: Authorization: Bearer <token>'));
    }

    const { organizationId } = (request.params ?? {}) as { organizationId?: string };
    if (organizationId !== undefined && organizationId !== options.organizationId) {
      return reply.code(404).send(errorView(404, `Organization ${organizationId} not found`));
    }
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const record = records.get(request);
    // Answers given before the limiter ran (a fault, a body that is not JSON) report the window as is.
    const state = record?.rateLimit ?? (record === undefined ? undefined : limiter?.peek(Date.now()));
    if (state !== undefined) {
      reply.headers(rateLimitHeaders(state));
    }
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    const record = records.get(request);
    if (record !== undefined) {
      record.call.status = reply.statusCode;
    }
  });

  app.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
    const status = errorStatus(error);
    if (status >= 500) {
      request.log.error({ err: error }, 'sandbox request failed');
    }
    const message = status >= 500 ? 'Internal sandbox error' : error.message;
    return reply.code(status).send(errorView(status, message));
  });

  app.setNotFoundHandler((request, reply) => {
    const [path] = request.url.split('?');
    return reply.code(404).send(errorView(404, `No GitBook operation at ${request.method} ${path}`));
  });

  app.get(SANDBOX_STATE_PATH, async () => snapshot());

  registerGitBookRoutes(app, {
    directory: () => directory,
    apiUrl: () => apiUrl,
    pageSize,
    now: () => new Date(),
  });

  await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
  apiUrl = `${baseUrl(app)}/v1`;

  function snapshot(): SandboxSnapshot {
    return structuredClone({ organizationId: options.organizationId, ...directory.snapshot(), calls });
  }

  /** Applies a fault; `true` when it answered (or dropped) the request itself. */
  async function applyFault(
    fault: SandboxFault,
    request: FastifyRequest,
    reply: FastifyReply,
    record: RequestRecord,
  ): Promise<boolean> {
    switch (fault.kind) {
      case 'delay':
        try {
          await sleep(fault.delayMs, undefined, { signal: closing.signal });
          return false;
        } catch {
          dropConnection(request, reply);
          return true;
        }
      case 'reset':
        dropConnection(request, reply);
        return true;
      case 'status':
        reply.code(fault.status).send(errorView(fault.status, `Injected sandbox fault: status ${fault.status}`));
        return true;
      case 'rate-limit': {
        const limit = limiter?.limit ?? FAULT_RATE_LIMIT_FALLBACK;
        record.rateLimit = { limit, remaining: 0, resetAtMs: Date.now() + fault.resetInMs };
        reply.code(429).send(errorView(429, 'Rate limit exceeded, retry after X-RateLimit-Reset'));
        return true;
      }
    }
  }

  return {
    url: apiUrl,
    state: snapshot,
    clearCalls: () => {
      calls = [];
    },
    setRateLimit: (rateLimit) => {
      rateLimitOptions = rateLimit;
      limiter = rateLimit === undefined ? undefined : new FixedWindowRateLimiter(rateLimit);
    },
    injectFault: (fault) => faults.inject(fault),
    clearFaults: () => faults.clear(),
    reset: (seed) => {
      directory = new SandboxDirectory(resolveSeed(seed ?? initialSeed));
      calls = [];
      faults.clear();
      limiter = rateLimitOptions === undefined ? undefined : new FixedWindowRateLimiter(rateLimitOptions);
    },
    close: async () => {
      closing.abort();
      await app.close();
    },
  };
}

function isApiRequest(request: FastifyRequest): boolean {
  return request.url === '/v1' || request.url.startsWith('/v1/') || request.url.startsWith('/v1?');
}

function hasToken(request: FastifyRequest, token: string): boolean {
  const header = request.headers.authorization;
  const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] === token;
}

/** Ends the exchange without an answer, as a dropped connection or a crashed proxy would. */
function dropConnection(request: FastifyRequest, reply: FastifyReply): void {
  reply.hijack();
  request.raw.socket.destroy();
}

function errorStatus(error: Error & { statusCode?: number }): number {
  if (error instanceof InvalidPageTokenError) {
    return 400;
  }
  if (error instanceof SandboxHttpError) {
    return error.statusCode;
  }
  const status = error.statusCode;
  return typeof status === 'number' && status >= 400 && status <= 599 ? status : 500;
}

function baseUrl(app: FastifyInstance): string {
  const address = app.server.address() as AddressInfo;
  // A wildcard bind is reachable on loopback; a URL cannot point at the wildcard itself.
  const host = ['0.0.0.0', '::'].includes(address.address) ? '127.0.0.1' : address.address;
  const shown = host.includes(':') ? `[${host}]` : host;
  return `http://${shown}:${address.port}`;
}
