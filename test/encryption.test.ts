/**
 * Payload encryption: with keys configured, histories hold only ciphertext, the sync works as
 * before, old histories stay readable after a key rotation, and the codec endpoint lets the Web UI
 * show decrypted payloads to an operator.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Client } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { request } from 'undici';
import { statusQuery, userWorkflowId } from '../workflows/api';
import type { DirectoryEvent } from '../workflows/events';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING, PayloadDecryptionError, buildCodecServer, parseKeyRing } from '../src/codec';
import { submitDirectoryEvent } from '../src/submit';
import { event, eventually, startSyncStack, startTestEnvironment, type SyncStack } from './helpers/harness';

const oldKey = `old:${randomBytes(32).toString('base64')}`;
const newKey = `k2026:${randomBytes(32).toString('base64')}`;
const codec = new AesGcmPayloadCodec(parseKeyRing(oldKey));
const decoder = new TextDecoder();

let env: TestWorkflowEnvironment;
let stack: SyncStack;
let client: Client;
let running: Promise<void>;

beforeAll(async () => {
  env = await startTestEnvironment();
  stack = await startSyncStack(env, { dataConverter: { payloadCodecs: [codec] } });
  client = new Client({ connection: env.connection, namespace: 'default', dataConverter: { payloadCodecs: [codec] } });
  running = stack.worker.run();
});

afterAll(async () => {
  stack?.worker.shutdown();
  await running;
  await stack?.close();
  await env?.teardown();
});

/** Every payload in a history (anything with `metadata.encoding`), with where it is. */
function payloadEncodings(value: unknown, path = ''): Array<{ path: string; encoding: string }> {
  if (typeof value !== 'object' || value === null) return [];
  const record = value as Record<string, unknown>;
  const metadata = record.metadata as Record<string, Uint8Array> | undefined;
  if (metadata?.encoding) return [{ path, encoding: decoder.decode(metadata.encoding) }];
  return Object.entries(record).flatMap(([key, child]) => payloadEncodings(child, path ? `${path}.${key}` : key));
}

const toPayload = (value: unknown) => defaultPayloadConverter.toPayload(value) as Payload;

describe('AesGcmPayloadCodec', () => {
  it('seals payloads so the plain text is gone, and opens them again', async () => {
    const [sealed] = await codec.encode([toPayload({ email: 'secret.person@example.com' })]);

    expect(decoder.decode(sealed!.metadata!.encoding!)).toBe(ENCRYPTED_ENCODING);
    expect(Buffer.from(sealed!.data!).toString('latin1')).not.toContain('secret.person');
    const [opened] = await codec.decode([sealed!]);
    expect(defaultPayloadConverter.fromPayload(opened!)).toEqual({ email: 'secret.person@example.com' });
  });

  it('reads payloads sealed with an older key after rotation, and seals new ones with the new key', async () => {
    const [sealedOld] = await codec.encode([toPayload('before rotation')]);
    const rotated = new AesGcmPayloadCodec(parseKeyRing(`${newKey},${oldKey}`));

    const [opened] = await rotated.decode([sealedOld!]);
    const [sealedNew] = await rotated.encode([toPayload('after rotation')]);

    expect(defaultPayloadConverter.fromPayload(opened!)).toBe('before rotation');
    expect(decoder.decode(sealedNew!.metadata!['encryption-key-id']!)).toBe('k2026');
    await expect(codec.decode([sealedNew!])).rejects.toThrow(PayloadDecryptionError);
  });

  it('refuses a tampered payload', async () => {
    const [sealed] = await codec.encode([toPayload('intact')]);
    const data = Buffer.from(sealed!.data!);
    data.writeUInt8(data.readUInt8(data.length - 20) ^ 0xff, data.length - 20);

    await expect(codec.decode([{ ...sealed!, data }])).rejects.toThrow(/could not be opened/);
  });

  it('rejects a malformed key list without echoing the key material', () => {
    expect(() => parseKeyRing('k1:c2hvcnQ=')).toThrow(/key 1 must be <id>:<32 bytes in base64>/);
    expect(() => parseKeyRing('k1:c2hvcnQ=')).not.toThrow(/c2hvcnQ/);
  });
});

describe('the sync with payload encryption on', () => {
  it('converges as before while every payload in the histories is ciphertext', async () => {
    const userId = `00uenc${randomUUID().slice(0, 6)}`;
    const email = `${userId}.private@example.com`;

    await submitDirectoryEvent(client, stack.taskQueue, event({ kind: 'user.activated', userId, email }) as DirectoryEvent);
    await submitDirectoryEvent(
      client,
      stack.taskQueue,
      event({ kind: 'group.member_added', userId, email, group: { id: 'engineering' } }) as DirectoryEvent,
    );

    await eventually(() => stack.sandbox.state().members.find((m) => m.email === email));
    const status = await eventually(async () => {
      const current = await client.workflow.getHandle(userWorkflowId(userId)).query(statusQuery);
      return current.actual.teams.team_engineering === 'in' && current.pending.length === 0 ? current : undefined;
    });
    expect(status.desired.email?.value).toBe(email);

    let payloads = 0;
    for await (const run of env.client.workflow.list({ query: `WorkflowId STARTS_WITH "${userWorkflowId(userId)}"` })) {
      const history = await env.client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
      const text = JSON.stringify(history);
      expect(text).not.toContain(email);
      expect(text).not.toContain(Buffer.from(email).toString('base64').slice(0, 16));
      for (const { path, encoding } of payloadEncodings(history)) {
        // Search attributes are indexed by the server, and a local-activity marker's own bookkeeping
        // (`details.data`) is the SDK's: neither carries our data (no email goes in either).
        if (path.includes('searchAttributes') || path.includes('details.data')) continue;
        payloads++;
        expect(`${path}: ${encoding}`).toBe(`${path}: ${ENCRYPTED_ENCODING}`);
      }
    }
    expect(payloads).toBeGreaterThan(5);
  });
});

describe('the codec endpoint', () => {
  it('decodes for the allowed Web UI origin only, and requires the token when one is set', async () => {
    const app = await buildCodecServer({ codec, allowedOrigins: ['http://127.0.0.1:8233'], authToken: 'codec-token' });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const [sealed] = await codec.encode([toPayload({ email: 'ui.viewer@example.com' })]);
      const body = JSON.stringify({
        payloads: [
          {
            metadata: Object.fromEntries(Object.entries(sealed!.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
            data: Buffer.from(sealed!.data!).toString('base64'),
          },
        ],
      });
      const headers = { 'content-type': 'application/json', origin: 'http://127.0.0.1:8233', 'x-namespace': 'default' };

      const refused = await request(`${url}/decode`, { method: 'POST', headers, body });
      const answered = await request(`${url}/decode`, {
        method: 'POST',
        headers: { ...headers, authorization: 'Bearer codec-token' },
        body,
      });
      const preflight = await request(`${url}/decode`, {
        method: 'OPTIONS',
        headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' },
      });

      expect(refused.statusCode).toBe(401);
      await refused.body.dump();
      expect(answered.statusCode).toBe(200);
      expect(answered.headers['access-control-allow-origin']).toBe('http://127.0.0.1:8233');
      const decoded = (await answered.body.json()) as { payloads: Array<{ data: string }> };
      expect(Buffer.from(decoded.payloads[0]!.data, 'base64').toString()).toContain('ui.viewer@example.com');
      expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
      await preflight.body.dump();
    } finally {
      await app.close();
    }
  });
});
