/**
 * The receiver's pure parts: Okta deliveries and generic events into directory events, the batch
 * report, the secret check, and the generic event's JSON Schema against its zod schema.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import Ajv2020 from 'ajv/dist/2020';
import { isAuthorized } from '../src/receiver/auth';
import { collectBatch, type EventOutcome } from '../src/receiver/batch';
import { directoryHookEventSchema, mapDirectoryHookEvent, parseDirectoryDelivery } from '../src/receiver/directory';
import { DIRECTORY_HOOK_JSON_SCHEMA } from '../src/receiver/directory-json-schema';
import { mapOktaEvent, OKTA_EVENT_TYPES, oktaEventIdField, parseOktaDelivery } from '../src/receiver/okta';
import { buildReceiver } from '../src/receiver/server';
import { TEST_SYNC_CONFIG } from './helpers/harness';

const fixture = (path: string): any => JSON.parse(readFileSync(join(__dirname, 'fixtures', path), 'utf8'));
const oktaEvents = (name: string): unknown[] => fixture(`okta/${name}.json`).data.events;
const mapOkta = (raw: unknown, index = 0) => mapOktaEvent(raw, index, TEST_SYNC_CONFIG);

/** The first event of an Okta fixture, with `change` applied to a copy. */
function oktaEvent(name: string, change: (event: any) => void = () => undefined): unknown {
  const event = structuredClone(oktaEvents(name)[0]);
  change(event);
  return event;
}

describe('mapOktaEvent', () => {
  it('turns a create into an activation with the uuid as id and published as occurredAt', () => {
    expect(mapOkta(oktaEvent('user-create'))).toEqual({
      kind: 'accepted',
      event: {
        id: '3c1e8a52-6f0d-4b7a-9e21-5d8c4f3b2a10',
        kind: 'user.activated',
        userId: '00u1ada7Lk3Vq9Xw0h7',
        email: 'ada.lovelace@example.com',
        displayName: 'Ada Lovelace',
        occurredAt: '2024-05-06T09:15:00.412Z',
        source: 'okta',
      },
    });
  });

  it.each([
    ['user.lifecycle.create', 'user.activated'],
    ['user.lifecycle.activate', 'user.activated'],
    ['user.lifecycle.reactivate', 'user.activated'],
    ['user.lifecycle.unsuspend', 'user.activated'],
    ['user.lifecycle.deactivate', 'user.deactivated'],
    ['user.lifecycle.suspend', 'user.deactivated'],
    ['user.lifecycle.delete.initiated', 'user.deactivated'],
  ])('maps %s to %s', (eventType, kind) => {
    const outcome = mapOkta(oktaEvent('user-create', (event) => (event.eventType = eventType)));

    expect(outcome).toMatchObject({ kind: 'accepted', event: { kind } });
  });

  it('maps group membership events with the group from the UserGroup target', () => {
    const added = mapOkta(oktaEvent('group-membership-add'));
    const removed = mapOkta(oktaEvent('group-membership-remove'));

    expect(added).toMatchObject({
      kind: 'accepted',
      event: {
        kind: 'group.member_added',
        userId: '00u1ada7Lk3Vq9Xw0h7',
        group: { id: '00g1eng4Pz8Lw2h7', name: 'Engineering' },
      },
    });
    expect(removed).toMatchObject({ kind: 'accepted', event: { kind: 'group.member_removed' } });
  });

  it('keeps plus-addressed logins as they are', () => {
    const [, , qa] = oktaEvents('user-create-batch');

    expect(mapOkta(qa)).toMatchObject({ kind: 'accepted', event: { email: 'qa+docs@example.com' } });
  });

  it('ignores event types it does not act on, and groups the sync config does not map', () => {
    expect(mapOkta(oktaEvent('unknown-event-type'))).toEqual({
      kind: 'ignored',
      id: '28c3e50b-b4d6-47f8-9d1a-c5e60182a31c',
      eventType: 'user.session.start',
      reason: 'event type user.session.start is not one we act on',
    });
    expect(mapOkta(oktaEvent('group-membership-add-unmapped'))).toMatchObject({
      kind: 'ignored',
      reason: 'group Marketing (00g9mkt1Qx5Ty3h7) is not mapped in the sync config',
    });
  });

  it('ignores a change Okta reports as failed', () => {
    const outcome = mapOkta(oktaEvent('user-deactivate', (event) => (event.outcome.result = 'FAILURE')));

    expect(outcome).toMatchObject({ kind: 'ignored', reason: 'outcome FAILURE: Okta did not make the change' });
  });

  it('rejects an event naming each bad field from the body root', () => {
    const outcome = mapOkta(
      oktaEvent('user-create', (event) => {
        event.published = 'yesterday';
        delete event.uuid;
      }),
      4,
    );

    expect(outcome).toMatchObject({ kind: 'rejected' });
    const fields = outcome.kind === 'rejected' ? outcome.issues.map((issue) => issue.field) : [];
    expect(fields.sort()).toEqual(['data.events.4.published', 'data.events.4.uuid']);
  });

  it('rejects a login that is not an email, and a missing target', () => {
    const badLogin = mapOkta(oktaEvent('user-create', (event) => (event.target[0].alternateId = 'ada')));
    const noGroup = mapOkta(oktaEvent('group-membership-add', (event) => event.target.pop()));

    expect(badLogin).toMatchObject({ kind: 'rejected', issues: [{ field: 'data.events.0.target.0.alternateId' }] });
    expect(noGroup).toMatchObject({
      kind: 'rejected',
      issues: [{ field: 'data.events.0.target', reason: 'has no target of type UserGroup' }],
    });
  });

  it('rejects a user id that could not be part of a workflow id', () => {
    const outcome = mapOkta(oktaEvent('user-create', (event) => (event.target[0].id = '00u with spaces')));

    expect(outcome).toMatchObject({
      kind: 'rejected',
      issues: [{ field: 'data.events.0.target.0.id', reason: 'must be printable ASCII without spaces or "/"' }],
    });
  });

  it('shortens an over-long display name instead of rejecting the event', () => {
    const outcome = mapOkta(oktaEvent('user-create', (event) => (event.target[0].displayName = '😀'.repeat(200))));

    expect(outcome.kind).toBe('accepted');
    const name = outcome.kind === 'accepted' ? (outcome.event.displayName ?? '') : '';
    expect(name.length).toBe(256);
    expect(name.endsWith('😀')).toBe(true);
  });

  it('lists exactly the event types the issue asks for', () => {
    expect(OKTA_EVENT_TYPES).toHaveLength(9);
  });
});

