/** Every activity the worker registers, built from its dependencies. */
import type { Client } from '@temporalio/client';
import type { GitBookClient } from '../src/gitbook/client';
import type { SyncConfig } from '../src/mapping';
import { createGitBookActivities } from './gitbook';
import { createGuardActivities } from './guard';
import { createMappingActivities } from './mapping';

export { createGitBookActivities, toApplicationFailure, type GitBookActivities } from './gitbook';
export { createMappingActivities, type MappingActivities } from './mapping';
export { createGuardActivities, type GuardActivities } from './guard';

/** All activities of the sync worker. */
export function createActivities(deps: {
  gitbook: GitBookClient;
  syncConfig: SyncConfig;
  temporal: Client;
  searchAttributes?: boolean;
}) {
  return {
    ...createGitBookActivities(deps.gitbook),
    ...createGuardActivities(deps.temporal),
    ...createMappingActivities(deps.syncConfig, { searchAttributes: deps.searchAttributes }),
  };
}
