/**
 * The hook receiver end to end: a real Temporal dev server, the GitBook sandbox, a sync worker and
 * the receiver on port 0, hit over HTTP. Asserts what GitBook received and what Temporal holds.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { request } from 'undici';
import { statusQuery, userWorkflowId, type UserSyncStatus } from '../workflows/api';
import { parseSyncConfig } from '../src/mapping';
import { startReceiver, type RunningReceiver } from '../src/receiver';
import { startDevServer, type DevServer } from '../src/temporal/dev-server';
import { eventually, startSyncStack, startTestEnvironment, TEST_SYNC_CONFIG, type SyncStack } from './helpers/harness';

const SECRET = 'hook-secret-for-tests-9f2c4e';

// Offboarded workflows stay open for an hour, so a late, stale event is still recognised.
const syncConfig = parseSyncConfig({ ...TEST_SYNC_CONFIG, retainAfterOffboardHours: 1 });

let env: TestWorkflowEnvironment;
let stack: SyncStack;
let running: Promise<void>;
let receiver: RunningReceiver;
const logLines: string[] = [];

beforeAll(async () => {
  env = await startTestEnvironment();
  stack = await startSyncStack(env, { syncConfig });
  running = stack.worker.run();
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  receiver = await startReceiver({
    client: env.client,
    taskQueue: stack.taskQueue,
    syncConfig,
    secret: SECRET,
    logger: pino({ level: 'debug' }, logStream),
    host: '127.0.0.1',
    port: 0,
  });
});

afterAll(async () => {
  await receiver?.close();
  stack?.worker.shutdown();
  await running;
  await stack?.close();
  await env?.teardown();
});

type OktaEvent = { uuid: string; published: string; eventType: string; target: Array<Record<string, unknown>> };
type OktaDelivery = {
  eventId: string;
  data: { events: OktaEvent[] };
};

const readFixture = (path: string): unknown => JSON.parse(readFileSync(join(__dirname, 'fixtures', path), 'utf8'));

/**
 * An Okta fixture made unique to one test: its ids get `tag`, its logins a `tag.` prefix. The same
 * tag maps a fixture's ids the same way, so two fixtures can speak of the same person.
 */
function okta(name: string, tag: string): OktaDelivery {
  const delivery = readFixture(`okta/${name}.json`) as OktaDelivery;
  delivery.eventId = `${delivery.eventId}-${tag}`;
  for (const event of delivery.data.events) {
    event.uuid = `${event.uuid}-${tag}`;
    for (const target of event.target) {
      if (target.type !== 'User') continue;
      target.id = `${target.id}${tag}`;
      target.alternateId = `${tag}.${target.alternateId}`;
    }
  }
  return delivery;
}

const newTag = () => randomUUID().slice(0, 8);
const userOf = (delivery: OktaDelivery, index = 0) => {
  const user = delivery.data.events[index]!.target.find((target) => target.type === 'User')!;
  return { id: user.id as string, email: user.alternateId as string };
};

