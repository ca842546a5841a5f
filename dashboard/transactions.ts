import type { Timeslice } from '../lib/timeslice/timeslice.js';
import { apdexScore, meanOrNull } from './derive.js';

/**
 * Pure ranking of web transactions over a window: `WebTransaction/<name>` timeslices (unscoped) with
 * their `Apdex/<name>` scores, most time-consuming first (total time = calls × mean: where the
 * application spends its time, as New Relic ranks them).
 */
export const TRANSACTION_PREFIX = 'WebTransaction/';

export interface TransactionRow {
  /** Full metric name, e.g. "WebTransaction/Expressjs/GET//users". */
  name: string;
  calls: number;
  /** Calls per minute over the window's elapsed minutes. */
  throughput: number;
  /** Seconds. */
  meanTime: number | null;
  minTime: number | null;
  maxTime: number | null;
  totalTime: number;
  /** Share of the total time of all listed transactions, 0..1. */
  share: number;
  apdex: number | null;
}

/** The Apdex metric of a transaction: WebTransaction/Custom/x → Apdex/Custom/x. */
export function apdexNameOf(transaction: string): string {
  return `Apdex/${transaction.slice(TRANSACTION_PREFIX.length)}`;
}

export function rankTransactions(
  totals: ReadonlyMap<string, Timeslice>,
  apdex: ReadonlyMap<string, Timeslice>,
  minutes: number,
  limit: number,
): TransactionRow[] {
  let all = 0;
  for (const t of totals.values()) all += t.totalTime;
  const rows: TransactionRow[] = [];
  for (const [name, t] of totals) {
    if (t.callCount <= 0) continue;
    rows.push({
      name,
      calls: t.callCount,
      throughput: t.callCount / minutes,
      meanTime: meanOrNull(t),
      minTime: t.minTime,
      maxTime: t.maxTime,
      totalTime: t.totalTime,
      share: all > 0 ? t.totalTime / all : 0,
      apdex: apdexScore(apdex.get(apdexNameOf(name))),
    });
  }
  rows.sort((a, b) => b.totalTime - a.totalTime || a.name.localeCompare(b.name));
  return rows.slice(0, limit);
}

/** One segment of a transaction's breakdown: a metric scoped to the transaction. */
export interface SegmentRow {
  name: string;
  calls: number;
  /** Seconds spent in the segment itself (exclusive time), total over the window. */
  exclusiveTime: number;
  totalTime: number;
  /** Exclusive time per transaction call, seconds. */
  perTransaction: number | null;
  /** Share of the transaction's time, 0..1. */
  share: number;
}

export function segmentBreakdown(segments: ReadonlyMap<string, Timeslice>, transaction: Timeslice | undefined, limit: number): SegmentRow[] {
  const txTime = transaction?.totalTime ?? 0;
  const txCalls = transaction?.callCount ?? 0;
  const rows: SegmentRow[] = [];
  for (const [name, t] of segments) {
    rows.push({
      name,
      calls: t.callCount,
      exclusiveTime: t.exclusiveTime,
      totalTime: t.totalTime,
      perTransaction: txCalls > 0 ? t.exclusiveTime / txCalls : null,
      share: txTime > 0 ? t.exclusiveTime / txTime : 0,
    });
  }
  rows.sort((a, b) => b.exclusiveTime - a.exclusiveTime || a.name.localeCompare(b.name));
  return rows.slice(0, limit);
}
