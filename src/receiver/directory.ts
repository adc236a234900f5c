/**
 * The generic directory hook (`POST /hooks/directory`): a small, documented JSON event that any IdP
 * relay, Okta Workflows card or script can send. The body is one event, or `{ "events": [...] }`.
 * The hand-written JSON Schema in `directory-json-schema.ts` describes exactly what this accepts.
 */
import { z } from 'zod';
import { eventSchemas, type DirectoryEventKind } from '../../workflows/events';
import { isMappedGroup, type SyncConfig } from '../mapping';
import { issuesOf, type EventOutcome } from './batch';
import { HookRequestError, ReceiverErrorCode } from './errors';

const { event: directoryEventSchema, userId: directoryUserIdSchema } = eventSchemas();

/** The `source` of directory events made from generic hook events. */
export const DIRECTORY_SOURCE = 'directory';

/** The generic event types, and what each means for GitBook. */
export const DIRECTORY_HOOK_EVENT_KINDS = {
  'user.created': 'user.activated',
  'user.activated': 'user.activated',
  'user.reactivated': 'user.activated',
  'user.deactivated': 'user.deactivated',
  'user.suspended': 'user.deactivated',
  'user.deleted': 'user.deactivated',
  'user.updated': 'user.updated',
  'group.user_added': 'group.member_added',
  'group.user_removed': 'group.member_removed',
} as const satisfies Record<string, DirectoryEventKind>;

export type DirectoryHookEventType = keyof typeof DIRECTORY_HOOK_EVENT_KINDS;

export const DIRECTORY_HOOK_EVENT_TYPES = Object.keys(DIRECTORY_HOOK_EVENT_KINDS) as [
  DirectoryHookEventType,
  ...DirectoryHookEventType[],
];

const GROUP_EVENT_TYPES: readonly DirectoryHookEventType[] = ['group.user_added', 'group.user_removed'];

/** One generic event. Unknown fields are refused, so a misspelt field is named, not ignored. */
export const directoryHookEventSchema = z
  .strictObject({
    /** Unique per change; a redelivery must carry the same id. */
    id: z.string().min(1).max(200),
    type: z.enum(DIRECTORY_HOOK_EVENT_TYPES),
    /** When the directory made the change (ISO 8601 with `Z` or an offset): orders events per user. */
    occurredAt: z.iso.datetime({ offset: true }),
    user: z.strictObject({
      id: directoryUserIdSchema,
      email: z.email().max(320),
      name: z.string().min(1).max(256).optional(),
    }),
    group: z
      .strictObject({
        id: z.string().min(1).max(200),
        name: z.string().min(1).max(256).optional(),
      })
      .optional(),
  })
  .superRefine((event, ctx) => {
    if (GROUP_EVENT_TYPES.includes(event.type) && !event.group) {
      ctx.addIssue({ code: 'custom', path: ['group'], message: `is required for ${event.type}` });
    }
  });

export type DirectoryHookEvent = z.infer<typeof directoryHookEventSchema>;

const batchSchema = z.strictObject({ events: z.array(z.unknown()) });

/** A body split into its events; `batch` says whether it came as `{ "events": [...] }`. */
export interface DirectoryDelivery {
  batch: boolean;
  events: unknown[];
}

/**
 * Splits a body into events. Throws {@link HookRequestError} (400) when the body is neither an
 * object nor a well-formed `{ "events": [...] }`.
 */
export function parseDirectoryDelivery(body: unknown): DirectoryDelivery {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    const message = 'the body must be a JSON object: one event, or { "events": [...] }';
    throw new HookRequestError(400, ReceiverErrorCode.invalidBody, message);
  }
  if (!('events' in body)) return { batch: false, events: [body] };

  const parsed = batchSchema.safeParse(body);
  if (!parsed.success) {
    const message = 'the body is not a valid { "events": [...] } batch';
    throw new HookRequestError(400, ReceiverErrorCode.invalidBody, message, issuesOf(parsed.error));
  }
  return { batch: true, events: parsed.data.events };
}

/** The field holding the id of event `index` (`id` for a lone event, `events.3.id` in a batch). */
export function directoryEventIdField(delivery: DirectoryDelivery, index: number): string {
  return delivery.batch ? `events.${index}.id` : 'id';
}

/** Maps event `index` of a delivery; issue paths start at the body's root. */
export function mapDirectoryHookEvent(
  raw: unknown,
  index: number,
  delivery: DirectoryDelivery,
  syncConfig: SyncConfig,
): EventOutcome {
  const at = delivery.batch ? ['events', index] : [];
  const parsed = directoryHookEventSchema.safeParse(raw);
  if (!parsed.success) {
    const id = z.object({ id: z.string() }).safeParse(raw).data?.id;
    return { kind: 'rejected', id, issues: issuesOf(parsed.error, at) };
  }

  const { id, type, occurredAt, user, group } = parsed.data;
  const isGroupEvent = GROUP_EVENT_TYPES.includes(type);
  if (group && isGroupEvent && !isMappedGroup(syncConfig, group)) {
    const name = group.name ? `${group.name} (${group.id})` : group.id;
    return { kind: 'ignored', id, eventType: type, reason: `group ${name} is not mapped in the sync config` };
  }

  const normalized = directoryEventSchema.safeParse({
    id,
    kind: DIRECTORY_HOOK_EVENT_KINDS[type],
    userId: user.id,
    email: user.email,
    displayName: user.name,
    // A group on a user.* event says nothing about membership: it is not passed on.
    group: isGroupEvent ? group : undefined,
    occurredAt,
    source: DIRECTORY_SOURCE,
  });
  // Unreachable while this schema is at least as strict as the workflow's; kept as a guard.
  if (!normalized.success) return { kind: 'rejected', id, issues: issuesOf(normalized.error, at) };
  return { kind: 'accepted', event: normalized.data };
}
