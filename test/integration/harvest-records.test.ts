import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HarvestRecord } from '../../collector/newrelic/harvest-plan.js';
import { encodeRecord, HarvestRecords, UPDATED_AT_REFRESH_SECONDS, type SaveExpects } from '../../collector/newrelic/harvest-records.js';
import { WriteLedger } from '../../lib/shard/shard-writer-ledger.js';
import { runTransaction } from '../../lib/shard/shard-writer-transaction.js';
import type { ShardStore } from '../../lib/shard/shard-store.js';
import { WriterFences } from '../../lib/shard/writer-fences.js';
import { agentFleet, callStats, pendingWrite } from '../harness/agent-fleet.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';

let c: TestCluster;
let store: ShardStore;
let accountId: number;
let records: HarvestRecords;

beforeAll(async () => {
  c = await startTestCluster();
  const made = await c.directory.createAccount({ name: 'records' });
  accountId = made.account.id;
  ({ store } = await c.registry.storeForAccount(accountId));
  records = new HarvestRecords(store.pool);
});
afterAll(async () => c?.stop());

const record = (start: number): HarvestRecord => ({ start, end: start + 60, seen: ['d'.repeat(64)], cumulative: [], pending: { key: 'k'.repeat(40), period: start, metrics: [] } });

/** The run's `updated_at` (Unix seconds), the seconds from it to the server's clock, and its version. */
async function ageOf(nonce: string): Promise<{ at: number; age: number; version: number }> {
  const [rows] = await store.pool.query<any[]>('SELECT UNIX_TIMESTAMP(updated_at) AS at, TIMESTAMPDIFF(SECOND, updated_at, NOW()) AS age, version FROM harvest_records WHERE account_id = ? AND run_nonce = ?', [accountId, nonce]);
  return { at: Number(rows[0].at), age: Number(rows[0].age), version: Number(rows[0].version) };
}

/** Sets the run's `updated_at` `seconds` before the server's clock; returns it (Unix seconds), to compare exactly, not as an age that a clock tick moves. */
async function backdate(nonce: string, seconds: number): Promise<number> {
  await store.pool.query('UPDATE harvest_records SET updated_at = NOW() - INTERVAL ? SECOND WHERE account_id = ? AND run_nonce = ?', [seconds, accountId, nonce]);
  return (await ageOf(nonce)).at;
}

describe('harvest records: updated_at moves once an hour, the purge allows for it', () => {
  it('an update keeps an updated_at younger than the refresh interval and renews an older one, on both save paths', async () => {
    const nonce = 'aaaaaaaaaaaaaaa1';
    expect(await records.save(accountId, nonce, record(1000), undefined)).toBe(true);
    const backdated = await backdate(nonce, 1800);
    // The guard's statement, as the shard writer runs it with a piece's rows.
    const guard = records.saveStatement(accountId, nonce, record(1060), 1);
    const [res] = await store.pool.query<any>(guard.sql, [...guard.params] as any[]);
    expect(res.affectedRows).toBe(1);
    expect(await ageOf(nonce)).toMatchObject({ version: 2, at: backdated });
    await backdate(nonce, UPDATED_AT_REFRESH_SECONDS + 5);
    expect(await records.save(accountId, nonce, record(1120), 2)).toBe(true);
    const renewed = await ageOf(nonce);
    expect(renewed.version).toBe(3);
    expect(renewed.age).toBeLessThanOrEqual(2);
    // A stale version still changes nothing.
    expect(await records.save(accountId, nonce, record(1180), 2)).toBe(false);
    expect((await ageOf(nonce)).version).toBe(3);
  });

  it('purges a run silent for the bound plus the refresh interval, not one within it', async () => {
    const maxAge = 2 * 86400;
    expect(await records.save(accountId, 'bbbbbbbbbbbbbbb1', record(1000), undefined)).toBe(true);
    expect(await records.save(accountId, 'bbbbbbbbbbbbbbb2', record(1000), undefined)).toBe(true);
    await backdate('bbbbbbbbbbbbbbb1', maxAge + UPDATED_AT_REFRESH_SECONDS + 60);
    await backdate('bbbbbbbbbbbbbbb2', maxAge + UPDATED_AT_REFRESH_SECONDS - 60);
    expect(await records.purge(maxAge)).toBe(1);
    const [rows] = await store.pool.query<any[]>("SELECT run_nonce FROM harvest_records WHERE account_id = ? AND run_nonce LIKE 'bbbb%' ORDER BY run_nonce", [accountId]);
    expect(rows.map((r) => r.run_nonce)).toEqual(['bbbbbbbbbbbbbbb2']);
  });
});

