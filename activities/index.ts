/** Every activity the worker registers, built from its dependencies. */
import type { GitBookClient } from '../src/gitbook/client';
import type { SyncConfig } from '../src/mapping';
import { createGitBookActivities } from './gitbook';
import { createMappingActivities } from './mapping';

export { createGitBookActivities, toApplicationFailure, type GitBookActivities } from './gitbook';
export { createMappingActivities, type MappingActivities } from './mapping';

/** All activities of the sync worker. */
export function createActivities(deps: { gitbook: GitBookClient; syncConfig: SyncConfig; searchAttributes?: boolean }) {
  return {
    ...createGitBookActivities(deps.gitbook),
    ...createMappingActivities(deps.syncConfig, { searchAttributes: deps.searchAttributes }),
  };
}
