/**
 * End to end from the operator's tools to GitBook: our `gitbook-sync` CLI, and the README's
 * `temporal workflow ...` lines run verbatim with the real Temporal CLI, against a dev server, a
 * worker on the default task queue and the GitBook sandbox.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DEFAULT_TASK_QUEUE, userWorkflowId, type UserSyncResult } from '../workflows/api';
import { main } from '../src/cli';
import { TEST_SYNC_CONFIG, eventually, startSyncStack, startTestEnvironment, type SyncStack } from './helpers/harness';

const exec = promisify(execFile);

let env: TestWorkflowEnvironment;
let stack: SyncStack;
let running: Promise<void>;
let address: string;

beforeAll(async () => {
  env = await startTestEnvironment();
  // Each test file has its own dev server, so the worker can use the default queue the README uses.
  stack = await startSyncStack(env, {
    taskQueue: DEFAULT_TASK_QUEUE,
    syncConfig: {
      ...TEST_SYNC_CONFIG,
      retainAfterOffboardHours: 1,
      groups: [...TEST_SYNC_CONFIG.groups, { group: 'writers', teams: ['team_design'], role: 'edit' }],
    },
  });
  running = stack.worker.run();
  address = (env.connection as unknown as { options: { address: string } }).options.address;
});

afterAll(async () => {
  stack?.worker.shutdown();
  await running;
  await stack?.close();
  await env?.teardown();
});

const memberByEmail = (email: string) => stack.sandbox.state().members.find((m) => m.email === email);
const teamMembers = (teamId: string) => stack.sandbox.state().teams.find((t) => t.id === teamId)?.memberIds ?? [];

/** Runs our CLI in-process with the settings an operator would export. */
async function cli(...args: string[]) {
  const output: string[] = [];
  const errors: string[] = [];
  const log = jest.spyOn(console, 'log').mockImplementation((line: string) => void output.push(line));
  const error = jest.spyOn(console, 'error').mockImplementation((line: string) => void errors.push(line));
  const saved = { ...process.env };
  Object.assign(process.env, { TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: 'default' });
  try {
    const code = await main(['node', 'gitbook-sync', ...args]);
    return { code, stdout: output.join('\n'), stderr: errors.join('\n') };
  } finally {
    process.env = saved;
    log.mockRestore();
    error.mockRestore();
  }
}

/** The `temporal workflow ...` command lines of the README's Temporal CLI section, in order. */
function readmeTemporalCommands(): string[] {
  const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
  const section = readme.split('<!-- temporal-cli-example:start -->')[1]?.split('<!-- temporal-cli-example:end -->')[0];
  if (!section) throw new Error('README.md has no temporal-cli-example section');
  const commands: string[] = [];
  for (const block of section.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const joined = block[1]!.replace(/\\\n\s*/g, ' ');
    commands.push(...joined.split('\n').filter((line) => line.startsWith('temporal workflow')));
  }
  return commands;
}

afterEach(() => stack.sandbox.clearFaults());