describe("a new harvest's save over any earlier record ('earlier': no version, no read)", () => {
  it('replaces a record that started earlier at whatever version, never one at or after its start; its committed read finds exactly its state', async () => {
    const nonce = 'eeeeeeeeeeeeeee1';
    expect(await records.save(accountId, nonce, record(1000), undefined)).toBe(true);
    // Another collector moved the record on twice: this one saves without knowing the version.
    expect(await records.save(accountId, nonce, record(1060), 1)).toBe(true);
    expect(await records.save(accountId, nonce, record(1120), 2)).toBe(true);
    const backdated = await backdate(nonce, 1800);
    const guard = records.saveStatement(accountId, nonce, record(1180), 'earlier');
    const isCommitted = async () => (await store.pool.query<any[]>(guard.committed!.sql, [...guard.committed!.params] as any[]))[0].length;
    expect(await isCommitted()).toBe(0);
    const [res] = await store.pool.query<any>(guard.sql, [...guard.params] as any[]);
    expect(res.affectedRows).toBe(1);
    expect(await ageOf(nonce)).toMatchObject({ version: 4, at: backdated });
    expect(await isCommitted()).toBe(1);
    // The same harvest again, and an earlier one: the record started at or after them, nothing changes.
    expect(await records.save(accountId, nonce, record(1180), 'earlier')).toBe(false);
    expect(await records.save(accountId, nonce, record(1120), 'earlier')).toBe(false);
    expect(await ageOf(nonce)).toMatchObject({ version: 4, at: backdated });
    expect(await isCommitted()).toBe(1);
    // Past the refresh interval, the save renews updated_at.
    await backdate(nonce, UPDATED_AT_REFRESH_SECONDS + 5);
    expect(await records.save(accountId, nonce, record(1240), 'earlier')).toBe(true);
    const renewed = await ageOf(nonce);
    expect(renewed.version).toBe(5);
    expect(renewed.age).toBeLessThanOrEqual(2);
    expect(await isCommitted()).toBe(0);
    // No record at all: nothing to replace (the run's first harvest reads and inserts instead).
    expect(await records.save(accountId, 'eeeeeeeeeeeeeee2', record(1000), 'earlier')).toBe(false);
    const [none] = await store.pool.query<any[]>("SELECT 1 FROM harvest_records WHERE run_nonce = 'eeeeeeeeeeeeeee2'");
    expect(none).toHaveLength(0);
  });
});

