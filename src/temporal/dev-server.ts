/**
 * Runs the Temporal CLI dev server as a child process: SQLite file under the data folder (runs
 * survive a restart), Web UI on its own port, custom search attributes registered at start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { Connection } from '@temporalio/client';
import type { Logger } from '../logger';
import { SEARCH_ATTRIBUTE_KEYS } from '../../workflows/api';

export interface DevServerOptions {
  cliPath: string;
  /** Folder of the SQLite file. */
  dataDir: string;
  ip?: string;
  /** gRPC port. @default 7233 */
  port?: number;
  /** Web UI port. @default 8233 */
  uiPort?: number;
  namespace?: string;
  /** The Web UI's codec endpoint, to show decrypted payloads. */
  codecEndpoint?: string;
  /** How long to wait for the server to answer. @default 60_000 */
  startTimeoutMs?: number;
  /**
   * SQLite pragmas for the server's store, each `name=value` (e.g. `journal_mode=wal`), passed as
   * `--sqlite-pragma`. @default none: the CLI's own settings
   */
  sqlitePragmas?: readonly string[];
  logger?: Logger;
}

export interface DevServer {
  address: string;
  uiUrl: string;
  stop(): Promise<void>;
}

/** Starts the dev server and resolves once it accepts connections. */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const ip = options.ip ?? '127.0.0.1';
  const port = options.port ?? 7233;
  const uiPort = options.uiPort ?? 8233;
  const dataDir = resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true });
  // Connecting is how we learn the server is up, so a server already on the port would pass for
  // ours: refuse to start next to one.
  await assertPortFree(ip, port, 'TEMPORAL_DEV_PORT', 'or set TEMPORAL_ADDRESS to use that server');
  await assertPortFree(ip, uiPort, 'TEMPORAL_DEV_UI_PORT');

  const args = [
    'server',
    'start-dev',
    '--ip',
    ip,
    '--port',
    String(port),
    '--ui-port',
    String(uiPort),
    '--db-filename',
    join(dataDir, 'temporal.sqlite'),
    '--namespace',
    options.namespace ?? 'default',
    '--log-level',
    'warn',
    ...(options.codecEndpoint ? ['--ui-codec-endpoint', options.codecEndpoint] : []),
    ...(options.sqlitePragmas ?? []).flatMap((pragma) => ['--sqlite-pragma', pragma]),
    ...SEARCH_ATTRIBUTE_KEYS.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]),
  ];
  const child = spawn(options.cliPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });

  const address = `${ip}:${port}`;
  try {
    await waitUntilReachable(address, child, options.startTimeoutMs ?? 60_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`the Temporal dev server did not start: ${(err as Error).message}\n${stderr}`);
  }
  options.logger?.info({ address, ui: `http://${ip}:${uiPort}` }, 'temporal dev server started');

  return { address, uiUrl: `http://${ip}:${uiPort}`, stop: () => stopChild(child) };
}

/** Fails, naming the setting to change, when something already listens on `ip:port`. */
export async function assertPortFree(ip: string, port: number, setting: string, hint = ''): Promise<void> {
  const server = createServer();
  try {
    await new Promise<void>((listening, failed) => {
      server.once('error', failed);
      server.listen(port, ip, listening);
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`${ip}:${port} is already in use (${code}): set ${setting} to another port${hint ? `, ${hint}` : ''}`);
  } finally {
    await new Promise((closed) => server.close(closed));
  }
}

async function waitUntilReachable(address: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited with code ${child.exitCode}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      await connection.workflowService.getSystemInfo({});
      await connection.close();
      // Our own child must still be running: an answer from anyone else does not count.
      if (child.exitCode !== null) throw new Error(`exited with code ${child.exitCode}`);
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((done) => setTimeout(done, 250));
    }
  }
}

/** SIGTERM, then SIGKILL if it has not exited within 10 s. */
export function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    child.kill('SIGTERM');
  });
}
