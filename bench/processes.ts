/**
 * The benchmark's own processes: children started from `dist/`, free local ports, and a sampler
 * that reads each process's memory and CPU time from `/proc` (Linux only).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { stopChild } from '../src/temporal/dev-server';

/** A port nobody listens on right now, on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', done);
  });
  const address = server.address();
  await new Promise((done) => server.close(done));
  if (address === null || typeof address === 'string') throw new Error('no port was assigned');
  return address.port;
}

/** A child process whose output goes to a log file, and how to stop it. */
export interface BenchChild {
  name: string;
  pid: number;
  logFile: string;
  /** Resolves with the exit code or signal when the child ends. */
  readonly exited: Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts `node <script>` with exactly `env` (plus PATH and HOME), its stdout and stderr appended to
 * `logFile`.
 */
export function startNodeChild(name: string, script: string, env: Record<string, string>, logFile: string): BenchChild {
  const log = createWriteStream(logFile, { flags: 'a' });
  const child: ChildProcess = spawn(process.execPath, [script], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  if (child.pid === undefined) throw new Error(`${name} did not start`);

  const exited = new Promise<string>((done) => {
    child.once('exit', (code, signal) => done(signal ?? `code ${code}`));
  });
  return { name, pid: child.pid, logFile, exited, stop: (graceMs = 10_000) => stopChild(child, graceMs) };
}

/** What `/proc/<pid>/status` and `/proc/<pid>/stat` say about one process. */
export interface ProcessReading {
  /** Resident memory now, and its peak since the process started (VmHWM). */
  rssBytes: number;
  peakRssBytes: number;
  /** User plus system CPU time since the process started. */
  cpuSeconds: number;
}

/** Clock ticks per second of `/proc/<pid>/stat`; 100 on every Linux we run on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** Reads one process; `undefined` once it has exited. */
export async function readProcess(pid: number): Promise<ProcessReading | undefined> {
  try {
    const [status, stat] = await Promise.all([
      readFile(`/proc/${pid}/status`, 'utf8'),
      readFile(`/proc/${pid}/stat`, 'utf8'),
    ]);
    const kilobytes = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    // The command name may hold spaces or parentheses: fields are counted after its closing one.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return {
      rssBytes: kilobytes('VmRSS') * 1_024,
      peakRssBytes: kilobytes('VmHWM') * 1_024,
      cpuSeconds: ticks / CLOCK_TICKS_PER_SECOND,
    };
  } catch {
    return undefined;
  }
}

/** The pid of a direct child of this process whose command line contains `fragment`, if any. */
export async function findChildPid(fragment: string): Promise<number | undefined> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const parentPid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parentPid !== process.pid) continue;
      const commandLine = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0').join(' ');
      if (commandLine.includes(fragment)) return Number(entry);
    } catch {
      // The process ended while we looked.
    }
  }
  return undefined;
}

/** One sample of every watched process. */
interface Sample {
  atMs: number;
  readings: Map<string, ProcessReading>;
}

/** Peak memory and CPU time of one process over a span of time. */
export interface ProcessUsage {
  peakRssBytes: number;
  /** The last resident size seen in the span. */
  endRssBytes: number;
  cpuSeconds: number;
}

/**
 * Samples the watched processes every `intervalMs` and answers questions about spans of time:
 * the highest resident size seen, and the CPU time spent.
 */
export class ProcessSampler {
  readonly #pids = new Map<string, number>();
  readonly #samples: Sample[] = [];
  #timer?: NodeJS.Timeout;
  #sampling = false;

  constructor(private readonly intervalMs = 250) {}

  watch(name: string, pid: number): void {
    this.#pids.set(name, pid);
  }

  get names(): string[] {
    return [...this.#pids.keys()];
  }

  start(): void {
    this.#timer = setInterval(() => void this.sample(), this.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Takes a sample now (also called by the timer). */
  async sample(): Promise<void> {
    if (this.#sampling) return;
    this.#sampling = true;
    try {
      const readings = new Map<string, ProcessReading>();
      for (const [name, pid] of this.#pids) {
        const reading = await readProcess(pid);
        if (reading) readings.set(name, reading);
      }
      this.#samples.push({ atMs: Date.now(), readings });
    } finally {
      this.#sampling = false;
    }
  }

  /** Usage of `name` between two instants; undefined when no sample falls in between. */
  usage(name: string, fromMs: number, toMs: number): ProcessUsage | undefined {
    const inSpan = this.#samples.filter((sample) => sample.atMs >= fromMs && sample.atMs <= toMs);
    const readings = inSpan.map((sample) => sample.readings.get(name)).filter((r): r is ProcessReading => !!r);
    const first = readings[0];
    const last = readings[readings.length - 1];
    if (!first || !last) return undefined;
    return {
      peakRssBytes: Math.max(...readings.map((reading) => reading.rssBytes)),
      endRssBytes: last.rssBytes,
      cpuSeconds: last.cpuSeconds - first.cpuSeconds,
    };
  }

  /** The latest reading of `name`. */
  latest(name: string): ProcessReading | undefined {
    for (let index = this.#samples.length - 1; index >= 0; index--) {
      const reading = this.#samples[index]?.readings.get(name);
      if (reading) return reading;
    }
    return undefined;
  }
}
