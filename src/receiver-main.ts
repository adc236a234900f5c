/**
 * Production hook receiver entry point: connects to the configured Temporal (`TEMPORAL_*` settings),
 * loads the group mapping (`SYNC_CONFIG`) and listens on `HOOK_HOST:HOOK_PORT` until SIGINT/SIGTERM.
 */
import { ConfigError, loadConfig } from './config';
import { createLogger } from './logger';
import { loadSyncConfig } from './mapping';
import { startReceiver } from './receiver';
import { dataConverterFor } from './codec';
import { exitOnFatal, onShutdownSignal } from './shutdown';
import { connectClient, resolveTemporalTarget } from './temporal/connection';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.LOG_LEVEL, name: 'receiver' });
  if (!config.HOOK_SECRET && !config.HOOK_ALLOW_INSECURE) {
    // Checked before connecting, so a missing secret fails at once rather than after Temporal's timeout.
    throw new ConfigError('HOOK_SECRET is required (or HOOK_ALLOW_INSECURE=true on a laptop)');
  }
  const syncConfig = await loadSyncConfig(config.SYNC_CONFIG);

  const target = resolveTemporalTarget();
  const client = await connectClient(target, dataConverterFor(config));
  const receiver = await startReceiver({
    client,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    syncConfig,
    secret: config.HOOK_SECRET,
    allowInsecure: config.HOOK_ALLOW_INSECURE,
    logger,
    host: config.HOOK_HOST,
    port: config.HOOK_PORT,
    maxConcurrentHandoffs: config.HOOK_MAX_CONCURRENT_HANDOFFS,
    maxGroupEvents: config.HOOK_MAX_GROUP_EVENTS,
    maxQueuedEvents: config.HOOK_MAX_QUEUED_EVENTS,
  });
  const { address } = target.connectionOptions;
  logger.info({ url: receiver.url, address, taskQueue: config.TEMPORAL_TASK_QUEUE }, 'receiver started');

  onShutdownSignal(logger, () => {
    // In-flight deliveries finish (and are answered) before the Temporal connection closes.
    receiver
      .close()
      .then(() => client.connection.close())
      .then(() => logger.info('receiver stopped'))
      .catch((err) => exitOnFatal(logger, err));
  });
}

main().catch((err) => exitOnFatal(createLogger({ name: 'receiver' }), err));
