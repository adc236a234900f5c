/**
 * Temporal connection settings, the way every Temporal tool reads them: `TEMPORAL_ADDRESS`,
 * `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS_*`, `TEMPORAL_PROFILE` and the TOML
 * profile file (`TEMPORAL_CONFIG_FILE`), through `@temporalio/envconfig`.
 */
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { NativeConnection } from '@temporalio/worker';

export interface TemporalTarget {
  connectionOptions: ReturnType<typeof loadClientConnectConfig>['connectionOptions'];
  namespace: string;
}

/**
 * Resolves where to connect. `address` (the dev server we started) overrides the environment's
 * address; everything else (namespace, TLS, API key) still comes from Temporal's own settings.
 */
export function resolveTemporalTarget(options: { address?: string; env?: NodeJS.ProcessEnv } = {}): TemporalTarget {
  const env = options.env ?? process.env;
  const { connectionOptions, namespace } = loadClientConnectConfig({
    overrideEnvVars: Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined)),
  });
  const address = options.address ?? connectionOptions.address ?? 'localhost:7233';
  return { connectionOptions: { ...connectionOptions, address }, namespace: namespace ?? 'default' };
}

/** A workflow client on the target, with the data converter (payload encryption) when given. */
export async function connectClient(target: TemporalTarget, dataConverter?: DataConverter): Promise<Client> {
  const connection = await Connection.connect(target.connectionOptions);
  return new Client({ connection, namespace: target.namespace, ...(dataConverter ? { dataConverter } : {}) });
}

/** A worker connection on the target. */
export async function connectWorker(target: TemporalTarget): Promise<NativeConnection> {
  return await NativeConnection.connect(target.connectionOptions);
}
