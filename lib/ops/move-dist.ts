import type { RowDataPacket } from 'mysql2/promise';
import { selectOn } from '../db/query-builder.js';
import { forgetDistTable, parseDistTableName } from '../distribution/dist-tables.js';
import { serverNow, shardSql, type MoveRun } from './move-context.js';
import { fenceDelta, type RegistryEntry } from './move-plan.js';
import { updateTimes } from './move-prefence.js';
import { ident } from './row-hash-sql.js';
import { syncPeriodTable, tableColumns, type PeriodTable, type Queryable } from './table-sync.js';

/**
 * The distribution (percentile) tables of an account move: dm_/dh_/dd_ tables registered in
 * `dist_tables` (schema/shard/0009). They move like the timeslice tables — copied in the background,
 * compared (row hashes) and repaired in the sync pass under the source's rollup lock, compared again
 * just before the write fence, and inside the fence only those a writer may have committed into since
 * (fenceDelta: UPDATE_TIME) — then dropped on the source after the switch, or on the target by a
 * rollback. Their registry rows (`dist_tables`, which has an account_id column) move with the
 * per-account rows (account-rows.ts, mode 'replace'). The rollup, the only writer of hour and day
 * distribution tables, is locked out from the sync pass on; the distribution writer takes the same
 * fence as the ShardWriter (dist-writer.ts).
 */
export interface DistEntry extends RegistryEntry {
  version: number;
}

const NO_SUCH_TABLE = 1146;

/** The account's distribution tables as a shard's dist_tables records them (oldest first). */
export async function readDistRegistry(db: Queryable, accountId: number): Promise<DistEntry[]> {
  const rows = await selectOn(db, shardSql.selectFrom('dist_tables').select(['name', 'kind', 'template_version']).where('account_id', '=', accountId).orderBy('period_start').orderBy('name'));
  return rows.map((r) => {
    const p = parseDistTableName(String(r.name));
    if (!p || p.accountId !== accountId) throw new Error(`cannot move account ${accountId}: dist_tables names ${JSON.stringify(r.name)}, which is not a distribution table of the account`);
    // No rollup state of their own: 'open' makes fenceDelta decide by commit time alone.
    return { name: String(r.name), kind: r.kind, start: p.start, end: p.end, state: 'open' as const, rolledAt: null, version: Number(r.template_version) };
  });
}

/** Columns of each distribution template, read once per run from the source. */
async function distPeriodTables(run: MoveRun, tables: readonly DistEntry[]): Promise<Map<string, PeriodTable>> {
  const byTemplate = new Map<string, string[]>();
  const out = new Map<string, PeriodTable>();
  for (const t of tables) {
    const template = `template_dist_${t.kind}_v${t.version}`;
    let columns = byTemplate.get(template);
    if (!columns) {
      columns = await tableColumns(run.srcConn, template);
      const onTarget = await tableColumns(run.dstConn, template);
      if (columns.length === 0 || onTarget.join(',') !== columns.join(',')) {
        throw new Error(`cannot copy table ${t.name}: shard ${run.move.toShard} has no ${template} like shard ${run.move.fromShard}'s (migrate it to the same schema version first)`);
      }
      byTemplate.set(template, columns);
    }
    const keys = columns.filter((c) => c !== 'count');
    out.set(t.name, { name: t.name, template, columns, keys });
  }
  return out;
}

/** Every distribution table of the account that exists on a server, registered or not. */
export async function distTablesOn(db: Queryable, accountId: number): Promise<string[]> {
  // Raw: information_schema (tables that exist, registered or not).
  const [rows] = await db.query<Array<RowDataPacket & { t: string }>>(
    'SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND (TABLE_NAME LIKE ? OR TABLE_NAME LIKE ? OR TABLE_NAME LIKE ?)',
    [`dm\\_${accountId}\\_%`, `dh\\_${accountId}\\_%`, `dd\\_${accountId}\\_%`],
  );
  return rows.map((r) => String(r.t)).filter((n) => parseDistTableName(n)?.accountId === accountId).sort();
}

