import type { ExecuteValues, PoolConnection, ResultSetHeader } from 'mysql2/promise';
import type { Log } from '../log/log.js';
import type { Fence } from './account-fence.js';
import type { WriterFences } from './writer-fences.js';
import { RowMerger } from '../timeslice/row-merger.js';
import type { TimesliceRow } from '../timeslice/timeslice.js';
import type { TableInfo } from './shard-database.js';
import type { ShardStore } from './shard-store.js';
import { MergeOverflowError } from './shard-writer-errors.js';
import type { WriteLedger } from './shard-writer-ledger.js';
import { lockMinuteSeals, markLate } from './shard-writer-seal.js';
import { writeTables, type TableRows } from './shard-writer-load.js';
import { isWritableRow, upsertSql } from './shard-writer-sql.js';
import type { Pending } from './shard-writer-types.js';
import { runBulkTrip } from './shard-writer-bulk-trip.js';
import { oneTripPlan, runOneTrip } from './shard-writer-one-trip.js';
import { commitOrVerify } from './shard-writer-verify.js';

export interface TransactionDeps {
  fences: WriterFences;
  ledger: WriteLedger;
  batchRows: number;
  /** Append-only tables by LOAD DATA LOCAL INFILE (APM_WRITER_LOAD_DATA): shard-writer-load.ts. */
  loadData: boolean;
  /** Try the transaction in one round trip first (APM_WRITER_ONE_TRIP): shard-writer-one-trip.ts. */
  oneTrip: boolean;
  /**
   * The one trip's rows as MariaDB bulk statements when the server runs them (APM_WRITER_BULK; default
   * false here, true in the writer): shard-writer-bulk-trip.ts.
   */
  bulk?: boolean;
  log?: Log;
  now: () => number;
}

export interface TransactionResult {
  /** Keyed requests already committed before: nothing written. */
  dups: Set<Pending>;
  /** Accounts refused by a move fence: nothing of theirs written. */
  fenced: Map<number, Fence>;
  /** Requests whose guard changed no row: nothing written. */
  conflicts: Set<Pending>;
  /** Rows written (after merging), by either path. */
  written: number;
  /** Of those, rows written by LOAD DATA. */
  loaded: number;
  /** Loads abandoned for the upsert (a key already stored, or a warning). */
  fallbacks: number;
  /**
   * 'one_trip': committed by shard-writer-one-trip.ts; 'bulk': by shard-writer-bulk-trip.ts; 'stepwise':
   * statement by statement (after a trip rolled back, or without one).
   */
  path: 'one_trip' | 'bulk' | 'stepwise';
}

const NO_DUPS: ReadonlySet<Pending> = new Set();
const NONE_SEALED: ReadonlyMap<string, number> = new Map();

/**
 * One transaction for the batch. First, only when it may create a table or a fence row, the precheck
 * of move fences (prepare, below). Then, in this order (the lock order every writer keeps): the move fence
 * (shared locks), the requests' guards, the ledger keys, the registry rows of the minute tables that
 * agents' rows go to (whether their minutes are sealed: shard-writer-seal.ts), the rows table by table,
 * then the registry rows of tables whose span has ended (late rows: the rollup must roll them again).
 * An agent's row of a sealed minute also adds to its application's row; of an unsealed minute, it is
 * written alone (the minute seal derives the application row later). Unless the batch has late rows
 * (or APM_WRITER_ONE_TRIP is off), all of it, COMMIT included, is first sent in one round trip
 * (shard-writer-one-trip.ts), or on MariaDB with APM_WRITER_BULK its checks and its rows as bulk
 * statements together, then the COMMIT (shard-writer-bulk-trip.ts); when its checks find a fence, a conflict, a stored key or a sealed
 * minute, that attempt is rolled back and the statements below run one by one. Throws on any failure
 * after rolling back; the caller decides whether to retry, split or fail.
 */
export async function runTransaction(store: ShardStore, requests: readonly Pending[], deps: TransactionDeps): Promise<TransactionResult> {
  const result: TransactionResult = { dups: new Set(), fenced: new Map(), conflicts: new Set(), written: 0, loaded: 0, fallbacks: 0, path: 'stepwise' };
  const { batch, infos, distinct } = await prepare(store, requests, deps, result.fenced);
  if (batch.length === 0) return result;
  const plan = deps.oneTrip ? oneTripPlan(batch, infos, deps.now()) : undefined;
  const conn = await (plan ? store.batchPool : store.pool).getConnection();
  try {
    await deps.ledger.ensure(conn, store.shardId, deps.ledger.tablesOf(batch).keys());
    if (plan) {
      const tables = [...mergeRows(batch, NO_DUPS, infos, NONE_SEALED).perTable].map(([name, m]) => ({ name, rows: m.rows() }));
      const tripDeps = { ledger: deps.ledger, batchRows: deps.batchRows, statementTimeoutMs: store.db.batches().statementTimeoutMs };
      const bulk = deps.bulk === true ? await store.bulkConnection() : undefined;
      const written = bulk ? await runBulkTrip(bulk, conn, store.pool, batch, plan, tables, tripDeps) : await runOneTrip(conn, store.pool, batch, plan, tables, tripDeps);
      if (written !== undefined) {
        result.written = written;
        result.path = bulk ? 'bulk' : 'one_trip';
        conn.release();
        return result;
      }
    }
    await conn.beginTransaction();
    const fenced = await deps.fences.check(conn, batch.map((p) => p.req.accountId));
    for (const [a, f] of fenced) result.fenced.set(a, f);
    let live = fenced.size === 0 ? batch : batch.filter((p) => !fenced.has(p.req.accountId));
    for (const p of live) {
      if (!p.req.guard) continue;
      // Prepared (its text names no request value: one prepare per connection): a harvest record's
      // blob then travels as bytes, not as an escaped hex literal the server must parse again.
      const [res] = await conn.execute<ResultSetHeader>(p.req.guard.sql, p.req.guard.params as ExecuteValues[]);
      if (Number(res.affectedRows) !== 1) result.conflicts.add(p);
    }
    if (result.conflicts.size > 0) live = live.filter((p) => !result.conflicts.has(p));
    result.dups = await deps.ledger.record(conn, live);
    const sealed = await lockMinuteSeals(conn, live, result.dups, infos, deps.now());
    const { perTable, upsertOnly } = mergeRows(live, result.dups, infos, sealed);
    const tables: TableRows[] = [...perTable].map(([name, m]) => ({ name, rows: m.rows(), loadable: !upsertOnly.has(name) }));
    const w = await writeTables(conn, store.pool, tables, { ...deps, upsert });
    result.written = w.loaded + w.upserted;
    result.loaded = w.loaded;
    result.fallbacks = w.fallbacks;
    await markLate(conn, [...distinct].filter((i) => i.end <= deps.now() && perTable.has(i.name)).map((i) => i.name));
    await commitOrVerify(conn, store.pool, deps.ledger, live.filter((p) => !result.dups.has(p)));
  } catch (err) {
    await conn.rollback().catch(() => undefined);
    conn.release();
    throw err;
  }
  conn.release();
  return result;
}

