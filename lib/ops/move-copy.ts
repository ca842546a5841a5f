import { accountRowTables, copyAccountRows } from './account-rows.js';
import { checkpoint, dropPeriodTables, periodTableOf, periodTablesOn, readRegistry, report, serverNow, setState, type MoveRun, type RegistryRow } from './move-context.js';
import { dropExtraDistTables, syncDistTables, type DistPass } from './move-dist.js';
import { copyOrder } from './move-plan.js';
import { syncPeriodTable, type SyncResult } from './table-sync.js';

const NO_SUCH_TABLE = 1146;

/** What the sync pass learnt: the registry it started from and the tables it found equal. */
export interface SyncSnapshot {
  /** Unix seconds, just before the registry was read. */
  at: number;
  tables: RegistryRow[];
  /** Tables compared equal by the sync pass, with their rows (the others are compared again inside the switch). */
  equal: Map<string, number>;
  /** The source's clock (Unix seconds) when the per-account rows were pre-copied. */
  rowsCopiedAt: number;
  /** The distribution tables as the sync pass compared them. */
  dist: DistPass;
}

async function syncOne(run: MoveRun, t: RegistryRow, verify: boolean): Promise<SyncResult> {
  const r = await syncPeriodTable(run.srcConn, run.dstConn, periodTableOf(run.src, run.dst, t), {
    chunkRows: run.o.chunkRows,
    verify,
    onRows: (n) => {
      run.move.rowsCopied += n;
    },
    ...(run.signal ? { signal: run.signal } : {}),
  });
  return r;
}

async function tableDone(run: MoveRun, name: string): Promise<void> {
  await run.lock.check();
  run.move.tablesDone++;
  await run.journal.update(run.move.id, { tablesDone: run.move.tablesDone, rowsCopied: run.move.rowsCopied });
  report(run, run.move.state, name);
}

/**
 * Background copy, no locks: every table of the account, closed ones first, while agents keep
 * writing. Tables that are already equal on the target (a resumed move) are only compared. A table the
 * source's rollup purges meanwhile is skipped (the sync pass works from a fresh list).
 */
export async function copyPhase(run: MoveRun): Promise<void> {
  const tables = copyOrder(await readRegistry(run.srcConn, run.move.accountId), run.o.now());
  run.move.tablesTotal = tables.length;
  run.move.tablesDone = 0;
  await run.journal.update(run.move.id, { tablesTotal: tables.length, tablesDone: 0 });
  report(run, 'copying');
  for (const t of tables) {
    run.signal?.throwIfAborted();
    try {
      await syncOne(run, t, false);
    } catch (err) {
      if ((err as { errno?: number }).errno !== NO_SUCH_TABLE) throw err;
    }
    await tableDone(run, t.name);
    checkpoint(run, 'copying');
  }
  report(run, 'copying', 'distribution tables');
  await syncDistTables(run, { verify: false });
  await setState(run, 'syncing');
}

/**
 * The sync pass, run while holding the source's rollup lock (so from here on only the writer can
 * change the account's source tables): reads the registry, compares every table and repairs what
 * differs, drops target tables the source no longer has, and pre-copies the per-account rows so the
 * switch only has to catch up.
 */
export async function syncPhase(run: MoveRun): Promise<SyncSnapshot> {
  if (run.move.state !== 'syncing') await setState(run, 'syncing');
  const at = run.o.now();
  const tables = copyOrder(await readRegistry(run.srcConn, run.move.accountId), at);
  run.move.tablesTotal = tables.length;
  run.move.tablesDone = 0;
  await run.journal.update(run.move.id, { tablesTotal: tables.length, tablesDone: 0 });
  report(run, 'syncing');
  const equal = new Map<string, number>();
  for (const t of tables) {
    run.signal?.throwIfAborted();
    await run.lock.check();
    const r = await syncOne(run, t, true);
    if (r.equal) equal.set(t.name, r.source.rows);
    await tableDone(run, t.name);
  }
  const known = new Set(tables.map((t) => t.name));
  const extra = (await periodTablesOn(run.dstConn, run.move.accountId)).filter((n) => !known.has(n));
  await dropPeriodTables(run.dstConn, run.move.accountId, extra);
  report(run, 'syncing', 'distribution tables');
  const dist = await syncDistTables(run, { verify: true });
  await dropExtraDistTables(run, dist.registry);
  const rowsCopiedAt = await serverNow(run.srcConn, true);
  for (const t of await accountRowTables(run.srcConn)) {
    run.signal?.throwIfAborted();
    const r = await copyAccountRows(run.srcConn, run.dstConn, t, run.move.accountId, { chunkRows: run.o.chunkRows });
    run.move.rowsCopied += r.rows;
  }
  await run.journal.update(run.move.id, { rowsCopied: run.move.rowsCopied });
  checkpoint(run, 'syncing');
  await setState(run, 'switching');
  return { at, tables, equal, rowsCopiedAt, dist };
}
