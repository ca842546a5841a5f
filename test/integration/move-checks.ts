import type { RowDataPacket } from 'mysql2/promise';
import { expect } from 'vitest';
import { checksum } from '../../lib/ops/table-sync.js';
import type { Storage } from '../../lib/storage.js';
import type { Timeslice } from '../../lib/timeslice/timeslice.js';

/** Checks of move-online.test.ts: what the generators acknowledged against what the shards hold. */
export function merged(...sets: Array<Map<string, Timeslice>>): Map<string, Timeslice> {
  const out = new Map<string, Timeslice>();
  for (const s of sets) for (const [k, v] of s) {
    if (out.has(k)) throw new Error(`key ${k} acknowledged by two generators`);
    out.set(k, v);
  }
  return out;
}

export function expectExact(stored: Map<string, Timeslice>, acked: Map<string, Timeslice>): void {
  expect(stored.size).toBe(acked.size);
  for (const [k, v] of acked) expect(stored.get(k), k).toEqual(v);
}

export async function accountChecksums(storage: Storage, accountId: number): Promise<Record<string, string>> {
  const { store } = await storage.shards.storeForAccount(accountId);
  const out: Record<string, string> = {};
  for (const t of await store.listTables({ accountId })) {
    const cs = await checksum(store.pool, t.name, t.columns);
    out[t.name] = `${cs.rows}:${cs.hash}:${t.rollupState}`;
  }
  for (const table of ['metric_names', 'agents', 'application_metrics']) {
    const cs = await checksum(store.pool, table, table === 'agents' ? ['account_id', 'id', 'host', 'pid'] : ['account_id', table === 'metric_names' ? 'name' : 'metric_id'], { sql: 'account_id = ?', params: [accountId] });
    out[table] = `${cs.rows}:${cs.hash}`;
  }
  return out;
}

export async function otherRows(pool: import('mysql2/promise').Pool, accountId: number): Promise<unknown[]> {
  const [days] = await pool.query<RowDataPacket[]>('SELECT day, state, rolls FROM rollup_days WHERE account_id = ?', [accountId]);
  const [runs] = await pool.query<RowDataPacket[]>('SELECT run_nonce, version, harvest_start, HEX(state) AS s FROM harvest_records WHERE account_id = ?', [accountId]);
  return [...days, ...runs];
}
