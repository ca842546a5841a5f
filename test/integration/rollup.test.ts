import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { ShardRegistry } from '../../lib/shard/shard-registry.js';
import type { ShardStore } from '../../lib/shard/shard-store.js';
import { RollupMetrics } from '../../rollup/rollup-metrics.js';
import { RollupRunner, type ShardReport } from '../../rollup/rollup-runner.js';
import { startRollup } from '../../rollup/rollup.js';
import { rollupLockHolder } from '../../lib/shard/rollup-lock.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';
import { random, RollupFixture, storedRows } from './rollup-fixture.js';
import { lineLog } from '../../lib/log/log.js';

const H = 3600;
const DAY = 86400;
const GRACE = 300;
const FEB27 = Date.UTC(2024, 1, 27) / 1000;
const MAR1 = Date.UTC(2024, 2, 1) / 1000;

let clock = FEB27;
let cluster: TestCluster;
let store: ShardStore;
let a: RollupFixture; // free plan: v2 hour tables, a v1 day table
let b: RollupFixture; // paid plan: a v1 hour table for February, v2 day table
const logs: string[] = [];

function runner(opts: { maxPeriodsPerRun?: number; lockWaitSeconds?: number; shards?: ShardRegistry } = {}) {
  const registry = new Registry();
  const metrics = new RollupMetrics(registry);
  const r = new RollupRunner({
    directory: cluster.directory,
    shards: opts.shards ?? cluster.registry,
    metrics,
    log: lineLog((l) => logs.push(l)),
    graceSeconds: GRACE,
    maxPeriodsPerRun: opts.maxPeriodsPerRun ?? 10_000,
    lockWaitSeconds: opts.lockWaitSeconds ?? 0,
  });
  return { r, metrics, registry, run: async () => (await r.run({ now: clock, purge: false }))[0]! };
}

async function metric(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const m = (await registry.getSingleMetric(name)?.get())?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return m?.value ?? 0;
}

/** Registered minute tables (of both accounts) in the given state, by name. */
async function minuteTables(state: string): Promise<string[]> {
  return (await store.listTables({ kind: 'minute', states: [state as 'done'] })).map((t) => t.name).sort();
}

/** Hour rows before `to` and day rows of the days ended by `to`, of both accounts, equal the pure reference. */
async function expectExact(to: number): Promise<void> {
  const daysTo = Math.floor(to / DAY) * DAY;
  for (const f of [a, b]) {
    // Account b's February hour table predates template v2 (no periods column); its day table is v2.
    const hourPeriods = (p: number) => f === a || p >= MAR1;
    const dayPeriods = () => f === b;
    expect(await storedRows(store, f.accountId, 'hour', FEB27, to)).toEqual(f.expected('hour', FEB27, to, hourPeriods));
    expect(await storedRows(store, f.accountId, 'day', FEB27, daysTo)).toEqual(f.expected('day', FEB27, daysTo, dayPeriods));
  }
}

const summary = (r: ShardReport) => ({ hours: r.hours, rerolledHours: r.rerolledHours, days: r.days, rerolledDays: r.rerolledDays, failures: r.failures, skipped: r.skipped });

beforeAll(async () => {
  cluster = await startTestCluster({ shards: 1, now: () => clock });
  const accA = (await cluster.directory.createAccount({ name: 'rollup-a', plan: 'free' })).account;
  const accB = (await cluster.directory.createAccount({ name: 'rollup-b', plan: 'paid' })).account;
  store = await cluster.registry.storeFor(accA.shardId);
  // Tables made before template v2: registered with version 1, created LIKE the v1 templates.
  for (const [name, acct, kind, start] of [
    [`td_${accA.id}_2024`, accA.id, 'day', Date.UTC(2024, 0, 1) / 1000],
    [`th_${accB.id}_202402`, accB.id, 'hour', Date.UTC(2024, 1, 1) / 1000],
  ] as const) {
    await store.pool.query('INSERT INTO table_registry (name, account_id, kind, period_start, template_version) VALUES (?, ?, ?, ?, 1)', [name, acct, kind, start]);
    await store.pool.query(`CREATE TABLE ${name} LIKE template_${kind}_v1`);
  }
  a = new RollupFixture(store, cluster.writer, accA.id, random(1));
  b = new RollupFixture(store, cluster.writer, accB.id, random(2));
  await a.setup();
  await b.setup();
});

afterAll(async () => {
  await cluster?.stop();
});

