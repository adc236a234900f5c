/**
 * Production worker entry point: connects to the configured Temporal (`TEMPORAL_*` settings) and
 * GitBook (`GITBOOK_*`), and runs until SIGINT/SIGTERM.
 */
import { loadConfig, requireGitBookSettings } from './config';
import { GitBookClient } from './gitbook/client';
import { createLogger } from './logger';
import { loadSyncConfig } from './mapping';
import { exitOnFatal, onShutdownSignal } from './shutdown';
import { connectClient, connectWorker, resolveTemporalTarget } from './temporal/connection';
import { createSyncWorker } from './worker';
import { dataConverterFor } from './codec';
import { shouldSetSearchAttributes } from './temporal/search-attributes';
import { installWorkerRuntime, metricsAddress } from './telemetry';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.LOG_LEVEL, name: 'worker' });
  installWorkerRuntime(logger, metricsAddress(config.WORKER_METRICS_ADDRESS, '0.0.0.0:9464'));
  const syncConfig = await loadSyncConfig(config.SYNC_CONFIG);
  const gitbook = new GitBookClient({ ...requireGitBookSettings(config), requestTimeoutMs: config.GITBOOK_REQUEST_TIMEOUT_MS });

  const target = resolveTemporalTarget();
  const connection = await connectWorker(target);
  const dataConverter = dataConverterFor(config);
  const client = await connectClient(target, dataConverter);
  const worker = await createSyncWorker({
    connection,
    namespace: target.namespace,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    gitbook,
    syncConfig,
    client,
    dataConverter,
    maxCallsPerSecond: config.GITBOOK_MAX_CALLS_PER_SECOND,
    maxCachedWorkflows: config.WORKER_MAX_CACHED_WORKFLOWS,
    searchAttributes: await shouldSetSearchAttributes(client, target.namespace, config.SYNC_SEARCH_ATTRIBUTES, logger),
  });

  onShutdownSignal(logger, () => worker.shutdown());
  logger.info({ address: target.connectionOptions.address, taskQueue: config.TEMPORAL_TASK_QUEUE }, 'worker started');
  await worker.run();
  await Promise.all([gitbook.close(), connection.close(), client.connection.close()]);
  logger.info('worker stopped');
}

main().catch((err) => exitOnFatal(createLogger({ name: 'worker' }), err));
