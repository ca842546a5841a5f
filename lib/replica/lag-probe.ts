import { sql } from 'kysely';
import type { Pool as PromisePool, RowDataPacket } from 'mysql2/promise';
import { queryBuilder, selectOn } from '../db/query-builder.js';
import type { ShardDatabase } from '../shard/shard-database.js';
import { parseReplicaStatus } from '../ops/replication-status.js';

/** What one measurement of a replica says. */
export interface LagReading {
  /**
   * Seconds the replica is behind: its clock minus the newest heartbeat it has applied (at least 0).
   * null when it cannot be measured (no heartbeat yet, no heartbeat table, unreachable): never routed to.
   */
  lagSeconds: number | null;
  /** Seconds_Behind_Master as the server reports it: shown beside, never used for routing. */
  secondsBehindMaster: number | null;
  ioRunning: boolean;
  sqlRunning: boolean;
  /** Why lagSeconds is null, or the replication error the server reports. */
  error?: string;
}

/**
 * Pure: the lag from a heartbeat row and a clock (both ms). A beat of 0 was never written. A beat
 * slightly in the future (clocks a few ms apart) counts as no lag.
 */
export function lagFromHeartbeat(beatMs: number, nowMs: number): number | null {
  if (!(beatMs > 0)) return null;
  return Math.max(0, nowMs - beatMs) / 1000;
}

/**
 * Measures a replica's lag as mk-heartbeat does (the seed: HyperDB's third option): the replicated
 * heartbeat row against the replica's clock (NOW(3) on the replica; `clock` in tests). Seconds_Behind_Master
 * is read too, for display: it can be fooled by IO latency and a broken connection to the primary.
 * Every statement has a timeout, so a hung replica costs at most `timeoutMs`.
 */
export async function probeLag(pool: PromisePool, opts: { clock?: () => number; timeoutMs?: number } = {}): Promise<LagReading> {
  const timeout = opts.timeoutMs ?? 1000;
  let beat: Array<{ beat_ms: number; now_ms: number | string }> = [];
  let missing = false;
  try {
    beat = await selectOn(
      pool,
      queryBuilder<ShardDatabase>().selectFrom('replica_heartbeat').select(['beat_ms', sql<number | string>`ROUND(UNIX_TIMESTAMP(NOW(3)) * 1000)`.as('now_ms')]).where('id', '=', 1),
      { timeoutMs: timeout },
    );
  } catch (err) {
    // The schema has not replicated that far yet (a new replica still catching up): not measurable.
    if ((err as { code?: string }).code !== 'ER_NO_SUCH_TABLE') throw err;
    missing = true;
  }
  // Display only: a user without the privilege to see it (REPLICATION CLIENT / SLAVE MONITOR) still routes.
  // Raw: SHOW (the server's replication status).
  let status: Array<Record<string, unknown>> = [];
  let statusError: string | undefined;
  for (const sql of ['SHOW SLAVE STATUS', 'SHOW REPLICA STATUS']) {
    try {
      [status] = await pool.query<Array<RowDataPacket & Record<string, unknown>>>({ sql, timeout });
      statusError = undefined;
      break;
    } catch (err) {
      statusError = `cannot read the replication status: ${(err as Error).message}`;
    }
  }
  const repl = statusError ? undefined : parseReplicaStatus(status);
  const row = beat[0];
  const nowMs = opts.clock ? opts.clock() * 1000 : Number(row?.now_ms);
  const lag = row ? lagFromHeartbeat(Number(row.beat_ms), nowMs) : null;
  const error = missing ? 'no heartbeat table replicated yet' : lag === null ? 'no heartbeat replicated yet' : statusError ?? repl?.error ?? (repl === undefined ? 'not replicating' : undefined);
  return {
    lagSeconds: lag,
    secondsBehindMaster: repl?.lagSeconds ?? null,
    ioRunning: repl?.ioRunning ?? false,
    sqlRunning: repl?.sqlRunning ?? false,
    ...(error ? { error } : {}),
  };
}
