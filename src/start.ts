/**
 * `npm start`: everything on one machine. Starts the Temporal dev server when `TEMPORAL_ADDRESS` is
 * unset, the GitBook sandbox when `GITBOOK_API_TOKEN` is unset, then the worker and the hook
 * receiver. Ctrl-C stops all of it in reverse order: the receiver stops taking deliveries first.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig, type AppConfig } from './config';
import { GitBookClient } from './gitbook/client';
import { createLogger, type Logger } from './logger';
import { loadSyncConfig, type SyncConfig } from './mapping';
import { startReceiver } from './receiver';
import type { Client } from '@temporalio/client';
import { loadSeedFile, resolveSeed, startSandbox } from './sandbox';
import { readSandboxEnv } from './sandbox/main';
import { exitOnFatal, onShutdownSignal } from './shutdown';
import { findTemporalCli } from './temporal/cli';
import { connectClient, connectWorker, resolveTemporalTarget } from './temporal/connection';
import { assertPortFree, startDevServer } from './temporal/dev-server';
import { AesGcmPayloadCodec, buildCodecServer, dataConverterFor, parseKeyRing } from './codec';
import { registerSearchAttributes, shouldSetSearchAttributes } from './temporal/search-attributes';
import { createSyncWorker } from './worker';
import { installWorkerRuntime, metricsAddress } from './telemetry';

type Stopper = () => Promise<unknown>;

async function startTemporal(config: AppConfig, logger: Logger, stoppers: Stopper[]) {
  if (config.TEMPORAL_ADDRESS) {
    logger.info({ address: config.TEMPORAL_ADDRESS }, 'using the configured Temporal server');
    return resolveTemporalTarget();
  }

  const cliPath = await findTemporalCli({ onProgress: (message) => logger.info(message) });
  const codecEndpoint = config.PAYLOAD_ENCRYPTION_KEYS ? `http://${config.CODEC_HOST}:${config.CODEC_PORT}` : undefined;
  const server = await startDevServer({
    cliPath,
    dataDir: join(config.DATA_DIR, 'temporal'),
    port: config.TEMPORAL_DEV_PORT,
    uiPort: config.TEMPORAL_DEV_UI_PORT,
    logger,
    codecEndpoint,
  });
  stoppers.push(() => server.stop());
  logger.info({ webUi: server.uiUrl }, 'Temporal Web UI');
  return resolveTemporalTarget({ address: server.address });
}

async function startGitBook(config: AppConfig, logger: Logger, stoppers: Stopper[]): Promise<GitBookClient> {
  const timeout = { requestTimeoutMs: config.GITBOOK_REQUEST_TIMEOUT_MS };
  if (config.GITBOOK_API_TOKEN) {
    if (!config.GITBOOK_ORG_ID) throw new Error('GITBOOK_ORG_ID is required with GITBOOK_API_TOKEN');
    logger.info({ url: config.GITBOOK_API_URL, organizationId: config.GITBOOK_ORG_ID }, 'using GitBook');
    return new GitBookClient({ baseUrl: config.GITBOOK_API_URL, token: config.GITBOOK_API_TOKEN, organizationId: config.GITBOOK_ORG_ID, ...timeout });
  }

  const settings = readSandboxEnv();
  // The sandbox keeps its organization in the data folder, like the dev server keeps workflows:
  // after a restart, GitBook and the workflows still agree on who is a member.
  await mkdir(config.DATA_DIR, { recursive: true });
  const savedPath = join(config.DATA_DIR, 'sandbox-organization.json');
  const saved = await readSavedOrganization(savedPath);
  const seed = saved ?? (await loadSeedFile(settings.SANDBOX_SEED));
  const organizationId = config.GITBOOK_ORG_ID ?? seed.organizationId ?? 'org_sandbox';
  const token = randomBytes(24).toString('hex');
  if (settings.SANDBOX_PORT !== 0) await assertPortFree(settings.SANDBOX_HOST, settings.SANDBOX_PORT, 'SANDBOX_PORT');
  const sandbox = await startSandbox({ token, organizationId, seed, host: settings.SANDBOX_HOST, port: settings.SANDBOX_PORT });
  const save = async () => {
    const { members, teams, calls } = sandbox.state();
    const organization = { ...seed, organizationId, members, teams };
    await writeFile(`${savedPath}.tmp`, JSON.stringify(organization, null, 2));
    await rename(`${savedPath}.tmp`, savedPath);
    if (calls.length > 10_000) sandbox.clearCalls();
  };
  const timer = setInterval(() => void save().catch((err) => logger.warn({ err }, 'sandbox state not saved')), 5_000);
  stoppers.push(async () => {
    clearInterval(timer);
    await save();
    await sandbox.close();
  });
  logger.warn(
    {
      url: sandbox.url,
      state: `${new URL(sandbox.url).origin}/_sandbox/state`,
      organizationId,
      seed: saved ? savedPath : settings.SANDBOX_SEED,
    },
    'SANDBOX MODE: no GITBOOK_API_TOKEN is set, so GitBook is the local sandbox and nothing reaches api.gitbook.com',
  );
  return new GitBookClient({ baseUrl: sandbox.url, token, organizationId, ...timeout });
}

/**
 * The hook receiver on this machine: `127.0.0.1` unless `HOOK_HOST` says otherwise. Without a
 * `HOOK_SECRET` it runs unauthenticated, which only sandbox mode allows (and says so).
 */
