/**
 * Secrets never leak (PRODUCT.md invariant 6). A whole run through the real processes: the hook
 * receiver and the worker as started in production (`dist/src/*-main.js`), with distinctive random
 * values for the GitBook token and the hook secret, against a dev server and the sandbox. The run
 * onboards someone into a team, changes their groups and offboards them, and goes through the
 * failure paths: wrong hook secrets, a 401 from GitBook (injected, and from a second worker whose
 * token GitBook refuses), a 429 and a 503 that are retried.
 *
 * Then every workflow history on the server and every line the processes wrote are searched for
 * the secrets, as they are and encoded (base64 at each alignment, base64url, hex).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startSandbox, type GitBookSandbox } from '../src/sandbox';
import { statusQuery, userWorkflowId, type UserSyncStatus } from '../workflows/api';
import { TEST_ORG, TEST_SEED, eventually, startTestEnvironment } from './helpers/harness';

/** Random per run, so a match can only come from this run's code paths. */
const GITBOOK_TOKEN = `gb_live_${randomBytes(18).toString('hex')}`;
const REVOKED_TOKEN = `gb_revoked_${randomBytes(18).toString('hex')}`;
const HOOK_SECRET = `hook_${randomBytes(18).toString('hex')}`;
const SECRETS = { GITBOOK_TOKEN, REVOKED_TOKEN, HOOK_SECRET };

const DIST = join(__dirname, '..', 'dist', 'src');

let env: TestWorkflowEnvironment;
let sandbox: GitBookSandbox;
let syncConfigPath: string;
const processes: RunningProcess[] = [];
/** Bodies of the receivers' HTTP answers: they must not echo a secret either. */
const answers: string[] = [];

beforeAll(async () => {
  env = await startTestEnvironment();
  sandbox = await startSandbox({ token: GITBOOK_TOKEN, organizationId: TEST_ORG, seed: TEST_SEED });
  syncConfigPath = join(await mkdtemp(join(tmpdir(), 'secrets-sync-')), 'sync.json');
  // The removal breaker stays on (its default), so its workflow and member count are in the run.
  await writeFile(
    syncConfigPath,
    JSON.stringify({
      retainAfterOffboardHours: 0,
      groups: [
        { group: 'engineering', teams: ['team_engineering'], role: 'edit' },
        { group: 'design', teams: ['team_design'] },
      ],
    }),
  );
});

afterAll(async () => {
  await Promise.all(processes.map((running) => running.stop()));
  await sandbox?.close();
  await env?.teardown();
});

