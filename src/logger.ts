/**
 * The one structured logger for the receiver, CLI and worker glue (workflows and activities use the
 * SDK's `log`). Fixed messages, values in fields; secrets are redacted by path as a second guard.
 */
import pino, { type Logger } from 'pino';

export type { Logger };

/** Field paths that must never be written, wherever they appear. */
const REDACTED_PATHS = [
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'GITBOOK_API_TOKEN',
  '*.GITBOOK_API_TOKEN',
  'HOOK_SECRET',
  '*.HOOK_SECRET',
  'PAYLOAD_ENCRYPTION_KEYS',
  '*.PAYLOAD_ENCRYPTION_KEYS',
  'CODEC_AUTH_TOKEN',
  '*.CODEC_AUTH_TOKEN',
];

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/**
 * Creates the process logger: JSON lines on stdout, or on `destination`. Errors are written with
 * their type, message and stack under `err` (ours) and `error` (the Temporal SDK's, such as the
 * reason a workflow task failed).
 */
export function createLogger(options: { level?: string; name?: string; destination?: pino.DestinationStream } = {}): Logger {
  // An invalid LOG_LEVEL is reported by the config check; the logger that reports it must still work.
  const wanted = options.level ?? process.env.LOG_LEVEL ?? 'info';
  const settings: pino.LoggerOptions = {
    name: options.name ?? 'gitbook-sync',
    level: LEVELS.has(wanted) ? wanted : 'info',
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}
