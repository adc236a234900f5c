import { connect } from 'node:net';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startReceiver, type RunningReceiver } from '../src/receiver';
import { statusQuery, userWorkflowId } from '../workflows/api';
import { eventually, startSyncStack, startTestEnvironment, TEST_SYNC_CONFIG, type SyncStack } from './helpers/harness';

const SECRET = 'probe-secret';
let env: TestWorkflowEnvironment;
let stack: SyncStack;
let running: Promise<void>;
let receiver: RunningReceiver;

beforeAll(async () => {
  env = await startTestEnvironment();
  stack = await startSyncStack(env);
  running = stack.worker.run();
  receiver = await startReceiver({ client: env.client, taskQueue: stack.taskQueue, syncConfig: TEST_SYNC_CONFIG, secret: SECRET, logger: false });
});
afterAll(async () => {
  await receiver?.close();
  stack?.worker.shutdown();
  await running;
  await stack?.close();
  await env?.teardown();
});

function raw(bytes: Buffer): Promise<string> {
  const { port } = new URL(receiver.url);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(bytes));
    socket.on('data', (c) => chunks.push(c));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', (e) => chunks.push(Buffer.from(`<<${e.message}>>`)));
  });
}
function post(path: string, body: Buffer, extra = '') {
  return raw(Buffer.concat([Buffer.from(`POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${SECRET}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n${extra}\r\n`), body]));
}
const ev = (id: string, user: string, type = 'user.created') => ({ id, type, occurredAt: '2026-12-04T09:00:00Z', user: { id: user, email: `${user.replace(/\W/g, '')}@example.com` } });



it('probes proto', async () => {
  const { submitDirectoryEvents } = await import('../src/submit');
  const mk = (id: string, kind: string, extra: object = {}) => ({ id, kind, userId: 'proto1', email: 'proto1@example.com', occurredAt: `2026-12-04T09:00:0${id.length % 10}Z`, source: 'cli', ...extra });
  for (const g of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
    await submitDirectoryEvents(env.client, stack.taskQueue, [mk(`g-${g}`, 'group.member_added', { group: { id: g } }) as any]);
  }
  await submitDirectoryEvents(env.client, stack.taskQueue, [mk('a1', 'user.activated') as any]);
  await new Promise((r) => setTimeout(r, 3000));
  const h = env.client.workflow.getHandle('gitbook-user-proto1');
  const d = await h.describe();
  console.log('proto wf', d.status.name);
  try { const st = await h.query(statusQuery); console.log('status', JSON.stringify({ desired: st.desired.groups, actual: st.actual, history: st.history, lastError: st.lastError, applied: st.eventsApplied })); } catch (e) { console.log('query err', String(e)); }
  const hist = await h.fetchHistory();
  console.log('events', hist.events?.map((e) => e.eventType).join(','));
  const fail = hist.events?.find((e) => e.workflowTaskFailedEventAttributes)?.workflowTaskFailedEventAttributes?.failure?.message;
  console.log('wft failure', fail);
}, 60_000);
