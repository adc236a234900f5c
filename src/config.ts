/**
 * Settings, read once at the edge: a zod schema over the environment into a frozen, typed object.
 * Tests build their own with {@link loadConfig}({ ...values }).
 */
import { z } from 'zod';
import { DEFAULT_TASK_QUEUE } from '../workflows/api';
import { describeIssues } from '../workflows/events';
import {
  DEFAULT_MAX_CONCURRENT_HANDOFFS,
  DEFAULT_MAX_GROUP_EVENTS,
  DEFAULT_MAX_QUEUED_EVENTS,
  MAX_GROUP_EVENTS,
} from './receiver/group-commit';

const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

export const configSchema = z.object({
  GITBOOK_API_URL: z.url().default('https://api.gitbook.com/v1'),
  GITBOOK_API_TOKEN: optionalString,
  GITBOOK_ORG_ID: optionalString,
  GITBOOK_REQUEST_TIMEOUT_MS: positiveInt(10_000),
  /** Calls per second across every worker on the task queue (Temporal's task-queue rate limit). */
  GITBOOK_MAX_CALLS_PER_SECOND: z.coerce.number().positive().optional(),
  /**
   * Workflows a worker keeps in memory between their tasks (sticky cache). Bounds the worker's
   * memory however many people are being synced; an evicted workflow is rebuilt from its history.
   */
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).default(500),
  TEMPORAL_ADDRESS: optionalString,
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default(DEFAULT_TASK_QUEUE),
  /** Ports of the dev server `npm start` runs when `TEMPORAL_ADDRESS` is unset. */
  TEMPORAL_DEV_PORT: z.coerce.number().int().min(1).max(65_535).default(7233),
  TEMPORAL_DEV_UI_PORT: z.coerce.number().int().min(1).max(65_535).default(8233),
  SYNC_CONFIG: z.string().min(1).default('config/sync.json'),
  /** Set the custom search attributes on runs (they must be registered on the namespace). */
  SYNC_SEARCH_ATTRIBUTES: z
    .enum(['true', 'false'])
    .default('true')
    .transform((value) => value === 'true'),
  HOOK_SECRET: optionalString,
  HOOK_PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
  /** Interface the receiver listens on. */
  HOOK_HOST: z.string().min(1).default('0.0.0.0'),
  /** Serve the hook routes without `HOOK_SECRET` (a laptop only; the receiver logs a warning). */
  HOOK_ALLOW_INSECURE: z
    .enum(['true', 'false'])
    .default('false')
    .transform((value) => value === 'true'),
  /**
   * The receiver's hand-offs to Temporal: calls in flight at once; while they are busy, deliveries
   * that arrive are merged into one call of at most `HOOK_MAX_GROUP_EVENTS` events; past
   * `HOOK_MAX_QUEUED_EVENTS` waiting, a delivery is answered 503 at once (Okta retries it).
   */
  HOOK_MAX_CONCURRENT_HANDOFFS: positiveInt(DEFAULT_MAX_CONCURRENT_HANDOFFS),
  HOOK_MAX_GROUP_EVENTS: z.coerce.number().int().min(1).max(MAX_GROUP_EVENTS).default(DEFAULT_MAX_GROUP_EVENTS),
  HOOK_MAX_QUEUED_EVENTS: positiveInt(DEFAULT_MAX_QUEUED_EVENTS),
  DATA_DIR: z.string().min(1).default('.data'),
  /**
   * Payload encryption keys, `id:base64key[,id:base64key...]`: the first seals new payloads, all
   * open old ones. Unset: payloads are stored as plain JSON.
   */
  PAYLOAD_ENCRYPTION_KEYS: optionalString,
  /** The codec endpoint for the Web UI (only with encryption on). */
  CODEC_PORT: z.coerce.number().int().min(0).max(65_535).default(8888),
  CODEC_HOST: z.string().min(1).default('127.0.0.1'),
  CODEC_CORS_ORIGINS: z.string().min(1).default('http://127.0.0.1:8233,http://localhost:8233'),
  CODEC_AUTH_TOKEN: optionalString,
  /** Where the worker serves Prometheus metrics (`host:port`), or `off`. */
  WORKER_METRICS_ADDRESS: z
    .string()
    .regex(/^(off|[^\s:]+:\d{1,5})$/, 'must be host:port or off')
    .optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type AppConfig = Readonly<z.output<typeof configSchema>>;

/** Thrown when a setting is missing or malformed; the message names each variable. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Parses settings from `env` (default: `process.env`). Throws {@link ConfigError} naming the variables. */
export function loadConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(`invalid settings: ${describeIssues(parsed.error)}`);
  }
  return Object.freeze(parsed.data);
}

/** The GitBook settings the worker needs; throws naming what is missing. */
export function requireGitBookSettings(config: AppConfig): { baseUrl: string; token: string; organizationId: string } {
  if (!config.GITBOOK_API_TOKEN) throw new ConfigError('GITBOOK_API_TOKEN is required to call GitBook');
  if (!config.GITBOOK_ORG_ID) throw new ConfigError('GITBOOK_ORG_ID is required to call GitBook');
  return { baseUrl: config.GITBOOK_API_URL, token: config.GITBOOK_API_TOKEN, organizationId: config.GITBOOK_ORG_ID };
}