async function upsert(conn: PoolConnection, table: string, rows: readonly TimesliceRow[]): Promise<void> {
  await conn.query(upsertSql(table, rows));
}

/**
 * The batch's tables and the requests still to write. When this process has every table cached and
 * every account's fence row known, nothing is created and the transaction's locking read of the
 * fences is the only check it needs. Otherwise the precheck (writer-fences.ts) comes first: accounts
 * already fenced or moved away go to `fenced` and are left out, so no table is created for an account
 * on a shard it has left.
 */
async function prepare(
  store: ShardStore,
  batch: readonly Pending[],
  deps: TransactionDeps,
  fenced: Map<number, Fence>,
): Promise<{ batch: readonly Pending[]; infos: Map<Pending, TableInfo[]>; distinct: Set<TableInfo> }> {
  const accounts = batch.map((p) => p.req.accountId);
  if (deps.fences.allKnown(store.shardId, accounts)) {
    const cached = await tablesOf(store, batch, false);
    if (cached) return { batch, ...cached };
  }
  const pre = await deps.fences.precheck(store.pool, store.shardId, accounts);
  for (const [a, f] of pre) fenced.set(a, f);
  const live = pre.size === 0 ? batch : batch.filter((p) => !pre.has(p.req.accountId));
  return { batch: live, ...(await tablesOf(store, live, true))! };
}

/**
 * The tables of the batch's rows, keyed by the request: created when missing (DDL: before BEGIN) with
 * `create`; without, only tables this process has cached (undefined when one is not).
 */
async function tablesOf(
  store: ShardStore,
  batch: readonly Pending[],
  create: boolean,
): Promise<{ infos: Map<Pending, TableInfo[]>; distinct: Set<TableInfo> } | undefined> {
  const out = new Map<Pending, TableInfo[]>();
  const distinct = new Set<TableInfo>();
  for (const p of batch) {
    // Rows of one request nearly always share one table: look it up again only when kind or span change.
    const list: TableInfo[] = [];
    let last: TableInfo | undefined;
    for (const w of p.req.rows) {
      if (!last || last.kind !== w.kind || w.t < last.start || w.t >= last.end) {
        const found = create ? store.ensureTable(p.req.accountId, w.kind, w.t) : store.cachedTable(p.req.accountId, w.kind, w.t);
        if (!found) return undefined;
        last = await found;
        distinct.add(last);
      }
      list.push(last);
    }
    out.set(p, list);
  }
  return { infos: out, distinct };
}

/**
 * Rows merged per table and key (numbers only), with the application row of every agent row whose
 * minute is sealed (`sealed`: table → sealed_through); throws MergeOverflowError when a merge is not finite.
 * `upsertOnly`: tables with a row that is not an agent's row of an unsealed minute (an application row
 * added, or a row written as is): those always merge by upsert; the others are tried by LOAD DATA.
 */
function mergeRows(
  live: readonly Pending[],
  dups: ReadonlySet<Pending>,
  infos: ReadonlyMap<Pending, TableInfo[]>,
  sealed: ReadonlyMap<string, number>,
): { perTable: Map<string, RowMerger>; upsertOnly: Set<string> } {
  const perTable = new Map<string, RowMerger>();
  const upsertOnly = new Set<string>();
  let merger: RowMerger | undefined;
  let mergerOf = '';
  let sealedThrough = 0;
  for (const p of live) {
    if (dups.has(p)) continue;
    const tables = infos.get(p)!;
    for (let i = 0; i < p.req.rows.length; i++) {
      const name = tables[i]!.name;
      if (name !== mergerOf) {
        merger = perTable.get(name);
        if (!merger) perTable.set(name, (merger = new RowMerger()));
        mergerOf = name;
        sealedThrough = sealed.get(name) ?? 0;
      }
      const w = p.req.rows[i]!;
      merger!.add(w.row);
      if (w.applicationAgentId === undefined || w.row.period < sealedThrough) upsertOnly.add(name);
      if (w.applicationAgentId !== undefined && w.row.period < sealedThrough) merger!.add(w.row, w.applicationAgentId);
    }
  }
  for (const rows of perTable.values()) {
    if (rows.merged === 0) continue; // no key was merged: every row was checked finite at write()
    for (const r of rows.rows()) if (!isWritableRow(r)) throw new MergeOverflowError('cannot merge rows: a sum is not finite');
  }
  return { perTable, upsertOnly };
}
