import type { Pool as PromisePool } from 'mysql2/promise';
import { applyTransition } from '../alerts/incident-store.js';
import { withLockRetry } from '../lib/db/deadlock-retry.js';
import { inTransaction } from '../lib/db/query-builder.js';
import type { ShardRegistry } from '../lib/shard/shard-registry.js';
import type { ShardWriter, WriteRow } from '../lib/shard/shard-writer.js';
import { checkUrl, type CheckResult } from './http-check.js';
import { hostAllowed } from './monitor-input.js';
import type { Monitor, MonitorStore } from './monitor-store.js';
import type { PingerMetrics } from './pinger-metrics.js';
import { type Log } from '../lib/log/log.js';

/** Consecutive failed checks that open a "down" incident. */
export const DOWN_AFTER_FAILURES = 2;

export interface PingerRunnerOptions {
  store: MonitorStore;
  pool: PromisePool;
  shards: ShardRegistry;
  writer: ShardWriter;
  metrics: PingerMetrics;
  log: Log;
  owner: string;
  concurrency: number;
  allowedHosts: readonly string[];
  /** The check itself (tests may not replace it; the bench could). */
  check?: typeof checkUrl;
}

export interface TickReport {
  checked: number;
  failed: number;
  opened: number;
  closed: number;
}

/** The metric names of a monitor's results (application scope ''). */
export const availabilityMetric = (name: string) => `Availability/${name}`;
export const availabilityErrorMetric = (name: string) => `Errors/Availability/${name}`;

/**
 * One pinger turn: claims the due monitors (lease), checks them with at most `concurrency` requests
 * at once, stores each result as a timeslice of the application through the shard writer
 * (`Availability/<name>`: one call with the response time; `Errors/Availability/<name>`: one per
 * failed check), and moves the failure streak: the DOWN_AFTER_FAILURES-th failure in a row opens a
 * "down" incident (critical, the monitor's channels), the first success after it closes it.
 */
export class PingerRunner {
  #seq = 0;
  constructor(private readonly o: PingerRunnerOptions) {}

  async tick(now: number): Promise<TickReport> {
    const report: TickReport = { checked: 0, failed: 0, opened: 0, closed: 0 };
    const token = `${this.o.owner}:${++this.#seq}`;
    const due = await this.o.store.claimDue(now, token, Math.floor(now) + 120, this.o.concurrency * 8);
    let next = 0;
    const results: Array<{ m: Monitor & { failures: number }; r: CheckResult }> = [];
    const worker = async () => {
      while (next < due.length) {
        const m = due[next++]!;
        if (!m.enabled) {
          await this.#release(m.id, token, now + m.intervalSeconds, m.failures, null);
          continue;
        }
        const r = hostAllowed(new URL(m.url).hostname, this.o.allowedHosts)
          ? await (this.o.check ?? checkUrl)(m)
          : { ok: false, seconds: 0, status: null, error: 'host not allowed by APM_PINGER_ALLOWED_HOSTS' };
        results.push({ m, r });
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.o.concurrency, due.length) }, worker));
    await this.#store(results, now);
    for (const { m, r } of results) {
      report.checked++;
      this.o.metrics.checks.inc({ outcome: r.ok ? 'up' : 'down' });
      if (!r.ok) report.failed++;
      const failures = r.ok ? 0 : m.failures + 1;
      const transition = !r.ok && failures === DOWN_AFTER_FAILURES ? 'open' : r.ok && m.failures >= DOWN_AFTER_FAILURES ? 'close' : undefined;
      await this.#release(m.id, token, now + m.intervalSeconds, failures, r, now, transition && { m, r, transition });
      if (transition === 'open') report.opened++;
      if (transition === 'close') report.closed++;
    }
    return report;
  }

  /** Writes the results as minute timeslices, one write per account (dedupe key per check). */
  async #store(results: Array<{ m: Monitor; r: CheckResult }>, now: number): Promise<void> {
    const byAccount = new Map<number, Array<{ m: Monitor; r: CheckResult }>>();
    for (const x of results) byAccount.set(x.m.accountId, [...(byAccount.get(x.m.accountId) ?? []), x]);
    const minute = Math.floor(now / 60) * 60;
    await Promise.all([...byAccount].map(async ([accountId, list]) => {
      try {
        const { account, store } = await this.o.shards.storeForAccount(accountId);
        const rows: WriteRow[] = [];
        for (const { m, r } of list) {
          const names = [{ name: availabilityMetric(m.name), scope: '' }, { name: availabilityErrorMetric(m.name), scope: '' }];
          const [okId, errId] = await store.metricIds(accountId, r.ok ? names.slice(0, 1) : names, { applicationId: m.applicationId });
          const agentId = await store.applicationAgentId(accountId, m.applicationId);
          const s = r.seconds;
          rows.push({ kind: 'minute', t: minute, row: { metricId: okId!, agentId, period: minute, callCount: 1, totalTime: s, exclusiveTime: s, minTime: s, maxTime: s, sumOfSquares: s * s } });
          if (!r.ok) rows.push({ kind: 'minute', t: minute, row: { metricId: errId!, agentId, period: minute, callCount: 1, totalTime: 0, exclusiveTime: 0, minTime: 0, maxTime: 0, sumOfSquares: 0 } });
        }
        const key = `pinger:${list.map((x) => x.m.id).join(',')}:${Math.floor(now)}`;
        await this.o.writer.write({ accountId, shardId: account.shardId, rows, dedupeKey: key });
        this.o.metrics.rowsWritten.inc(rows.length);
      } catch (err) {
        this.o.metrics.writeFailures.inc();
        this.o.log.warn(`cannot store ${list.length} check result(s) of account ${accountId}: ${(err as Error).message}`);
      }
    }));
  }

  async #release(id: number, token: string, nextAt: number, failures: number, r: CheckResult | null, now?: number, t?: { m: Monitor; r: CheckResult; transition: 'open' | 'close' }): Promise<void> {
    await withLockRetry(() => this.#releaseOnce(id, token, nextAt, failures, r, now, t)).catch((err: Error) => this.o.log.warn(`cannot record check of monitor ${id}: ${err.message}`));
  }

  /** The check's state update and its incident transition, in one transaction (run again after a deadlock). */
  async #releaseOnce(id: number, token: string, nextAt: number, failures: number, r: CheckResult | null, now?: number, t?: { m: Monitor; r: CheckResult; transition: 'open' | 'close' }): Promise<void> {
    await inTransaction(this.o.store.db, async (trx) => {
      const status = r ? { text: r.ok ? `up ${r.status} in ${Math.round(r.seconds * 1000)} ms` : r.error, at: now ?? nextAt } : undefined;
      const held = await this.o.store.release(trx, id, token, { nextAt, failures, ...(status ? { status } : {}) });
      // A lease that expired and was taken over by another pinger: that one owns the monitor now.
      if (t && held) {
        await applyTransition(trx, {
          accountId: t.m.accountId,
          applicationId: t.m.applicationId,
          kind: 'down',
          sourceId: t.m.id,
          title: `${t.m.name} is down (${t.m.url})`,
          transition: t.transition,
          level: 'critical',
          detail: { monitor: t.m.name, url: t.m.url, metric: 'availability', unit: 'ms', lastError: t.transition === 'open' ? t.r.error : null, failures: DOWN_AFTER_FAILURES, values: [[Math.floor(now ?? 0), Math.round(t.r.seconds * 1000)]] },
          channels: t.m.channels,
          at: now ?? nextAt,
        });
      }
    });
  }
}
