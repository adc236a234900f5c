import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { startDevServer, type DevServer } from '../src/temporal/dev-server';
import { submitDirectoryEvent } from '../src/submit';
import type { DirectoryEvent } from '../workflows/events';
import { launchChromium, type HeadlessBrowser } from './helpers/chromium';
import { event, eventually, quietRuntime, startSyncStack, type SyncStack } from './helpers/harness';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  await new Promise((done) => server.close(done));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

let dataDir: string;
let server: DevServer;
let env: TestWorkflowEnvironment;
let stack: SyncStack;
let running: Promise<void>;
let browser: HeadlessBrowser;

beforeAll(async () => {
  quietRuntime();
  dataDir = await mkdtemp(join(tmpdir(), 'gitbook-sync-webui-'));
  const port = await freePort();
  let uiPort = await freePort();
  server = await startDevServer({ cliPath: process.env.TEMPORAL_CLI_PATH!, dataDir, ip: '127.0.0.1', port, uiPort });
  env = await TestWorkflowEnvironment.createFromExistingServer({ address: server.address });
  stack = await startSyncStack(env);
  running = stack.worker.run();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  stack?.worker.shutdown();
  await running;
  await stack?.close();
  await env?.teardown();
  await server?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

it('explores', async () => {
  const id = `00u${randomUUID().slice(0, 8)}`;
  const email = `${id}@example.com`;
  await submitDirectoryEvent(env.client, stack.taskQueue, event({ kind: 'user.activated', userId: id, email }) as DirectoryEvent);
  await submitDirectoryEvent(env.client, stack.taskQueue, event({ kind: 'group.member_added', userId: id, email, group: { id: 'engineering' } }) as DirectoryEvent);
  await eventually(() => stack.sandbox.state().members.find((m) => m.email === email));
  await new Promise((d) => setTimeout(d, 3000));
  const page = await browser.newPage();
  page.on('console', (m) => console.log('console', m.type(), m.text()));
  page.on('request', (r) => { if (!r.url().startsWith(server.uiUrl)) console.log('external request', r.url()); });
  await page.goto(`${server.uiUrl}/namespaces/default/workflows`);
  await page.waitForTimeout(5000);
  await page.screenshot({ path: '/tmp/webui-explore/list.png', fullPage: true });
  await writeFile('/tmp/webui-explore/list.html', await page.content());
  await writeFile('/tmp/webui-explore/list.txt', await page.innerText('body'));
  await page.goto(`${server.uiUrl}/namespaces/default/workflows/gitbook-user-${id}`);
  await page.waitForTimeout(5000);
  console.log('url', page.url());
  await page.screenshot({ path: '/tmp/webui-explore/run.png', fullPage: true });
  await writeFile('/tmp/webui-explore/run.html', await page.content());
  await writeFile('/tmp/webui-explore/run.txt', await page.innerText('body'));
  await writeFile('/tmp/webui-explore/id.txt', id);
});
