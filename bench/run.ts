/**
 * `npm run bench`: starts a Temporal dev server, the GitBook sandbox with a rate limit, the worker
 * and the hook receiver (all local, on free ports, data in a temporary folder), runs the scenarios,
 * prints the report and writes it to `BENCHMARKS.md`. Everything it started is stopped and removed
 * at the end, also on failure and on Ctrl-C.
 */
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { resolve } from 'node:path';
import { createLogger, type Logger } from '../src/logger';
import { loadSyncConfig } from '../src/mapping';
import { currentLoad, describeMachine, describeSource, machineBusySeconds } from './machine';
import { renderReport } from './report';
import type { BenchResults } from './results';
import {
  measureBurst,
  measureLatency,
  measureLoad,
  measureMemory,
  measureNaive,
  measureReorg,
  MEMORY_WORKER,
  type ScenarioContext,
} from './scenarios';
import { readBenchSettings, type BenchPhase, type BenchSettings } from './settings';
import { Cleanup, logTail, startStack } from './stack';
import { formatMs, round } from './stats';

/**
 * What each scenario runs. The naive baseline runs beside the burst when both are chosen: it waits
 * on the rate limit of its own sandbox, not on the CPU, and this keeps a default run short.
 */
const SCENARIOS: Record<BenchPhase, (context: ScenarioContext, results: BenchResults) => Promise<void>> = {
  latency: async (context, results) => void (results.latency = await measureLatency(context)),
  burst: async (context, results) => {
    const naive = context.settings.phases.includes('naive') ? measureNaive(context) : undefined;
    // Awaited below; this only keeps a failure of the baseline from going unhandled if the burst fails first.
    naive?.catch(() => undefined);
    results.burst = await measureBurst(context);
    if (naive) results.naive = await naive;
  },
  naive: async (context, results) => {
    if (!context.settings.phases.includes('burst')) results.naive = await measureNaive(context);
  },
  reorg: async (context, results) => void (results.reorg = await measureReorg(context)),
  memory: async (context, results) => void (results.memory = await measureMemory(context)),
  load: async (context, results) => void (results.load = await measureLoad(context)),
};

function settingsLines(settings: BenchSettings): string {
  const { rateLimit, load, latency, memory } = settings;
  const lines: Array<[string, string]> = [
    ['GitBook sandbox rate limit', `${rateLimit.limit} per ${rateLimit.windowMs} ms`],
    ['  as calls per second', String(settings.gitbookCallsPerSecond)],
    ['worker task-queue limit', `${settings.workerCallsPerSecond} activities/s`],
    ['burst', `${settings.burstSize} onboardings, ${settings.eventsPerDelivery} events per delivery`],
    ['deliveries in flight', String(settings.deliveryConcurrency)],
    ['reorganization', `${settings.reorgSize} people`],
    ['receiver load', `${load.deliveriesPerSecond} deliveries/s for ${load.durationSeconds} s`],
    ['  events per load delivery', `1-${load.maxEventsPerDelivery}`],
    ['latency', `${latency.count} onboardings, ${latency.gapMs} ms apart`],
    ['memory', `${memory.pendingWorkflows} pending workflows within ${formatMs(memory.budgetMs)}`],
    ['  hand-off', `${memory.batchSize} activations per call, ${memory.concurrency} calls in flight`],
    ['worker cache', String(settings.workerMaxCachedWorkflows ?? "the worker's default")],
    ['dev server SQLite pragmas', settings.sqlitePragmas.join(', ') || "the CLI's defaults"],
    ['worker NODE_OPTIONS', settings.workerNodeOptions ?? 'unset'],
    ['naive baseline', `${settings.naiveConcurrency} people in flight`],
    ['scenarios', settings.phases.join(', ')],
    ['report', resolve(settings.outFile)],
  ];
  return ['benchmark settings:', ...lines.map(([name, value]) => `  ${name.padEnd(28)} ${value}`), ''].join('\n');
}

/**
 * Waits, at most `maxMs`, until the 1-minute load average is below the core count: other work on
 * a small machine skews every figure. Returns the load when it stopped waiting.
 */
