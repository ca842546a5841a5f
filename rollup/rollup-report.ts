import type { AccountLag } from './rollup-lag.js';
import type { RollupTask } from './rollup-plan.js';

/** What one run did on one shard. */
export interface ShardReport {
  shardId: number;
  /** 'locked': another worker holds the shard lock; 'failed': see error. */
  skipped?: 'locked' | 'failed';
  error?: string;
  hours: number;
  rerolledHours: number;
  days: number;
  rerolledDays: number;
  rowsRead: number;
  rowsWritten: number;
  failures: number;
  sealed: string[];
  /** The minute seal of this run (minute-seal.ts): minute tables sealed further, application rows written. */
  minuteSeals?: { tables: number; rows: number };
  dropped: string[];
  /** Next-hour minute tables created ahead of time by this run. */
  precreated?: number;
  /** Per account with unfinished tables or days, after the run. */
  lag: AccountLag[];
}

export function emptyReport(shardId: number): ShardReport {
  return { shardId, hours: 0, rerolledHours: 0, days: 0, rerolledDays: 0, rowsRead: 0, rowsWritten: 0, failures: 0, sealed: [], dropped: [], lag: [] };
}

// Connection gone (so is the shard lock): 1927 connection killed, 2006 server gone, 2013 lost during query.
const FATAL_ERRNOS = new Set([1927, 2006, 2013]);

/** A broken connection (the shard lock went with it): stop working on this shard. */
export function isFatal(err: unknown): boolean {
  const e = err as { fatal?: boolean; errno?: number; code?: string };
  return e.fatal === true || FATAL_ERRNOS.has(e.errno ?? 0) || /PROTOCOL_CONNECTION_LOST|ECONNRESET|EPIPE|closed state/.test(`${e.code ?? ''} ${(err as Error).message ?? ''}`);
}

export function describeTask(task: RollupTask): string {
  const iso = new Date(task.period * 1000).toISOString();
  return `${task.kind} ${task.kind === 'hour' ? iso.slice(0, 13) + 'h' : iso.slice(0, 10)} of account ${task.accountId}${task.reroll ? ' (re-roll)' : ''}`;
}
