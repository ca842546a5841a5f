import { sql, type Compilable, type Kysely } from 'kysely';
import type { Pool as PromisePool, QueryValues, ResultSetHeader } from 'mysql2/promise';
import { typedDb } from '../../lib/db/connect.js';
import type { ShardDatabase } from '../../lib/shard/shard-database.js';
import type { MetricName } from '../../lib/shard/metric-dictionary.js';
import type { WriteGuard } from '../../lib/shard/shard-writer.js';
import type { HarvestRecord } from './harvest-plan.js';
import { decodeRecord, encodeRecord } from './harvest-record-codec.js';

export { decodeRecord, encodeRecord } from './harvest-record-codec.js';

/** A record as stored, with the version its next update must match. */
export interface StoredRecord {
  record: HarvestRecord;
  version: number;
}

/** Whether a save is committed: the run's record at the saved version holding the saved state. */
const COMMITTED_SQL = 'SELECT 1 AS committed FROM harvest_records WHERE account_id = ? AND run_nonce = ? AND version = ? AND state = ?';

/** Stand-ins compiled into the update's template, each recognised in its parameters by value (or identity: the blob). */
const SLOT = { account: -7001, nonce: '\u0000apm-slot-nonce', start: -7002, expected: -7003 } as const;
const SLOT_BLOB = Buffer.from('apm-slot-blob');

/**
 * How often a record's `updated_at` moves: an update sets it only when it is this old, so its index
 * (what the purge reads) changes once an hour per run, not with every harvest (an index entry deleted
 * and inserted, and purged later, in every harvest's transaction). Assigned explicitly, the column's
 * ON UPDATE CURRENT_TIMESTAMP does not apply.
 */
export const UPDATED_AT_REFRESH_SECONDS = 3600;
/** When a save moves `updated_at` (both forms of the save: the update and the bulk trip's upsert). */
const REFRESH_DUE = `updated_at < NOW() - INTERVAL ${UPDATED_AT_REFRESH_SECONDS} SECOND`;
const UPDATED_AT = sql<string>`IF(${sql.raw(REFRESH_DUE)}, NOW(), updated_at)`;

/**
 * The update as a conditional upsert, for the shard writer's bulk trip (WriteGuard.bulk): MariaDB runs a
 * bulk UPDATE as one statement a row (each planned and its table locked again), a bulk INSERT as one
 * statement (measured alone: 57-62 against 80-87 us of server CPU a 5.2 KB record, docs/benchmark.md).
 * It changes the row as the update does when the stored version is the expected one (2 affected rows);
 * otherwise it reports 1 (the row found unchanged, or inserted: a record deleted meanwhile), and the
 * trip, whose count then differs, is rolled back and goes statement by statement with the update.
 * `version` is assigned last: the conditions before it read the stored one.
 */
const BULK_SAVE_SQL = conditionalUpsert('version = ?', [
  ['harvest_start', 'VALUES(harvest_start)'],
  ['state', 'VALUES(state)'],
  ['updated_at', `IF(${REFRESH_DUE}, NOW(), updated_at)`],
  ['version', 'VALUES(version)'],
]);

/**
 * The record's insert (account, nonce, version, start, state) whose duplicate key assigns each column
 * its value only where `condition` holds of the stored row (which every assignment reads before the
 * last one changes it: the column the condition reads goes last), and leaves it as it is otherwise.
 */
function conditionalUpsert(condition: string, assignments: ReadonlyArray<[column: string, value: string]>): string {
  return (
    'INSERT INTO harvest_records (account_id, run_nonce, version, harvest_start, state) VALUES (?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE ' +
    assignments.map(([column, value]) => `${column} = IF(${condition}, ${value}, ${column})`).join(', ')
  );
}

/**
 * A new harvest's save (`'earlier'`): it replaces whatever record the run has if that record started
 * before the new one, which is all the plan of a new harvest asks (harvest-plan.ts: a later start is a
 * new harvest whatever the record holds). A collector that saved or read the run's record before saves
 * so without reading it and without knowing its version: another collector may have saved the run's
 * previous harvests (collector processes, or collectors behind a load balancer, receive an agent's
 * harvests in any order of processes). A record that started at or after the new one (the same harvest
 * again, or a later one saved meanwhile) is left as it is, and the save changes no row. `harvest_start`
 * is assigned last: the conditions before it read the stored one.
 */
