import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';
import { tableName } from '../../lib/shard/table-naming.js';

let c: TestCluster;
beforeAll(async () => {
  c = await startTestCluster({ shards: 3 });
});
afterAll(async () => c?.stop());

describe('directory round-robin', () => {
  it('assigns accounts in shard order, skipping a closed shard', async () => {
    const shards = await c.directory.listShards();
    expect(shards.map((s) => s.state)).toEqual(['open', 'open', 'open']);
    await c.directory.setShardState(shards[1]!.id, 'closed');
    const got: number[] = [];
    for (let i = 0; i < 5; i++) got.push((await c.directory.createAccount({ name: `rr-${i}` })).account.shardId);
    expect(got).toEqual([shards[0]!.id, shards[2]!.id, shards[0]!.id, shards[2]!.id, shards[0]!.id]);
    await c.directory.setShardState(shards[1]!.id, 'open');
    const next = await c.directory.createAccount({ name: 'rr-after-open' });
    expect(next.account.shardId).toBe(shards[1]!.id);
  });
});

describe('shard writer', () => {
  it('merges rows of concurrent requests exactly and dedupes a resent key', async () => {
    const { account } = await c.directory.createAccount({ name: 'writer' });
    const { store } = await c.registry.storeForAccount(account.id);
    const app = await c.directory.ensureApplication(account.id, 'app');
    const [m] = await store.metricIds(account.id, [{ name: 'WebTransaction', scope: '' }]);
    const agent = await store.applicationAgentId(account.id, app.id);
    const t = Date.UTC(2026, 10, 23, 10, 5) / 1000;
    const row = (v: number) => ({ kind: 'minute' as const, t, row: { metricId: m!, agentId: agent, period: t, callCount: 1, totalTime: v, exclusiveTime: v, minTime: v, maxTime: v, sumOfSquares: v * v } });
    const outcomes = await Promise.all([
      c.writer.write({ accountId: account.id, shardId: account.shardId, rows: [row(0.5)], dedupeKey: 'a' }),
      c.writer.write({ accountId: account.id, shardId: account.shardId, rows: [row(0.25)], dedupeKey: 'b' }),
      c.writer.write({ accountId: account.id, shardId: account.shardId, rows: [row(0.5)], dedupeKey: 'a' }),
    ]);
    expect(outcomes.sort()).toEqual(['committed', 'committed', 'duplicate']);
    expect(await c.writer.write({ accountId: account.id, shardId: account.shardId, rows: [row(0.5)], dedupeKey: 'a' })).toBe('duplicate');
    const [rows] = await store.pool.query<any[]>(`SELECT * FROM ${tableName('minute', account.id, t)}`);
    expect(rows).toHaveLength(1);
    expect(Number(rows[0].call_count)).toBe(2);
    expect(rows[0].total_time).toBe(0.75);
    expect(rows[0].min_time).toBe(0.25);
    expect(rows[0].max_time).toBe(0.5);
    expect(rows[0].sum_of_squares).toBe(0.3125);
  });
});
