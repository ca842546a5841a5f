import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Registry } from 'prom-client';
import { commands } from '../../bin/apm-commands.js';
import { runCli } from '../../bin/apm.js';
import { formatAddress } from '../../lib/db/connect.js';
import type { CliContext } from '../../bin/cli-context.js';
import type { ShardStore } from '../../lib/shard/shard-store.js';
import { RollupMetrics } from '../../rollup/rollup-metrics.js';
import { RollupRunner } from '../../rollup/rollup-runner.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';
import { random, RollupFixture, storedRows } from './rollup-fixture.js';
import { silentLog } from '../../lib/log/log.js';

const H = 3600;
const DAY = 86400;
const JAN30 = Date.UTC(2024, 0, 30) / 1000;
const FEB9 = Date.UTC(2024, 1, 9) / 1000;

let clock = JAN30;
let cluster: TestCluster;
let store: ShardStore;
let ctx: CliContext;
let a: RollupFixture; // free: minutes 8 days, hours 90 days, days 365 days
let b: RollupFixture; // paid: daily data forever
let z: RollupFixture; // a plan keeping nothing (0 days everywhere): only safety rules hold tables
const registry = new Registry();
const metrics = new RollupMetrics(registry);

async function cli(path: string, values: Record<string, string | boolean> = {}): Promise<any> {
  const cmd = commands.find((c) => c.path.join(' ') === path)!; // as registered for `apm`
  return (await cmd.run(ctx, { positionals: [], values })).json;
}

async function scheduledRun() {
  const runner = new RollupRunner({ directory: cluster.directory, shards: cluster.registry, metrics, log: silentLog, graceSeconds: 300, maxPeriodsPerRun: 1000, lockWaitSeconds: 0 });
  return (await runner.run({ now: clock, purge: true }))[0]!;
}

async function tableNames(): Promise<string[]> {
  const [rows] = await store.pool.query<any[]>("SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME REGEXP '^t[shd]_'");
  return rows.map((r) => String(r.t)).sort();
}

const ts = (f: RollupFixture, stamp: string) => `ts_${f.accountId}_${stamp}`;

beforeAll(async () => {
  cluster = await startTestCluster({ shards: 1, now: () => clock });
  await cluster.directory.db.promise.query("INSERT INTO plans (name, minute_days, hour_days, day_days) VALUES ('zero', 0, 0, 0)");
  const make = async (name: string, plan: string, seed: number) => {
    const account = (await cluster.directory.createAccount({ name, plan })).account;
    store = await cluster.registry.storeFor(account.shardId);
    const f = new RollupFixture(store, cluster.writer, account.id, random(seed));
    await f.setup();
    return f;
  };
  a = await make('purge-free', 'free', 11);
  b = await make('purge-paid', 'paid', 12);
  z = await make('purge-zero', 'zero', 13);
  ctx = { config: cluster.config, storage: cluster.storage, now: () => clock, close: async () => {} };
});

afterAll(async () => {
  await cluster?.stop();
});

