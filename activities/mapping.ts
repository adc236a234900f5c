/**
 * The mapping activity: tells a user's workflow what its directory groups grant, from the worker's
 * `SYNC_CONFIG`. An activity, so the answer is recorded in history and replays deterministically.
 */
import { resolveGroupGrants, type SyncConfig } from '../src/mapping';
import type { BatchSettings } from '../workflows/batching';
import type { MappingSnapshot } from '../workflows/planner';
import type { DirectoryGroup } from '../workflows/events';

const HOUR_MS = 3_600_000;

/**
 * Builds the mapping activities over a loaded sync config. `searchAttributes`: whether the custom
 * search attributes are registered on the namespace (setting unregistered ones fails workflow tasks).
 */
export function createMappingActivities(config: SyncConfig, options: { searchAttributes?: boolean } = {}) {
  return {
    /** What each of the user's groups grants, with the organization-wide defaults. */
    async resolveMapping(input: { groups: DirectoryGroup[] }): Promise<MappingSnapshot> {
      return {
        grants: resolveGroupGrants(config, input.groups),
        defaultRole: config.defaultRole,
        sso: config.sso,
        retainAfterOffboardMs: Math.round(config.retainAfterOffboardHours * HOUR_MS),
        searchAttributes: options.searchAttributes ?? true,
        removalBreaker: config.removalBreaker.enabled
          ? {
              maxShare: config.removalBreaker.maxShare,
              minimum: config.removalBreaker.minimum,
              windowMs: Math.round(config.removalBreaker.windowMinutes * 60_000),
            }
          : undefined,
        inviteBatching: batchSettings(config.inviteBatching),
        teamBatching: batchSettings(config.teamBatching),
        settleMs: config.settleMs,
      };
    },
  };
}

function batchSettings(batching: SyncConfig['inviteBatching']): BatchSettings | undefined {
  if (!batching.enabled) return undefined;
  return { maxBatchSize: batching.maxBatchSize, maxWaitMs: batching.maxWaitMs, quietMs: batching.quietMs };
}

export type MappingActivities = ReturnType<typeof createMappingActivities>;
