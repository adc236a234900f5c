/**
 * What the figures depend on besides our code: the machine, how busy it was with other work during
 * the run, and which commit was measured.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { promisify } from 'node:util';
import { round } from './stats';

export interface MachineInfo {
  cpuCount: number;
  cpuModel: string;
  memoryBytes: number;
  node: string;
  kernel: string;
  /** 1-minute load average when the run started and ended: other work on the machine skews figures. */
  loadAtStart: number;
  loadAtEnd?: number;
  /** CPU time the whole machine spent during the run, and how much of it our processes took. */
  machineCpuSeconds?: number;
  ourCpuSeconds?: number;
  /** The commit measured, and how many files differed from it. */
  commit?: string;
  uncommittedFiles?: number;
}

export function describeMachine(): MachineInfo {
  const processors = cpus();
  return {
    cpuCount: processors.length,
    cpuModel: processors[0]?.model.trim() ?? 'unknown',
    memoryBytes: totalmem(),
    node: process.version,
    kernel: release(),
    loadAtStart: currentLoad(),
  };
}

/** The 1-minute load average, rounded. */
export function currentLoad(): number {
  return round(loadavg()[0] ?? NaN);
}

/** Busy CPU time of the whole machine since boot, from the first line of `/proc/stat`. */
export async function machineBusySeconds(): Promise<number | undefined> {
  try {
    const [cpuLine] = (await readFile('/proc/stat', 'utf8')).split('\n');
    const ticks = (cpuLine ?? '').trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
    const busy = ticks.reduce((sum, value, index) => (index === 3 || index === 4 ? sum : sum + value), 0);
    return busy / 100;
  } catch {
    return undefined;
  }
}

/** The checked-out commit and the count of changed files, read with read-only git commands. */
export async function describeSource(cwd: string): Promise<{ commit?: string; uncommittedFiles?: number }> {
  const git = promisify(execFile);
  try {
    const { stdout: commit } = await git('git', ['rev-parse', '--short', 'HEAD'], { cwd });
    const { stdout: status } = await git('git', ['status', '--porcelain'], { cwd });
    return { commit: commit.trim(), uncommittedFiles: status.split('\n').filter(Boolean).length };
  } catch {
    return {};
  }
}
