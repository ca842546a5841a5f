import type { PoolConnection } from 'mysql2/promise';
import { sql } from 'kysely';
import { queryBuilder, selectOn, writeOn } from '../db/query-builder.js';
import type { ShardDatabase, TableInfo } from './shard-database.js';
import type { Pending } from './shard-writer-types.js';

const shardSql = queryBuilder<ShardDatabase>();

/**
 * The registry rows (name, sealed_through) of `names` in the order given, locked exclusively or shared.
 * MariaDB has no FOR SHARE: the shared lock is LOCK IN SHARE MODE.
 */
export function sealLockQuery(names: readonly string[], exclusive: boolean) {
  const q = shardSql.selectFrom('table_registry').select(['name', 'sealed_through']).where('name', 'in', names).orderBy('name');
  return exclusive ? q.forUpdate() : q.modifyEnd(sql`LOCK IN SHARE MODE`);
}

/** Tables whose span has ended got late rows: a rolled (or rolling) one must be rolled again ('dirty'). */
export function markLateQuery(names: readonly string[]) {
  return shardSql.updateTable('table_registry').set({ rollup_state: 'dirty' }).where('rollup_state', 'in', ['rolling', 'done']).where('name', 'in', names);
}

/** Marks `ended` (registry rows this transaction already holds locked) dirty when they were rolled. */
export async function markLate(conn: PoolConnection, ended: readonly string[]): Promise<void> {
  if (ended.length > 0) await writeOn(conn, markLateQuery(ended));
}

/**
 * The minute tables whose rows must know whether their minute is sealed (rows of an agent, i.e. with an
 * applicationAgentId), each with its registry row locked, and their `sealed_through` (0 when none is
 * sealed; shard migration 0011). Locked in name order with one statement per lock mode: shared for
 * tables still being written, exclusive for every minute table whose span has ended (the transaction
 * marks those 'dirty' after its rows: taking the exclusive lock now avoids upgrading a shared one, which
 * two late writers of the same table would deadlock on, and keeps the roll's order, registry first). The seal (rollup/minute-seal.ts) locks the same row
 * FOR UPDATE, so it never runs between this read and the commit: a minute read as unsealed gets only
 * the agent's row and the seal, which comes after, sums it; a sealed one gets the application row too.
 */
export async function lockMinuteSeals(
  conn: PoolConnection,
  live: readonly Pending[],
  dups: ReadonlySet<Pending>,
  infos: ReadonlyMap<Pending, TableInfo[]>,
  now: number,
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const q of sealLockQueries(sealLockSets(live, dups, infos, now))) sealedFrom(await selectOn(conn, q), out);
  return out;
}

/** The minute tables lockMinuteSeals locks: `ended` exclusively, `open` shared. */
export function sealLockSets(live: readonly Pending[], dups: ReadonlySet<Pending>, infos: ReadonlyMap<Pending, TableInfo[]>, now: number): { open: Set<string>; ended: Set<string> } {
  const open = new Set<string>();
  const ended = new Set<string>();
  for (const p of live) {
    if (dups.has(p)) continue;
    const tables = infos.get(p)!;
    for (let i = 0; i < p.req.rows.length; i++) {
      const t = tables[i]!;
      if (t.kind !== 'minute') continue;
      // Ended tables are locked whatever their rows (the transaction marks them 'dirty' after its rows,
      // and a roll locks the registry row before the rows: taking it first keeps that order).
      if (t.end <= now) ended.add(t.name);
      else if (p.req.rows[i]!.applicationAgentId !== undefined) open.add(t.name);
    }
  }
  return { open, ended };
}

/** The locking reads of sealLockSets' tables, in lock order (exclusive first, names sorted). */
export function sealLockQueries(sets: { open: ReadonlySet<string>; ended: ReadonlySet<string> }) {
  const out: ReturnType<typeof sealLockQuery>[] = [];
  for (const [names, exclusive] of [[sets.ended, true], [sets.open, false]] as const) {
    if (names.size > 0) out.push(sealLockQuery([...names].sort(), exclusive));
  }
  return out;
}

/**
 * sealLockQuery's shared locks of the tables of `least` (name, least period of the batch's agent rows
 * in it; sorted by name, the lock order) as a SELECT … INTO `into` of one value, `select(sealedPast)`:
 * `sealedPast` is SQL for how many of them are sealed past that period. The one-round-trip
 * transaction's (shard-writer-one-trip.ts): its check, evaluated with the locks the stepwise path
 * takes. Text with placeholders: each table and its period, then the names.
 */
export function sealLockSelectSql(
  least: readonly (readonly [string, number])[],
  select: (sealedPast: string) => string,
  into: string,
): { sql: string; params: (string | number)[] } {
  if (least.length === 0) throw new Error('BUG: a seal lock read of no table');
  const sealedPast = `COALESCE(SUM(CASE name${' WHEN ? THEN sealed_through > ?'.repeat(least.length)} END), 0)`;
  const list = least.map(() => '?').join(', ');
  return {
    sql: `SELECT ${select(sealedPast)} INTO ${into} FROM table_registry WHERE name IN (${list}) LOCK IN SHARE MODE`,
    params: [...least.flat(), ...least.map(([name]) => name)],
  };
}

/** Adds the rows of a seal lock read to `out` (table name → sealed_through, 0 when none is sealed). */
export function sealedFrom(rows: readonly { name: string; sealed_through: number | null }[], out: Map<string, number>): Map<string, number> {
  for (const r of rows) out.set(String(r.name), r.sealed_through === null ? 0 : Number(r.sealed_through));
  return out;
}