describe('gitbook-sync CLI', () => {
  it('onboards into the mapped team and offboards, as seen in GitBook', async () => {
    const onboard = await cli('onboard', '--user', '00uCLI1', '--email', 'ada.cli@example.com', '--group', 'engineering');
    expect(onboard).toMatchObject({ code: 0 });
    expect(JSON.parse(onboard.stdout)).toMatchObject({ workflowId: userWorkflowId('00uCLI1') });

    const member = await eventually(() => {
      const found = memberByEmail('ada.cli@example.com');
      return found && teamMembers('team_engineering').includes(found.id) ? found : undefined;
    });
    expect(member.role).toBe('edit');

    const status = await cli('status', '--user', '00uCLI1');
    expect(JSON.parse(status.stdout).actual).toMatchObject({ membership: 'member', gitbookUserId: member.id });

    expect((await cli('offboard', '--user', '00uCLI1')).code).toBe(0);
    await eventually(() => (memberByEmail('ada.cli@example.com') ? undefined : true));
    // GitBook has removed her; the workflow records it once the step's result is in.
    const after = await eventually(async () => {
      const current = JSON.parse((await cli('status', '--user', '00uCLI1')).stdout);
      return current.actual.membership === 'not-member' ? current : undefined;
    });
    expect(after.actual).toMatchObject({ membership: 'not-member', teams: { team_engineering: 'out' } });
  });

  it('moves a person between two groups that grant the same role without touching the role', async () => {
    expect((await cli('onboard', '--user', '00uCLI5', '--email', 'mo.cli@example.com', '--group', 'engineering')).code).toBe(0);
    const member = await eventually(() => {
      const found = memberByEmail('mo.cli@example.com');
      return found && found.role === 'edit' && teamMembers('team_engineering').includes(found.id) ? found : undefined;
    });
    const roleCalls = () => stack.sandbox.state().calls.filter((call) => call.method === 'PATCH' && call.path.endsWith(`/members/${member.id}`));
    const before = roleCalls().length;

    expect((await cli('move', '--user', '00uCLI5', '--from', 'engineering', '--to', 'writers')).code).toBe(0);

    await eventually(() =>
      teamMembers('team_design').includes(member.id) && !teamMembers('team_engineering').includes(member.id) ? true : undefined,
    );
    const status = await eventually(async () => {
      const current = JSON.parse((await cli('status', '--user', '00uCLI5')).stdout);
      return current.pending.length === 0 && !current.running ? current : undefined;
    });
    expect(roleCalls().length).toBe(before);
    expect(memberByEmail('mo.cli@example.com')?.role).toBe('edit');
    const moves = status.history.filter((step: { kind: string }) => step.kind === 'update-teams');
    expect(moves.at(-1)).toMatchObject({ description: 'add team_design, remove team_engineering', outcome: 'done' });
  });

  it('rejects bad arguments with exit code 2, naming the field, and starts nothing', async () => {
    const bad = await cli('onboard', '--user', '00uCLI2', '--email', 'not-an-email');

    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/email/);
    await expect(env.client.workflow.getHandle(userWorkflowId('00uCLI2')).describe()).rejects.toThrow();
  });

  it('cancels a user whose onboarding is stuck, with a result that says what was not done', async () => {
    stack.sandbox.injectFault({ kind: 'status', status: 503, times: 1_000, match: { pathIncludes: '/invites' } });
    await cli('onboard', '--user', '00uCLI3', '--email', 'stuck@example.com');
    await eventually(() => stack.sandbox.state().calls.find((c) => String(JSON.stringify(c.body)).includes('stuck@')));

    expect((await cli('cancel', '--user', '00uCLI3', '--reason', 'test')).code).toBe(0);
    const result: UserSyncResult = await env.client.workflow.getHandle(userWorkflowId('00uCLI3')).result();

    expect(result).toMatchObject({ outcome: 'cancelled', reason: 'test' });
    expect(result.notDone.map((step) => step.kind)).toEqual(['onboard']);
  });
});

describe('the gitbook-sync command', () => {
  it('runs as the README runs it, `npx gitbook-sync`, in a fresh build', async () => {
    const { stdout } = await exec('npx', ['--no-install', 'gitbook-sync', '--help'], { cwd: join(__dirname, '..') });

    expect(stdout).toContain('Usage: gitbook-sync');
    expect(stdout).toContain('onboard');
  });
});

describe("the README's Temporal CLI lines", () => {
  it('start, signal, query, cancel and signal cancel, as seen in GitBook and in Temporal', async () => {
    const commands = readmeTemporalCommands();
    const find = (pattern: RegExp) => {
      const found = commands.find((command) => pattern.test(command));
      if (!found) throw new Error(`README has no command matching ${pattern}`);
      return found;
    };
    const cliPath = process.env.TEMPORAL_CLI_PATH!;
    const shellEnv = { ...process.env, TEMPORAL_ADDRESS: address, PATH: `${dirname(cliPath)}:${process.env.PATH}` };
    const run = (command: string) => exec('bash', ['-c', command], { env: shellEnv });
    const handle = () => env.client.workflow.getHandle(userWorkflowId('00u2'));

    await run(find(/^temporal workflow start /));
    await run(find(/^temporal workflow signal-with-start /));
    const member = await eventually(() => {
      const found = memberByEmail('grace@example.com');
      return found && teamMembers('team_design').includes(found.id) ? found : undefined;
    });
    expect(member.role).toBe('read');
    await eventually(async () => ((await run(find(/^temporal workflow query /))).stdout.includes(member.id) ? true : undefined));

    await run(find(/^temporal workflow signal .*user\.deactivated/));
    await eventually(() => (memberByEmail('grace@example.com') ? undefined : true));

    await run(find(/^temporal workflow cancel /));
    await eventually(async () => ((await handle().describe()).status.name === 'CANCELLED' ? true : undefined));

    await run(find(/^temporal workflow start /));
    await run(find(/^temporal workflow signal .*--name cancel/));
    const result: UserSyncResult = await handle().result();
    expect(result.outcome).toBe('cancelled');
  });
});
