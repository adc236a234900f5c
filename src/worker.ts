/**
 * The sync worker: registers the workflows and activities on the task queue. Several workers on one
 * queue share GitBook's budget through the task-queue activity rate limit.
 */
import type { Client } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import { GitBookClient } from './gitbook/client';
import type { SyncConfig } from './mapping';

export interface SyncWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  gitbook: GitBookClient;
  syncConfig: SyncConfig;
  /** A client for the same namespace, used to reach the removal circuit breaker. */
  client: Client;
  /** Payload encryption (must match the clients'). */
  dataConverter?: WorkerOptions['dataConverter'];
  /** Whether the custom search attributes are registered on the namespace. @default true */
  searchAttributes?: boolean;
  /** GitBook calls per second across all workers of the queue. Unset: no limit of ours. */
  maxCallsPerSecond?: number;
  /** Workflows kept in memory between tasks. @default 500 */
  maxCachedWorkflows?: number;
  /** A prebuilt workflow bundle (tests build it once). Default: bundle `workflows/` at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** The worker's identity in histories. @default the SDK's `pid@host` */
  identity?: string;
  /** How long in-flight activities may run after a shutdown request. @default '20 seconds' */
  shutdownGraceTime?: WorkerOptions['shutdownGraceTime'];
}

/** Creates the worker; call `run()` on it, and `shutdown()` to stop it gracefully. */
export async function createSyncWorker(options: SyncWorkerOptions): Promise<Worker> {
  const workflowSource = options.workflowBundle
    ? { workflowBundle: options.workflowBundle }
    : { workflowsPath: require.resolve('../workflows') };

  return await Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    ...workflowSource,
    activities: createActivities({
      gitbook: options.gitbook,
      syncConfig: options.syncConfig,
      temporal: options.client,
      searchAttributes: options.searchAttributes,
    }),
    maxTaskQueueActivitiesPerSecond: options.maxCallsPerSecond,
    maxCachedWorkflows: options.maxCachedWorkflows ?? 500,
    ...(options.dataConverter ? { dataConverter: options.dataConverter } : {}),
    ...(options.identity ? { identity: options.identity } : {}),
    shutdownGraceTime: options.shutdownGraceTime ?? '20 seconds',
  });
}