async function send(
  method: 'GET' | 'POST',
  path: string,
  options: { body?: unknown; headers?: Record<string, string>; url?: string } = {},
) {
  const isText = typeof options.body === 'string';
  const response = await request(`${options.url ?? receiver.url}${path}`, {
    method,
    headers: {
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      authorization: `Bearer ${SECRET}`,
      ...options.headers,
    },
    body: options.body === undefined ? undefined : isText ? (options.body as string) : JSON.stringify(options.body),
  });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

const postOkta = (delivery: unknown, headers?: Record<string, string>) =>
  send('POST', '/hooks/okta', { body: delivery, headers });

const memberByEmail = (email: string) => stack.sandbox.state().members.find((member) => member.email === email);
const teamMembers = (teamId: string) => stack.sandbox.state().teams.find((team) => team.id === teamId)?.memberIds ?? [];
const invitesOf = (email: string) =>
  stack.sandbox
    .state()
    .calls.filter((call) => call.method === 'POST' && call.path.includes('/invites'))
    .filter((call) => JSON.stringify(call.body).includes(email));
const status = (userId: string) => env.client.workflow.getHandle(userWorkflowId(userId)).query(statusQuery);
const expectNoWorkflow = (userId: string) =>
  expect(env.client.workflow.getHandle(userWorkflowId(userId)).describe()).rejects.toThrow(WorkflowNotFoundError);

/** The user's workflow status once `done` holds for it. */
async function statusWhen(userId: string, done: (current: UserSyncStatus) => boolean) {
  return await eventually(async () => {
    const current = await status(userId);
    return done(current) ? current : undefined;
  });
}

describe('hook receiver', () => {
  it('answers the health and readiness probes', async () => {
    expect(await send('GET', '/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await send('GET', '/readyz')).toMatchObject({ status: 200, body: { status: 'ready' } });
  });

  it("echoes Okta's verification challenge, and only to a request with the secret", async () => {
    const { headers } = readFixture('okta/verification.json') as { headers: Record<string, string> };

    const verified = await send('GET', '/hooks/okta', { headers });
    const missing = await send('GET', '/hooks/okta');
    const unauthorized = await send('GET', '/hooks/okta', { headers: { ...headers, authorization: 'wrong' } });

    expect(verified).toMatchObject({ status: 200, body: { verification: headers['x-okta-verification-challenge'] } });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toContain('x-okta-verification-challenge');
    expect(unauthorized.status).toBe(401);
  });

  it('onboards the user of a single Okta create event', async () => {
    const delivery = okta('user-create', newTag());
    const user = userOf(delivery);

    const answer = await postOkta(delivery);

    expect(answer).toMatchObject({
      status: 200,
      body: { received: 1, accepted: 1, duplicates: 0, ignored: 0, rejected: 0 },
    });
    const member = await eventually(() => memberByEmail(user.email));
    expect(member.role).toBe('read');
  });

  it('onboards every user of a batch', async () => {
    const delivery = okta('user-create-batch', newTag());
    const emails = delivery.data.events.map((_event, index) => userOf(delivery, index).email);

    const answer = await postOkta(delivery);

    expect(answer).toMatchObject({ status: 200, body: { received: 3, accepted: 3 } });
    await eventually(() => (emails.every((email) => memberByEmail(email)) ? true : undefined));
    expect(emails).toContain(`${delivery.eventId.split('-').pop()}.qa+docs@example.com`);
  });

  it('puts the user in the mapped team on a group add, and takes them out on the remove', async () => {
    const tag = newTag();
    const user = userOf(okta('user-create', tag));

    await postOkta(okta('user-create', tag));
    expect(await postOkta(okta('group-membership-add', tag))).toMatchObject({ status: 200, body: { accepted: 1 } });
    const member = await eventually(() => {
      const found = memberByEmail(user.email);
      return found && teamMembers('team_engineering').includes(found.id) ? found : undefined;
    });
    expect(member.role).toBe('edit');

    await postOkta(okta('group-membership-remove', tag));

    await eventually(() => (teamMembers('team_engineering').includes(member.id) ? undefined : true));
    const state = await statusWhen(user.id, (current) => current.actual.teams.team_engineering === 'out');
    expect(state.eventsApplied).toBe(3);
  });

  it('invites once when the same delivery arrives twice', async () => {
    const delivery = okta('user-create', newTag());
    const user = userOf(delivery);

    const first = await postOkta(delivery);
    const second = await postOkta(delivery);

    expect([first.status, second.status]).toEqual([200, 200]);
    await eventually(() => memberByEmail(user.email));
    const state = await statusWhen(user.id, (current) => current.actual.membership === 'member' && !current.running);
    expect(state.eventsApplied).toBe(1);
    expect(invitesOf(user.email)).toHaveLength(1);
  });

  it('ends with no member when a deactivation arrives before the earlier create', async () => {
    const tag = newTag();
    const create = okta('user-create', tag);
    const deactivate = okta('user-deactivate', tag);
    const user = userOf(create);
    const publishedMs = (delivery: OktaDelivery) => Date.parse(delivery.data.events[0]!.published);
    expect(publishedMs(deactivate)).toBeGreaterThan(publishedMs(create));

    expect((await postOkta(deactivate)).status).toBe(200);
    expect((await postOkta(create)).status).toBe(200);

    const state = await statusWhen(
      user.id,
      (current) => current.eventsApplied === 2 && current.actual.membership === 'not-member',
    );
    expect(state.desired.active?.value).toBe(false);
    expect(state.history.map((step) => `${step.kind} ${step.outcome}`)).toEqual(['offboard done']);
    expect(memberByEmail(user.email)).toBeUndefined();
    expect(invitesOf(user.email)).toHaveLength(0);
  });

  it('refuses a wrong or missing secret with 401 and starts nothing', async () => {
    const delivery = okta('user-create', newTag());
    const user = userOf(delivery);

    const wrong = await postOkta(delivery, { authorization: `Bearer ${SECRET}-not` });
    const missing = await send('POST', '/hooks/okta', { body: delivery, headers: { authorization: '' } });
    const generic = await send('POST', '/hooks/directory', { body: {}, headers: { authorization: 'nope' } });

    expect([wrong.status, missing.status, generic.status]).toEqual([401, 401, 401]);
    expect(wrong.body).toEqual({
      error: { code: 'UNAUTHORIZED', message: 'a valid Authorization header is required' },
    });
    expect(JSON.stringify([wrong, missing])).not.toContain(SECRET);
    await expectNoWorkflow(user.id);
  });

  it('refuses an oversized body with 413', async () => {
    const delivery = okta('user-create', newTag());
    const padded = { ...delivery, padding: 'x'.repeat(1_048_576) };

    const answer = await postOkta(padded);

    expect(answer).toMatchObject({ status: 413, body: { error: { code: 'BODY_TOO_LARGE' } } });
    await expectNoWorkflow(userOf(delivery).id);
  });

  it('refuses malformed JSON with 400 naming the problem', async () => {
    const answer = await postOkta('{"data": {"events": [}');
    const empty = await postOkta('');

    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({
      code: 'MALFORMED_JSON',
      message: expect.stringMatching(/^the body is not valid JSON: /),
    });
    expect(empty).toMatchObject({ status: 400, body: { error: { code: 'MALFORMED_JSON' } } });
  });

  it('refuses a body that is not an Okta delivery with 400 naming the field', async () => {
    const answer = await postOkta({ data: { events: 'none' } });

    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: 'INVALID_BODY', issues: [{ field: 'data.events' }] });
  });

  it('refuses a content type other than JSON with 415', async () => {
    const delivery = okta('user-create', newTag());
    const asText = { 'content-type': 'text/plain' };
    const asForm = { 'content-type': 'application/x-www-form-urlencoded' };

    const text = await send('POST', '/hooks/okta', { body: JSON.stringify(delivery), headers: asText });
    const form = await send('POST', '/hooks/directory', { body: 'a=1', headers: asForm });
    const none = await send('POST', '/hooks/okta');

    expect([text.status, form.status, none.status]).toEqual([415, 415, 415]);
    expect(text.body.error.code).toBe('UNSUPPORTED_CONTENT_TYPE');
    await expectNoWorkflow(userOf(delivery).id);
  });

  it('applies the valid events of a batch and reports the invalid one by index', async () => {
    const delivery = okta('user-create-batch-one-invalid', newTag());
    const [first, invalid, third] = [0, 1, 2].map((index) => userOf(delivery, index));

    const answer = await postOkta(delivery);

    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ received: 3, accepted: 2, rejected: 1 });
    expect(answer.body.rejectedEvents).toEqual([
      {
        index: 1,
        id: delivery.data.events[1]!.uuid,
        issues: [{ field: 'data.events.1.target.0.alternateId', reason: 'Invalid email address' }],
      },
    ]);
    await eventually(() => (memberByEmail(first!.email) && memberByEmail(third!.email) ? true : undefined));
    await expectNoWorkflow(invalid!.id);
  });

  it('acknowledges a group event for an unmapped group and starts nothing', async () => {
    const delivery = okta('group-membership-add-unmapped', newTag());

    const answer = await postOkta(delivery);

    expect(answer).toMatchObject({ status: 200, body: { received: 1, accepted: 0, ignored: 1 } });
    expect(answer.body.ignoredEvents[0].reason).toContain('Marketing');
    await expectNoWorkflow(userOf(delivery).id);
  });

  it('acknowledges and ignores event types it does not act on', async () => {
    const delivery = okta('unknown-event-type', newTag());

    const answer = await postOkta(delivery);

    expect(answer).toMatchObject({ status: 200, body: { accepted: 0, ignored: 1 } });
    await expectNoWorkflow(userOf(delivery).id);
  });

  it('onboards from the generic directory hook, one event or a batch', async () => {
    const tag = newTag();
    const single = readFixture('directory/user-created.json') as any;
    single.id = `${single.id}-${tag}`;
    single.user = { ...single.user, id: `${single.user.id}-${tag}`, email: `${tag}.${single.user.email}` };
    const batch = readFixture('directory/batch.json') as any;
    for (const event of batch.events) {
      event.id = `${event.id}-${tag}`;
      event.user = { ...event.user, id: `${event.user.id}-${tag}`, email: `${tag}.${event.user.email}` };
    }

    const one = await send('POST', '/hooks/directory', { body: single });
    const many = await send('POST', '/hooks/directory', { body: batch });

    expect(one).toMatchObject({ status: 200, body: { received: 1, accepted: 1 } });
    expect(many).toMatchObject({ status: 200, body: { received: 3, accepted: 3 } });
    await eventually(() => memberByEmail(single.user.email));
    await eventually(() => {
      const found = memberByEmail(batch.events[0].user.email);
      return found && teamMembers('team_design').includes(found.id) ? found : undefined;
    });
  });

  it('refuses a lone invalid generic event with 400 naming the field, and starts nothing', async () => {
    const invalid = readFixture('directory/invalid-email.json') as any;
    invalid.user.id = `${invalid.user.id}-${newTag()}`;

    const answer = await send('POST', '/hooks/directory', { body: invalid });

    expect(answer).toMatchObject({
      status: 400,
      body: { error: { code: 'INVALID_EVENT', issues: [{ field: 'user.email', reason: 'Invalid email address' }] } },
    });
    await expectNoWorkflow(invalid.user.id);
  });

  it('answers 503 with Retry-After when the hand-off outlasts its deadline', async () => {
    const stuck = await startReceiver({
      client: env.client,
      taskQueue: stack.taskQueue,
      syncConfig,
      secret: SECRET,
      logger: false,
      submitTimeoutMs: 300,
      closeGraceMs: 100,
      submit: () => new Promise(() => undefined),
    });
    try {
      const answer = await send('POST', '/hooks/okta', { url: stuck.url, body: okta('user-create', newTag()) });

      expect(answer).toMatchObject({ status: 503, headers: { 'retry-after': '5' } });
      expect(answer.body.error.code).toBe('TEMPORAL_UNAVAILABLE');
    } finally {
      await stuck.close();
    }
  });

  it('answers 503 within Okta\'s 3 seconds when Temporal cannot be reached, and is not ready', async () => {
    const port = await unusedPort();
    const connection = Connection.lazy({ address: `127.0.0.1:${port}`, connectTimeout: '500 ms' });
    const unreachable = await startReceiver({
      client: new Client({ connection }),
      taskQueue: stack.taskQueue,
      syncConfig,
      secret: SECRET,
      logger: false,
    });
    try {
      const startedAt = Date.now();
      const answer = await send('POST', '/hooks/okta', { url: unreachable.url, body: okta('user-create', newTag()) });
      const elapsedMs = Date.now() - startedAt;

      expect(answer).toMatchObject({ status: 503, headers: { 'retry-after': '5' } });
      expect(elapsedMs).toBeLessThan(3_000);
      expect(await send('GET', '/readyz', { url: unreachable.url })).toMatchObject({ status: 503 });
    } finally {
      await unreachable.close();
      await connection.close();
    }
  });

  it('never writes the secret to its logs', async () => {
    await postOkta(okta('user-create', newTag()), { authorization: SECRET });
    await postOkta(okta('user-create', newTag()), { authorization: `Bearer ${SECRET}x` });

    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join('\n')).not.toContain(SECRET);
    expect(logLines.some((line) => line.includes('hook request unauthorized'))).toBe(true);
  });

  it('holds a large batch with one call to Temporal, then every person is onboarded', async () => {
    const tag = newTag();
    const events = Array.from({ length: 60 }, (_, i) => ({
      id: `big-${tag}-${i}`,
      type: 'user.created',
      occurredAt: new Date().toISOString(),
      user: { id: `00ubig${tag}${i}`, email: `big.${tag}.${i}@example.com` },
    }));

    const started = Date.now();
    const answer = await send('POST', '/hooks/directory', { body: { events } });

    expect(answer).toMatchObject({ status: 200, body: { received: 60, accepted: 60 } });
    expect(Date.now() - started).toBeLessThan(3_000);
    await eventually(
      () => (events.every((e) => memberByEmail(e.user.email)) ? true : undefined),
      60_000,
    );
  });

  it('counts deliveries, events by outcome and refusals by reason for Prometheus', async () => {
    await postOkta(okta('user-create-batch-one-invalid', newTag()));
    await postOkta(okta('user-create', newTag()), { authorization: 'wrong' });

    const response = await request(`${receiver.url}/metrics`);
    const text = await response.body.text();

    expect(response.statusCode).toBe(200);
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? NaN);
    expect(value(/gitbook_sync_hook_events_total\{route="\/hooks\/okta",outcome="accepted"\} (\d+)/)).toBeGreaterThan(0);
    expect(value(/gitbook_sync_hook_events_total\{route="\/hooks\/okta",outcome="rejected"\} (\d+)/)).toBeGreaterThan(0);
    expect(value(/gitbook_sync_hook_refusals_total\{route="\/hooks\/okta",reason="UNAUTHORIZED"\} (\d+)/)).toBeGreaterThan(0);
    expect(text).toMatch(/gitbook_sync_hook_response_seconds_bucket\{le="3",route="\/hooks\/okta"\} \d+/);
  });
});

