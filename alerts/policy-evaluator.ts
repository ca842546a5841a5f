import type { Pool as PromisePool } from 'mysql2/promise';
import { metricKey, SeriesReader, type MetricSeries } from '../dashboard/series-reader.js';
import type { Account } from '../lib/directory/directory.js';
import { withLockRetry } from '../lib/db/deadlock-retry.js';
import { acquireNamedLock, type NamedLock } from '../lib/db/named-lock.js';
import { inTransaction } from '../lib/db/query-builder.js';
import type { ShardRegistry } from '../lib/shard/shard-registry.js';
import type { ShardStore } from '../lib/shard/shard-store.js';
import { POLICY_PARTITIONS, savePolicyStates, type AlertStore, type Policy } from './alert-store.js';
import type { AlertsMetrics } from './alerts-metrics.js';
import { parseState, stepCondition, type ConditionState, type Transition } from './condition-state.js';
import { applyTransition } from './incident-store.js';
import { minutesToEvaluate } from './minute-plan.js';
import { POLICY_METRICS } from './policy-metrics.js';
import { responseTimePercentiles, type MinutePercentiles } from './policy-percentiles.js';
import { type Log } from '../lib/log/log.js';

type DuePolicy = Policy & { lastMinute: number; state: string | null };

export interface EvaluatorOptions {
  pool: PromisePool;
  store: AlertStore;
  shards: ShardRegistry;
  metrics: AlertsMetrics;
  log: Log;
  settleSeconds: number;
  /** Who evaluates (recorded on the state rows): the process's instance id. */
  owner: string;
  /** Applications read at once within a partition (4 by default), and partitions evaluated at once (4). */
  concurrency?: number;
  partitionConcurrency?: number;
}

export interface EvaluationReport {
  partitions: number;
  busy: number;
  policies: number;
  policyMinutes: number;
  transitions: number;
  failed: number;
  /** Partitions whose evaluation failed (a database error): retried by a later run. */
  failedPartitions: number;
}

/** Lock name suffix of an evaluation partition (on the directory database). */
export const partitionLock = (p: number) => `.alerts.p${p}`;

/**
 * Evaluates policies: every run takes each of the POLICY_PARTITIONS named locks it can get at once
 * (another alert process holds the others; up to partitionConcurrency partitions at a time) and, under it, evaluates the partition's policies over the
 * minutes settled since each one's last_minute. The state row's last_minute, written under the lock,
 * makes each policy minute evaluated once whichever process gets the partition. One read per
 * application through the dashboard's SeriesReader; values from the dashboard's own formulas
 * (policy-metrics.ts). Transitions are written with their outbox rows in one transaction.
 */
export class PolicyEvaluator {
  readonly #reader = new SeriesReader({ maxPoints: 2000, maxStitchTables: 48 });

  constructor(private readonly o: EvaluatorOptions) {}

  async run(now: number): Promise<EvaluationReport> {
    const report: EvaluationReport = { partitions: 0, busy: 0, policies: 0, policyMinutes: 0, transitions: 0, failed: 0, failedPartitions: 0 };
    const accounts = new Map<number, Promise<{ account: Account; store: ShardStore }>>();
    let next = 0;
    const worker = async () => {
      while (next < POLICY_PARTITIONS) {
        const p = next++;
        const lock = await acquireNamedLock(this.o.pool, partitionLock(p), 0);
        if (!lock) {
          report.busy++;
          this.o.metrics.partitionsBusy.inc();
          continue;
        }
        try {
          report.partitions++;
          await this.#partition(p, lock, now, accounts, report);
        } catch (err) {
          // The partition's policies keep their last minute and are evaluated by a later run.
          report.failedPartitions++;
          this.o.log.warn(`cannot evaluate partition ${p}: ${(err as Error).message}`);
        } finally {
          await lock.release();
        }
      }
    };
    await Promise.all(Array.from({ length: this.o.partitionConcurrency ?? 4 }, worker));
    return report;
  }

