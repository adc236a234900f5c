/**
 * Finds and launches the system Chromium for browser tests: headless, no sandbox, with all of its
 * background networking off (the tests only ever talk to servers they start on 127.0.0.1), and a
 * fresh profile in a temporary folder that is removed on close.
 */
import { access, constants, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Where Debian's `chromium` package puts its launcher. */
export const DEFAULT_CHROMIUM_PATH = '/usr/bin/chromium';

/** Flags for a quiet, offline, throwaway browser. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Thrown when there is no browser to run; says how to install one. */
export class ChromiumNotFoundError extends Error {
  readonly code = 'CHROMIUM_NOT_FOUND';
  constructor(readonly path: string) {
    super(
      `no Chromium executable at ${path}. Install it with \`apt-get install -y chromium\` (Debian and ` +
        'Ubuntu), or set CHROMIUM_PATH to the path of a Chromium or Chrome executable',
    );
    this.name = 'ChromiumNotFoundError';
  }
}

/** The browser to use: `CHROMIUM_PATH`, else Debian's launcher. Throws when it is not executable. */
export async function findChromium(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const path = env.CHROMIUM_PATH || DEFAULT_CHROMIUM_PATH;
  try {
    await access(path, constants.X_OK);
  } catch {
    throw new ChromiumNotFoundError(path);
  }
  return path;
}

export interface HeadlessBrowser {
  context: BrowserContext;
  /** Opens a tab with the given viewport. */
  newPage(): Promise<Page>;
  /** Closes the browser and removes its profile folder. */
  close(): Promise<void>;
}

/** Launches headless Chromium with a fresh profile under the OS temp folder. */
export async function launchChromium(options: { timeoutMs?: number } = {}): Promise<HeadlessBrowser> {
  const executablePath = await findChromium();
  const userDataDir = await mkdtemp(join(tmpdir(), 'gitbook-sync-chromium-'));

  let context: BrowserContext;
  try {
    // A persistent context is the way to hand Playwright a profile folder of our own choosing.
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1440, height: 900 },
      timeout: options.timeoutMs ?? 30_000,
    });
  } catch (err) {
    await rm(userDataDir, { recursive: true, force: true });
    throw err;
  }

  return {
    context,
    newPage: () => context.newPage(),
    async close() {
      try {
        await context.close();
      } finally {
        await rm(userDataDir, { recursive: true, force: true });
      }
    },
  };
}
