/**
 * Runs once before the test files: compiles `dist/`, finds (or builds) the Temporal CLI and bundles
 * the workflows once, so each test file starts its own dev server and workers without re-bundling.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { findTemporalCli } from '../src/temporal/cli';

export default async function globalSetup(): Promise<void> {
  // Tests that run the real entry points as processes need the compiled `dist/`, built as a user
  // builds it (`npm run build` also makes the `gitbook-sync` command executable).
  const root = join(__dirname, '..');
  await promisify(execFile)('npm', ['run', '--silent', 'build'], { cwd: root });

  const cliPath = await findTemporalCli({ onProgress: (message) => console.log(`\n${message}`) });
  process.env.TEMPORAL_CLI_PATH = cliPath;

  const dir = join(tmpdir(), `gitbook-sync-test-${process.pid}`);
  await mkdir(dir, { recursive: true });
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m: string) => console.error(m) },
  });
  const bundlePath = join(dir, 'workflow-bundle.js');
  await writeFile(bundlePath, code);
  process.env.WORKFLOW_BUNDLE_PATH = bundlePath;
}
