/**
 * Renders a report again from the raw results a run saved with `BENCH_RESULTS_JSON`, after the
 * report's wording changed: `node dist/bench/render.js results.json [BENCHMARKS.md]`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { renderReport, type ReportInput } from './report';

async function main(): Promise<void> {
  const [source, target] = process.argv.slice(2);
  if (!source) throw new Error('usage: node dist/bench/render.js <results.json> [report.md]');

  const saved = JSON.parse(await readFile(source, 'utf8')) as ReportInput & { startedAt: string };
  const report = renderReport({ ...saved, startedAt: new Date(saved.startedAt) });
  if (target) await writeFile(target, `${report}\n`);
  else process.stdout.write(`${report}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
});