describe('hook receiver under concurrent deliveries (group commit)', () => {
  /** The generic events of one delivery: `count` (1-5) changes to one new person, in order. */
  function changesOf(tag: string, index: number, count: number) {
    const user = { id: `00ugc${tag}${index}`, email: `gc.${tag}.${index}@example.com` };
    const changes = [
      { type: 'user.created', user: { ...user, name: `Person ${index}` } },
      { type: 'group.user_added', user, group: { id: 'engineering' } },
      { type: 'group.user_added', user, group: { id: 'design' } },
      { type: 'group.user_added', user, group: { id: 'admins' } },
      { type: 'user.updated', user: { ...user, name: `Person ${index} (renamed)` } },
    ];
    const at = Date.now();
    return changes.slice(0, count).map((change, order) => ({
      id: `gc-${tag}-${index}-${order}`,
      occurredAt: new Date(at + order).toISOString(),
      ...change,
    }));
  }

  it('acknowledges 100 concurrent deliveries with far fewer Temporal calls than events, all applied', async () => {
    const tag = newTag();
    const deliveries = Array.from({ length: 100 }, (_, index) => changesOf(tag, index, 1 + (index % 5)));
    const events = deliveries.reduce((sum, changes) => sum + changes.length, 0);
    const busy = await startReceiver({
      client: env.client,
      taskQueue: stack.taskQueue,
      syncConfig,
      secret: SECRET,
      logger: false,
    });
    const since = new Date(Date.now() - 1_000).toISOString();

    try {
      const startedAt = Date.now();
      const answers = await Promise.all(
        deliveries.map(async (changes) => {
          const answer = await send('POST', '/hooks/directory', { url: busy.url, body: { events: changes } });
          return { ...answer, elapsedMs: Date.now() - startedAt };
        }),
      );
      const metrics = await readMetrics(busy.url);

      expect(answers.map((answer) => answer.status)).toEqual(deliveries.map(() => 200));
      answers.forEach((answer, index) => {
        expect(answer.body).toMatchObject({ received: deliveries[index]!.length, accepted: deliveries[index]!.length });
      });
      expect(Math.max(...answers.map((answer) => answer.elapsedMs))).toBeLessThan(3_000);

      // One call per group; a delivery alone makes one signal-with-start per event.
      const groups = metrics('gitbook_sync_hook_handoff_deliveries_count{path="group"}');
      const groupedDeliveries = metrics('gitbook_sync_hook_handoff_deliveries_sum{path="group"}');
      const aloneDeliveries = metrics('gitbook_sync_hook_handoff_deliveries_sum{path="alone"}');
      const temporalCalls = groups + metrics('gitbook_sync_hook_handoff_events_sum{path="alone"}');
      console.log(
        `group commit: ${deliveries.length} deliveries, ${events} events, ${temporalCalls} Temporal calls ` +
          `(${groups} groups of ${groupedDeliveries} deliveries, ${aloneDeliveries} deliveries alone)`,
      );
      expect(groupedDeliveries + aloneDeliveries).toBe(deliveries.length);
      expect(groupedDeliveries).toBeGreaterThan(groups);
      expect(temporalCalls).toBeLessThan(events / 3);
      const query =
        `WorkflowType = 'deliveryWorkflow' AND TaskQueue = '${stack.taskQueue}' AND StartTime >= '${since}'`;
      await eventually(async () => {
        let runs = 0;
        for await (const _run of env.client.workflow.list({ query })) runs++;
        return runs === groups ? true : undefined;
      });

      // Every person's workflow applied each of their events, and each person was invited.
      await eventually(async () => {
        for (const changes of deliveries) {
          const { user } = changes[0]!;
          if ((await status(user.id)).eventsApplied !== changes.length || !memberByEmail(user.email)) return undefined;
        }
        return true;
      }, 90_000);
    } finally {
      await busy.close();
    }
  }, 150_000);

  it('answers 503 to every delivery of a group whose hand-off fails, acknowledging none', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'receiver-temporal-'));
    const ports = { port: await unusedPort(), uiPort: await unusedPort() };
    let server: DevServer | undefined = await startDevServer({
      cliPath: process.env.TEMPORAL_CLI_PATH!,
      dataDir,
      ip: '127.0.0.1',
      ...ports,
    });
    const connection = await Connection.connect({ address: server.address });
    // One hand-off at a time, so the deliveries that arrive during the first are one group.
    const hooks = await startReceiver({
      client: new Client({ connection }),
      taskQueue: `group-fails-${randomUUID()}`,
      syncConfig,
      secret: SECRET,
      logger: false,
      maxConcurrentHandoffs: 1,
    });
    const postTo = (delivery: OktaDelivery) => send('POST', '/hooks/okta', { url: hooks.url, body: delivery });

    try {
      expect((await postTo(okta('user-create', newTag()))).status).toBe(200);
      await server.stop();
      server = undefined;

      // The first call retries until its deadline (the SDK retries an unreachable server), so the
      // ten deliveries that arrive a second later wait for it, then go as one group.
      const first = postTo(okta('user-create', newTag()));
      await new Promise((elapsed) => setTimeout(elapsed, 1_000));
      const grouped = Array.from({ length: 10 }, () => postTo(okta('group-membership-add', newTag())));
      const answers = await Promise.all([first, ...grouped]);
      const metrics = await readMetrics(hooks.url);

      expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 503));
      expect(answers.every((answer) => answer.headers['retry-after'] === '5')).toBe(true);
      expect(answers.every((answer) => answer.body.error.code === 'TEMPORAL_UNAVAILABLE')).toBe(true);
      expect(metrics('gitbook_sync_hook_handoff_deliveries_count{path="group"}')).toBe(1);
      expect(metrics('gitbook_sync_hook_handoff_deliveries_sum{path="group"}')).toBe(10);
      const refused = (reason: string) => metrics(`gitbook_sync_hook_handoff_refusals_total{reason="${reason}"}`);
      expect(refused('timeout') + refused('failed')).toBe(11);
    } finally {
      await hooks.close();
      await connection.close();
      await server?.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});

/** The receiver's metrics, read once: a function from `name{labels}` to its value (0 when absent). */
async function readMetrics(url: string): Promise<(series: string) => number> {
  const text = await (await request(`${url}/metrics`)).body.text();
  return (series) => {
    const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
    return line ? Number(line.slice(series.length + 1)) : 0;
  };
}

/** A 127.0.0.1 port nothing listens on (bound, read, released). */
async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const { port } = server.address() as { port: number };
  await new Promise((closed) => server.close(closed));
  return port;
}
