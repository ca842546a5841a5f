import type { RowDataPacket } from 'mysql2/promise';
import { periodTableOf, readRegistry, report, serverNow, type MoveRun, type RegistryRow } from './move-context.js';
import type { SyncSnapshot } from './move-copy.js';
import { recheckTables } from './move-plan.js';
import { syncPeriodTable, type Queryable } from './table-sync.js';

/** What the pass just before the fence found: see fenceDelta in move-plan.ts. */
export interface PreFence {
  /** The source server's clock (Unix seconds) when the pass began. */
  startedAt: number;
  registry: RegistryRow[];
  /** Tables compared equal by this pass, with their rows. */
  equal: Map<string, number>;
}

/** Tables to compare again since the sync pass (recheckTables, plus those it did not find equal). */
export function candidatesOf(snap: SyncSnapshot, current: readonly RegistryRow[]): string[] {
  const out = new Set(recheckTables(snap.tables, current, snap.at));
  for (const t of current) if (!snap.equal.has(t.name)) out.add(t.name);
  return current.filter((t) => out.has(t.name)).map((t) => t.name);
}

/**
 * Just before the fence, with agents still writing: every table the switch would compare again is
 * compared (and repaired) now, so the fenced part compares only what changed after this (fenceDelta).
 */
export async function preFencePass(run: MoveRun, snap: SyncSnapshot): Promise<PreFence> {
  report(run, 'switching', 'comparing again before the fence');
  const startedAt = await serverNow(run.srcConn);
  const registry = await readRegistry(run.srcConn, run.move.accountId);
  const equal = new Map<string, number>();
  const byName = new Map(registry.map((t) => [t.name, t]));
  for (const name of candidatesOf(snap, registry)) {
    run.signal?.throwIfAborted();
    const r = await syncPeriodTable(run.srcConn, run.dstConn, periodTableOf(run.src, run.dst, byName.get(name)!), { chunkRows: run.o.chunkRows, verify: true, onRows: (n) => (run.move.rowsCopied += n) });
    if (r.equal) equal.set(name, r.source.rows);
  }
  return { startedAt, registry, equal };
}

/** InnoDB's last commit time (UPDATE_TIME, Unix seconds; null when unknown) of the named tables. */
export async function updateTimes(db: Queryable, names: readonly string[]): Promise<Map<string, number | null>> {
  const out = new Map<string, number | null>();
  if (names.length === 0) return out;
  // MySQL 8 caches information_schema statistics for a day unless told not to; MariaDB has no such cache.
  await db.query('SET SESSION information_schema_stats_expiry = 0').catch(() => undefined);
  for (let i = 0; i < names.length; i += 500) {
    const part = names.slice(i, i + 500);
    const [rows] = await db.query<Array<RowDataPacket & { n: string; u: number | string | null }>>(
      `SELECT TABLE_NAME AS n, UNIX_TIMESTAMP(UPDATE_TIME) AS u FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (${part.map(() => '?').join(', ')})`,
      part,
    );
    for (const r of rows) out.set(String(r.n), r.u === null ? null : Number(r.u));
  }
  return out;
}
