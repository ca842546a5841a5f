import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import type { Pool } from 'mysql2/promise';
import type { ShardWriter } from '../lib/shard/shard-writer.js';

/** Percentiles of a list of milliseconds (nearest rank). */
export interface Timing {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

export function timingOf(ms: readonly number[]): Timing {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => (s.length === 0 ? 0 : s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!);
  const r = (x: number) => Math.round(x * 10) / 10;
  return { n: s.length, p50: r(at(0.5)), p99: r(at(0.99)), max: r(s[s.length - 1] ?? 0) };
}

/** Runs fn `n` times one after the other; milliseconds of each. */
export async function repeat(n: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    out.push(performance.now() - t0);
  }
  return out;
}

/**
 * One harvest per tenant through the real ShardWriter (what the collector does once it has decoded a
 * post: `rows` timeslices of the minute into the account's minute table), `concurrency` in flight;
 * milliseconds from write() to its commit, per tenant.
 */
export async function harvestEach(writer: ShardWriter, accounts: readonly number[], minute: number, o: { concurrency: number; rows: number }): Promise<number[]> {
  const out: number[] = [];
  const queue = [...accounts];
  const worker = async () => {
    for (let a = queue.shift(); a !== undefined; a = queue.shift()) {
      const rows = Array.from({ length: o.rows }, (_, i) => ({
        kind: 'minute' as const,
        t: minute,
        row: { metricId: i + 1, agentId: 1, period: minute, callCount: 1, totalTime: 0.5, exclusiveTime: 0.5, minTime: 0.5, maxTime: 0.5, sumOfSquares: 0.25 },
      }));
      const t0 = performance.now();
      await writer.write({ accountId: a, shardId: 1, rows });
      out.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  return out;
}

export async function globalStatus(pool: Pool, names: readonly string[]): Promise<Record<string, number>> {
  const [rows] = await pool.query<any[]>(`SHOW GLOBAL STATUS WHERE Variable_name IN (${names.map(() => '?').join(', ')})`, [...names]);
  return Object.fromEntries(rows.map((r) => [String(r.Variable_name), Number(r.Value)]));
}

/** mariadbd's resident memory and open file descriptors (/proc), or null when not readable. */
export function processResources(pid: number): { rssBytes: number | null; openFiles: number | null } {
  let rssBytes: number | null = null;
  let openFiles: number | null = null;
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    rssBytes = m ? Number(m[1]) * 1024 : null;
    openFiles = fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    // reported as unknown
  }
  return { rssBytes, openFiles };
}

/** Bytes a directory takes on disk (du). */
export function diskBytes(dir: string): number {
  return Number(execFileSync('du', ['-sk', dir], { encoding: 'utf8' }).split('\t')[0]) * 1024;
}

export function pidOf(pidFile: string): number {
  return Number(fs.readFileSync(pidFile, 'utf8').trim());
}
