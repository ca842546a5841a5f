import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { SeriesReader } from '../../dashboard/series-reader.js';
import { silentLog } from '../../lib/log/log.js';
import { AccountMover } from '../../lib/ops/account-mover.js';
import { ShardWriter, type WriteRow } from '../../lib/shard/shard-writer.js';
import type { ShardStore } from '../../lib/shard/shard-store.js';
import { tableName } from '../../lib/shard/table-naming.js';
import { mergeInto, type Timeslice } from '../../lib/timeslice/timeslice.js';
import { SEAL_BY_APPLICATION_MAX, sealBoundary, sealMinuteTable, sealMinutes } from '../../rollup/minute-seal.js';
import { RollupMetrics } from '../../rollup/rollup-metrics.js';
import { RollupRunner } from '../../rollup/rollup-runner.js';
import { agentFleet } from '../harness/agent-fleet.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';

let c: TestCluster;
beforeAll(async () => {
  c = await startTestCluster({ shards: 2 });
});
afterAll(async () => c?.stop());

const H = Date.UTC(2026, 10, 23, 10) / 1000;
let clock = H + 30 * 60;

function writer() {
  return new ShardWriter(c.registry, { batchRows: 100_000, flushMs: 5, maxPendingRows: 1_000_000, connections: 2, timeoutMs: 30_000, now: () => clock });
}

/** An account with one application of `agents` agents and two metrics, and its minute table of hour H. */
async function fleet(name: string, agents: number) {
  const f = await agentFleet(c, name, agents, H);
  return { ...f, minuteTable: { name: f.table, accountId: f.account.id, start: H, end: H + 3600 } };
}
type Fleet = Awaited<ReturnType<typeof fleet>>;

/** A timeslice whose sums are exact in binary floating point whatever the order of addition. */
function slice(n: number, v: number): Timeslice {
  return { callCount: n, totalTime: n * v, exclusiveTime: (n * v) / 2, minTime: v / 2, maxTime: v * 2, sumOfSquares: n * v * v };
}


/** The expected merge (lib/timeslice's reference merge) of `s` into the row at `key`. */
function add(into: Map<string, Timeslice>, key: string, s: Timeslice): void {
  const have = into.get(key);
  if (!have) into.set(key, { ...s });
  else mergeInto(have, s);
}

async function rowsOf(store: ShardStore, table: string, agentId: number): Promise<Map<string, Timeslice>> {
  const [rows] = await store.pool.query<any[]>(`SELECT * FROM ${table} WHERE agent_id = ? ORDER BY metric_id, period`, [agentId]);
  return new Map(
    rows.map((r) => [
      `${r.metric_id}:${r.period}`,
      { callCount: Number(r.call_count), totalTime: r.total_time, exclusiveTime: r.exclusive_time, minTime: r.min_time, maxTime: r.max_time, sumOfSquares: r.sum_of_squares },
    ]),
  );
}

async function sealedThrough(store: ShardStore, table: string): Promise<number | null> {
  const [rows] = await store.pool.query<any[]>('SELECT sealed_through FROM table_registry WHERE name = ?', [table]);
  return rows[0].sealed_through === null ? null : Number(rows[0].sealed_through);
}

async function seal(f: Fleet, to: number) {
  const conn = await f.store.pool.getConnection();
  try {
    return await sealMinuteTable(conn, f.minuteTable, to);
  } finally {
    conn.release();
  }
}

/** The application-wide series through the dashboard's reader (per minute bucket), keyed like rowsOf. */
async function readApp(f: Fleet): Promise<Map<string, Timeslice>> {
  f.store = (await c.registry.storeForAccount(f.account.id)).store; // where the account lives now
  const reader = new SeriesReader({ maxPoints: 500, maxStitchTables: 12 });
  const names = [{ name: 'WebTransaction', scope: '', id: f.metricIds[0]! }, { name: 'Datastore/all', scope: '', id: f.metricIds[1]! }];
  const r = await reader.readAt(f.store, f.account, f.app.id, names, { kind: 'minute', step: 60, from: H, to: H + 3600, points: 60 });
  const out = new Map<string, Timeslice>();
  for (const [m, id] of [[0, f.metricIds[0]!], [1, f.metricIds[1]!]] as const) {
    for (const [bucket, s] of r.data.get(`${names[m]!.name}\u0000`) ?? []) out.set(`${id}:${bucket}`, s);
  }
  return out;
}