/** Drops distribution tables of the account by name (each re-checked through the naming rules). */
export async function dropDistTables(db: Queryable, accountId: number, names: readonly string[], store?: MoveRun['src']): Promise<void> {
  for (const n of names) {
    if (parseDistTableName(n)?.accountId !== accountId) throw new Error(`BUG: refusing to drop ${JSON.stringify(n)}: not a distribution table of account ${accountId}`);
    await db.query(`DROP TABLE IF EXISTS ${ident(n)}`);
    if (store) forgetDistTable(store, n);
  }
}

export interface DistPass {
  /** The source server's clock (Unix seconds) when the pass began. */
  startedAt: number;
  registry: DistEntry[];
  /** Tables compared equal, with their rows. */
  equal: Map<string, number>;
}

/**
 * Copies (verify false: background, tables purged meanwhile skipped) or compares and repairs (verify
 * true) the account's distribution tables; `only` limits the pass to those names.
 */
export async function syncDistTables(run: MoveRun, o: { verify: boolean; only?: ReadonlySet<string>; registry?: DistEntry[] }): Promise<DistPass> {
  const startedAt = await serverNow(run.srcConn);
  const registry = o.registry ?? (await readDistRegistry(run.srcConn, run.move.accountId));
  const list = o.only ? registry.filter((t) => o.only!.has(t.name)) : registry;
  const specs = await distPeriodTables(run, list);
  const equal = new Map<string, number>();
  for (const t of list) {
    run.signal?.throwIfAborted();
    try {
      const r = await syncPeriodTable(run.srcConn, run.dstConn, specs.get(t.name)!, {
        chunkRows: run.o.chunkRows,
        verify: o.verify,
        onRows: (n) => (run.move.rowsCopied += n),
        ...(run.signal ? { signal: run.signal } : {}),
      });
      if (r.equal) equal.set(t.name, r.source.rows);
    } catch (err) {
      if (o.verify || (err as { errno?: number }).errno !== NO_SUCH_TABLE) throw err;
    }
  }
  return { startedAt, registry, equal };
}

/** Drops target distribution tables of the account that the source does not register. */
export async function dropExtraDistTables(run: MoveRun, registry: readonly DistEntry[]): Promise<void> {
  const known = new Set(registry.map((t) => t.name));
  const extra = (await distTablesOn(run.dstConn, run.move.accountId)).filter((n) => !known.has(n));
  await dropDistTables(run.dstConn, run.move.accountId, extra, run.dst);
}

/**
 * Just before the fence, with agents still writing: the tables that were not equal in the sync pass, or
 * that a writer committed into since it began, are compared and repaired again. The result keeps the
 * sync pass's start (the older clock), so inside the fence every table committed into since then is
 * compared once more.
 */
export async function preFenceDistPass(run: MoveRun, sync: DistPass): Promise<DistPass> {
  const registry = await readDistRegistry(run.srcConn, run.move.accountId);
  const names = registry.map((t) => t.name);
  const todo = new Set(fenceDelta(names, { equal: new Set(sync.equal.keys()), registry: sync.registry, startedAt: sync.startedAt }, registry, await updateTimes(run.srcConn, names)));
  const again = await syncDistTables(run, { verify: true, only: todo, registry });
  const equal = new Map([...sync.equal].filter(([n]) => !todo.has(n)));
  for (const [n, rows] of again.equal) equal.set(n, rows);
  return { startedAt: sync.startedAt, registry, equal };
}

/**
 * Inside the write fence: compares again the distribution tables that changed since the pass just
 * before it (or that it did not find equal, or that are new), and requires every one equal.
 * Returns the tables and rows verified.
 */
export async function fencedDistSync(run: MoveRun, pre: DistPass): Promise<{ tables: number; rows: number }> {
  const current = await readDistRegistry(run.srcConn, run.move.accountId);
  const names = current.map((t) => t.name);
  const recheck = new Set(fenceDelta(names, { equal: new Set(pre.equal.keys()), registry: pre.registry, startedAt: pre.startedAt }, current, await updateTimes(run.srcConn, names)));
  const again = await syncDistTables(run, { verify: true, only: recheck, registry: current });
  let rows = 0;
  for (const t of current) {
    const n = recheck.has(t.name) ? again.equal.get(t.name) : pre.equal.get(t.name);
    if (n === undefined) throw new Error(`cannot verify distribution table ${t.name}: source and target differ after copying it behind the write fence`);
    rows += n;
  }
  await dropExtraDistTables(run, current);
  return { tables: current.length, rows };
}
