import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';
import { SeriesReader } from '../../dashboard/series-reader.js';
import { tableName } from '../../lib/shard/table-naming.js';

let c: TestCluster;
beforeAll(async () => {
  c = await startTestCluster();
});
afterAll(async () => c?.stop());

describe('dashboard reads while another process creates an hour table', () => {
  it('a registered table that does not exist yet is read as empty, not answered 500', async () => {
    const { account } = await c.directory.createAccount({ name: 'racing' });
    const app = await c.directory.ensureApplication(account.id, 'app');
    const { store } = await c.registry.storeForAccount(account.id);
    const [m] = await store.metricIds(account.id, [{ name: 'WebTransaction', scope: '' }]);
    const agent = await store.applicationAgentId(account.id, app.id);
    const h10 = Date.UTC(2026, 10, 23, 10) / 1000;
    const row = (t: number, n: number) => ({ kind: 'minute' as const, t, row: { metricId: m!, agentId: agent, period: t, callCount: n, totalTime: n / 4, exclusiveTime: n / 4, minTime: 0.25, maxTime: 0.25, sumOfSquares: n / 16 } });
    expect(await c.writer.write({ accountId: account.id, shardId: account.shardId, rows: [row(h10 + 60, 4)] })).toBe('committed');
    // What a writer in another process leaves for a moment: the next hour's registry row, no table yet.
    const next = tableName('minute', account.id, h10 + 3600);
    await store.pool.query('INSERT INTO table_registry (name, account_id, kind, period_start, template_version) VALUES (?, ?, ?, ?, ?)', [next, account.id, 'minute', h10 + 3600, store.newestTemplateVersion('minute')]);
    const reader = new SeriesReader({ maxPoints: 500, maxStitchTables: 12 });
    const r = await reader.read(store, account, app.id, [{ name: 'WebTransaction', scope: '' }], { from: h10, to: h10 + 2 * 3600 }, h10 + 2 * 3600, 'total');
    expect(r.data.get('WebTransaction\u0000')?.get(0)).toMatchObject({ callCount: 4, totalTime: 1 });
  });
});
