import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import type { Directory } from '../directory/directory.js';
import { RetryableError } from '../errors.js';
import type { ShardRegistry } from '../shard/shard-registry.js';
import type { ShardStore } from '../shard/shard-store.js';
import { queryBuilder, selectOn } from '../db/query-builder.js';
import type { ShardDatabase } from '../shard/shard-database.js';
import { parseTableName, templateName } from '../shard/table-naming.js';
import type { Move, MoveJournal, MoveLock } from './move-journal.js';
import type { MoveState, RegistryEntry } from './move-plan.js';
import { acquireRollupLock, type RollupLock } from '../shard/rollup-lock.js';
import { ident } from './row-hash-sql.js';
import type { PeriodTable, Queryable } from './table-sync.js';
import { silentLog, type Log } from '../log/log.js';

/** Points where the test hook `crashAt` makes a mover behave as if its process died. */
export type MoveCheckpoint = 'copying' | 'syncing' | 'fenced' | 'away' | 'switched';

export interface MoveProgress {
  moveId: number;
  accountId: number;
  phase: MoveState | 'waiting';
  tablesDone: number;
  tablesTotal: number;
  rowsCopied: number;
  /** The table just handled, or what the mover waits for. */
  detail?: string;
}

export interface MoverOptions {
  directory: Directory;
  shards: ShardRegistry;
  log?: Log;
  onProgress?: (p: MoveProgress) => void;
  /** Seconds a switch's write fence holds without being extended (a dead mover blocks no longer). */
  leaseSeconds?: number;
  /** How long to wait for the source shard's rollup lock (a rollup run in progress). */
  rollupLockWaitSeconds?: number;
  /** Wait after the switch before dropping the old tables: longer than any process caches an account's shard (2 s). */
  cleanupDelayMs?: number;
  /** Rows per copy statement (memory bound of a copy). */
  chunkRows?: number;
  /** Switch attempts before the move gives up (a lapsed lease or a late change starts it again). */
  switchAttempts?: number;
  /** The clock, Unix seconds. */
  now?: () => number;
  /** Test hook: stop at this point as if the process died (locks released, nothing undone). */
  crashAt?: MoveCheckpoint;
}

export type ResolvedOptions = Required<Omit<MoverOptions, 'crashAt' | 'onProgress' | 'log'>> & Pick<MoverOptions, 'crashAt' | 'onProgress'> & { log: Log };

export function resolveOptions(o: MoverOptions): ResolvedOptions {
  return {
    leaseSeconds: 60,
    rollupLockWaitSeconds: 600,
    cleanupDelayMs: 5000,
    chunkRows: 5000,
    switchAttempts: 3,
    now: () => Date.now() / 1000,
    log: silentLog,
    ...o,
  };
}

/** Thrown by the crash hook: the mover stops where it is, as a killed process would. */
export class SimulatedCrash extends Error {
  override readonly name = 'SimulatedCrash';
}

/** Everything one run of a move works with. */
export interface MoveRun {
  move: Move;
  journal: MoveJournal;
  /** The account's move lock; checked before every step that changes anything. */
  lock: MoveLock;
  src: ShardStore;
  dst: ShardStore;
  /** Dedicated connections (session time zone UTC, so timestamps copy and compare unchanged). */
  srcConn: PoolConnection;
  dstConn: PoolConnection;
  o: ResolvedOptions;
  signal?: AbortSignal;
}

export function checkpoint(run: MoveRun, at: MoveCheckpoint): void {
  if (run.o.crashAt === at) throw new SimulatedCrash(`simulated crash of move ${run.move.id} at ${at}`);
}

export function report(run: MoveRun, phase: MoveProgress['phase'], detail?: string): void {
  const m = run.move;
  run.o.onProgress?.({ moveId: m.id, accountId: m.accountId, phase, tablesDone: m.tablesDone, tablesTotal: m.tablesTotal, rowsCopied: m.rowsCopied, ...(detail ? { detail } : {}) });
}

export async function setState(run: MoveRun, state: MoveState): Promise<void> {
  run.move.state = state;
  await run.journal.update(run.move.id, { state });
  report(run, state);
}

export interface RegistryRow extends RegistryEntry {
  version: number;
}