describe('minute seal (issue #20): application rows derived once a minute closed', () => {
  it('writes agent rows only for an unsealed minute; the seal derives exact application rows once; sealed minutes get both', async () => {
    const f = await fleet('seal-basic', 3);
    const w = writer();
    const expected = new Map<string, Timeslice>();
    try {
      // Minutes 0..2, three agents, two metrics, distinct values.
      const rows: WriteRow[] = [];
      for (let k = 0; k < 3; k++)
        for (let g = 0; g < 3; g++)
          for (let m = 0; m < 2; m++) {
            const s = slice(1 + g + k, 0.25 * (1 + m + g));
            rows.push(f.row(g, m, H + k * 60, s));
            add(expected, `${f.metricIds[m]}:${H + k * 60}`, s);
          }
      expect(await w.write({ accountId: f.account.id, shardId: f.account.shardId, rows, dedupeKey: 'a' })).toBe('committed');
      expect(await sealedThrough(f.store, f.table)).toBeNull();
      expect((await rowsOf(f.store, f.table, f.appAgent)).size).toBe(0); // no application row per write
      expect(await readApp(f)).toEqual(expected); // summed over the agents at read time

      // Seal minutes 0 and 1: exact application rows for them, none for minute 2.
      expect(await seal(f, H + 120)).toEqual({ sealed: true, rows: 4 });
      expect(await sealedThrough(f.store, f.table)).toBe(H + 120);
      const app = await rowsOf(f.store, f.table, f.appAgent);
      expect([...app.keys()].sort()).toEqual([...expected.keys()].filter((k) => Number(k.split(':')[1]) < H + 120).sort());
      for (const [k, s] of app) expect(s).toEqual(expected.get(k));
      expect(await readApp(f)).toEqual(expected); // sealed from the application rows, minute 2 from the agents

      // A re-run (a second rollup process, a crash after commit) changes nothing.
      expect(await seal(f, H + 120)).toEqual({ sealed: false, rows: 0 });
      expect(await rowsOf(f.store, f.table, f.appAgent)).toEqual(app);

      // Late data into a sealed minute adds to the application row too (exact); into minute 2 it does not.
      const late = slice(5, 0.125);
      expect(await w.write({ accountId: f.account.id, shardId: f.account.shardId, rows: [f.row(1, 0, H, late), f.row(2, 1, H + 120, late)], dedupeKey: 'late' })).toBe('committed');
      add(expected, `${f.metricIds[0]}:${H}`, late);
      add(expected, `${f.metricIds[1]}:${H + 120}`, late);
      expect((await rowsOf(f.store, f.table, f.appAgent)).get(`${f.metricIds[0]}:${H}`)).toEqual(expected.get(`${f.metricIds[0]}:${H}`));
      expect((await rowsOf(f.store, f.table, f.appAgent)).has(`${f.metricIds[1]}:${H + 120}`)).toBe(false);
      expect(await readApp(f)).toEqual(expected);
      // A resent request is a duplicate: nothing counted twice, in either form.
      expect(await w.write({ accountId: f.account.id, shardId: f.account.shardId, rows: [f.row(1, 0, H, late), f.row(2, 1, H + 120, late)], dedupeKey: 'late' })).toBe('duplicate');

      // Sealing the rest: every application row equals the sum over the agents.
      await seal(f, H + 3600);
      expect(await rowsOf(f.store, f.table, f.appAgent)).toEqual(expected);
      expect(await readApp(f)).toEqual(expected);
    } finally {
      await w.stop();
    }
  });

  it('several applications: per application below SEAL_BY_APPLICATION_MAX, one joined statement above it; both exact', async () => {
    const w = writer();
    try {
      for (const apps of [3, SEAL_BY_APPLICATION_MAX + 1]) {
        const { account } = await c.directory.createAccount({ name: `seal-apps-${apps}` });
        const { store } = await c.registry.storeForAccount(account.id);
        const [metric] = await store.metricIds(account.id, [{ name: 'WebTransaction', scope: '' }]);
        const pseudo: number[] = [];
        const rows: WriteRow[] = [];
        const expected = new Map<number, Timeslice>(); // pseudo-agent → its application's sum for minute 0
        for (let a = 0; a < apps; a++) {
          const app = await c.directory.ensureApplication(account.id, `app-${a}`);
          const p = await store.applicationAgentId(account.id, app.id);
          pseudo.push(p);
          for (let g = 0; g < 2; g++) {
            const agent = await store.agentId(account.id, { applicationId: app.id, host: `h${a}-${g}`, pid: 100 + g, language: 'nodejs' });
            const s = slice(1 + a + g, 0.25 * (1 + g));
            rows.push({ kind: 'minute', t: H, row: { metricId: metric!, agentId: agent, period: H, ...s }, applicationAgentId: p });
            const have = expected.get(p);
            if (have) mergeInto(have, s);
            else expected.set(p, { ...s });
          }
        }
        expect(await w.write({ accountId: account.id, shardId: account.shardId, rows, dedupeKey: `apps-${apps}` })).toBe('committed');
        const table = tableName('minute', account.id, H);
        const conn = await store.pool.getConnection();
        try {
          expect(await sealMinuteTable(conn, { name: table, accountId: account.id, start: H, end: H + 3600 }, H + 60)).toEqual({ sealed: true, rows: apps });
        } finally {
          conn.release();
        }
        for (const p of pseudo) expect(await rowsOf(store, table, p)).toEqual(new Map([[`${metric}:${H}`, expected.get(p)]]));
      }
    } finally {
      await w.stop();
    }
  });

  it('keeps rows written to the pseudo-agent directly (beacon, pinger, OTLP without an instance): the seal adds to them', async () => {
    const f = await fleet('seal-direct', 2);
    const w = writer();
    try {
      const direct = slice(7, 0.5);
      const a = slice(2, 0.25);
      const b = slice(3, 1);
      const rows: WriteRow[] = [
        { kind: 'minute', t: H, row: { metricId: f.metricIds[0]!, agentId: f.appAgent, period: H, ...direct } },
        f.row(0, 0, H, a),
        f.row(1, 0, H, b),
      ];
      expect(await w.write({ accountId: f.account.id, shardId: f.account.shardId, rows })).toBe('committed');
      const expected = new Map<string, Timeslice>();
      for (const s of [direct, a, b]) add(expected, `${f.metricIds[0]}:${H}`, s);
      expect(await readApp(f)).toEqual(expected);
      await seal(f, H + 60);
      expect(await rowsOf(f.store, f.table, f.appAgent)).toEqual(expected);
      expect(await readApp(f)).toEqual(expected);
    } finally {
      await w.stop();
    }
  });

  it('many writes racing repeated seals of two sealers: nothing lost, nothing counted twice', async () => {
    const f = await fleet('seal-race', 8);
    const w = writer();
    const expected = new Map<string, Timeslice>();
    const writes: Promise<unknown>[] = [];
    let stop = false;
    // Two sealers (two rollup processes) move through the hour while the writes land, minute by minute.
    const sealer = async () => {
      const conn = await f.store.pool.getConnection();
      let sealedTo = H;
      try {
        while (!stop) {
          sealedTo = Math.min(H + 3600, sealedTo + 60);
          await sealMinuteTable(conn, f.minuteTable, sealedTo);
          await new Promise((r) => setImmediate(r));
        }
      } finally {
        conn.release();
      }
    };
    const sealers = Promise.all([sealer(), sealer()]);
    for (let i = 0; i < 400; i++) {
      const g = i % 8;
      const k = (i * 7) % 20; // minutes 0..19: some sealed before their write, some after
      const s = slice(1 + (i % 5), 0.25 * (1 + (i % 3)));
      add(expected, `${f.metricIds[i % 2]}:${H + k * 60}`, s);
      writes.push(w.write({ accountId: f.account.id, shardId: f.account.shardId, rows: [f.row(g, i % 2, H + k * 60, s)], dedupeKey: `r${i}` }));
      if (i % 25 === 0) await new Promise((r) => setTimeout(r, 2));
    }
    expect(new Set(await Promise.all(writes))).toEqual(new Set(['committed']));
    stop = true;
    await sealers;
    const through = (await sealedThrough(f.store, f.table))!;
    expect(through).toBeGreaterThan(H);
    // Mixed sealed and unsealed minutes read exactly; then sealed whole, the application rows are the sums.
    expect(await readApp(f)).toEqual(expected);
    await seal(f, H + 3600);
    expect(await rowsOf(f.store, f.table, f.appAgent)).toEqual(expected);
    await w.stop();
  });

  it('the rollup seals every run (APM_SEAL_GRACE_SECONDS), seals the whole hour before rolling it, and the hour rows are exact', async () => {
    const f = await fleet('seal-rollup', 3);
    const w = writer();
    const expected = new Map<string, Timeslice>();
    const hourly = new Map<string, Timeslice>();
    try {
      const rows: WriteRow[] = [];
      for (let k = 0; k < 60; k += 7)
        for (let g = 0; g < 3; g++) {
          const s = slice(1 + g, 0.5 * (1 + (k % 3)));
          rows.push(f.row(g, 0, H + k * 60, s));
          add(expected, `${f.metricIds[0]}:${H + k * 60}`, s);
          add(hourly, `${f.metricIds[0]}:${H}`, s);
        }
      expect(await w.write({ accountId: f.account.id, shardId: f.account.shardId, rows, dedupeKey: 'h' })).toBe('committed');
      const runner = new RollupRunner({ directory: c.directory, shards: c.registry, metrics: new RollupMetrics(new Registry()), log: silentLog, graceSeconds: 300, sealGraceSeconds: 120, maxPeriodsPerRun: 1000, lockWaitSeconds: 0 });
      // 10:30:59 with a 120 s grace: minutes before 10:28 are sealed, the hour is not rolled.
      const r1 = (await runner.run({ now: H + 30 * 60 + 59, purge: false, accountId: f.account.id })).find((r) => r.shardId === f.account.shardId);
      expect(sealBoundary(H + 30 * 60 + 59, 120)).toBe(H + 28 * 60);
      expect(r1!.minuteSeals).toEqual({ tables: 1, rows: 4 }); // minutes 0, 7, 14, 21
      expect(r1!.hours).toBe(0);
      expect(await sealedThrough(f.store, f.table)).toBe(H + 28 * 60);
      expect(await readApp(f)).toEqual(expected);
      // After the hour and the rollup's grace: sealed whole, rolled, and the hour table's application row is the sum.
      const r2 = (await runner.run({ now: H + 3600 + 301, purge: false, accountId: f.account.id })).find((r) => r.shardId === f.account.shardId);
      expect(r2!.hours).toBe(1);
      expect(await sealedThrough(f.store, f.table)).toBe(H + 3600);
      expect(await rowsOf(f.store, f.table, f.appAgent)).toEqual(expected);
      expect(await rowsOf(f.store, tableName('hour', f.account.id, H), f.appAgent)).toEqual(hourly);
    } finally {
      await w.stop();
    }
  });

  it('sealMinutes seals only tables with closed minutes left, and only up to the boundary', async () => {
    const f = await fleet('seal-pass', 1);
    const w = writer();
    try {
      expect(await w.write({ accountId: f.account.id, shardId: f.account.shardId, rows: [f.row(0, 0, H + 300, slice(1, 1))] })).toBe('committed');
      const conn = await f.store.pool.getConnection();
      try {
        const first = await sealMinutes(conn, H + 240, f.account.id, () => undefined);
        expect(first).toEqual({ tables: 1, rows: 0 }); // minutes 0..3 had no agent rows
        expect(await sealedThrough(f.store, f.table)).toBe(H + 240);
        expect(await sealMinutes(conn, H + 240, f.account.id, () => undefined)).toEqual({ tables: 0, rows: 0 });
        expect(await sealMinutes(conn, H + 360, f.account.id, () => undefined)).toEqual({ tables: 1, rows: 1 });
      } finally {
        conn.release();
      }
    } finally {
      await w.stop();
    }
  });

  it('a move carries sealed_through: reads on the target stay exact, and its seal continues where the source stopped', async () => {
    const f = await fleet('seal-move', 3);
    const w = writer();
    const expected = new Map<string, Timeslice>();
    try {
      const rows: WriteRow[] = [];
      for (let k = 0; k < 10; k++)
        for (let g = 0; g < 3; g++) {
          const s = slice(1 + k, 0.25 * (1 + g));
          rows.push(f.row(g, k % 2, H + k * 60, s));
          add(expected, `${f.metricIds[k % 2]}:${H + k * 60}`, s);
        }
      expect(await w.write({ accountId: f.account.id, shardId: f.account.shardId, rows, dedupeKey: 'm' })).toBe('committed');
      await seal(f, H + 300);
      const before = await rowsOf(f.store, f.table, f.appAgent);
      expect(before.size).toBe(5);
      const target = (await c.directory.listShards()).map((s) => s.id).find((id) => id !== f.account.shardId)!;
      await new AccountMover({ directory: c.directory, shards: c.registry, cleanupDelayMs: 100, chunkRows: 50 }).move(f.account.id, target);
      const moved = await c.registry.storeForAccount(f.account.id);
      expect(moved.account.shardId).toBe(target);
      f.store = moved.store;
      expect(await sealedThrough(f.store, f.table)).toBe(H + 300);
      expect(await rowsOf(f.store, f.table, f.appAgent)).toEqual(before);
      expect(await readApp(f)).toEqual(expected);
      // Sealing on the target adds minutes 5..9 once; minutes 0..4 are not summed again.
      expect(await seal(f, H + 3600)).toEqual({ sealed: true, rows: 5 });
      expect(await rowsOf(f.store, f.table, f.appAgent)).toEqual(expected);
      expect(await readApp(f)).toEqual(expected);
    } finally {
      await w.stop();
    }
  });
});
