/**
 * Okta Event Hook deliveries: the envelope, the events we act on, and how each becomes a
 * {@link DirectoryEvent}. Okta's `uuid` becomes the event id (so a redelivery changes nothing) and
 * its `published` time becomes `occurredAt` (so a stale event never undoes a newer one).
 *
 * Okta sends far more fields than we read; unknown fields are allowed everywhere and never copied.
 */
import { z } from 'zod';
import { eventSchemas, type DirectoryEventKind } from '../../workflows/events';
import { isMappedGroup, type SyncConfig } from '../mapping';
import { issuesOf, type EventOutcome } from './batch';
import type { FieldIssue } from './errors';

const { event: directoryEventSchema, userId: directoryUserIdSchema } = eventSchemas();

/** The `source` of directory events made from Okta deliveries. */
export const OKTA_SOURCE = 'okta';

/** The Okta event types we act on, and what each means for GitBook. */
export const OKTA_EVENT_KINDS: ReadonlyMap<string, DirectoryEventKind> = new Map([
  ['user.lifecycle.create', 'user.activated'],
  ['user.lifecycle.activate', 'user.activated'],
  ['user.lifecycle.reactivate', 'user.activated'],
  ['user.lifecycle.unsuspend', 'user.activated'],
  ['user.lifecycle.deactivate', 'user.deactivated'],
  ['user.lifecycle.suspend', 'user.deactivated'],
  ['user.lifecycle.delete.initiated', 'user.deactivated'],
  ['group.user_membership.add', 'group.member_added'],
  ['group.user_membership.remove', 'group.member_removed'],
]);

/** The event types to subscribe to in the Okta admin console. */
export const OKTA_EVENT_TYPES: readonly string[] = [...OKTA_EVENT_KINDS.keys()];

/**
 * Outcomes that say the change did not happen. An Okta event whose `outcome.result` is one of
 * these is acknowledged and ignored; any other result (or none) is applied.
 */
const NOT_APPLIED_RESULTS = new Set(['FAILURE', 'SKIPPED', 'DENY']);

/** The longest names a directory event carries; Okta's own limits are lower, so this only guards. */
const MAX_NAME_LENGTH = 256;

/** The delivery envelope: only `data.events` matters, and each event is checked on its own. */
const oktaDeliverySchema = z.object({
  eventId: z.string().optional().catch(undefined),
  data: z.object({ events: z.array(z.unknown()) }),
});

const optionalText = z
  .string()
  .nullish()
  .transform((text) => (text ? text : undefined));

const oktaEventSchema = z.object({
  uuid: z.string().min(1).max(200),
  eventType: z.string().min(1),
  published: z.iso.datetime({ offset: true }),
  outcome: z.object({ result: z.string() }).nullish(),
  target: z.array(z.object({ type: z.string() }).loose()).min(1),
});

const oktaUserTargetSchema = z.object({
  id: directoryUserIdSchema,
  /** The Okta login: GitBook invites by email, so it must be one. */
  alternateId: z.email().max(320),
  displayName: optionalText,
});

const oktaGroupTargetSchema = z.object({
  id: z.string().min(1).max(200),
  displayName: optionalText,
});

/** A parsed envelope: the delivery's id for the logs and its events, not yet checked. */
export interface OktaDelivery {
  deliveryId?: string;
  events: unknown[];
}

/** Checks the envelope of a delivery. The issues name fields from the body's root. */
export function parseOktaDelivery(
  body: unknown,
): { ok: true; delivery: OktaDelivery } | { ok: false; issues: FieldIssue[] } {
  const parsed = oktaDeliverySchema.safeParse(body);
  if (!parsed.success) return { ok: false, issues: issuesOf(parsed.error) };
  return { ok: true, delivery: { deliveryId: parsed.data.eventId, events: parsed.data.data.events } };
}

/** The field holding the id of event `index` of a delivery. */
export function oktaEventIdField(index: number): string {
  return `data.events.${index}.uuid`;
}

