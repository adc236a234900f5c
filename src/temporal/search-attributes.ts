/**
 * Our custom search attributes on the namespace. Setting one that is not registered fails every
 * workflow task of the run, so the worker checks at start and only sets them when all are there.
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTE_KEYS } from '../../workflows/api';
import type { Logger } from '../logger';

const KEYWORD = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;

/** The names of our search attributes that the namespace does not have. */
export async function missingSearchAttributes(client: Client, namespace: string): Promise<string[]> {
  const { customAttributes } = await client.connection.operatorService.listSearchAttributes({ namespace });
  return SEARCH_ATTRIBUTE_KEYS.map((key) => key.name).filter((name) => !customAttributes?.[name]);
}

/** Registers the missing ones (a dev server, or a cluster where the worker may do so). */
export async function registerSearchAttributes(client: Client, namespace: string): Promise<string[]> {
  const missing = await missingSearchAttributes(client, namespace);
  if (missing.length === 0) return [];
  await client.connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map((name) => [name, KEYWORD])),
  });
  return missing;
}

/**
 * Whether the worker should set search attributes: wanted by the settings and all registered.
 * Says what to run when some are missing; a namespace that cannot be asked counts as registered.
 */
export async function shouldSetSearchAttributes(
  client: Client,
  namespace: string,
  wanted: boolean,
  logger: Logger,
): Promise<boolean> {
  if (!wanted) return false;
  try {
    const missing = await missingSearchAttributes(client, namespace);
    if (missing.length === 0) return true;
    const command = `temporal operator search-attribute create --namespace ${namespace} ${missing
      .map((name) => `--name ${name} --type Keyword`)
      .join(' ')}`;
    logger.warn({ missing, command }, 'search attributes not registered: runs will not carry them until you register them');
    return false;
  } catch (err) {
    logger.info({ err: (err as Error).message }, 'cannot list search attributes; assuming they are registered');
    return true;
  }
}
