/**
 * What a person sees in the Temporal Web UI after an onboarding: the run found by its workflow id,
 * its summary, the event that started it, its current details and its onboarding step as a child
 * run. A real dev server with its built-in UI, the GitBook sandbox, a worker and headless Chromium.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Locator, Page } from 'playwright-core';
import { startDevServer, type DevServer } from '../src/temporal/dev-server';
import { submitDirectoryEvent } from '../src/submit';
import { statusQuery, userWorkflowId } from '../workflows/api';
import type { DirectoryEvent } from '../workflows/events';
import { launchChromium, type HeadlessBrowser } from './helpers/chromium';
import { event, eventually, quietRuntime, startSyncStack, type SyncStack } from './helpers/harness';

/** How long to wait for text to show up in the UI: it loads its data after the page itself. */
const UI_TIMEOUT_MS = 15_000;

/** Set to a folder to keep a screenshot of each page the test looks at. */
const SCREENSHOT_DIR = process.env.WEB_UI_SCREENSHOT_DIR;

let server: DevServer;
let stack: SyncStack;
let browser: HeadlessBrowser;
/** Closers of everything `beforeAll` started, in start order; `afterAll` runs them in reverse. */
const cleanups: Array<() => Promise<void>> = [];

/** Distinct free ports on 127.0.0.1: all are held at once, then released for the dev server. */
async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((done, fail) => server.once('error', fail).listen(0, '127.0.0.1', done));
    }
    return servers.map((server) => (server.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((done) => server.close(done))));
  }
}

beforeAll(async () => {
  // The browser first: without one there is no point starting the rest.
  browser = await launchChromium();
  cleanups.push(() => browser.close());

  quietRuntime();
  const cliPath = process.env.TEMPORAL_CLI_PATH;
  if (!cliPath) throw new Error('TEMPORAL_CLI_PATH is not set: the jest global setup did not run');
  const dataDir = await mkdtemp(join(tmpdir(), 'gitbook-sync-web-ui-'));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  const [port, uiPort] = await freePorts(2);
  server = await startDevServer({ cliPath, dataDir, ip: '127.0.0.1', port, uiPort });
  cleanups.push(() => server.stop());

  const env = await TestWorkflowEnvironment.createFromExistingServer({ address: server.address });
  cleanups.push(() => env.teardown());
  stack = await startSyncStack(env);
  cleanups.push(() => stack.close());
  const running = stack.worker.run();
  cleanups.push(async () => {
    stack.worker.shutdown();
    await running;
  });

  // The dev server answers gRPC before its UI listens.
  await eventually(async () => ((await fetch(server.uiUrl)).ok ? true : undefined), 30_000);
}, 90_000);

afterAll(async () => {
  const failures: unknown[] = [];
  for (const cleanup of cleanups.reverse()) await cleanup().catch((err: unknown) => failures.push(err));
  if (failures.length > 0) throw failures[0];
});

/** Onboards a fresh directory user into `engineering` and waits until GitBook and the workflow agree. */
async function onboardUser() {
  const id = `00u${randomUUID().slice(0, 8)}`;
  const email = `${id}@example.com`;
  const send = (fields: Record<string, unknown>) =>
    submitDirectoryEvent(stack.env.client, stack.taskQueue, event({ userId: id, email, ...fields }) as DirectoryEvent);

  await send({ kind: 'user.activated' });
  await send({ kind: 'group.member_added', group: { id: 'engineering' } });

  await eventually(() => {
    const member = stack.sandbox.state().members.find((m) => m.email === email);
    const team = stack.sandbox.state().teams.find((t) => t.id === 'team_engineering');
    return member && team?.memberIds.includes(member.id) ? member : undefined;
  });
  // The UI reads current details from the running workflow: wait until it has nothing left to do.
  const handle = stack.env.client.workflow.getHandle(userWorkflowId(id));
  await eventually(async () => {
    const status = await handle.query(statusQuery);
    return status.pending.length === 0 && !status.running ? status : undefined;
  });
  return { id, email, workflowId: userWorkflowId(id) };
}

/**
 * The text of `locator` once it contains `expected`, or whatever it shows after the wait, so that a
 * failed `expect(...).toContain(expected)` prints what the page really said.
 */
async function textShowing(locator: Locator, expected: string): Promise<string> {
  await locator
    .filter({ hasText: expected })
    .first()
    .waitFor({ timeout: UI_TIMEOUT_MS })
    .catch(() => undefined);
  return (await locator.allInnerTexts()).join('\n');
}

/** The UI renders summaries and details as Markdown, each in its own frame below its heading. */
function markdownBelow(page: Page, heading: string): Locator {
  return page
    .getByRole('heading', { name: heading, exact: true })
    .locator('xpath=following::iframe[1]')
    .contentFrame()
    .locator('body');
}

async function keepScreenshot(page: Page, name: string): Promise<void> {
  if (SCREENSHOT_DIR) await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

/** Runs `fn` on a new tab; on failure, saves a screenshot and names it in the error. */
async function withPage(fn: (page: Page) => Promise<void>): Promise<void> {
  const page = await browser.newPage();
  page.setDefaultTimeout(UI_TIMEOUT_MS);
  try {
    await fn(page);
  } catch (err) {
    const path = join(tmpdir(), `gitbook-sync-web-ui-failure-${Date.now()}.png`);
    await page.screenshot({ path, fullPage: true }).catch(() => undefined);
    if (err instanceof Error) err.message += `\n(screenshot of the page: ${path}, at ${page.url()})`;
    throw err;
  } finally {
    await page.close();
  }
}

describe('the Temporal Web UI', () => {
  it("finds an onboarded user's run by workflow id and shows its summary, details and steps", async () => {
    const user = await onboardUser();

    await withPage(async (page) => {
      const query = `WorkflowId = "${user.workflowId}"`;
      await page.goto(`${server.uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(query)}`);

      const runLink = page.getByRole('link', { name: user.workflowId, exact: true });
      const rows = page.getByRole('row').filter({ has: runLink });
      const row = await textShowing(rows, user.workflowId);
      await keepScreenshot(page, 'workflow-list');
      expect(row).toContain(user.workflowId);
      expect(row).toContain('userSyncWorkflow');
      expect(row).toContain('Running');
      expect(await rows.count()).toBe(1);

      await runLink.click();
      await page.waitForURL(`**/namespaces/default/workflows/${user.workflowId}/*/history`);
      expect(await textShowing(page.getByTestId('workflow-id-heading'), user.workflowId)).toContain(user.workflowId);

      await page.getByRole('tab', { name: 'User Metadata' }).click();
      const summary = await textShowing(markdownBelow(page, 'Summary'), user.id);
      const details = await textShowing(markdownBelow(page, 'Details'), 'user.activated');
      const current = await textShowing(markdownBelow(page, 'Current Details'), 'team_engineering');
      await keepScreenshot(page, 'user-metadata');
      expect(summary).toContain(`GitBook sync for directory user ${user.id}`);
      expect(details).toContain('Started by a user.activated event');
      expect(current).toContain(user.email);
      expect(current).toContain('GitBook: member');
      expect(current).toContain('role edit, teams team_engineering');

      await page.getByRole('tab', { name: /^Relationships/ }).click();
      const onboardStep = `${user.workflowId}/onboard-1`;
      const children = await textShowing(page.getByRole('link', { name: onboardStep, exact: true }), onboardStep);
      await keepScreenshot(page, 'relationships');
      expect(children).toContain(onboardStep);
    });
  });
});
