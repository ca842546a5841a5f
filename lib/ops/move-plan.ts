/**
 * Pure decisions of an account move: the states, what an interrupted move can do next, the order
 * tables are copied in, and which tables must be compared again inside the switch.
 *
 *   copying ─▶ syncing ─▶ switching ─▶ switched ─▶ done
 *      └──────────┴───────────┴─▶ rolled_back        (only while the directory still points at the source)
 */
export type MoveState = 'copying' | 'syncing' | 'switching' | 'switched' | 'done' | 'rolled_back';


export interface MoveFacts {
  id: number;
  accountId: number;
  fromShard: number;
  toShard: number;
  state: MoveState;
  tablesTotal: number;
  tablesDone: number;
}

export interface Recovery {
  /** Someone is running the move right now (its lock is held). */
  running: boolean;
  canResume: boolean;
  canRollback: boolean;
  /** One sentence for operators: what happened and which of resume / rollback is possible. */
  message: string;
}

const ACTIVE: ReadonlySet<MoveState> = new Set(['copying', 'syncing', 'switching', 'switched']);

function progress(m: MoveFacts): string {
  if (m.state === 'copying' || m.state === 'syncing') return ` (${m.tablesDone}/${m.tablesTotal} tables)`;
  return '';
}

/**
 * What can be done with a move, given whether its lock is held and which shard the directory names
 * for the account. Rolling back is possible only while the directory still points at the source: after
 * the switch new data lands on the target, and undoing it is a move back.
 */
export function recoveryOf(m: MoveFacts, facts: { running: boolean; accountShard: number }): Recovery {
  const name = `move ${m.id} of account ${m.accountId} (shard ${m.fromShard} → ${m.toShard})`;
  if (!ACTIVE.has(m.state)) return { running: false, canResume: false, canRollback: false, message: `${name} is ${m.state === 'done' ? 'done' : 'rolled back'}` };
  if (facts.running) return { running: true, canResume: false, canRollback: false, message: `${name} is running: ${m.state}${progress(m)}` };
  const resume = `apm accounts move ${m.accountId} --resume`;
  const rollback = `apm accounts move ${m.accountId} --rollback`;
  if (m.state === 'switched' || facts.accountShard === m.toShard) {
    return {
      running: false,
      canResume: true,
      canRollback: false,
      message: `${name} was interrupted after the switch: the account already lives on shard ${m.toShard}; it can only be resumed (${resume}), which verifies nothing more and drops the old tables on shard ${m.fromShard}`,
    };
  }
  return {
    running: false,
    canResume: true,
    canRollback: true,
    message: `${name} was interrupted while ${m.state}${progress(m)}: the account still lives on shard ${m.fromShard}; it can be resumed (${resume}) or rolled back (${rollback})`,
  };
}

/** A table of the account as the source's registry records it. */
export interface RegistryEntry {
  name: string;
  kind: 'minute' | 'hour' | 'day';
  /** The table covers [start, end), Unix seconds. */
  start: number;
  end: number;
  state: 'open' | 'rolling' | 'done' | 'dirty';
  rolledAt: string | null;
}

/** Copy order: tables whose span has ended first (oldest first), then the open ones. */
export function copyOrder<T extends Pick<RegistryEntry, 'name' | 'start' | 'end'>>(tables: readonly T[], now: number): T[] {
  const closed = tables.filter((t) => t.end <= now);
  const open = tables.filter((t) => t.end > now);
  const byStart = (a: T, b: T) => a.start - b.start || a.name.localeCompare(b.name);
  return [...closed.sort(byStart), ...open.sort(byStart)];
}

/**
 * Tables to compare again inside the switch, after the write fence is up. The sync pass compared every
 * table while holding the source's rollup lock, with `snapshot` read just before it; since then only
 * the writer can have changed source tables (the rollup is locked out), and a write into a table that
 * was rolled ('done') turns it 'dirty' in the same transaction. So a table can be skipped only when it
 * was 'done' in the snapshot and still is, with the same rolled_at, and its span ended more than
 * `recentSeconds` before the snapshot (a margin for writers whose clock runs behind).
 */
export function recheckTables(snapshot: readonly RegistryEntry[], current: readonly RegistryEntry[], snapshotAt: number, recentSeconds = 3 * 3600): string[] {
  const before = new Map(snapshot.map((t) => [t.name, t]));
  return current
    .filter((t) => {
      const old = before.get(t.name);
      if (!old) return true;
      if (t.state !== 'done' || old.state !== 'done' || old.rolledAt !== t.rolledAt) return true;
      return t.end > snapshotAt - recentSeconds;
    })
    .map((t) => t.name);
}

/**
 * Inside the write fence, only the delta: of the tables to compare again (recheckTables), those the
 * pass just before the fence found equal are skipped when their registry entry is unchanged since and
 * the server reports no commit into them since that pass began. `updatedAt` is InnoDB's UPDATE_TIME
 * per table (Unix seconds, set at commit; null when unknown, e.g. after a restart or an eviction from
 * the dictionary cache: such a table is compared again). `startedAt` is the server's clock when the
 * pre-fence pass began (same clock, whole seconds); a commit in that same second counts as after it.
 */
export function fenceDelta(
  candidates: readonly string[],
  pre: { equal: ReadonlySet<string>; registry: readonly RegistryEntry[]; startedAt: number },
  current: readonly RegistryEntry[],
  updatedAt: ReadonlyMap<string, number | null>,
): string[] {
  const before = new Map(pre.registry.map((t) => [t.name, t]));
  const now = new Map(current.map((t) => [t.name, t]));
  return candidates.filter((name) => {
    const a = before.get(name);
    const b = now.get(name);
    if (!a || !b || !pre.equal.has(name)) return true;
    if (a.state !== b.state || a.rolledAt !== b.rolledAt) return true;
    const u = updatedAt.get(name);
    return u === undefined || u === null || u >= Math.floor(pre.startedAt);
  });
}