describe('rollup on real MariaDB', () => {
  it('rolls three days exactly like the pure merge, after the grace period, v1 and v2 tables alike', async () => {
    await a.writeHours(FEB27, MAR1, 3);
    await b.writeHours(FEB27, MAR1, 3);
    const w = runner();
    clock = MAR1 + GRACE - 1; // Feb 29 23h is not due yet, nor is Feb 29
    expect(summary(await w.run())).toEqual({ hours: 142, rerolledHours: 0, days: 4, rerolledDays: 0, failures: 0, skipped: undefined });
    expect(await minuteTables('open')).toEqual([`ts_${a.accountId}_2024022923`, `ts_${b.accountId}_2024022923`]);
    clock = MAR1 + GRACE;
    const second = await w.run();
    expect(summary(second)).toEqual({ hours: 2, rerolledHours: 0, days: 2, rerolledDays: 0, failures: 0, skipped: undefined });
    // February is over and wholly rolled: its hour tables are sealed.
    expect(second.sealed).toEqual([`th_${a.accountId}_202402`, `th_${b.accountId}_202402`]);
    expect((await minuteTables('done')).length).toBe(144);
    await expectExact(MAR1);
    expect(await metric(w.registry, 'apm_rollup_periods_total', { kind: 'hour', outcome: 'rolled' })).toBe(144);
    expect(await metric(w.registry, 'apm_rollup_rows_read_total', { kind: 'hour' })).toBe(a.minutes.size + b.minutes.size);
    const hourRows = a.expected('hour', 0, MAR1, () => true).size + b.expected('hour', 0, MAR1, () => true).size;
    expect(await metric(w.registry, 'apm_rollup_rows_written_total', { kind: 'hour' })).toBe(hourRows);
    expect(await metric(w.registry, 'apm_rollup_rows_read_total', { kind: 'day' })).toBe(hourRows);
    const [days] = await store.pool.query<any[]>('SELECT account_id, day, state, rolls FROM rollup_days ORDER BY account_id, day');
    expect(days.map((d) => `${d.account_id} ${(d.day - FEB27) / DAY} ${d.state} ${d.rolls}`)).toEqual(
      [a, b].flatMap((f) => [0, 1, 2].map((d) => `${f.accountId} ${d} done 1`)),
    );
  });

  it('is idempotent: rolling every period again gives identical rows, and a run with nothing due does nothing', async () => {
    const before = await Promise.all([a, b].flatMap((f) => [storedRows(store, f.accountId, 'hour', 0, MAR1), storedRows(store, f.accountId, 'day', 0, MAR1)]));
    await store.pool.query("UPDATE table_registry SET rollup_state = 'open' WHERE kind = 'minute'");
    await store.pool.query("UPDATE rollup_days SET state = 'pending'");
    const w = runner();
    expect(summary(await w.run())).toEqual({ hours: 144, rerolledHours: 0, days: 6, rerolledDays: 0, failures: 0, skipped: undefined });
    const after = await Promise.all([a, b].flatMap((f) => [storedRows(store, f.accountId, 'hour', 0, MAR1), storedRows(store, f.accountId, 'day', 0, MAR1)]));
    expect(after).toEqual(before);
    expect(summary(await w.run())).toEqual({ hours: 0, rerolledHours: 0, days: 0, rerolledDays: 0, failures: 0, skipped: undefined });
  });

  it('catches up after downtime oldest first, a bounded number of periods per run, with progress and lag', async () => {
    const MAR3 = MAR1 + 2 * DAY;
    await a.writeHours(MAR1, MAR3, 2);
    await b.writeHours(MAR1, MAR1 + DAY + 7 * H, 2); // b has no data in Mar 2 07h (late data arrives there later)
    await b.writeHours(MAR1 + DAY + 8 * H, MAR3, 2);
    clock = MAR3 + GRACE;
    const w = runner({ maxPeriodsPerRun: 20 });
    const first = await w.run();
    expect(summary(first)).toEqual({ hours: 20, rerolledHours: 0, days: 0, rerolledDays: 0, failures: 0, skipped: undefined });
    // The 20 oldest: Mar 1 00h..09h of both accounts.
    const rolled = (await minuteTables('done')).filter((n) => /_202403/.test(n));
    expect(rolled).toEqual([a, b].flatMap((f) => [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((h) => `ts_${f.accountId}_20240301${String(h).padStart(2, '0')}`)).sort());
    // Oldest due, never rolled: Mar 1 10h, which ended Mar 1 11:00 and was due at 11:05.
    const lag = clock - GRACE - (MAR1 + 11 * H);
    expect(first.lag.map((l) => l.lagSeconds)).toEqual([lag, lag]);
    expect(await metric(w.registry, 'apm_rollup_lag_seconds', { shard: String(store.shardId) })).toBe(lag);
    expect(logs.some((l) => l.includes('20 period(s) to roll, oldest hour 2024-03-01T00h of account'))).toBe(true);
    let runs = 1;
    for (;;) {
      const r = await w.run();
      if (r.hours + r.days === 0) break;
      runs++;
    }
    // 95 hours and 4 days in all: 5 runs of at most 20.
    expect(runs).toBe(5);
    expect(await metric(w.registry, 'apm_rollup_periods_total', { kind: 'hour', outcome: 'rolled' })).toBe(95);
    expect(await metric(w.registry, 'apm_rollup_periods_total', { kind: 'day', outcome: 'rolled' })).toBe(4);
    expect(await metric(w.registry, 'apm_rollup_lag_seconds', { shard: String(store.shardId) })).toBe(0);
    await expectExact(MAR3);
  });

  it('reflects late data exactly once in its hour and its day', async () => {
    clock = MAR1 + 3 * DAY + 12 * H; // Mar 4 12:00
    await a.writeMinute(FEB27 + DAY + 10 * H + 17 * 60); // Feb 28 10:17: a rolled hour of a rolled day
    await b.writeMinute(MAR1 + DAY + 7 * H + 30 * 60); // Mar 2 07:30: a new minute table in a rolled day
    expect(await minuteTables('dirty')).toEqual([`ts_${a.accountId}_2024022810`]);
    const w = runner();
    const r = await w.run();
    expect(summary(r)).toEqual({ hours: 1, rerolledHours: 1, days: 0, rerolledDays: 2, failures: 0, skipped: undefined });
    // a's February hour table was re-opened by the re-roll and is sealed again.
    expect(r.sealed).toEqual([`th_${a.accountId}_202402`]);
    await expectExact(MAR1 + 3 * DAY);
    expect(summary(await w.run())).toEqual({ hours: 0, rerolledHours: 0, days: 0, rerolledDays: 0, failures: 0, skipped: undefined });
    const [days] = await store.pool.query<any[]>('SELECT rolls FROM rollup_days WHERE account_id = ? AND day = ?', [a.accountId, FEB27 + DAY]);
    expect(days[0].rolls).toBe(3); // first roll, the idempotency replay, the late minute
  });

  it('survives a worker dying mid-period: its lock is released and nothing is half-counted', async () => {
    const MAR4 = MAR1 + 3 * DAY;
    await a.writeHours(MAR4, MAR4 + 6 * H, 2);
    await b.writeHours(MAR4, MAR4 + 6 * H, 2);
    clock = MAR4 + 7 * H;
    // Hold row locks on a's 03h minute table so worker 1 blocks in the middle of that period.
    const blocker = await store.pool.getConnection();
    await blocker.query('START TRANSACTION');
    await blocker.query(`SELECT * FROM ts_${a.accountId}_2024030403 FOR UPDATE`);
    const w1 = runner();
    const w2 = runner();
    const dying = w1.run();
    await until(async () => (await store.tableInfo(`ts_${a.accountId}_2024030403`))?.rollupState === 'rolling');
    expect(summary(await w2.run())).toEqual({ hours: 0, rerolledHours: 0, days: 0, rerolledDays: 0, failures: 0, skipped: 'locked' });
    expect(await metric(w2.registry, 'apm_rollup_lock_busy_total', { shard: String(store.shardId) })).toBe(1);
    const holder = await rollupLockHolder(store.pool);
    await store.pool.query(`KILL ${Number(holder)}`); // the worker's connection dies, as with a crashed process
    const died = await dying;
    expect(died.skipped).toBe('failed');
    expect(died.hours).toBe(6); // 00h-02h of both accounts committed before it died
    await blocker.query('ROLLBACK');
    blocker.release();
    await until(async () => (await rollupLockHolder(store.pool)) === undefined);
    expect(summary(await w2.run())).toEqual({ hours: 6, rerolledHours: 0, days: 0, rerolledDays: 0, failures: 0, skipped: undefined });
    await expectExact(MAR4 + 6 * H);
  });

  it('lets two workers race on a shard without rolling any period twice', async () => {
    const MAR4 = MAR1 + 3 * DAY;
    await a.writeHours(MAR4 + 6 * H, MAR4 + DAY, 1);
    await b.writeHours(MAR4 + 6 * H, MAR4 + DAY, 1);
    clock = MAR4 + DAY + H;
    // A second "process": its own shard registry, pools and caches.
    const other = new ShardRegistry(cluster.directory, { user: 'root', password: '', database: cluster.config.str('APM_SHARD_DATABASE'), maxMetricsPerApplication: 20000, connectionLimit: 4, accountTtlMs: 1000 });
    try {
      const w1 = runner({ lockWaitSeconds: 30 });
      const w2 = runner({ lockWaitSeconds: 30, shards: other });
      const [r1, r2] = await Promise.all([w1.run(), w2.run()]);
      // Both got the lock in turn; together they rolled each of the 36 hours and 2 days once.
      expect([r1.hours + r2.hours, r1.days + r2.days, r1.skipped, r2.skipped]).toEqual([36, 2, undefined, undefined]);
      expect([r1.hours, r2.hours].sort()).toEqual([0, 36]);
      clock += 3600;
      await a.writeHours(MAR4 + DAY, MAR4 + DAY + H, 1);
      // Without waiting: the loser either finds the lock taken or, if it came second, nothing to do.
      const [r3, r4] = await Promise.all([runner().run(), runner({ shards: other }).run()]);
      expect(r3.hours + r4.hours).toBe(1);
      expect([r3, r4].every((r) => r.failures === 0 && (r.skipped === undefined || r.skipped === 'locked'))).toBe(true);
    } finally {
      await other.close();
    }
    await expectExact(MAR4 + DAY + H);
  });

  it('counts a failing period, keeps its day waiting, rolls everything else, and heals once repaired', async () => {
    const MAR4 = MAR1 + 3 * DAY;
    const account = (await cluster.directory.createAccount({ name: 'rollup-c' })).account;
    const c = new RollupFixture(store, cluster.writer, account.id, random(3));
    await c.setup();
    // A damaged hour table (not its template's definition): rolling into it fails.
    const broken = `th_${c.accountId}_202403`;
    await store.pool.query(`CREATE TABLE ${broken} (metric_id INT UNSIGNED NOT NULL PRIMARY KEY)`);
    await store.pool.query("INSERT INTO table_registry (name, account_id, kind, period_start, template_version) VALUES (?, ?, 'hour', ?, 2)", [broken, c.accountId, MAR1]);
    await c.writeHours(MAR4 + 10 * H, MAR4 + 12 * H, 2);
    const w = runner();
    const failed = await w.run();
    expect(summary(failed)).toEqual({ hours: 0, rerolledHours: 0, days: 0, rerolledDays: 0, failures: 2, skipped: undefined });
    expect(await metric(w.registry, 'apm_rollup_failures_total', { stage: 'hour' })).toBe(2);
    expect(logs.filter((l) => l.includes(`cannot roll hour 2024-03-04T1`) && l.includes(`of account ${c.accountId}: Unknown column`)).length).toBe(2);
    expect(failed.lag.find((l) => l.accountId === c.accountId)).toMatchObject({ pendingHours: 2, lagSeconds: clock - GRACE - (MAR4 + 11 * H) });
    await store.pool.query(`DROP TABLE ${broken}`);
    await store.pool.query('DELETE FROM table_registry WHERE name = ?', [broken]);
    store.forgetTables(c.accountId);
    expect(summary(await w.run())).toEqual({ hours: 2, rerolledHours: 0, days: 1, rerolledDays: 0, failures: 0, skipped: undefined });
    expect(await storedRows(store, c.accountId, 'hour', 0, MAR4 + DAY)).toEqual(c.expected('hour', 0, MAR4 + DAY, () => true));
    expect(await storedRows(store, c.accountId, 'day', 0, MAR4 + DAY)).toEqual(c.expected('day', 0, MAR4 + DAY, () => true));
  });

  it('runs on its node-cron schedule with the injected clock and exposes its self-metrics', async () => {
    const MAR5 = MAR1 + 4 * DAY;
    await a.writeHours(MAR5 + 2 * H, MAR5 + 4 * H, 1);
    clock = MAR5 + 4 * H + GRACE;
    const config = cluster.config.with({ APM_ROLLUP_SCHEDULE: '* * * * * *', APM_ROLLUP_METRICS_PORT: '0' });
    const handle = await startRollup(cluster.deps({ config, now: () => clock }));
    try {
      await until(async () => (await metric(handle.registry, 'apm_rollup_runs_total', { outcome: 'ok' })) >= 1, 10_000);
      expect(await minuteTables('open')).toEqual([]);
      const url = handle.addresses[0]!.split(' ')[0]!;
      const text = await (await fetch(url)).text();
      expect(text).toContain('apm_rollup_periods_total{kind="hour",outcome="rolled",service="rollup"} 2');
      expect(text).toContain(`apm_rollup_lag_seconds{shard="${store.shardId}",service="rollup"} 0`);
    } finally {
      await handle.stop();
      await handle.stop();
    }
    await expectExact(MAR5 + 4 * H);
  });
});

async function until(cond: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