async function waitForQuiet(maxMs: number, logger: Logger): Promise<number> {
  const deadline = Date.now() + maxMs;
  const cores = cpus().length;
  let load = loadavg()[0] ?? 0;
  while (load >= cores && Date.now() < deadline) {
    logger.info({ load: round(load), cores }, 'waiting for the machine to be quieter');
    await sleep(10_000);
    load = loadavg()[0] ?? 0;
  }
  return load;
}

async function main(): Promise<number> {
  const settings = readBenchSettings();
  const logger = createLogger({ name: 'bench', level: process.env.LOG_LEVEL ?? 'info' });
  if (settings.waitForQuietMs > 0) await waitForQuiet(settings.waitForQuietMs, logger);
  const machine = describeMachine();
  const startedAt = new Date();
  const busyAtStart = await machineBusySeconds();
  Object.assign(machine, await describeSource(resolve(__dirname, '../..')));
  const cleanup = new Cleanup(logger);
  process.stdout.write(settingsLines(settings));

  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) process.exit(130);
    interrupted = true;
    logger.warn({ signal }, 'interrupted: stopping everything the benchmark started');
    void cleanup.run().finally(() => process.exit(130));
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);

  const results: BenchResults = { failures: {} };
  try {
    // The mapping as the worker reads it (the project's own parser, so its defaults apply).
    const syncConfig = await loadSyncConfig(settings.syncConfigPath);
    const { inviteBatching, teamBatching, settleMs } = syncConfig;
    results.sync = { inviteBatching, teamBatching, settleMs };
    const stack = await startStack(settings, logger, cleanup);
    results.workerCacheSize = stack.workerCacheSize;
    const context: ScenarioContext = { settings, stack, logger, syncConfig };
    for (const phase of settings.phases) {
      const phaseStartedMs = Date.now();
      logger.info({ scenario: phase }, 'scenario started');
      try {
        await SCENARIOS[phase](context, results);
      } catch (err) {
        // A scenario that did not finish leaves work behind that would skew the next: stop here.
        results.failures[phase] = (err as Error).message;
        logger.error({ err, scenario: phase }, 'scenario failed; the report is partial');
        const [worker, receiver] = [await logTail(stack.worker.logFile, 5), await logTail(stack.receiver.logFile, 5)];
        logger.error({ worker, receiver }, 'last log lines');
        break;
      }
      logger.info({ scenario: phase, took: formatMs(Date.now() - phaseStartedMs) }, 'scenario done');
    }

    await stack.sampler.sample();
    for (const name of ['worker', 'receiver', MEMORY_WORKER]) {
      const peak = stack.sampler.latest(name)?.peakRssBytes;
      if (peak !== undefined) (results.peakRssBytes ??= {})[name] = peak;
    }
    const cpuOf = (name: string) => stack.sampler.latest(name)?.cpuSeconds ?? 0;
    machine.ourCpuSeconds = stack.sampler.names.reduce((sum, name) => sum + cpuOf(name), 0);
    const busyAtEnd = await machineBusySeconds();
    if (busyAtStart !== undefined && busyAtEnd !== undefined) machine.machineCpuSeconds = busyAtEnd - busyAtStart;
  } finally {
    machine.loadAtEnd = currentLoad();
    const input = { settings, results, machine, startedAt, runMs: Date.now() - startedAt.getTime() };
    const report = renderReport(input);
    if (!interrupted) {
      await cleanup.run();
      process.stdout.write(`\n${report}\n`);
      // A run that measured nothing leaves the last real report in place.
      const measured = Object.keys(results).some((key) => key !== 'failures' && key !== 'peakRssBytes');
      if (measured) await writeFile(resolve(settings.outFile), `${report}\n`);
      if (settings.resultsFile) await writeFile(resolve(settings.resultsFile), JSON.stringify(input, null, 2));
      const runTime = formatMs(Date.now() - startedAt.getTime());
      logger.info({ file: measured ? resolve(settings.outFile) : null, runTime }, 'benchmark finished');
    }
  }
  return Object.keys(results.failures).length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    createLogger({ name: 'bench' }).fatal({ err }, 'benchmark failed');
    process.exit(1);
  },
);