interface RunningProcess {
  name: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Starts one of our entry points as production does, keeping everything it writes. */
function startProcess(name: string, script: string, settings: Record<string, string>): RunningProcess {
  let output = '';
  const child = spawn(process.execPath, [join(DIST, script)], {
    env: { PATH: process.env.PATH, TEMPORAL_ADDRESS: env.address, LOG_LEVEL: 'debug', ...settings },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const running: RunningProcess = {
    name,
    child,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
  processes.push(running);
  return running;
}

function startWorker(name: string, taskQueue: string, token: string): RunningProcess {
  return startProcess(name, 'worker-main.js', {
    TEMPORAL_TASK_QUEUE: taskQueue,
    GITBOOK_API_URL: sandbox.url,
    GITBOOK_API_TOKEN: token,
    GITBOOK_ORG_ID: TEST_ORG,
    SYNC_CONFIG: syncConfigPath,
    WORKER_METRICS_ADDRESS: 'off',
  });
}

function startReceiverProcess(name: string, taskQueue: string): RunningProcess {
  return startProcess(name, 'receiver-main.js', {
    TEMPORAL_TASK_QUEUE: taskQueue,
    SYNC_CONFIG: syncConfigPath,
    HOOK_SECRET,
    HOOK_HOST: '127.0.0.1',
    HOOK_PORT: '0',
  });
}

const receiverUrl = (receiver: RunningProcess) =>
  eventually(() => /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(receiver.output())?.[1], 60_000);

async function post(
  url: string,
  path: string,
  body: unknown,
  authorization?: string,
  extra: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...extra };
  if (authorization !== undefined) headers.authorization = authorization;
  const response = await fetch(`${url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  const text = await response.text();
  answers.push(text);
  return { status: response.status, text };
}

/** Okta's verification request, with the given `Authorization`. */
async function verify(url: string, authorization: string): Promise<{ status: number; text: string }> {
  const headers = { authorization, 'x-okta-verification-challenge': 'challenge' };
  const response = await fetch(`${url}/hooks/okta`, { headers });
  const text = await response.text();
  answers.push(text);
  return { status: response.status, text };
}

let clock = Date.parse('2026-12-04T09:00:00Z');
/** Directory times that only move forward, so each event is newer than the last. */
const nextTime = () => new Date((clock += 60_000)).toISOString();

function oktaDelivery(eventType: string, user: { id: string; email: string }, group?: string) {
  const target: Array<Record<string, string>> = [
    { id: user.id, type: 'User', alternateId: user.email, displayName: 'Secret Keeper' },
  ];
  if (group) target.push({ id: group, type: 'UserGroup', displayName: group });
  const event = { uuid: randomUUID(), published: nextTime(), eventType, outcome: { result: 'SUCCESS' }, target };
  return { eventType: 'com.okta.event_hook', eventId: randomUUID(), data: { events: [event] } };
}

const member = (email: string) => sandbox.state().members.find((m) => m.email === email);
const inTeam = (teamId: string, userId: string) =>
  sandbox.state().teams.find((team) => team.id === teamId)?.memberIds.includes(userId) ?? false;
/** Waits until `probe` holds (returns true or a value). */
const until = <T>(probe: () => Promise<T | undefined | false> | T | undefined | false) =>
  eventually(async () => (await probe()) || undefined, 60_000);
const status = (userId: string) => env.client.workflow.getHandle(userWorkflowId(userId)).query(statusQuery);

async function statusWhen(userId: string, done: (current: UserSyncStatus) => boolean): Promise<UserSyncStatus> {
  return await eventually(async () => {
    const current = await status(userId);
    return done(current) ? current : undefined;
  }, 60_000);
}

/** A history as plain data, each byte string shown both as UTF-8 text and as base64. */
function readable(value: unknown): unknown {
  if (value instanceof Uint8Array) {
    const bytes = Buffer.from(value);
    return { text: bytes.toString('utf8'), base64: bytes.toString('base64') };
  }
  if (Array.isArray(value)) return value.map(readable);
  if (typeof value !== 'object' || value === null) return value;
  // Own fields only, not `toJSON`: protobufjs would turn the bytes into base64 alone.
  return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, readable(field)]));
}

/** Every workflow history on the server (every run of every workflow), as searchable text. */
async function allHistories(): Promise<string[]> {
  const histories: string[] = [];
  for await (const execution of env.client.workflow.list()) {
    const history = await env.client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
    histories.push(JSON.stringify(readable(history)));
  }
  return histories;
}

/**
 * The forms a secret could take in text: as is, base64 and base64url at each of the three byte
 * alignments (only the characters that depend on the secret alone), and hex.
 */
function encodingsOf(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const forms = [secret, bytes.toString('hex')];
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
    const core = encoded.slice(offset === 0 ? 0 : 4, -4);
    forms.push(core, core.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return forms;
}

function occurrences(texts: string[]): Array<{ secret: string; form: string; where: number }> {
  const found: Array<{ secret: string; form: string; where: number }> = [];
  for (const [name, secret] of Object.entries(SECRETS)) {
    for (const form of encodingsOf(secret)) {
      texts.forEach((text, where) => {
        if (text.includes(form)) found.push({ secret: name, form, where });
      });
    }
  }
  return found;
}

describe('the secret search', () => {
  it('finds a secret as is, in base64 at any offset, in base64url and in hex', () => {
    const secret = HOOK_SECRET;
    const texts = [
      `{"authorization":"Bearer ${secret}"}`,
      ...[0, 1, 2, 3, 4].map((offset) => Buffer.from(`${'p'.repeat(offset)}${secret}"}`).toString('base64')),
      Buffer.from(`xy${secret}`).toString('base64url'),
      Buffer.from(`:${secret}`).toString('hex'),
    ];

    const found = occurrences(texts);

    const textsWithTheSecret = new Set(found.filter((hit) => hit.secret === 'HOOK_SECRET').map((hit) => hit.where));
    expect(textsWithTheSecret.size).toBe(texts.length);
  });
});