  async #partition(p: number, lock: NamedLock, now: number, accounts: Map<number, Promise<{ account: Account; store: ShardStore }>>, report: EvaluationReport): Promise<void> {
    const policies = await this.o.store.partitionPolicies(p);
    const byApp = new Map<string, DuePolicy[]>();
    for (const pol of policies) {
      if (minutesToEvaluate(pol, now, this.o.settleSeconds).length === 0) continue;
      const k = `${pol.accountId}:${pol.applicationId}`;
      const list = byApp.get(k) ?? [];
      list.push(pol);
      byApp.set(k, list);
    }
    const groups = [...byApp.values()];
    const states: Array<[number, number, string]> = [];
    const transitions: Array<{ policy: DuePolicy; minute: number; state: ConditionState; transition: Transition }> = [];
    let next = 0;
    const worker = async () => {
      while (next < groups.length) {
        const group = groups[next++]!;
        await this.#group(group, now, accounts, states, transitions, report);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.o.concurrency ?? 4, groups.length) }, worker));
    if (states.length === 0 && transitions.length === 0) return;
    await lock.check();
    await savePolicyStates(this.o.store.db, states.map(([policyId, lastMinute, state]) => ({ policyId, lastMinute, state })), this.o.owner);
    for (const t of transitions) await this.#transition(t.policy, t.minute, t.state, t.transition, now, lock);
    report.transitions += transitions.length;
  }

  async #group(
    group: DuePolicy[],
    now: number,
    accounts: Map<number, Promise<{ account: Account; store: ShardStore }>>,
    states: Array<[number, number, string]>,
    transitions: Array<{ policy: DuePolicy; minute: number; state: ConditionState; transition: Transition }>,
    report: EvaluationReport,
  ): Promise<void> {
    const first = group[0]!;
    const plans = group.map((pol) => minutesToEvaluate(pol, now, this.o.settleSeconds));
    const from = Math.min(...plans.map((m) => m[0]!));
    const to = Math.max(...plans.map((m) => m[m.length - 1]!)) + 60;
    const names = [...new Set(group.flatMap((pol) => POLICY_METRICS[pol.metric].names))].map((name) => ({ name, scope: '' }));
    let data: Map<string, MetricSeries>;
    let pct: MinutePercentiles = new Map();
    try {
      let acc = accounts.get(first.accountId);
      if (!acc) accounts.set(first.accountId, (acc = this.o.shards.storeForAccount(first.accountId)));
      const { account, store } = await acc;
      const r = await this.#reader.read(store, account, first.applicationId, names, { from, to }, now, 'series');
      data = r.data;
      if (group.some((pol) => POLICY_METRICS[pol.metric].percentiles)) pct = await responseTimePercentiles(store, account.id, r);
    } catch (err) {
      // An unreachable shard: these policies are evaluated on a later run (last_minute unchanged).
      report.failed += group.length;
      this.o.metrics.evaluations.inc({ outcome: 'failed' }, group.length);
      this.o.log.warn(`cannot read application ${first.applicationId} of account ${first.accountId}: ${(err as Error).message}`);
      return;
    }
    group.forEach((pol, i) => {
      let state = parseState(pol.state);
      const spec = POLICY_METRICS[pol.metric];
      let pending: Transition | undefined;
      let last = pol.lastMinute;
      for (const minute of plans[i]!) {
        const value = spec.value((name) => data.get(metricKey({ name, scope: '' }))?.get(minute), (p) => pct.get(minute)?.[p] ?? null);
        this.o.metrics.evaluations.inc({ outcome: value === null ? 'no_data' : 'data' });
        report.policyMinutes++;
        const r = stepCondition(state, pol, minute, value);
        state = r.state;
        last = minute;
        if (r.transition) {
          pending = r.transition;
          break; // one transition per policy per transaction; later minutes are evaluated next run
        }
      }
      report.policies++;
      if (pending) transitions.push({ policy: pol, minute: last, state, transition: pending });
      else states.push([pol.id, last, JSON.stringify(state)]);
    });
  }

  /** Writes one transition: incident, outbox rows and the policy's state, in one transaction. */
  async #transition(pol: DuePolicy, minute: number, state: ConditionState, t: Transition, now: number, lock: NamedLock): Promise<void> {
    // Concurrent partitions insert incidents side by side: InnoDB may pick one as a deadlock victim;
    // the whole transaction rolled back, so it is simply run again.
    await withLockRetry(() => this.#transitionOnce(pol, minute, state, t, now, lock));
  }

  async #transitionOnce(pol: DuePolicy, minute: number, state: ConditionState, t: Transition, now: number, lock: NamedLock): Promise<void> {
    await lock.check();
    await inTransaction(this.o.store.db, async (trx) => {
      const spec = POLICY_METRICS[pol.metric];
      const level = t.kind === 'close' ? t.from : t.level;
      const threshold = level === 'critical' ? pol.critical : pol.warning;
      await applyTransition(trx, {
        accountId: pol.accountId,
        applicationId: pol.applicationId,
        kind: 'policy',
        sourceId: pol.id,
        title: `${pol.name}: ${spec.label} ${spec.direction} ${threshold} ${spec.unit} for ${pol.durationMinutes} min`,
        transition: t.kind,
        level,
        detail: { policy: pol.name, metric: pol.metric, unit: spec.unit, direction: spec.direction, threshold, warning: pol.warning, critical: pol.critical, durationMinutes: pol.durationMinutes, values: state.recent, minute },
        channels: pol.channels,
        at: now,
      });
      await savePolicyStates(trx, [{ policyId: pol.id, lastMinute: minute, state: JSON.stringify(state) }], this.o.owner);
    });
    this.o.metrics.transitions.inc({ transition: t.kind });
  }
}