describe('the record save as the bulk trip runs it (WriteGuard.bulk: a conditional upsert)', () => {
  const H = Date.UTC(2026, 10, 24, 10) / 1000;
  const deps = () => ({ fences: new WriterFences(), ledger: new WriteLedger(), batchRows: 2000, loadData: true, oneTrip: true, bulk: true, now: () => H + 30 * 60 });

  /** An account with one agent; its run's record (version, state, updated_at in Unix seconds) and a guarded write of one row per minute. */
  async function bulkRun(name: string, nonce: string) {
    const f = await agentFleet(c, name, 1, H);
    const own = new HarvestRecords(f.store.pool);
    const state = async () => {
      const [rows] = await f.store.pool.query<any[]>('SELECT version, state, UNIX_TIMESTAMP(updated_at) AS at FROM harvest_records WHERE account_id = ? AND run_nonce = ?', [f.account.id, nonce]);
      return rows.map((r) => ({ version: Number(r.version), state: Buffer.from(r.state), at: Number(r.at) }));
    };
    const write = (expected: SaveExpects, start: number, minute: number) =>
      runTransaction(f.store, [pendingWrite(f, undefined, [f.row(0, 0, H + minute * 60, callStats(1, 1))], H, own.saveStatement(f.account.id, nonce, record(start), expected))], deps());
    const agentRows = async () => {
      const [rows] = await f.store.pool.query<any[]>(`SELECT period, call_count FROM ${f.table} WHERE agent_id = ? ORDER BY period`, [f.agentIds[0]]);
      return rows.map((r) => [r.period, Number(r.call_count)]);
    };
    /** updated_at set `seconds` back; returns it (Unix seconds). */
    const backdate = async (seconds: number) => {
      await f.store.pool.query('UPDATE harvest_records SET updated_at = NOW() - INTERVAL ? SECOND WHERE run_nonce = ?', [seconds, nonce]);
      return (await state())[0]!.at;
    };
    return { f, own, state, write, agentRows, backdate };
  }

  it('saves as the update does; a stale version or a deleted record changes nothing and falls back to the update (conflict)', async () => {
    const nonce = 'ccccccccccccccc1';
    const { f, own, state, write, agentRows, backdate } = await bulkRun('records-bulk', nonce);
    expect(await own.save(f.account.id, nonce, record(1000), undefined)).toBe(true);
    const backdated = await backdate(600);
    const saved = await write(1, 1060, 1);
    expect([saved.path, saved.conflicts.size, saved.written]).toEqual(['bulk', 0, 1]);
    expect(await state()).toEqual([{ version: 2, state: encodeRecord(record(1060)), at: backdated }]);
    const stale = await write(1, 1120, 2);
    expect([stale.path, stale.conflicts.size, stale.written]).toEqual(['stepwise', 1, 0]);
    expect(await state()).toEqual([{ version: 2, state: encodeRecord(record(1060)), at: backdated }]);
    await f.store.pool.query('DELETE FROM harvest_records WHERE run_nonce = ?', [nonce]);
    // The upsert would insert the record again: its count differs, the trip is rolled back.
    const deleted = await write(2, 1180, 3);
    expect([deleted.path, deleted.conflicts.size, deleted.written]).toEqual(['stepwise', 1, 0]);
    expect(await state()).toEqual([]);
    expect(await agentRows()).toEqual([[H + 60, 1]]);
  });

  it("'earlier' saves in the bulk trip over a record another collector moved on; at or after its start, or deleted, it changes nothing (conflict)", async () => {
    const nonce = 'ddddddddddddddd1';
    const { f, own, state, write, agentRows, backdate } = await bulkRun('records-bulk-earlier', nonce);
    expect(await own.save(f.account.id, nonce, record(1000), undefined)).toBe(true);
    expect(await own.save(f.account.id, nonce, record(1060), 1)).toBe(true);
    const backdated = await backdate(600);
    const saved = await write('earlier', 1120, 1);
    expect([saved.path, saved.conflicts.size, saved.written]).toEqual(['bulk', 0, 1]);
    expect(await state()).toEqual([{ version: 3, state: encodeRecord(record(1120)), at: backdated }]);
    const again = await write('earlier', 1120, 2);
    expect([again.path, again.conflicts.size, again.written]).toEqual(['stepwise', 1, 0]);
    const older = await write('earlier', 1060, 3);
    expect([older.path, older.conflicts.size, older.written]).toEqual(['stepwise', 1, 0]);
    expect(await state()).toEqual([{ version: 3, state: encodeRecord(record(1120)), at: backdated }]);
    await f.store.pool.query('DELETE FROM harvest_records WHERE run_nonce = ?', [nonce]);
    const deleted = await write('earlier', 1180, 4);
    expect([deleted.path, deleted.conflicts.size, deleted.written]).toEqual(['stepwise', 1, 0]);
    expect(await state()).toEqual([]);
    expect(await agentRows()).toEqual([[H + 60, 1]]);
  });
});