describe('purge by plan retention', () => {
  it('drops nothing while everything is younger than its retention', async () => {
    for (const f of [a, b]) for (const day of [0, 1, 2]) for (const h of [0, 12, 23]) await f.writeMinute(JAN30 + day * DAY + h * H + 60);
    clock = JAN30 + 3 * DAY + 600;
    const r = await scheduledRun();
    expect([r.hours, r.days, r.dropped]).toEqual([18, 6, []]);
    expect(r.sealed).toEqual([`th_${a.accountId}_202401`, `th_${b.accountId}_202401`]);
    expect((await tableNames()).length).toBe(18 + 4 + 2);
  });

  it('rolls with the CLI by account and --until, and reports lag per account', async () => {
    clock = FEB9 + 12 * H;
    await a.writeMinute(JAN30 + DAY + 12 * H + 30 * 60); // late minute: A's Jan 31 12h table becomes dirty
    for (const h of [8, 9, 10, 11, 12]) await z.writeMinute(FEB9 + h * H + 120); // 12h is the current hour
    const first = await cli('rollup run', { account: String(z.accountId), until: '2024-02-09T09:00Z' });
    expect([first[0].hours, first[0].days]).toEqual([1, 0]);
    const status = (await cli('rollup status'))[0].lag;
    expect(status).toEqual([
      { accountId: a.accountId, lagSeconds: 0, pendingHours: 0, dirtyHours: 1, pendingDays: 0, dirtyDays: 0 },
      { accountId: b.accountId, lagSeconds: 0, pendingHours: 0, dirtyHours: 0, pendingDays: 0, dirtyDays: 0 },
      // 09h ended at 10:00 and was due at 10:05: 1 h 55 min ago. 11h is not due, 12h is current.
      { accountId: z.accountId, lagSeconds: 2 * H - 300, pendingHours: 2, dirtyHours: 0, pendingDays: 0, dirtyDays: 0, oldestDue: FEB9 + 9 * H },
    ]);
    const second = await cli('rollup run', { account: String(z.accountId) });
    expect([second[0].hours, second[0].rerolledHours, second[0].failures]).toEqual([2, 0, 0]);
    expect((await store.tableInfo(ts(a, '2024013112')))?.rollupState).toBe('dirty');
  });

  it('lists with --dry-run exactly what purge then drops: expired, rolled, ended tables only', async () => {
    const before = await tableNames();
    const dry = await cli('purge', { 'dry-run': true });
    expect(await tableNames()).toEqual(before);
    const listed = dry.shards[0].tables.map((t: { name: string }) => t.name).sort();
    expect(listed).toEqual(
      [
        ...['2024013000', '2024013012', '2024013023', '2024013100', '2024013123', '2024020100'].map((s) => ts(a, s)), // not the dirty Jan 31 12h
        ...['2024013000', '2024013012', '2024013023', '2024013100', '2024013112', '2024013123', '2024020100'].map((s) => ts(b, s)),
        ...['2024020908', '2024020909', '2024020910'].map((s) => ts(z, s)), // not 11h (not rolled yet) nor 12h (current)
      ].sort(),
    );
    const done = await cli('purge');
    expect(done.shards[0].tables.map((t: { name: string }) => t.name).sort()).toEqual(listed);
    expect(await tableNames()).toEqual(before.filter((n) => !listed.includes(n)));
    // Still there: the dirty table, the not yet rolled and the current minute table of a 0-day plan,
    // z's hour table (its month is current, so it is not sealed) and every younger table.
    expect(await tableNames()).toEqual(
      [ts(a, '2024013112'), ts(a, '2024020112'), ts(a, '2024020123'), ts(b, '2024020112'), ts(b, '2024020123'), ts(z, '2024020911'), ts(z, '2024020912'),
        `th_${a.accountId}_202401`, `th_${a.accountId}_202402`, `th_${b.accountId}_202401`, `th_${b.accountId}_202402`, `th_${z.accountId}_202402`, `td_${a.accountId}_2024`, `td_${b.accountId}_2024`].sort(),
    );
  });

  it('rolls late data before its tables go, and drops hour tables after their retention', async () => {
    clock = Date.UTC(2024, 4, 15) / 1000;
    const r = await scheduledRun();
    expect([r.hours, r.rerolledHours, r.days, r.rerolledDays, r.failures]).toEqual([2, 1, 1, 1, 0]);
    // A's Jan 31 includes the late minute, exactly once.
    expect(await storedRows(store, a.accountId, 'day', JAN30, JAN30 + 3 * DAY)).toEqual(a.expected('day', JAN30, JAN30 + 3 * DAY, () => true));
    expect([...r.dropped].sort()).toEqual(
      [ts(a, '2024013112'), ts(a, '2024020112'), ts(a, '2024020123'), ts(b, '2024020112'), ts(b, '2024020123'), ts(z, '2024020911'), ts(z, '2024020912'),
        `th_${a.accountId}_202401`, `th_${b.accountId}_202401`, `th_${z.accountId}_202402`].sort(),
    );
    // February's hour tables are sealed but younger than 90 days after their month.
    expect(await tableNames()).toEqual([`th_${a.accountId}_202402`, `th_${b.accountId}_202402`, `td_${a.accountId}_2024`, `td_${b.accountId}_2024`, `td_${z.accountId}_2024`].sort());
    const dropped = (await registry.getSingleMetric('apm_rollup_tables_dropped_total')?.get())?.values.map((v) => [v.labels.kind, v.value]);
    expect(dropped?.sort()).toEqual([['hour', 3], ['minute', 7]]);
  });

  it('keeps daily data per plan: a year on the free plan, forever on the paid one', async () => {
    clock = Date.UTC(2025, 11, 31, 23) / 1000; // td_*_2024 ended 2025-01-01: 364 days 23 h ago
    expect((await scheduledRun()).dropped).toEqual([`th_${a.accountId}_202402`, `th_${b.accountId}_202402`, `td_${z.accountId}_2024`]);
    clock = Date.UTC(2026, 0, 1) / 1000;
    expect((await scheduledRun()).dropped).toEqual([`td_${a.accountId}_2024`]);
    clock = Date.UTC(2060, 0, 1) / 1000;
    expect((await scheduledRun()).dropped).toEqual([]);
    expect(await tableNames()).toEqual([`td_${b.accountId}_2024`]);
  });

  it('answers through the apm binary: JSON output, and a clear error for a bad option', async () => {
    const env = { APM_SHARDS: formatAddress(cluster.servers[0]!.address), APM_DATA_DIR: cluster.dataDir };
    const out = vi.spyOn(console, 'log').mockImplementation(() => {});
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      expect(await runCli(['purge', '--dry-run', '--json'], env)).toBe(0);
      expect(JSON.parse(String(out.mock.calls.at(-1)![0]))).toEqual({ dryRun: true, shards: [{ shardId: store.shardId, tables: [] }] });
      expect(await runCli(['rollup', 'run', '--until', 'tomorrow'], env)).toBe(2);
      expect(String(err.mock.calls.at(-1)![0])).toBe('apm: cannot read --until: expected Unix seconds or an ISO 8601 time such as 2024-03-01T12:00Z, got "tomorrow"');
      expect(await runCli(['rollup', 'status', '--json'], env)).toBe(0);
      const status = JSON.parse(String(out.mock.calls.at(-1)![0]));
      expect(status[0].tables).toEqual({ 'day/done': 1 });
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
  });
});