const REPLACE_SQL =
  `UPDATE harvest_records SET version = version + 1, state = ?, updated_at = IF(${REFRESH_DUE}, NOW(), updated_at), harvest_start = ? ` +
  'WHERE account_id = ? AND run_nonce = ? AND harvest_start < ?';
/** REPLACE_SQL as the bulk trip's conditional upsert (BULK_SAVE_SQL's form): 2 affected rows when it saved. */
const BULK_REPLACE_SQL = conditionalUpsert('harvest_start < VALUES(harvest_start)', [
  ['state', 'VALUES(state)'],
  ['updated_at', `IF(${REFRESH_DUE}, NOW(), updated_at)`],
  ['version', 'version + 1'],
  ['harvest_start', 'VALUES(harvest_start)'],
]);
/** Whether a replacing save is committed: the run's record holding the saved start and state. */
const REPLACED_SQL = 'SELECT 1 AS committed FROM harvest_records WHERE account_id = ? AND run_nonce = ? AND harvest_start = ? AND state = ?';

/**
 * Which stored record a save replaces: the one at this version, none yet (undefined: the run's first
 * harvest), or any that started before the saved one (`'earlier'`: REPLACE_SQL).
 */
export type SaveExpects = number | undefined | 'earlier';

type Slot = 'account' | 'nonce' | 'start' | 'expected' | 'blob' | { value: number };

/**
 * The update's text and, per parameter, which value goes there; undefined (compile every time) when a
 * parameter is neither a stand-in nor a number the builder added itself (the `+ 1`).
 */
function updateTemplate(c: { sql: string; parameters: readonly unknown[] }): { sql: string; slots: Slot[] } | undefined {
  const slots: Slot[] = [];
  for (const p of c.parameters) {
    if (p === SLOT_BLOB) slots.push('blob');
    else if (p === SLOT.account) slots.push('account');
    else if (p === SLOT.nonce) slots.push('nonce');
    else if (p === SLOT.start) slots.push('start');
    else if (p === SLOT.expected) slots.push('expected');
    else if (typeof p === 'number') slots.push({ value: p });
    else return undefined;
  }
  return { sql: c.sql, slots };
}

/**
 * The harvest_records table of one shard (schema/shard/0004-collector-harvests.sql): the latest
 * harvest of each agent run. Updates are optimistic: every update names the version it read, or, a
 * new harvest's, the start the stored record must precede (SaveExpects), so a concurrent change of the
 * same run's record (two collectors, one run) is detected, never lost.
 */
export class HarvestRecords {
  readonly #db: Kysely<ShardDatabase>;
  #update: { sql: string; slots: Slot[] } | undefined;
  /** `namesOf`: the names of an account's metric ids (ShardStore.metricNames), to read records stored by id. */
  constructor(
    private readonly pool: PromisePool,
    private readonly namesOf: (accountId: number, ids: readonly number[]) => Promise<ReadonlyMap<number, MetricName>> = noNames,
  ) {
    this.#db = typedDb<ShardDatabase>(pool);
  }

  async load(accountId: number, nonce: string): Promise<StoredRecord | undefined> {
    const row = await this.#db.selectFrom('harvest_records').select(['version', 'state']).where('account_id', '=', accountId).where('run_nonce', '=', nonce).executeTakeFirst();
    if (!row) return undefined;
    return { record: await decodeRecord(row.state, (ids) => this.namesOf(accountId, ids)), version: Number(row.version) };
  }

