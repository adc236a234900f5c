/**
 * The group mapping (`SYNC_CONFIG`): which directory groups put people in which GitBook teams, and
 * with which organization role.
 *
 * Role precedence: a user gets the most privileged role among the mapped groups they are in that
 * name a role (admin > create > edit > review > comment > read); with none, `defaultRole`.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { setOwnEntry } from '../workflows/state';
import { GITBOOK_ROLES, describeIssues, eventSchemas, type DirectoryGroup, type GitBookRole } from '../workflows/events';

const gitbookRoleSchema = eventSchemas().role;

export const groupMappingSchema = z.object({
  /** Directory group id (exact) or name (case-insensitive). */
  group: z.string().min(1),
  teams: z.array(z.string().min(1)).default([]),
  role: gitbookRoleSchema.optional(),
});

const BATCHING_DEFAULTS = { enabled: true, maxBatchSize: 100, maxWaitMs: 2_000, quietMs: 500 };

const batchingSchema = z
  .object({
    enabled: z.boolean().default(BATCHING_DEFAULTS.enabled),
    maxBatchSize: z.number().int().min(1).max(1_000).default(BATCHING_DEFAULTS.maxBatchSize),
    maxWaitMs: z.number().int().min(0).max(60_000).default(BATCHING_DEFAULTS.maxWaitMs),
    quietMs: z.number().int().min(0).max(60_000).default(BATCHING_DEFAULTS.quietMs),
  })
  .strict()
  .default(BATCHING_DEFAULTS);

export const syncConfigSchema = z
  .object({
    defaultRole: gitbookRoleSchema.default('read'),
    /** Invite people as SSO users of the organization. */
    sso: z.boolean().default(false),
    groups: z.array(groupMappingSchema).default([]),
    /**
     * How long a user's workflow stays open after offboarding, so a late redelivery of an old event
     * is still recognised and ignored. Hours.
     */
    retainAfterOffboardHours: z.number().min(0).max(24 * 365).default(24 * 7),
    /**
     * The removal circuit breaker: a directory misconfiguration can deactivate everyone, so once more
     * than `max(minimum, maxShare x organization members)` removals happen within `windowMinutes`,
     * further removals wait for an operator's approval.
     */
    removalBreaker: z
      .object({
        enabled: z.boolean().default(true),
        maxShare: z.number().gt(0).max(1).default(0.1),
        minimum: z.number().int().min(0).default(10),
        windowMinutes: z.number().positive().max(60 * 24 * 30).default(60),
      })
      .strict()
      .default({ enabled: true, maxShare: 0.1, minimum: 10, windowMinutes: 60 }),
    /**
     * Invites for people onboarded close together go out as one `POST /invites`: up to
     * `maxBatchSize` people; the batch is sent once no new invite came for `quietMs`, and never
     * later than `maxWaitMs` after its first invite (the most latency batching adds).
     */
    inviteBatching: batchingSchema,
    /**
     * Team changes of people moved close together go out as one `PUT /teams/{id}/members` per team,
     * with the net `add` and `remove` lists; same settings as `inviteBatching`.
     */
    teamBatching: batchingSchema,
    /**
     * Before a step that takes something away (a lower role, leaving a team), wait until the
     * person's directory events have been quiet this long: a move between groups often arrives as
     * remove-then-add, and acting on the remove alone would drop their access for a moment.
     */
    settleMs: z.number().int().min(0).max(60_000).default(1_000),
  })
  .strict();

export type SyncConfig = z.output<typeof syncConfigSchema>;
export type GroupMapping = z.output<typeof groupMappingSchema>;

/** Thrown when the mapping file cannot be read or is invalid; the message names the field. */
export class SyncConfigError extends Error {
  readonly code = 'SYNC_CONFIG_INVALID';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SyncConfigError';
  }
}

/** Validates a parsed mapping object. */
export function parseSyncConfig(value: unknown, source = 'sync config'): SyncConfig {
  const parsed = syncConfigSchema.safeParse(value);
  if (!parsed.success) throw new SyncConfigError(`${source} is invalid: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** Reads and validates the mapping file at `path`. */
export async function loadSyncConfig(path: string): Promise<SyncConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new SyncConfigError(`cannot read the sync config file ${path}`, { cause });
  }

  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new SyncConfigError(`${path} is not valid JSON`, { cause });
  }
  return parseSyncConfig(json, path);
}

/** The mapping entries that apply to a directory group (by id, or by name ignoring case). */
export function mappingsForGroup(config: SyncConfig, group: DirectoryGroup): GroupMapping[] {
  const name = group.name?.toLowerCase();
  return config.groups.filter((entry) => entry.group === group.id || (name !== undefined && entry.group.toLowerCase() === name));
}

/** Whether any mapping entry applies to the group. Events for unmapped groups change nothing in GitBook. */
export function isMappedGroup(config: SyncConfig, group: DirectoryGroup): boolean {
  return mappingsForGroup(config, group).length > 0;
}

/** The more privileged of two roles. */
export function higherRole(a: GitBookRole, b: GitBookRole): GitBookRole {
  return GITBOOK_ROLES.indexOf(a) >= GITBOOK_ROLES.indexOf(b) ? a : b;
}

/** What a group grants: its teams and, when mapped, a role. */
export interface GroupGrant {
  teamIds: string[];
  role?: GitBookRole;
}

/** Resolves each group to what it grants (an unmapped group grants nothing). */
export function resolveGroupGrants(config: SyncConfig, groups: DirectoryGroup[]): Record<string, GroupGrant> {
  const grants: Record<string, GroupGrant> = {};
  for (const group of groups) {
    const entries = mappingsForGroup(config, group);
    const teamIds = [...new Set(entries.flatMap((entry) => entry.teams))];
    const role = entries.reduce<GitBookRole | undefined>(
      (best, entry) => (entry.role ? (best ? higherRole(best, entry.role) : entry.role) : best),
      undefined,
    );
    setOwnEntry(grants, group.id, role ? { teamIds, role } : { teamIds });
  }
  return grants;
}
