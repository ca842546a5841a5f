import { sql, type Compilable, type Kysely } from 'kysely';
import type { Pool as PromisePool } from 'mysql2/promise';
import { typedDb } from '../../lib/db/connect.js';
import type { ShardDatabase } from '../../lib/shard/shard-database.js';
import type { WriteGuard } from '../../lib/shard/shard-writer.js';
import type { HarvestRecord } from './harvest-plan.js';
import { decodeRecord, encodeRecord } from './harvest-record-codec.js';

export { decodeRecord, encodeRecord } from './harvest-record-codec.js';

/** A record as stored, with the version its next update must match. */
export interface StoredRecord {
  record: HarvestRecord;
  version: number;
}

/**
 * The harvest_records table of one shard (schema/shard/0004-collector-harvests.sql): the latest
 * harvest of each agent run. Updates are optimistic: every update names the version it read, so a
 * concurrent change of the same run's record (two collectors, one run) is detected, never lost.
 */
export class HarvestRecords {
  readonly #db: Kysely<ShardDatabase>;
  constructor(pool: PromisePool) {
    this.#db = typedDb<ShardDatabase>(pool);
  }

  async load(accountId: number, nonce: string): Promise<StoredRecord | undefined> {
    const row = await this.#db.selectFrom('harvest_records').select(['version', 'state']).where('account_id', '=', accountId).where('run_nonce', '=', nonce).executeTakeFirst();
    if (!row) return undefined;
    return { record: await decodeRecord(row.state), version: Number(row.version) };
  }

  /** The statement that stores `blob` if the stored version is still `expected` (saveStatement). */
  #saveQuery(accountId: number, nonce: string, start: number, blob: Buffer, expected: number | undefined): Compilable<unknown> {
    if (expected === undefined) {
      return this.#db.insertInto('harvest_records').ignore().values({ account_id: accountId, run_nonce: nonce, version: 1, harvest_start: start, state: blob });
    }
    return this.#db
      .updateTable('harvest_records')
      .set((eb) => ({ version: eb('version', '+', 1), harvest_start: start, state: blob }))
      .where('account_id', '=', accountId)
      .where('run_nonce', '=', nonce)
      .where('version', '=', expected);
  }

  /**
   * The statement that stores `record` if the stored version is still `expected` (undefined = no record
   * yet): it changes exactly one row when it saved, none when the stored record changed meanwhile. The
   * shard writer runs it as the guard of the piece's rows (same transaction: saved together or not at
   * all); after it committed, the stored version is `(expected ?? 0) + 1`.
   */
  saveStatement(accountId: number, nonce: string, record: HarvestRecord, expected: number | undefined): WriteGuard {
    const c = this.#saveQuery(accountId, nonce, record.start, encodeRecord(record), expected).compile();
    return { sql: c.sql, params: [...c.parameters] };
  }

  /** saveStatement on its own (a piece with no rows): the new version, or undefined when the record changed meanwhile. */
  async save(accountId: number, nonce: string, record: HarvestRecord, expected: number | undefined): Promise<number | undefined> {
    const q = this.#saveQuery(accountId, nonce, record.start, encodeRecord(record), expected);
    const r = await this.#db.executeQuery(q.compile());
    return Number(r.numAffectedRows ?? 0) === 1 ? (expected ?? 0) + 1 : undefined;
  }

  /** Forgets a run (after its shutdown). */
  async remove(accountId: number, nonce: string): Promise<void> {
    await this.#db.deleteFrom('harvest_records').where('account_id', '=', accountId).where('run_nonce', '=', nonce).execute();
  }

  /** Drops records of runs silent for `maxAgeSeconds` (agents that died without shutdown); bounded per call. */
  async purge(maxAgeSeconds: number, limit = 10_000): Promise<number> {
    const r = await this.#db
      .deleteFrom('harvest_records')
      .where('updated_at', '<', sql<string>`NOW() - INTERVAL ${maxAgeSeconds} SECOND`)
      .limit(limit)
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