/**
 * Maps event `index` of a delivery: accepted (with its directory event), ignored (a type we do not
 * act on, a change Okta reports as not done, a group the sync config does not map) or rejected
 * (naming each bad field).
 */
export function mapOktaEvent(raw: unknown, index: number, syncConfig: SyncConfig): EventOutcome {
  const at = ['data', 'events', index];
  const head = z.object({ uuid: z.string().optional().catch(undefined), eventType: z.string() }).safeParse(raw);
  if (!head.success) return { kind: 'rejected', issues: issuesOf(head.error, at) };

  const { uuid: id, eventType } = head.data;
  const kind = OKTA_EVENT_KINDS.get(eventType);
  if (!kind) {
    return { kind: 'ignored', id, eventType, reason: `event type ${eventType} is not one we act on` };
  }

  const parsed = oktaEventSchema.safeParse(raw);
  if (!parsed.success) return { kind: 'rejected', id, issues: issuesOf(parsed.error, at) };
  const event = parsed.data;

  const result = event.outcome?.result;
  if (result && NOT_APPLIED_RESULTS.has(result)) {
    return { kind: 'ignored', id, eventType, reason: `outcome ${result}: Okta did not make the change` };
  }

  const user = findTarget(event.target, 'User', oktaUserTargetSchema, at);
  if (!user.ok) return { kind: 'rejected', id, issues: user.issues };

  const needsGroup = kind === 'group.member_added' || kind === 'group.member_removed';
  const group = needsGroup ? findTarget(event.target, 'UserGroup', oktaGroupTargetSchema, at) : undefined;
  if (group && !group.ok) return { kind: 'rejected', id, issues: group.issues };

  const directoryGroup = group?.value && { id: group.value.id, name: clip(group.value.displayName) };
  if (directoryGroup && !isMappedGroup(syncConfig, directoryGroup)) {
    const name = directoryGroup.name ? `${directoryGroup.name} (${directoryGroup.id})` : directoryGroup.id;
    return { kind: 'ignored', id, eventType, reason: `group ${name} is not mapped in the sync config` };
  }

  const normalized = directoryEventSchema.safeParse({
    id: event.uuid,
    kind,
    userId: user.value.id,
    email: user.value.alternateId,
    displayName: clip(user.value.displayName),
    group: directoryGroup,
    occurredAt: event.published,
    source: OKTA_SOURCE,
  });
  // Unreachable while the schemas above are at least as strict; kept so a drift is a 4xx naming the field.
  if (!normalized.success) return { kind: 'rejected', id, issues: issuesOf(normalized.error, at) };
  return { kind: 'accepted', event: normalized.data };
}

type TargetResult<T> = { ok: true; value: T } | { ok: false; issues: FieldIssue[] };

/** The first target of `type`, validated; the issues point into `target[i]`. */
function findTarget<T>(
  targets: ReadonlyArray<{ type: string }>,
  type: string,
  schema: z.ZodType<T>,
  at: readonly PropertyKey[],
): TargetResult<T> {
  const position = targets.findIndex((target) => target.type === type);
  if (position < 0) {
    return { ok: false, issues: [{ field: [...at, 'target'].join('.'), reason: `has no target of type ${type}` }] };
  }

  const parsed = schema.safeParse(targets[position]);
  if (!parsed.success) return { ok: false, issues: issuesOf(parsed.error, [...at, 'target', position]) };
  return { ok: true, value: parsed.data };
}

/**
 * Shortens an over-long display name instead of rejecting the event: a name is cosmetic, and
 * losing an activation or removal over it would not be. Cuts between characters, never inside a
 * surrogate pair, and counts UTF-16 units as zod's `max` does.
 */
function clip(text: string | undefined): string | undefined {
  if (text === undefined || text.length <= MAX_NAME_LENGTH) return text;

  let clipped = '';
  for (const character of text) {
    if (clipped.length + character.length > MAX_NAME_LENGTH) break;
    clipped += character;
  }
  return clipped;
}
