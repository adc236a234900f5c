/**
 * Runs the GitBook sandbox on its own: `node dist/src/sandbox/main.js`.
 *
 * Settings (all optional): `SANDBOX_PORT` (default 8280), `SANDBOX_HOST` (default 127.0.0.1),
 * `SANDBOX_TOKEN` (default `sandbox-token`), `GITBOOK_ORG_ID` (default: the seed's `organizationId`,
 * else `org_sandbox`), `SANDBOX_SEED` (default `sandbox/seed.json`) and `SANDBOX_RATE_LIMIT`
 * (requests per minute; default none).
 */
import { z } from 'zod';

import { createLogger } from '../logger';
import { loadSeedFile } from './seed';
import { startSandbox } from './server';

/** The token accepted when `SANDBOX_TOKEN` is unset; the sandbox guards nothing of value. */
export const DEFAULT_SANDBOX_TOKEN = 'sandbox-token';

const DEFAULT_ORGANIZATION_ID = 'org_sandbox';

const blankAsUnset = (value: unknown) => (typeof value === 'string' && value.trim() === '' ? undefined : value);

/** The sandbox's settings, read from the environment. */
export const sandboxEnvSchema = z.object({
  SANDBOX_PORT: z.preprocess(blankAsUnset, z.coerce.number().int().min(0).max(65_535).default(8280)),
  SANDBOX_HOST: z.preprocess(blankAsUnset, z.string().default('127.0.0.1')),
  SANDBOX_TOKEN: z.preprocess(blankAsUnset, z.string().optional()),
  GITBOOK_ORG_ID: z.preprocess(blankAsUnset, z.string().regex(/^[a-zA-Z0-9_-]+$/).optional()),
  SANDBOX_SEED: z.preprocess(blankAsUnset, z.string().default('sandbox/seed.json')),
  SANDBOX_RATE_LIMIT: z.preprocess(blankAsUnset, z.coerce.number().int().positive().optional()),
});

/** The parsed settings. */
export type SandboxEnv = z.output<typeof sandboxEnvSchema>;

/**
 * Parses the sandbox settings from `env`.
 *
 * @throws Error naming each invalid variable.
 */
export function readSandboxEnv(env: Record<string, string | undefined> = process.env): SandboxEnv {
  const parsed = sandboxEnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`invalid sandbox settings: ${problems.join('; ')}`);
  }
  return parsed.data;
}

async function main(): Promise<void> {
  const log = createLogger({ name: 'gitbook-sandbox' });
  const env = readSandboxEnv();
  const seed = await loadSeedFile(env.SANDBOX_SEED);

  const sandbox = await startSandbox({
    token: env.SANDBOX_TOKEN ?? DEFAULT_SANDBOX_TOKEN,
    organizationId: env.GITBOOK_ORG_ID ?? seed.organizationId ?? DEFAULT_ORGANIZATION_ID,
    seed,
    rateLimit: env.SANDBOX_RATE_LIMIT === undefined ? undefined : { limit: env.SANDBOX_RATE_LIMIT, windowMs: 60_000 },
    host: env.SANDBOX_HOST,
    port: env.SANDBOX_PORT,
  });
  const { organizationId, members, teams } = sandbox.state();
  log.info(
    {
      url: sandbox.url,
      organizationId,
      members: members.length,
      teams: teams.length,
      seedFile: env.SANDBOX_SEED,
      tokenSource: env.SANDBOX_TOKEN === undefined ? 'default' : 'SANDBOX_TOKEN',
      rateLimitPerMinute: env.SANDBOX_RATE_LIMIT ?? null,
    },
    'gitbook sandbox listening',
  );

  const stop = (signal: NodeJS.Signals) => {
    log.info({ signal }, 'gitbook sandbox stopping');
    sandbox.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'gitbook sandbox failed to stop');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    createLogger({ name: 'gitbook-sandbox' }).fatal({ err: error }, 'gitbook sandbox failed to start');
    process.exitCode = 1;
  });
}
