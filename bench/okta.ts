/**
 * Okta Event Hook deliveries for the benchmark: the envelope Okta sends, with only the event fields
 * the receiver reads (the fixtures in `test/fixtures/okta/` show complete ones).
 */
import { randomUUID } from 'node:crypto';

/** A directory person made up for the benchmark. Ids look like Okta's (`00u...`). */
export interface BenchUser {
  id: string;
  email: string;
  name: string;
}

/** The `index`-th person of a scenario; `scenario` keeps each scenario's people apart. */
export function benchUser(scenario: string, index: number): BenchUser {
  const number = String(index).padStart(5, '0');
  return {
    id: `00u${scenario}${number}`,
    email: `${scenario}.${number}@bench.example.com`,
    name: `Bench ${scenario} ${number}`,
  };
}

/** One Okta event, as it sits in `data.events[]`. */
export interface OktaEvent {
  uuid: string;
  published: string;
  eventType: string;
  displayMessage: string;
  outcome: { result: 'SUCCESS' };
  target: Array<Record<string, string>>;
}

function userTarget(user: BenchUser) {
  return { id: user.id, type: 'User', alternateId: user.email, displayName: user.name };
}

/** `user.lifecycle.activate`: invites the person. */
export function activationEvent(user: BenchUser, publishedMs = Date.now()): OktaEvent {
  return {
    uuid: randomUUID(),
    published: new Date(publishedMs).toISOString(),
    eventType: 'user.lifecycle.activate',
    displayMessage: 'Activate Okta user',
    outcome: { result: 'SUCCESS' },
    target: [userTarget(user)],
  };
}

/** `group.user_membership.add` or `.remove` for a directory group (by id and name). */
export function groupEvent(
  user: BenchUser,
  group: { id: string; name: string },
  change: 'add' | 'remove',
  publishedMs = Date.now(),
): OktaEvent {
  return {
    uuid: randomUUID(),
    published: new Date(publishedMs).toISOString(),
    eventType: `group.user_membership.${change}`,
    displayMessage: change === 'add' ? 'Add user to group membership' : 'Remove user from group membership',
    outcome: { result: 'SUCCESS' },
    target: [userTarget(user), { id: group.id, type: 'UserGroup', alternateId: 'unknown', displayName: group.name }],
  };
}

/** The envelope of one delivery. */
export function oktaDelivery(events: OktaEvent[]) {
  return {
    eventType: 'com.okta.event_hook',
    eventTypeVersion: '1.0',
    cloudEventsVersion: '0.1',
    source: 'https://bench.okta.example/api/v1/eventHooks/whoBench',
    eventId: randomUUID(),
    eventTime: new Date().toISOString(),
    contentType: 'application/json',
    data: { events },
  };
}

/** Splits `items` into chunks of at most `size`. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let start = 0; start < items.length; start += size) chunks.push(items.slice(start, start + size));
  return chunks;
}
