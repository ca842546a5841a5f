import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

/**
 * CPU time and memory of processes from Linux /proc: the bench's own (collector, beacon, dashboard,
 * writer), the generator's, and mariadbd's. Parsing is pure; reading is the thin edge.
 */

/** utime and stime (fields 14 and 15 of /proc/<pid>/stat) in clock ticks; the comm field may hold spaces. */
export function parseProcStat(text: string): { utimeTicks: number; stimeTicks: number } {
  const close = text.lastIndexOf(')');
  if (close < 0) throw new Error('cannot parse /proc stat: no ")" after the command name');
  const fields = text.slice(close + 2).trim().split(/\s+/);
  // fields[0] is field 3 (state); utime is field 14 → index 11, stime field 15 → index 12.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('cannot parse /proc stat: utime/stime are not numbers');
  return { utimeTicks: utime, stimeTicks: stime };
}

/** A "Name:   value kB" line of /proc/<pid>/status, in bytes; undefined when absent. */
export function parseStatusKb(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name}:\\s+([0-9]+) kB$`, 'm').exec(text);
  return m ? Number(m[1]) * 1024 : undefined;
}

let ticks: number | undefined;

/** Clock ticks per second (getconf CLK_TCK; 100 on every Linux we run on). */
export function clockTicks(): number {
  if (ticks === undefined) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const n = Number(r.stdout?.trim());
    ticks = r.status === 0 && Number.isInteger(n) && n > 0 ? n : 100;
  }
  return ticks;
}

/** CPU seconds (user + system) a process has used so far; undefined when it is gone. */
export function cpuSecondsOf(pid: number): number | undefined {
  try {
    const s = parseProcStat(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return (s.utimeTicks + s.stimeTicks) / clockTicks();
  } catch {
    return undefined;
  }
}

/** Peak resident set (VmHWM) and current resident set (VmRSS) in bytes. */
export function memoryOf(pid: number): { peakRssBytes: number | undefined; rssBytes: number | undefined } {
  try {
    const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return { peakRssBytes: parseStatusKb(text, 'VmHWM'), rssBytes: parseStatusKb(text, 'VmRSS') };
  } catch {
    return { peakRssBytes: undefined, rssBytes: undefined };
  }
}

/** Resets VmHWM to the current RSS (Linux clear_refs "5"), so a phase's peak is its own. */
export function resetPeakRss(pid: number): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** CPU used by a process over an interval: start() then stop() gives seconds and cores (seconds / wall). */
export class CpuMeter {
  readonly #start: number | undefined;
  readonly #t0 = performance.now();

  constructor(private readonly pid: number) {
    this.#start = pid === process.pid ? selfCpuSeconds() : cpuSecondsOf(pid);
  }

  stop(): { cpuSeconds: number; cores: number } | undefined {
    const end = this.pid === process.pid ? selfCpuSeconds() : cpuSecondsOf(this.pid);
    if (this.#start === undefined || end === undefined) return undefined;
    const wall = (performance.now() - this.#t0) / 1000;
    const cpuSeconds = end - this.#start;
    return { cpuSeconds, cores: wall > 0 ? cpuSeconds / wall : 0 };
  }
}

function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}
