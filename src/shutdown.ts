/**
 * Process lifecycle shared by every entry point: the first SIGINT/SIGTERM starts a graceful stop,
 * a second exits at once; a fatal error is logged with its cause chain and exits non-zero.
 */
import { ConfigError } from './config';
import type { Logger } from './logger';

/** Calls `stop` on the first signal; exits with code 130 on the second. */
export function onShutdownSignal(logger: Logger, stop: (signal: NodeJS.Signals) => void): void {
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    stop(signal);
  };
  process.on('SIGINT', handle);
  process.on('SIGTERM', handle);
}

/**
 * Logs a fatal error with its causes and exits 1. A settings mistake is logged as its message alone,
 * which names each variable: a stack trace would only bury it.
 */
export function exitOnFatal(logger: Logger, err: unknown): never {
  if (err instanceof ConfigError) {
    logger.fatal({ code: err.code }, err.message);
    process.exit(1);
  }
  const causes: string[] = [];
  for (let current = (err as Error)?.cause; current instanceof Error && causes.length < 5; current = current.cause) {
    causes.push(current.message);
  }
  logger.fatal({ err, causes }, 'fatal error');
  process.exit(1);
}