describe('parseOktaDelivery', () => {
  it('refuses a body without data.events, naming the field', () => {
    expect(parseOktaDelivery({ data: {} })).toEqual({
      ok: false,
      issues: [{ field: 'data.events', reason: expect.stringContaining('expected array') }],
    });
  });
});

describe('collectBatch', () => {
  const outcomes = oktaEvents('user-create-batch').map((raw, index) => mapOkta(raw, index));

  it('drops exact repeats and counts every event once', () => {
    const [first] = outcomes;
    const ignored: EventOutcome = { kind: 'ignored', reason: 'not ours' };

    const { events, report } = collectBatch([...outcomes, first!, ignored], oktaEventIdField);

    expect(events).toHaveLength(3);
    expect(report).toMatchObject({ received: 5, accepted: 3, duplicates: 1, ignored: 1, rejected: 0 });
    expect(report.ignoredEvents).toEqual([{ index: 4, reason: 'not ours' }]);
  });

  it('rejects a different event that reuses an id rather than dropping it', () => {
    const [first] = outcomes;
    if (first?.kind !== 'accepted') throw new Error('fixture event not accepted');
    const sameId: EventOutcome = { kind: 'accepted', event: { ...first.event, kind: 'user.deactivated' } };

    const { events, report } = collectBatch([first, sameId], oktaEventIdField);

    expect(events).toHaveLength(1);
    expect(report.rejectedEvents).toEqual([
      {
        index: 1,
        id: first.event.id,
        issues: [{ field: 'data.events.1.uuid', reason: 'repeats the id of event 0 with different content' }],
      },
    ]);
  });
});

describe('mapDirectoryHookEvent', () => {
  const map = (body: unknown) => {
    const delivery = parseDirectoryDelivery(body);
    return delivery.events.map((raw, index) => mapDirectoryHookEvent(raw, index, delivery, TEST_SYNC_CONFIG));
  };

  it('maps a lone event with source directory', () => {
    expect(map(fixture('directory/user-created.json'))).toEqual([
      {
        kind: 'accepted',
        event: {
          id: 'evt_01HX3K9V7Q2M8N4P6R0S1T5W7Y',
          kind: 'user.activated',
          userId: 'usr_ada_0001',
          email: 'ada.lovelace@example.com',
          displayName: 'Ada Lovelace',
          occurredAt: '2024-05-06T09:15:00.412Z',
          source: 'directory',
        },
      },
    ]);
  });

  it('maps each event of a batch', () => {
    const outcomes = map(fixture('directory/batch.json'));

    expect(outcomes.map((outcome) => (outcome.kind === 'accepted' ? outcome.event.kind : outcome.kind))).toEqual([
      'user.activated',
      'group.member_added',
      'user.deactivated',
    ]);
  });

  it('names the field of a bad email, in a lone event and in a batch', () => {
    const invalid = fixture('directory/invalid-email.json');

    expect(map(invalid)).toMatchObject([
      { kind: 'rejected', issues: [{ field: 'user.email', reason: 'Invalid email address' }] },
    ]);
    expect(map({ events: [invalid] })).toMatchObject([
      { kind: 'rejected', issues: [{ field: 'events.0.user.email' }] },
    ]);
  });

  it('requires a group on group events and refuses unknown fields', () => {
    const event = { ...fixture('directory/group-user-added.json'), group: undefined, extra: 1 };

    const [outcome] = map(event);

    const fields = outcome?.kind === 'rejected' ? outcome.issues.map((issue) => issue.field).sort() : [];
    expect(fields).toEqual(['extra', 'group']);
  });

  it('refuses a body that is neither an event nor a batch', () => {
    expect(() => parseDirectoryDelivery([1])).toThrow('the body must be a JSON object');
    expect(() => parseDirectoryDelivery({ events: 'all' })).toThrow('not a valid { "events": [...] } batch');
  });
});