async function startLocalReceiver(
  config: AppConfig,
  logger: Logger,
  deps: { client: Client; syncConfig: SyncConfig; sandboxMode: boolean },
) {
  if (!config.HOOK_SECRET && !config.HOOK_ALLOW_INSECURE && !deps.sandboxMode) {
    throw new Error('HOOK_SECRET is required when GitBook is real (or set HOOK_ALLOW_INSECURE=true)');
  }
  const host = process.env.HOOK_HOST ? config.HOOK_HOST : '127.0.0.1';
  if (config.HOOK_PORT !== 0) await assertPortFree(host, config.HOOK_PORT, 'HOOK_PORT');
  const receiver = await startReceiver({
    client: deps.client,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    syncConfig: deps.syncConfig,
    secret: config.HOOK_SECRET,
    allowInsecure: !config.HOOK_SECRET,
    logger: logger.child({ component: 'receiver' }),
    host,
    port: config.HOOK_PORT,
    maxConcurrentHandoffs: config.HOOK_MAX_CONCURRENT_HANDOFFS,
    maxGroupEvents: config.HOOK_MAX_GROUP_EVENTS,
    maxQueuedEvents: config.HOOK_MAX_QUEUED_EVENTS,
  });
  logger.info({ url: receiver.url, authenticated: Boolean(config.HOOK_SECRET) }, 'hook receiver started');
  return receiver;
}

/** With payload encryption on: the codec endpoint, so the Web UI can show decrypted payloads. */
async function startCodecEndpoint(config: AppConfig, logger: Logger, stoppers: Stopper[]) {
  const codec = new AesGcmPayloadCodec(parseKeyRing(config.PAYLOAD_ENCRYPTION_KEYS!));
  const allowedOrigins = config.CODEC_CORS_ORIGINS.split(',').map((origin) => origin.trim());
  const app = await buildCodecServer({ codec, allowedOrigins, authToken: config.CODEC_AUTH_TOKEN, logger });
  const url = await app.listen({ host: config.CODEC_HOST, port: config.CODEC_PORT });
  stoppers.push(() => app.close());
  logger.info({ url }, 'payload encryption on: codec endpoint for the Web UI');
}

/** The sandbox organization saved by an earlier run, if any. */
async function readSavedOrganization(path: string) {
  try {
    return resolveSeed(JSON.parse(await readFile(path, 'utf8')), path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.LOG_LEVEL, name: 'gitbook-sync' });
  const metrics = metricsAddress(config.WORKER_METRICS_ADDRESS, '127.0.0.1:9464');
  if (metrics) {
    const [host, port] = [metrics.slice(0, metrics.lastIndexOf(':')), Number(metrics.slice(metrics.lastIndexOf(':') + 1))];
    await assertPortFree(host, port, 'WORKER_METRICS_ADDRESS', 'or off');
  }
  installWorkerRuntime(logger, metrics);
  const stoppers: Stopper[] = [];
  const stopAll = async () => {
    for (const stop of stoppers.reverse()) await stop().catch((err) => logger.error({ err }, 'stop failed'));
  };

  try {
    const syncConfig = await loadSyncConfig(config.SYNC_CONFIG);
    const target = await startTemporal(config, logger, stoppers);
    const gitbook = await startGitBook(config, logger, stoppers);
    stoppers.push(() => gitbook.close());

    const connection = await connectWorker(target);
    stoppers.push(() => connection.close());
    const dataConverter = dataConverterFor(config);
    const client = await connectClient(target, dataConverter);
    if (dataConverter) await startCodecEndpoint(config, logger, stoppers);
    stoppers.push(() => client.connection.close());
    if (!config.TEMPORAL_ADDRESS) {
      // A dev server whose data folder predates a search attribute does not add it by itself.
      const added = await registerSearchAttributes(client, target.namespace);
      if (added.length > 0) logger.info({ added }, 'search attributes registered');
    }
    const searchAttributes = await shouldSetSearchAttributes(client, target.namespace, config.SYNC_SEARCH_ATTRIBUTES, logger);
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
      searchAttributes,
    });

    const receiver = await startLocalReceiver(config, logger, { client, syncConfig, sandboxMode: !config.GITBOOK_API_TOKEN });
    stoppers.push(() => receiver.close());

    onShutdownSignal(logger, () => worker.shutdown());
    logger.info({ taskQueue: config.TEMPORAL_TASK_QUEUE, syncConfig: config.SYNC_CONFIG }, 'worker started');
    await worker.run();
  } finally {
    await stopAll();
    logger.info('stopped');
  }
}

main().catch((err) => exitOnFatal(createLogger({ name: 'gitbook-sync' }), err));
