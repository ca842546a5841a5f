import os from 'node:os';
import { sql } from 'kysely';
import { createPool, parseAddress, type Credentials, type DbPool } from '../db/connect.js';
import { acquireNamedLock, type NamedLock } from '../db/named-lock.js';
import { queryBuilder, writeOn } from '../db/query-builder.js';
import type { ShardDatabase } from '../shard/shard-database.js';
import type { Directory } from '../directory/directory.js';
import { ReplicaDirectory } from './replica-directory.js';
import { type Log } from '../log/log.js';

/** The heartbeat UPDATE, compiled here and run on the connection that holds the writer's lock. */
const heartbeatSql = queryBuilder<ShardDatabase>();

/** Lock on each shard primary whose holder alone writes the heartbeat row. */
export const HEARTBEAT_LOCK_SUFFIX = '.heartbeat';

export interface HeartbeatWriterOptions {
  directory: Directory;
  credentials: Credentials;
  /** The shard database (APM_SHARD_DATABASE). */
  database: string;
  /** Unix seconds; unset: the primary server's own clock (NOW(3)) is written. Tests inject one. */
  clock?: () => number;
  /** Milliseconds between beats (1000). */
  intervalMs?: number;
  log?: Log;
}

export type BeatOutcome = 'wrote' | 'standby' | 'failed';

interface ShardBeat {
  address: string;
  pool: DbPool<unknown>;
  lock?: NamedLock;
  /** Ticks to wait before asking for the lock again (another process holds it). */
  backoff: number;
}

/**
 * Writes replica_heartbeat (schema/shard/0010) on the primary of every shard that has registered
 * replicas, once per interval. Any number of processes may run one: on each primary only the holder
 * of the named lock <database>.heartbeat writes; the others ask again every 5 ticks and take over
 * within seconds when the holder dies (the server frees the lock with its connection). Each shard has
 * a pool of one connection of its own, so the lock never takes a connection from the readers or the writer.
 */
export class HeartbeatWriter {
  readonly #beats = new Map<number, ShardBeat>();
  readonly #replicas: ReplicaDirectory;
  readonly #name = `${os.hostname()}/${process.pid}`.slice(0, 128);
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;
  #stopped = false;

  constructor(private readonly o: HeartbeatWriterOptions) {
    this.#replicas = new ReplicaDirectory(o.directory);
  }

  /** Beats now and then every interval (a beat still running when the next is due is not doubled). */
  start(): this {
    const beat = () => {
      if (this.#running || this.#stopped) return;
      this.#running = this.tick()
        .catch((err: Error) => this.o.log?.warn(`heartbeat: ${err.message}`))
        .finally(() => (this.#running = undefined));
    };
    beat();
    this.#timer = setInterval(beat, this.o.intervalMs ?? 1000);
    this.#timer.unref();
    return this;
  }

  /** One beat on every shard with replicas: what happened per shard id. */
  async tick(): Promise<Map<number, BeatOutcome>> {
    const shards = await this.o.directory.listShards();
    const withReplicas = new Set((await this.#replicas.list()).map((r) => r.shardId));
    const out = new Map<number, BeatOutcome>();
    for (const [id, b] of this.#beats) {
      const s = shards.find((x) => x.id === id);
      if (!withReplicas.has(id) || !s || s.address !== b.address) await this.#drop(id);
    }
    await Promise.all(
      shards.filter((s) => withReplicas.has(s.id)).map(async (s) => out.set(s.id, await this.#beat(s.id, s.address))),
    );
    return out;
  }

  async #beat(shardId: number, address: string): Promise<BeatOutcome> {
    if (this.#stopped) return 'standby';
    let b = this.#beats.get(shardId);
    if (!b) {
      b = { address, pool: createPool(parseAddress(address), { ...this.o.credentials, database: this.o.database, connectionLimit: 1, connectTimeout: 2000 }), backoff: 0 };
      this.#beats.set(shardId, b);
    }
    try {
      if (!b.lock) {
        if (b.backoff-- > 0) return 'standby';
        b.lock = await acquireNamedLock(b.pool.promise, HEARTBEAT_LOCK_SUFFIX, 0);
        if (!b.lock) {
          b.backoff = 4;
          return 'standby';
        }
      }
      const beat = this.o.clock ? Math.round(this.o.clock() * 1000) : sql<number>`ROUND(UNIX_TIMESTAMP(NOW(3)) * 1000)`;
      await writeOn(
        b.lock.conn,
        heartbeatSql.updateTable('replica_heartbeat').set({ beat_ms: beat, writer: this.#name, server_id: sql<number>`@@server_id` }).where('id', '=', 1),
        { timeoutMs: 2000 },
      );
      return 'wrote';
    } catch (err) {
      const lock = b.lock;
      b.lock = undefined;
      if (lock) lock.conn.destroy();
      this.o.log?.warn(`heartbeat: cannot beat on shard ${shardId}: ${(err as Error).message}`);
      return 'failed';
    }
  }

  async #drop(shardId: number): Promise<void> {
    const b = this.#beats.get(shardId);
    this.#beats.delete(shardId);
    if (!b) return;
    await b.lock?.release();
    await b.pool.end();
  }

  /** Stops beating and releases every lock (another process takes over). Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#running;
    await Promise.all([...this.#beats.keys()].map((id) => this.#drop(id)));
  }
}