describe('DIRECTORY_HOOK_JSON_SCHEMA', () => {
  // Formats are annotations here: the patterns are what the receiver checks. `then` requires a
  // property declared beside it, which strict mode would flag.
  const ajv = new Ajv2020({ strict: true, strictRequired: false, validateFormats: false });
  const validate = ajv.compile(DIRECTORY_HOOK_JSON_SCHEMA);
  const base = fixture('directory/user-created.json');
  const group = fixture('directory/group-user-added.json');

  it.each<[string, unknown]>([
    ['a lone event', base],
    ['a group event', group],
    ['a time with an offset', { ...base, occurredAt: '2024-05-06T11:15:00+02:00' }],
    ['a time without seconds', { ...base, occurredAt: '2024-05-06T09:15Z' }],
    ['a time without an offset', { ...base, occurredAt: '2024-05-06T09:15:00' }],
    ['February 30th', { ...base, occurredAt: '2024-02-30T09:15:00Z' }],
    ['a plus-addressed email', { ...base, user: { ...base.user, email: 'qa+docs@example.com' } }],
    ['an email without a dot in the domain', { ...base, user: { ...base.user, email: 'ada@localhost' } }],
    ['an email with two dots', { ...base, user: { ...base.user, email: 'ada..l@example.com' } }],
    ['a user id with a space', { ...base, user: { ...base.user, id: 'usr ada' } }],
    ['an empty name', { ...base, user: { ...base.user, name: '' } }],
    ['a 201-character id', { ...base, id: 'x'.repeat(201) }],
    ['an unknown type', { ...base, type: 'user.renamed' }],
    ['a group event without a group', { ...group, group: undefined }],
    ['a user event with a group', { ...base, group: { id: 'grp_eng' } }],
    ['an unknown field', { ...base, source: 'hr' }],
    ['a missing user', { ...base, user: undefined }],
  ])('agrees with the zod schema on %s', (_name, event) => {
    const body = JSON.parse(JSON.stringify(event));

    expect(validate(body)).toBe(directoryHookEventSchema.safeParse(body).success);
  });

  it('accepts a batch of valid events and refuses a batch with extra fields', () => {
    expect(validate(fixture('directory/batch.json'))).toBe(true);
    expect(validate({ events: [], more: true })).toBe(false);
  });

  it('is the schema the hooks documentation shows', () => {
    const docs = ['docs/hooks.md', 'README.md']
      .map((path) => join(__dirname, '..', path))
      .filter((path) => existsSync(path))
      .map((path) => readFileSync(path, 'utf8'));

    expect(docs.some((text) => text.includes(JSON.stringify(DIRECTORY_HOOK_JSON_SCHEMA, null, 2)))).toBe(true);
  });
});

describe('isAuthorized', () => {
  const secret = 's3cret-Value_with.symbols';

  it.each<[string, string | undefined, boolean]>([
    ['the secret as is', secret, true],
    ['the secret as a bearer token', `Bearer ${secret}`, true],
    ['a lower-case scheme', `bearer ${secret}`, true],
    ['no header', undefined, false],
    ['an empty header', '', false],
    ['a prefix of the secret', secret.slice(0, -1), false],
    ['the secret with a suffix', `${secret}x`, false],
    ['another scheme', `Basic ${secret}`, false],
  ])('answers for %s', (_name, header, expected) => {
    expect(isAuthorized(header, secret)).toBe(expected);
  });
});

describe('buildReceiver', () => {
  const client = {} as Client;

  it('refuses to build without a secret unless told to run insecure', async () => {
    const options = { client, taskQueue: 'q', syncConfig: TEST_SYNC_CONFIG, logger: false as const };

    expect(() => buildReceiver(options)).toThrow('a hook secret is required');
    const app = buildReceiver({ ...options, allowInsecure: true });
    await app.close();
  });
});
