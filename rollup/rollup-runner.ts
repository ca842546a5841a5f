import type { Directory } from '../lib/directory/directory.js';
import { pastMinuteRetention } from '../lib/shard/minute-retention.js';
import type { ShardRegistry } from '../lib/shard/shard-registry.js';
import type { ShardStore } from '../lib/shard/shard-store.js';
import { planPurge, type PurgeCandidate, type Retention } from './purge-plan.js';
import { maxLag, rollupLag, type AccountLag } from './rollup-lag.js';
import type { RollupMetrics } from './rollup-metrics.js';
import { closedBefore, dayStart, periodEnd, planRollup, type RollupTask } from './rollup-plan.js';
import { planSeals } from './seal-plan.js';
import { sealBoundary, sealMinutes } from './minute-seal.js';
import { acquireRollupLock } from '../lib/shard/rollup-lock.js';
import { purgeRanges, readPurgeableTables, readShardState, tableCounts, type ShardState } from './rollup-state.js';
import { ShardRollup } from './shard-rollup.js';
import { type Log } from '../lib/log/log.js';
import { describeTask, emptyReport, isFatal, type ShardReport } from './rollup-report.js';

export type { ShardReport } from './rollup-report.js';

export interface RollupRunnerOptions {
  directory: Directory;
  shards: ShardRegistry;
  metrics: RollupMetrics;
  log: Log;
  graceSeconds: number;
  /** How long after a minute closes before the minute seal derives its application rows (APM_SEAL_GRACE_SECONDS). */
  sealGraceSeconds?: number;
  maxPeriodsPerRun: number;
  lockWaitSeconds: number;
  /** Milliseconds between progress lines of a long (catch-up) run. */
  progressEveryMs?: number;
}

export interface RunOptions {
  /** The clock of this run, Unix seconds. */
  now: number;
  accountId?: number;
  /** Roll only periods ending at or before this time. */
  until?: number;
  /** Drop expired tables after rolling (the scheduled runs; `apm rollup run` does not). */
  purge: boolean;
  /** Create the next hour's minute tables of active accounts ahead of time (the scheduled runs). */
  precreate?: (store: ShardStore, now: number) => Promise<number>;
}

/**
 * One rollup run over every shard of the directory: under each shard's lock, roll every closed period
 * (oldest first, at most maxPeriodsPerRun), seal finished hour/day tables, and (optionally) purge.
 * Shards are done one after the other; a failing shard or period is counted and logged, never fatal.
 */
export class RollupRunner {
  constructor(private readonly o: RollupRunnerOptions) {}

  async run(opts: RunOptions): Promise<ShardReport[]> {
    const reports: ShardReport[] = [];
    for (const shard of await this.o.directory.listShards()) reports.push(await this.runShard(shard.id, opts));
    return reports;
  }

