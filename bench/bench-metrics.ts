import type { Timeslice } from '../lib/timeslice/timeslice.js';

/** One metric every simulated agent reports each minute. */
export interface BenchMetric {
  name: string;
  /** '' for unscoped metrics; the transaction name for scoped ones. */
  scope: string;
  /** Apdex metrics reuse the slots: satisfied, tolerating, frustrated, T, T, 0. */
  apdex: boolean;
}

/** What a New Relic Node agent of a web application reports every minute, whatever its traffic. */
const BASE: readonly BenchMetric[] = [
  { name: 'HttpDispatcher', scope: '', apdex: false },
  { name: 'WebTransaction', scope: '', apdex: false },
  { name: 'WebTransactionTotalTime', scope: '', apdex: false },
  { name: 'Datastore/all', scope: '', apdex: false },
  { name: 'External/all', scope: '', apdex: false },
  { name: 'Errors/all', scope: '', apdex: false },
  { name: 'Apdex', scope: '', apdex: true },
];

export const MIN_METRICS = BASE.length;

/**
 * The first `n` metrics of a realistic agent harvest: the application totals, then per route i its
 * transaction, its Apdex, a datastore and an external call scoped to it, and a custom metric.
 * Names are unique by (name, scope).
 */
export function benchMetrics(n: number): BenchMetric[] {
  if (!Number.isInteger(n) || n < MIN_METRICS) throw new Error(`BUG: a harvest needs at least ${MIN_METRICS} metrics, got ${n}`);
  const out = BASE.slice(0, n);
  for (let i = 0; out.length < n; i++) {
    const txn = `WebTransaction/Expressjs/GET//api/r${i}`;
    const more: BenchMetric[] = [
      { name: txn, scope: '', apdex: false },
      { name: `Apdex/Expressjs/GET//api/r${i}`, scope: '', apdex: true },
      { name: `Datastore/statement/MySQL/t${i}/select`, scope: txn, apdex: false },
      { name: `External/svc${i}.example/http`, scope: txn, apdex: false },
      { name: `Custom/bench/v${i}`, scope: '', apdex: false },
    ];
    for (const m of more) if (out.length < n) out.push(m);
  }
  return out;
}

/** The Apdex threshold the simulated agents report (seconds). */
export const APDEX_T = 0.5;

/** A deterministic seed per (account, agent, metric, minute): every value of the load is reproducible. */
export function seedOf(account: number, agent: number, metric: number, minute: number): number {
  return (account * 7919 + agent * 104_729 + metric * 31 + minute * 613) % 1_000_003;
}

/**
 * The stats one simulated agent reports for one metric in one minute. callCount is 1..20 (for Apdex,
 * the satisfied count), so the sum of call_count over any set of rows is exact and checkable.
 */
export function benchStats(seed: number, apdex: boolean): Timeslice {
  const calls = 1 + (seed % 20);
  if (apdex) return { callCount: calls, totalTime: seed % 3, exclusiveTime: seed % 2, minTime: APDEX_T, maxTime: APDEX_T, sumOfSquares: 0 };
  const mean = 0.001 * (1 + (seed % 97));
  return {
    callCount: calls,
    totalTime: calls * mean,
    exclusiveTime: calls * mean * 0.75,
    minTime: mean / 2,
    maxTime: mean * 2,
    sumOfSquares: calls * mean * mean * 1.5,
  };
}

/** The call count benchStats gives a seed, without building the stats (for expected totals). */
export function benchCalls(seed: number): number {
  return 1 + (seed % 20);
}

/**
 * Expected sum of call_count stored for one simulated minute of `accounts` (0-based indexes) each
 * with `agents` agents and `metrics` metrics: agent rows plus the application rows (the same again).
 */
export function expectedCallCount(accounts: readonly number[], agents: number, metrics: number, minute: number): number {
  let sum = 0;
  for (const a of accounts) for (let g = 0; g < agents; g++) for (let m = 0; m < metrics; m++) sum += benchCalls(seedOf(a, g, m, minute));
  return 2 * sum;
}
