/**
 * Replay safety: every history in `test/histories/` (recorded by `npm run histories:record` from
 * representative runs) is replayed against the current workflow code, the bundle the jest global
 * setup built. A change that would make a running workflow take a different path than its history
 * fails here with the SDK's nondeterminism error, before it reaches a cluster full of running users.
 * RELIABILITY.md ("Replay safety") says how to make such a change safely.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Worker, type ReplayResult } from '@temporalio/worker';
import { HISTORIES_DIR, historyFromJson, workflowIdOfFile } from '../scripts/record-histories';
import * as workflows from '../workflows';
import { quietRuntime } from './helpers/harness';

interface HistoryFile {
  file: string;
  json: { events: Array<Record<string, any>> };
}

/** Every history file, including older sets kept in subfolders while runs from that code may live. */
const historyFiles: HistoryFile[] = readdirSync(HISTORIES_DIR, { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.json'))
  .sort()
  .map((file) => ({ file, json: JSON.parse(readFileSync(join(HISTORIES_DIR, file), 'utf8')) }));

const workflowTypeOf = ({ json }: HistoryFile): string =>
  json.events[0]!.workflowExecutionStartedEventAttributes.workflowType.name;

/** Replays the histories with the workflow bundle of this test run; one result per history. */
async function replay(files: HistoryFile[]): Promise<ReplayResult[]> {
  quietRuntime();
  const codePath = process.env.WORKFLOW_BUNDLE_PATH;
  if (!codePath) throw new Error('WORKFLOW_BUNDLE_PATH is not set: the jest global setup did not run');

  const histories = files.map(({ file, json }) => ({
    workflowId: workflowIdOfFile(basename(file)),
    history: historyFromJson(json),
  }));
  const options = { workflowBundle: { codePath }, replayName: 'recorded-histories' };
  const results: ReplayResult[] = [];
  for await (const result of Worker.runReplayHistories(options, histories)) results.push(result);
  return results;
}

describe('recorded workflow histories', () => {
  it('cover every workflow type the worker registers', () => {
    const recorded = new Set(historyFiles.map(workflowTypeOf));

    expect([...recorded].sort()).toEqual(Object.keys(workflows).sort());
  });

  it('replay against the current workflow code without nondeterminism', async () => {
    const results = await replay(historyFiles);

    const failures = results.filter((result) => result.error).map((result) => `${result.workflowId}: ${result.error}`);
    expect(failures).toEqual([]);
    expect(results).toHaveLength(historyFiles.length);
    const types = new Set(historyFiles.map(workflowTypeOf)).size;
    console.log(`Replay: ${results.length} histories of ${types} workflow types replayed, 0 failures`);
  });

  it('would catch a change: a history whose activity was renamed fails to replay', async () => {
    const original = historyFiles.find(({ file }) => file === 'gitbook-user-replay-onboard-with-teams~onboard-1.json')!;
    const changed: HistoryFile = structuredClone(original);
    const scheduled = changed.json.events.find((event) => event.activityTaskScheduledEventAttributes)!;
    scheduled.activityTaskScheduledEventAttributes.activityType.name = 'inviteMemberRenamed';

    const [result] = await replay([changed]);

    expect(result?.error?.name).toBe('DeterminismViolationError');
  });
});