  async runShard(shardId: number, opts: RunOptions): Promise<ShardReport> {
    const started = Date.now();
    const report = emptyReport(shardId);
    const label = { shard: String(shardId) };
    let store: ShardStore;
    let lock;
    try {
      store = await this.o.shards.storeFor(shardId);
      lock = await acquireRollupLock(store.pool, this.o.lockWaitSeconds);
    } catch (err) {
      return this.#shardFailed(report, err);
    }
    if (!lock) {
      this.o.metrics.lockBusy.inc(label);
      return { ...report, skipped: 'locked' };
    }
    try {
      // The registry is read by state (rollup-state.ts): the unfinished tables only, again only when a
      // period was rolled; with nothing due a run costs a handful of indexed queries.
      const rollup = new ShardRollup(store, lock.conn);
      await this.#sealMinutes(rollup, opts, report);
      const closed = closedBefore(opts.now, this.o.graceSeconds);
      let state = await rollup.readState(closed);
      if (await this.#roll(rollup, state, opts, report)) state = await rollup.readState(closed);
      await this.#seal(rollup, state, opts, report);
      if (opts.purge) report.dropped = (await this.#purge(rollup, state, opts.now, opts.accountId, report)).map((t) => t.name);
      report.lag = rollupLag(state.tables, state.days, opts.now, this.o.graceSeconds);
      this.o.metrics.unfinishedTables.set(label, state.tables.length);
      this.o.metrics.lag.set(label, maxLag(report.lag));
      this.o.metrics.pending.set({ ...label, kind: 'hour' }, report.lag.reduce((n, l) => n + l.pendingHours + l.dirtyHours, 0));
      this.o.metrics.pending.set({ ...label, kind: 'day' }, report.lag.reduce((n, l) => n + l.pendingDays + l.dirtyDays, 0));
      if (opts.precreate) {
        try {
          report.precreated = await opts.precreate(store, opts.now);
        } catch (err) {
          // A table not made ahead of time is made by the first harvest of its hour, as before: not fatal.
          report.failures++;
          this.o.metrics.failures.inc({ stage: 'precreate' });
          this.o.log.warn(`rollup shard ${shardId}: cannot create next hour's tables: ${(err as Error).message}`);
        }
      }
      this.o.metrics.shardRunSeconds.set(label, (Date.now() - started) / 1000);
      return report;
    } catch (err) {
      return this.#shardFailed(report, err);
    } finally {
      await lock.release();
    }
  }

  /** Rolls the planned periods in order; a day whose hour failed in this run waits for the next. True when any was tried. */
  async #roll(rollup: ShardRollup, state: ShardState, opts: RunOptions, report: ShardReport): Promise<boolean> {
    const tasks = planRollup({ ...state, now: opts.now, graceSeconds: this.o.graceSeconds, until: opts.until, accountId: opts.accountId, maxTasks: this.o.maxPeriodsPerRun });
    if (tasks.length === 0) return false;
    const shard = report.shardId;
    this.o.log.info(`rollup shard ${shard}: ${tasks.length} period(s) to roll, oldest ${describeTask(tasks[0]!)}, newest ${describeTask(tasks[tasks.length - 1]!)}`);
    const failedDays = new Set<string>();
    const minuteDays = await this.#minuteRetention();
    let lastLog = Date.now();
    let done = 0;
    for (const task of tasks) {
      const dayKey = `${task.accountId}:${dayStart(task.period)}`;
      done++;
      if (task.kind === 'day' && failedDays.has(dayKey)) continue;
      try {
        const days = minuteDays.get(task.accountId);
        if (task.kind === 'hour' && days !== undefined && pastMinuteRetention(task.period, days, opts.now)) {
          // Never replace a retained hour with late rows alone (#18 part 5): rows it did not read stay.
          const left = await rollup.retireIfLosing(task);
          if (left !== undefined) {
            this.o.metrics.periods.inc({ kind: 'hour', outcome: 'past_retention' });
            this.o.log.warn(`rollup shard ${shard}: ${describeTask(task)} is past minute retention and its minute table lost rows that were rolled (purged, then re-created by late data): its ${left} late row(s) are left out`);
            continue;
          }
        }
        const r = task.kind === 'hour' ? await rollup.rollHour(task) : await rollup.rollDay(task);
        if (!r.rolled) continue;
        const outcome = r.reroll ? 'rerolled' : 'rolled';
        this.o.metrics.periods.inc({ kind: task.kind, outcome });
        this.o.metrics.rowsRead.inc({ kind: task.kind }, r.rowsRead);
        this.o.metrics.rowsWritten.inc({ kind: task.kind }, r.rowsWritten);
        if (task.kind === 'hour') r.reroll ? report.rerolledHours++ : report.hours++;
        else r.reroll ? report.rerolledDays++ : report.days++;
        report.rowsRead += r.rowsRead;
        report.rowsWritten += r.rowsWritten;
      } catch (err) {
        if (isFatal(err)) throw err;
        failedDays.add(dayKey);
        report.failures++;
        this.o.metrics.failures.inc({ stage: task.kind });
        this.o.log.warn(`rollup shard ${shard}: cannot roll ${describeTask(task)}: ${(err as Error).message}`);
      }
      if (Date.now() - lastLog >= (this.o.progressEveryMs ?? 10_000)) {
        lastLog = Date.now();
        this.o.log.info(`rollup shard ${shard}: ${done}/${tasks.length} periods, now at ${describeTask(task)}, lag ${Math.max(0, opts.now - periodEnd(task) - this.o.graceSeconds)} s`);
      }
    }
    const { hours, rerolledHours, days, rerolledDays, rowsRead, rowsWritten, failures } = report;
    this.o.log.info(
      `rollup shard ${shard}: rolled ${hours} hour(s) + ${rerolledHours} re-rolled, ${days} day(s) + ${rerolledDays} re-rolled; ` +
        `${rowsRead} rows read, ${rowsWritten} written, ${failures} failure(s)`,
    );
    return true;
  }

  /** The minute seal (minute-seal.ts): application rows of the minutes closed a grace ago. */
  async #sealMinutes(rollup: ShardRollup, opts: RunOptions, report: ShardReport): Promise<void> {
    const r = await sealMinutes(rollup.conn, sealBoundary(opts.now, this.o.sealGraceSeconds ?? 120), opts.accountId, (t, err) => {
      if (isFatal(err)) throw err;
      report.failures++;
      this.o.metrics.failures.inc({ stage: 'minute_seal' });
      this.o.log.warn(`rollup shard ${report.shardId}: cannot seal the minutes of table ${t.name}: ${(err as Error).message}`);
    }, closedBefore(opts.now, this.o.graceSeconds, opts.until));
    report.minuteSeals = r;
    this.o.metrics.minuteSealRows.inc(r.rows);
  }