  /** The statement that stores `blob` if the stored version is still `expected` (saveStatement). */
  #saveQuery(accountId: number, nonce: string, start: number, blob: Buffer, expected: number | undefined): Compilable<unknown> {
    if (expected === undefined) {
      return this.#db.insertInto('harvest_records').ignore().values({ account_id: accountId, run_nonce: nonce, version: 1, harvest_start: start, state: blob });
    }
    return this.#db
      .updateTable('harvest_records')
      .set((eb) => ({ version: eb('version', '+', 1), harvest_start: start, state: blob, updated_at: UPDATED_AT }))
      .where('account_id', '=', accountId)
      .where('run_nonce', '=', nonce)
      .where('version', '=', expected);
  }

  /**
   * The statement that stores `record` if the stored record is still the `expected` one (SaveExpects):
   * it changes exactly one row when it saved, none when the stored record changed meanwhile (or, for
   * `'earlier'`, started at or after `record`). The shard writer runs it as the guard of the piece's rows
   * (same transaction: saved together or not at all); after it committed, the stored version is
   * `(expected ?? 0) + 1` (for `'earlier'`: one more than it was). `ids`: the dictionary ids of the
   * record's metrics when they name them one to one (encodeRecord).
   */
  saveStatement(accountId: number, nonce: string, record: HarvestRecord, expected: SaveExpects, ids?: readonly number[]): WriteGuard {
    const blob = encodeRecord(record, ids);
    if (expected === 'earlier') {
      return {
        sql: REPLACE_SQL,
        params: [blob, record.start, accountId, nonce, record.start],
        // The record holding this start and this very state: committed (nothing else saves this state: a
        // second delivery of the same payload finds the start stored and changes nothing).
        committed: { sql: REPLACED_SQL, params: [accountId, nonce, record.start, blob] },
        bulk: { sql: BULK_REPLACE_SQL, params: [accountId, nonce, 1, record.start, blob], changes: 2 },
      };
    }
    // The record at its new version with this very state: committed (a second delivery of the same
    // payload saving the same state at the same version is the same write).
    const committed = { sql: COMMITTED_SQL, params: [accountId, nonce, (expected ?? 0) + 1, blob] };
    if (expected !== undefined) {
      // Every harvest but a run's first: the update's text is always the same, compiled once (updateTemplate).
      this.#update ??= updateTemplate(this.#saveQuery(SLOT.account, SLOT.nonce, SLOT.start, SLOT_BLOB, SLOT.expected).compile());
      const bulk = { sql: BULK_SAVE_SQL, params: [accountId, nonce, expected + 1, record.start, blob, expected, expected, expected, expected], changes: 2 };
      if (this.#update) return { sql: this.#update.sql, params: this.#update.slots.map((s) => (s === 'blob' ? blob : s === 'account' ? accountId : s === 'nonce' ? nonce : s === 'start' ? record.start : s === 'expected' ? expected : s.value)), committed, bulk };
    }
    const c = this.#saveQuery(accountId, nonce, record.start, blob, expected).compile();
    return { sql: c.sql, params: [...c.parameters], committed };
  }

  /** saveStatement on its own (a piece with no rows): whether it saved (false: the record changed meanwhile). */
  async save(accountId: number, nonce: string, record: HarvestRecord, expected: SaveExpects): Promise<boolean> {
    const g = this.saveStatement(accountId, nonce, record, expected);
    const [r] = await this.pool.query<ResultSetHeader>(g.sql, [...g.params] as QueryValues);
    return Number(r.affectedRows) === 1;
  }

  /**
   * Drops records of runs silent for at least `maxAgeSeconds` (agents that died without shutdown);
   * bounded per call. `updated_at` trails a run's last harvest by up to UPDATED_AT_REFRESH_SECONDS, so a
   * record goes once it is that much older than the bound.
   */
  async purge(maxAgeSeconds: number, limit = 10_000): Promise<number> {
    const r = await this.#db
      .deleteFrom('harvest_records')
      .where('updated_at', '<', sql<string>`NOW() - INTERVAL ${maxAgeSeconds + UPDATED_AT_REFRESH_SECONDS} SECOND`)
      .limit(limit)
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}

async function noNames(): Promise<ReadonlyMap<number, MetricName>> {
  throw new Error('BUG: a harvest record stored by metric id read without the dictionary');
}