describe('secrets in a full run through the worker and receiver processes', () => {
  it('appear in no workflow history, log line or answer', async () => {
    const taskQueue = `secrets-${randomUUID()}`;
    const revokedQueue = `secrets-revoked-${randomUUID()}`;
    const worker = startWorker('worker', taskQueue, GITBOOK_TOKEN);
    const revokedWorker = startWorker('worker with a revoked token', revokedQueue, REVOKED_TOKEN);
    const receiver = startReceiverProcess('receiver', taskQueue);
    const revokedReceiver = startReceiverProcess('receiver for the revoked worker', revokedQueue);
    const [url, revokedUrl] = await Promise.all([receiverUrl(receiver), receiverUrl(revokedReceiver)]);
    await until(() => worker.output().includes('worker started') && revokedWorker.output().includes('worker started'));

    // Wrong secrets, some of them containing the right one: refused, and never written down.
    const ada = { id: '00uSecretAda', email: 'ada.secret@example.com' };
    const create = oktaDelivery('user.lifecycle.activate', ada);
    const refused = await Promise.all([
      post(url, '/hooks/okta', create, `Bearer ${HOOK_SECRET}x`),
      post(url, '/hooks/okta', create, HOOK_SECRET.slice(0, -1)),
      post(url, '/hooks/okta', create, `Basic ${Buffer.from(`okta:${HOOK_SECRET}`).toString('base64')}`),
      post(url, '/hooks/directory', { id: 'x' }, undefined, { 'x-hook-secret': HOOK_SECRET }),
      verify(url, `${HOOK_SECRET} `.repeat(2)),
    ]);
    expect(refused.map((answer) => answer.status)).toEqual([401, 401, 401, 401, 401]);

    // Onboard into a team, through a 429 and a 503 that are retried.
    sandbox.injectFault({ kind: 'rate-limit', resetInMs: 500, match: { pathIncludes: '/invites' } });
    sandbox.injectFault({ kind: 'status', status: 503, match: { pathIncludes: '/invites' } });
    expect((await post(url, '/hooks/okta', create, `Bearer ${HOOK_SECRET}`)).status).toBe(200);
    const joinEngineering = oktaDelivery('group.user_membership.add', ada, 'engineering');
    expect((await post(url, '/hooks/okta', joinEngineering, HOOK_SECRET)).status).toBe(200);
    const gitbookUser = await until(() => {
      const found = member(ada.email);
      return found && inTeam('team_engineering', found.id) && found;
    });

    // A group change: out of engineering (Okta), into design (generic hook).
    const leaveEngineering = oktaDelivery('group.user_membership.remove', ada, 'engineering');
    await post(url, '/hooks/okta', leaveEngineering, `Bearer ${HOOK_SECRET}`);
    const design = { id: 'design' };
    const joinDesign = { id: randomUUID(), type: 'group.user_added', occurredAt: nextTime(), user: ada, group: design };
    expect((await post(url, '/hooks/directory', joinDesign, `Bearer ${HOOK_SECRET}`)).status).toBe(200);
    await until(() => inTeam('team_design', gitbookUser.id) && !inTeam('team_engineering', gitbookUser.id));

    // Offboard; the workflow completes (no retention), the removal went through the breaker.
    await post(url, '/hooks/okta', oktaDelivery('user.lifecycle.deactivate', ada), `Bearer ${HOOK_SECRET}`);
    const adaWorkflow = env.client.workflow.getHandle(userWorkflowId(ada.id));
    await until(async () => (await adaWorkflow.describe()).status.name === 'COMPLETED');
    expect(member(ada.email)).toBeUndefined();

    // A 401 from GitBook, injected: a permanent failure, recorded.
    const grace = { id: '00uSecretGrace', email: 'grace.secret@example.com' };
    sandbox.injectFault({ kind: 'status', status: 401, match: { pathIncludes: '/invites' } });
    await post(url, '/hooks/okta', oktaDelivery('user.lifecycle.activate', grace), `Bearer ${HOOK_SECRET}`);
    await statusWhen(grace.id, (current) => current.lastError?.type === 'GITBOOK_UNAUTHORIZED');

    // A worker whose token GitBook refuses: a real 401 for each call it makes.
    const linus = { id: '00uSecretLinus', email: 'linus.secret@example.com' };
    await post(revokedUrl, '/hooks/okta', oktaDelivery('user.lifecycle.activate', linus), `Bearer ${HOOK_SECRET}`);
    const failed = await statusWhen(linus.id, (current) => current.lastError?.type === 'GITBOOK_UNAUTHORIZED');
    expect(failed.lastError?.message).toContain('401');

    await Promise.all(processes.map((running) => running.stop()));
    const histories = await allHistories();
    const logLines = processes.flatMap((running) => running.output().split('\n')).filter((line) => line.trim() !== '');

    expect(histories.length).toBeGreaterThanOrEqual(8);
    // The search sees payload contents: the (unencrypted) events are there in plain text.
    expect(histories.some((history) => history.includes(ada.email))).toBe(true);
    expect(logLines.some((line) => line.includes('hook request unauthorized'))).toBe(true);
    expect(logLines.some((line) => line.includes('GITBOOK_UNAUTHORIZED') || line.includes('HTTP 401'))).toBe(true);
    expect(occurrences(histories)).toEqual([]);
    expect(occurrences(logLines)).toEqual([]);
    expect(occurrences(answers)).toEqual([]);
    console.log(
      `Secrets: 0 occurrences of ${Object.keys(SECRETS).length} secrets ` +
        `(${encodingsOf(HOOK_SECRET).length} forms each) ` +
        `in ${histories.length} workflow histories, ${logLines.length} log lines from ${processes.length} processes ` +
        `and ${answers.length} receiver answers`,
    );
  }, 240_000);
});