  async #seal(rollup: ShardRollup, state: ShardState, opts: RunOptions, report: ShardReport): Promise<void> {
    for (const t of planSeals(state.tables, state.days, opts.now, this.o.graceSeconds)) {
      if (opts.accountId !== undefined && t.accountId !== opts.accountId) continue;
      try {
        if (await rollup.seal(t)) {
          report.sealed.push(t.name);
          this.o.metrics.tablesSealed.inc({ kind: t.kind });
        }
      } catch (err) {
        if (isFatal(err)) throw err;
        report.failures++;
        this.o.metrics.failures.inc({ stage: 'seal' });
        this.o.log.warn(`rollup shard ${report.shardId}: cannot seal table ${t.name}: ${(err as Error).message}`);
      }
    }
  }

  /** Drops the candidates PURGE_PARALLEL at a time (a DROP TABLE waits on its own redo flush), oldest first. */
  async #purge(rollup: ShardRollup, state: ShardState | undefined, now: number, accountId: number | undefined, report: ShardReport): Promise<PurgeCandidate[]> {
    const candidates = await this.#purgeCandidates(rollup.store, state, now, accountId);
    const done = new Set<PurgeCandidate>();
    let fatal: unknown;
    let next = 0;
    const worker = async () => {
      while (fatal === undefined && next < candidates.length) {
        const t = candidates[next++]!;
        try {
          if (await rollup.drop(t)) {
            done.add(t);
            this.o.metrics.tablesDropped.inc({ kind: t.kind });
          }
        } catch (err) {
          if (isFatal(err)) fatal = err;
          else {
            report.failures++;
            this.o.metrics.failures.inc({ stage: 'purge' });
            this.o.log.warn(`rollup shard ${report.shardId}: cannot drop table ${t.name}: ${(err as Error).message}`);
          }
        }
      }
    };
    await Promise.all(Array.from({ length: PURGE_PARALLEL }, worker));
    if (fatal !== undefined) throw fatal;
    const dropped = candidates.filter((t) => done.has(t));
    if (dropped.length > 0) this.o.log.info(`purge shard ${report.shardId}: dropped ${dropped.length} table(s): ${dropped.slice(0, 10).map((t) => t.name).join(', ')}${dropped.length > 10 ? ', …' : ''}`);
    return dropped;
  }

  /** account → minute retention days. */
  async #minuteRetention(): Promise<Map<number, number>> {
    return new Map((await this.o.directory.listAccounts()).map((a) => [a.id, a.retention.minuteDays]));
  }

  /**
   * 'done' tables in the retention ranges of the plans (an index probe per tier: empty when nothing is
   * due), checked by planPurge against each account's retention and the unfinished tables.
   */
  async #purgeCandidates(store: ShardStore, known: ShardState | undefined, now: number, accountId?: number): Promise<PurgeCandidate[]> {
    const ranges = purgeRanges(await this.o.directory.planRetentions(), now);
    const done = await readPurgeableTables(store, ranges, accountId);
    if (done.length === 0) return [];
    const retention = new Map<number, Retention>();
    for (const a of await this.o.directory.listAccounts()) retention.set(a.id, a.retention);
    const state = known ?? (await readShardState(store));
    return planPurge([...done, ...state.tables], state.days, (id) => retention.get(id), now, accountId);
  }

  /** `apm purge`: drops (or with dryRun only lists) expired tables on every shard. */
  async purge(opts: { now: number; dryRun: boolean; accountId?: number }): Promise<Array<{ shardId: number; tables: PurgeCandidate[]; skipped?: string }>> {
    const out: Array<{ shardId: number; tables: PurgeCandidate[]; skipped?: string }> = [];
    for (const shard of await this.o.directory.listShards()) {
      const store = await this.o.shards.storeFor(shard.id);
      if (opts.dryRun) {
        out.push({ shardId: shard.id, tables: await this.#purgeCandidates(store, undefined, opts.now, opts.accountId) });
        continue;
      }
      const lock = await acquireRollupLock(store.pool, this.o.lockWaitSeconds);
      if (!lock) {
        out.push({ shardId: shard.id, tables: [], skipped: 'another rollup worker holds the shard lock' });
        continue;
      }
      try {
        const tables = await this.#purge(new ShardRollup(store, lock.conn), undefined, opts.now, opts.accountId, emptyReport(shard.id));
        out.push({ shardId: shard.id, tables });
      } finally {
        await lock.release();
      }
    }
    return out;
  }

  /** `apm rollup status`: lag per shard and account (no lock needed: reads only). */
  async status(now: number): Promise<Array<{ shardId: number; lag: AccountLag[]; tables: Record<string, number> }>> {
    const out = [];
    for (const shard of await this.o.directory.listShards()) {
      const store = await this.o.shards.storeFor(shard.id);
      const [state, tables] = await Promise.all([readShardState(store), tableCounts(store)]);
      out.push({ shardId: shard.id, lag: rollupLag(state.tables, state.days, now, this.o.graceSeconds), tables });
    }
    return out;
  }

  #shardFailed(report: ShardReport, err: unknown): ShardReport {
    this.o.metrics.failures.inc({ stage: 'shard' });
    const error = (err as Error).message;
    this.o.log.warn(`rollup shard ${report.shardId}: cannot run: ${error}`);
    return { ...report, skipped: 'failed', error };
  }
}

/** Tables dropped at once by a purge (each DROP TABLE waits for its own durable commit). */
const PURGE_PARALLEL = 4;
