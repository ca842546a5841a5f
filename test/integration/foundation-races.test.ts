import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';

const run = promisify(execFile);
const worker = path.resolve(import.meta.dirname, '../fixtures/race-worker.mjs');

async function inTwoProcesses(task: string, args: (i: number) => object): Promise<unknown[]> {
  const startAt = Date.now() + 1500;
  const outs = await Promise.all([0, 1].map((i) => run(process.execPath, [worker, task, JSON.stringify({ ...args(i), startAt })])));
  return outs.map((o) => JSON.parse(o.stdout.trim()));
}

let c: TestCluster;
beforeAll(async () => {
  c = await startTestCluster({ shards: 3 });
});
afterAll(async () => c?.stop());

describe('races between processes', () => {
  it('two processes racing ensureTable create exactly one table, recorded once', async () => {
    const { account } = await c.directory.createAccount({ name: 'race' });
    const { store } = await c.registry.storeForAccount(account.id);
    const t = Date.UTC(2026, 10, 23, 9, 30) / 1000;
    const results = (await inTwoProcesses('ensure-table', () => ({ address: store.db.address, database: 'apm_shard', accountId: account.id, t }))) as Array<{ names: string[]; versions: number[] }>;
    const name = `ts_${account.id}_2026112309`;
    expect(results).toEqual([{ names: [name], versions: [4] }, { names: [name], versions: [4] }]);
    const [tables] = await store.pool.query<any[]>('SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', [name]);
    expect(tables).toHaveLength(1);
    const [reg] = await store.pool.query<any[]>('SELECT name, template_version FROM table_registry WHERE account_id = ?', [account.id]);
    expect(reg).toEqual([{ name, template_version: 4 }]);
  });

  it('concurrent account creation from two processes takes one cursor step each and skips a closed shard', async () => {
    const shards = await c.directory.listShards();
    await c.directory.setShardState(shards[2]!.id, 'closed');
    const before = await c.directory.accountCounts();
    const directoryAddress = c.servers[0]!.address;
    const results = (await inTwoProcesses('create-accounts', (i) => ({ address: directoryAddress, database: 'apm_directory', count: 10, prefix: `p${i}` }))) as Array<Array<{ id: number; shard: number }>>;
    const all = results.flat().sort((a, b) => a.id - b.id);
    expect(all).toHaveLength(20);
    // Ordered by id (the order the cursor was stepped), shards strictly alternate between the two open ones.
    for (let i = 1; i < all.length; i++) expect(all[i]!.shard).not.toBe(all[i - 1]!.shard);
    expect(all.every((a) => a.shard !== shards[2]!.id)).toBe(true);
    const after = await c.directory.accountCounts();
    expect((after.get(shards[0]!.id) ?? 0) - (before.get(shards[0]!.id) ?? 0)).toBe(10);
    expect((after.get(shards[1]!.id) ?? 0) - (before.get(shards[1]!.id) ?? 0)).toBe(10);
    expect(after.get(shards[2]!.id) ?? 0).toBe(before.get(shards[2]!.id) ?? 0);
  });
});