/** The server's clock, Unix seconds (with milliseconds when `fractional`): raw, a server function. */
export async function serverNow(db: Queryable, fractional = false): Promise<number> {
  const [rows] = await db.query<Array<RowDataPacket & { t: number | string }>>(fractional ? 'SELECT UNIX_TIMESTAMP(NOW(3)) AS t' : 'SELECT UNIX_TIMESTAMP(NOW()) AS t');
  return Number(rows[0]!.t);
}

/** Typed statements on the fixed shard tables, compiled here and run on the mover's own connections. */
export const shardSql = queryBuilder<ShardDatabase>();

/** The account's tables as a shard's registry records them. */
export async function readRegistry(db: Queryable, accountId: number): Promise<RegistryRow[]> {
  const rows = await selectOn(
    db,
    shardSql
      .selectFrom('table_registry')
      .select(['name', 'kind', 'period_start', 'template_version', 'rollup_state', 'rolled_at'])
      .where('account_id', '=', accountId)
      .orderBy('period_start')
      .orderBy('name'),
  );
  return rows.map((r) => {
    const parsed = parseTableName(String(r.name));
    if (!parsed) throw new Error(`cannot move account ${accountId}: table_registry names ${JSON.stringify(r.name)}, which is not a period table`);
    return { name: String(r.name), kind: r.kind, start: parsed.start, end: parsed.end, state: r.rollup_state, rolledAt: r.rolled_at ?? null, version: Number(r.template_version) };
  });
}

/**
 * A registered table as syncPeriodTable needs it (its template must exist on the target too), paged
 * through in its primary key's order (a minute table from v3 on is keyed period first: paging it in
 * (metric_id, agent_id, period) order sorted the rest of the table for every chunk).
 */
export function periodTableOf(src: ShardStore, dst: ShardStore, t: RegistryRow): PeriodTable {
  const columns = src.columnsOf(t.kind, t.version);
  try {
    dst.columnsOf(t.kind, t.version);
  } catch {
    throw new Error(`cannot copy table ${t.name}: shard ${dst.shardId} has no ${templateName(t.kind, t.version)} (migrate it to the same schema version first)`);
  }
  return { name: t.name, template: templateName(t.kind, t.version), columns, keys: src.primaryKeyOf(t.kind, t.version) };
}

/** Every per-period table of the account that exists on a server, registered or not. */
export async function periodTablesOn(db: Queryable, accountId: number): Promise<string[]> {
  // Raw: information_schema (tables that exist, registered or not).
  const [rows] = await db.query<Array<RowDataPacket & { t: string }>>(
    `SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND (TABLE_NAME LIKE ? OR TABLE_NAME LIKE ? OR TABLE_NAME LIKE ?)`,
    [`ts\\_${accountId}\\_%`, `th\\_${accountId}\\_%`, `td\\_${accountId}\\_%`],
  );
  return rows.map((r) => String(r.t)).filter((n) => parseTableName(n)?.accountId === accountId).sort();
}

/** Drops per-period tables of the account by name (each name re-checked through table-naming). */
export async function dropPeriodTables(db: Queryable, accountId: number, names: readonly string[]): Promise<void> {
  for (const n of names) {
    if (parseTableName(n)?.accountId !== accountId) throw new Error(`BUG: refusing to drop ${JSON.stringify(n)}: not a table of account ${accountId}`);
    await db.query(`DROP TABLE IF EXISTS ${ident(n)}`);
  }
}

export async function utcConnection(store: ShardStore): Promise<PoolConnection> {
  const conn = await store.pool.getConnection();
  try {
    await conn.query("SET time_zone = '+00:00'");
  } catch (err) {
    conn.release();
    throw err;
  }
  return conn;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A shard's rollup lock, waited for in steps (reporting 'waiting') up to rollupLockWaitSeconds. */
export async function waitForRollupLock(run: MoveRun, store: ShardStore, maxSeconds = run.o.rollupLockWaitSeconds): Promise<RollupLock> {
  const deadline = Date.now() + maxSeconds * 1000;
  let held = await acquireRollupLock(store.pool, 0);
  while (!held) {
    const left = Math.ceil((deadline - Date.now()) / 1000);
    if (left <= 0) throw new RetryableError(`cannot move account ${run.move.accountId}: the rollup of shard ${store.shardId} kept its lock for ${maxSeconds} s`, 60);
    run.signal?.throwIfAborted();
    report(run, 'waiting', `for the rollup of shard ${store.shardId} to finish`);
    held = await acquireRollupLock(store.pool, Math.min(5, left));
  }
  return held;
}
