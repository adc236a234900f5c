/**
 * Desired state: what the directory says about one user. Pure functions, deterministic, shared by
 * the workflow and its unit tests.
 *
 * Each attribute remembers the directory time that set it; an event changes an attribute only if it
 * is at least as new (last writer wins by the IdP's event time, ties by arrival). So a late, stale
 * delivery never undoes a newer state, whatever order the IdP delivers in.
 */
import type { DesiredState, Stamped } from './api';
import { normalizeEmail, type DirectoryEvent } from './events';

/**
 * A record's own entry: directory group ids are data, and one may well be `constructor` or
 * `__proto__`, which a plain property read would find on the prototype instead.
 */
export function ownEntry<T>(record: Record<string, T>, key: string): T | undefined {
  return Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined;
}

/** Sets a record's own entry, even for a key such as `__proto__`. */
export function setOwnEntry<T>(record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}

export function emptyDesiredState(): DesiredState {
  return { groups: {} };
}

function isAtLeastAsNew(current: Stamped<unknown> | undefined, at: string): boolean {
  return current === undefined || Date.parse(at) >= Date.parse(current.at);
}

function stamp<T>(value: T, event: DirectoryEvent): Stamped<T> {
  return { value, at: event.occurredAt, eventId: event.id };
}

/**
 * Applies one event to the desired state, in place. Returns true when anything changed; false when
 * the event was stale for every attribute it touches.
 */
export function applyDirectoryEvent(desired: DesiredState, event: DirectoryEvent): boolean {
  let changed = false;
  const set = <K extends 'active' | 'email' | 'displayName'>(key: K, value: NonNullable<DesiredState[K]>['value']) => {
    const current = desired[key] as Stamped<unknown> | undefined;
    if (!isAtLeastAsNew(current, event.occurredAt)) return;
    if (current?.value !== value || current.at !== event.occurredAt) changed = true;
    (desired as unknown as Record<string, Stamped<unknown>>)[key] = stamp(value, event);
  };

  if (event.email) set('email', normalizeEmail(event.email));
  if (event.displayName) set('displayName', event.displayName);

  switch (event.kind) {
    case 'user.activated':
      set('active', true);
      break;
    case 'user.deactivated':
      set('active', false);
      break;
    case 'user.updated':
      break;
    case 'group.member_added':
    case 'group.member_removed': {
      const group = event.group!;
      const member = event.kind === 'group.member_added';
      const current = ownEntry(desired.groups, group.id);
      if (isAtLeastAsNew(current, event.occurredAt)) {
        changed = true;
        setOwnEntry(desired.groups, group.id, { ...stamp(member, event), name: group.name ?? current?.name });
      }
      break;
    }
  }
  return changed;
}
