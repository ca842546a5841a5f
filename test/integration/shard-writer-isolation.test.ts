import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpStatusOf, RetryableError } from '../../lib/errors.js';
import { ShardWriter, type WriteRequest } from '../../lib/shard/shard-writer.js';
import { UnwritableDataError } from '../../lib/shard/shard-writer-errors.js';
import { tableName } from '../../lib/shard/table-naming.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';

let c: TestCluster;
beforeAll(async () => {
  c = await startTestCluster({ shards: 1 });
});
afterAll(async () => c?.stop());

const t = Date.UTC(2026, 10, 23, 10, 5) / 1000;

async function accountWithMetric(name: string) {
  const { account } = await c.directory.createAccount({ name });
  const { store } = await c.registry.storeForAccount(account.id);
  const app = await c.directory.ensureApplication(account.id, 'app');
  const [metricId] = await store.metricIds(account.id, [{ name: 'WebTransaction', scope: '' }]);
  const agentId = await store.applicationAgentId(account.id, app.id);
  const req = (v: number, key: string): WriteRequest => ({
    accountId: account.id,
    shardId: account.shardId,
    dedupeKey: key,
    rows: [{ kind: 'minute', t, row: { metricId: metricId!, agentId, period: t, callCount: 1, totalTime: v, exclusiveTime: v, minTime: v, maxTime: v, sumOfSquares: v } }],
  });
  return { account, store, req };
}

/** One transaction per batch of everything queued in a tick (large batches, one connection). */
function batchingWriter() {
  return new ShardWriter(c.registry, { batchRows: 100_000, flushMs: 30, maxPendingRows: 1_000_000, connections: 1, timeoutMs: 20_000, now: () => Date.now() / 1000 });
}

describe('a request whose values cannot be stored (issue #18, part 1)', () => {
  it('fails alone with a permanent 400; every other request of its batch commits, exactly', async () => {
    const poison = await accountWithMetric('poison');
    const clean = await accountWithMetric('clean');
    expect(poison.account.shardId).toBe(clean.account.shardId);
    const w = batchingWriter();
    try {
      // A stored total of 1e308: any further 1e308 merged into that row overflows DOUBLE (MariaDB 1690).
      expect(await w.write(poison.req(1e308, 'p0'))).toBe('committed');
      const writes = [
        ...Array.from({ length: 40 }, (_, i) => w.write(clean.req(0.5, `c${i}`))),
        ...Array.from({ length: 5 }, (_, i) => w.write(poison.req(1e308, `p${i + 1}`))),
        ...Array.from({ length: 40 }, (_, i) => w.write(clean.req(0.25, `d${i}`))),
      ];
      const settled = await Promise.allSettled(writes);
      const cleanOutcomes = [...settled.slice(0, 40), ...settled.slice(45)];
      expect(cleanOutcomes.map((s) => (s.status === 'fulfilled' ? s.value : `rejected: ${(s.reason as Error).message}`))).toEqual(Array(80).fill('committed'));
      for (const s of settled.slice(40, 45)) {
        expect(s.status).toBe('rejected');
        const err = (s as PromiseRejectedResult).reason as Error;
        expect(err).toBeInstanceOf(UnwritableDataError);
        expect(err).not.toBeInstanceOf(RetryableError);
        expect(httpStatusOf(err)).toBe(400);
        expect(err.message).toMatch(new RegExp(`^cannot write metric data of account ${poison.account.id}: a value is out of range`));
      }
      const [rows] = await clean.store.pool.query<any[]>(`SELECT * FROM ${tableName('minute', clean.account.id, t)}`);
      expect(rows).toHaveLength(1);
      expect(Number(rows[0].call_count)).toBe(80);
      expect(rows[0].total_time).toBe(30);
      expect(rows[0].min_time).toBe(0.25);
      expect(rows[0].max_time).toBe(0.5);
      const [prow] = await poison.store.pool.query<any[]>(`SELECT call_count, total_time FROM ${tableName('minute', poison.account.id, t)}`);
      expect(prow.map((r) => [Number(r.call_count), r.total_time])).toEqual([[1, 1e308]]);
      // Refused for good: a resend of a refused request is refused again, never half written.
      await expect(w.write(poison.req(1e308, 'p1'))).rejects.toBeInstanceOf(UnwritableDataError);
      expect(await w.write(clean.req(0.5, 'c0'))).toBe('duplicate');
    } finally {
      await w.stop();
    }
  });

  it('two requests that overflow only when merged in memory: the first commits, the second is refused', async () => {
    const a = await accountWithMetric('merge-overflow');
    const w = batchingWriter();
    try {
      const settled = await Promise.allSettled([w.write(a.req(1.5e308, 'x')), w.write(a.req(1.5e308, 'y')), w.write(a.req(1, 'z'))]);
      expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((settled[1] as PromiseRejectedResult).reason).toBeInstanceOf(UnwritableDataError);
      const [rows] = await a.store.pool.query<any[]>(`SELECT call_count, total_time, min_time FROM ${tableName('minute', a.account.id, t)}`);
      expect(rows.map((r) => [Number(r.call_count), r.total_time, r.min_time])).toEqual([[2, 1.5e308 + 1, 1]]);
    } finally {
      await w.stop();
    }
  });
});
