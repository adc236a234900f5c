/**
 * Worker telemetry: the SDK's own metrics (workflow and activity task latencies, failures, slots,
 * polls) served for Prometheus scraping at `/metrics`, and the SDK's logs through our logger.
 * Must run before any worker or connection is created.
 */
import { Runtime, makeTelemetryFilterString, type LogLevel } from '@temporalio/worker';
import type { Logger } from './logger';

/** Installs the SDK runtime. `metricsAddress`: `host:port` for Prometheus, or undefined for none. */
export function installWorkerRuntime(logger: Logger, metricsAddress: string | undefined): void {
  Runtime.install({
    logger: {
      log: (level: LogLevel, message: string, meta?: Record<string, unknown>) => logger[sdkLevel(level)](meta ?? {}, message),
      trace: (message, meta) => logger.trace(meta ?? {}, message),
      debug: (message, meta) => logger.debug(meta ?? {}, message),
      info: (message, meta) => logger.info(meta ?? {}, message),
      warn: (message, meta) => logger.warn(meta ?? {}, message),
      error: (message, meta) => logger.error(meta ?? {}, message),
    },
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} },
      ...(metricsAddress ? { metrics: { prometheus: { bindAddress: metricsAddress } } } : {}),
    },
  });
  if (metricsAddress) logger.info({ url: `http://${metricsAddress}/metrics` }, 'worker metrics');
}

function sdkLevel(level: LogLevel): 'trace' | 'debug' | 'info' | 'warn' | 'error' {
  return level.toLowerCase() as 'trace' | 'debug' | 'info' | 'warn' | 'error';
}

/** The metrics address from the setting: `off` disables, unset takes `fallback`. */
export function metricsAddress(setting: string | undefined, fallback: string): string | undefined {
  if (setting === 'off') return undefined;
  return setting ?? fallback;
}
