import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';
import { upsertSql } from '../../lib/shard/shard-writer-sql.js';
import { mergeTimeslices, type Timeslice, type TimesliceRow } from '../../lib/timeslice/timeslice.js';
import { timesliceFromRow } from '../../lib/timeslice/timeslice-columns.js';
import { rollupStatement } from '../../rollup/rollup-sql.js';
import { compileSeriesQuery } from '../../dashboard/series-sql.js';
import type { ShardStore } from '../../lib/shard/shard-store.js';

// Every SQL form generated from lib/timeslice/timeslice-columns.ts (the writer's upsert, the rollup's
// INSERT … SELECT, the dashboard's aggregating read) against the TypeScript merge, on real MariaDB.
// Values are multiples of 1/1024, so sums are exact whatever order the server adds them in.

let c: TestCluster;
let store: ShardStore;
let accountId: number;
const hour = Date.UTC(2026, 10, 23, 10) / 1000;

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

function randomRows(n: number, rnd: () => number): TimesliceRow[] {
  return Array.from({ length: n }, () => {
    const a = Math.floor(rnd() * 4096) / 1024;
    const b = Math.floor(rnd() * 4096) / 1024;
    return {
      metricId: 1 + Math.floor(rnd() * 3),
      agentId: 1 + Math.floor(rnd() * 2),
      period: hour + 60 * Math.floor(rnd() * 5),
      callCount: 1 + Math.floor(rnd() * 9),
      totalTime: a + b,
      exclusiveTime: a,
      minTime: Math.min(a, b),
      maxTime: Math.max(a, b),
      sumOfSquares: a * a + b * b,
    };
  });
}

function fold(rows: readonly TimesliceRow[], key: (r: TimesliceRow) => string): Map<string, Timeslice> {
  const out = new Map<string, Timeslice>();
  for (const r of rows) {
    const k = key(r);
    const t: Timeslice = { callCount: r.callCount, totalTime: r.totalTime, exclusiveTime: r.exclusiveTime, minTime: r.minTime, maxTime: r.maxTime, sumOfSquares: r.sumOfSquares };
    const prev = out.get(k);
    out.set(k, prev ? mergeTimeslices(prev, t) : t);
  }
  return out;
}

beforeAll(async () => {
  c = await startTestCluster();
  const { account } = await c.directory.createAccount({ name: 'columns' });
  accountId = account.id;
  store = (await c.registry.storeForAccount(account.id)).store;
});
afterAll(async () => c?.stop());

describe('timeslice column table', () => {
  it('upsert, rollup and dashboard read all equal the TypeScript merge', async () => {
    const rows = randomRows(400, lcg(7));
    const minute = await store.ensureTable(accountId, 'minute', hour);
    for (let i = 0; i < rows.length; i += 50) await store.pool.query(upsertSql(minute.name, rows.slice(i, i + 50)));

    const perRow = fold(rows, (r) => `${r.metricId}:${r.agentId}:${r.period}`);
    const [stored] = await store.pool.query<any[]>(`SELECT * FROM ${minute.name}`);
    expect(stored).toHaveLength(perRow.size);
    for (const s of stored) expect(timesliceFromRow(s)).toEqual(perRow.get(`${s.metric_id}:${s.agent_id}:${s.period}`));

    const hourTable = await store.ensureTable(accountId, 'hour', hour);
    const st = rollupStatement(minute.name, hourTable.name, hourTable.columns, hour, hour, hour + 3600);
    await store.pool.query(st.sql, st.params);
    const perAgent = fold(rows, (r) => `${r.metricId}:${r.agentId}`);
    const [rolled] = await store.pool.query<any[]>(`SELECT * FROM ${hourTable.name}`);
    expect(rolled).toHaveLength(perAgent.size);
    for (const s of rolled) expect(timesliceFromRow(s)).toEqual(perAgent.get(`${s.metric_id}:${s.agent_id}`));

    const q = compileSeriesQuery({
      segments: [{ table: minute.name, kind: 'minute', version: minute.version, columns: minute.columns, from: hour, to: hour + 3600 }],
      agentId: 2,
      metricIds: [1, 2, 3],
      bucket: 'total',
    })!;
    const [read] = await store.pool.query<any[]>(q.sql, q.parameters);
    const perMetric = fold(rows.filter((r) => r.agentId === 2), (r) => String(r.metricId));
    expect(read).toHaveLength(perMetric.size);
    for (const s of read) expect(timesliceFromRow(s)).toEqual(perMetric.get(String(s.metric_id)));
  });
});
