/**
 * Finds the Temporal CLI (which embeds the dev server and the Web UI), building the pinned version
 * from the Go module proxy into a user cache folder when it is not installed. The build takes a few
 * minutes once; later runs reuse it.
 */
import { execFile } from 'node:child_process';
import { access, constants, mkdir, rename } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The CLI version we build: the newest whose module installs with `go install` alone. */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';

/** Thrown when no CLI is found and none can be built; says how to install one. */
export class TemporalCliNotFoundError extends Error {
  readonly code = 'TEMPORAL_CLI_NOT_FOUND';
  constructor(detail: string, options?: { cause?: unknown }) {
    super(
      `the Temporal CLI was not found (${detail}). Install it (https://docs.temporal.io/cli) and put ` +
        '`temporal` on PATH, set TEMPORAL_CLI_PATH to its path, or install Go so it can be built with ' +
        `\`go install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}\``,
      options,
    );
    this.name = 'TemporalCliNotFoundError';
  }
}

export interface FindTemporalCliOptions {
  /** Build the pinned CLI with Go when it is missing. @default true */
  build?: boolean;
  /** Where the built CLI is kept. @default `$XDG_CACHE_HOME/gitbook-directory-sync` or `~/.cache/...` */
  cacheDir?: string;
  env?: NodeJS.ProcessEnv;
  /** Progress messages (the build is slow). */
  onProgress?: (message: string) => void;
}

/** The cache folder for the built CLI, outside any work tree. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'gitbook-directory-sync', `temporal-cli-${TEMPORAL_CLI_VERSION}`);
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function onPath(name: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const candidate = join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Returns the path of a Temporal CLI: `TEMPORAL_CLI_PATH`, else `temporal` on PATH, else the cached
 * build, else a fresh build with Go (when allowed).
 */
export async function findTemporalCli(options: FindTemporalCliOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const explicit = env.TEMPORAL_CLI_PATH;
  if (explicit) {
    if (await isExecutable(explicit)) return explicit;
    throw new TemporalCliNotFoundError(`TEMPORAL_CLI_PATH=${explicit} is not an executable file`);
  }

  const installed = await onPath('temporal', env);
  if (installed) return installed;

  const cacheDir = options.cacheDir ?? defaultCacheDir(env);
  const cached = join(cacheDir, 'temporal');
  if (await isExecutable(cached)) return cached;

  if (options.build === false) throw new TemporalCliNotFoundError('not on PATH and not built yet');
  return await buildTemporalCli(cacheDir, env, options.onProgress);
}

async function buildTemporalCli(
  cacheDir: string,
  env: NodeJS.ProcessEnv,
  onProgress: (message: string) => void = () => undefined,
): Promise<string> {
  const go = await onPath('go', env);
  if (!go) throw new TemporalCliNotFoundError('not on PATH, not built, and Go is not installed to build it');

  // Build into a scratch folder, then move into place, so an interrupted build leaves no half binary.
  const scratch = join(cacheDir, `build-${process.pid}`);
  await mkdir(scratch, { recursive: true });
  onProgress(`building the Temporal CLI ${TEMPORAL_CLI_VERSION} with Go (a few minutes, once)`);
  try {
    await run(go, ['install', `${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`], {
      env: { ...env, GOBIN: scratch, GOFLAGS: '-mod=mod' },
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (cause) {
    throw new TemporalCliNotFoundError('the Go build failed', { cause });
  }

  const target = join(cacheDir, 'temporal');
  await rename(join(scratch, 'temporal'), target);
  onProgress(`built the Temporal CLI at ${target}`);
  return target;
}
