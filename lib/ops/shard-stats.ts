import mysql from 'mysql2/promise';
import type { Credentials } from '../db/connect.js';
import type { Directory, Shard } from '../directory/directory.js';
import type { ShardRegistry } from '../shard/shard-registry.js';
import type { ShardStore } from '../shard/shard-store.js';
import { fencedAccounts } from '../shard/account-fence.js';
import { MoveJournal } from './move-journal.js';
import { parseReplicaHosts, parseReplicaStatus, rowsPerMinute, writeSampleOf, type ReplicaOf, type WriteSample } from './replication-status.js';

export interface ReplicaHealth {
  address: string;
  lagSeconds: number | null;
  error?: string;
}

export interface ShardHealth {
  reachable: boolean;
  /** Round trip of one query, ms. */
  latencyMs: number | null;
  version: string | null;
  error?: string;
  /** Set when the shard server itself replicates from another server. */
  replicaOf?: ReplicaOf;
  /** Replicas registered with the shard server, with their lag when they could be asked. */
  replicas: ReplicaHealth[];
}

export interface ShardStats {
  id: number;
  address: string;
  state: 'open' | 'closed';
  accounts: number;
  /** Unfinished moves into and out of the shard. */
  movesIn: number;
  movesOut: number;
  /** Accounts whose writes are fenced here right now (a move switching them). */
  fenced: number;
  health: ShardHealth;
  /** Registered per-period tables by kind (null when unreachable). */
  tables: { minute: number; hour: number; day: number } | null;
  /** Data + index bytes of the shard database. */
  dataBytes: number | null;
  /** InnoDB rows inserted + updated per minute on the server over the sampling window. */
  rowsPerMinute: number | null;
}

export interface ShardStatsOptions {
  directory: Directory;
  shards: ShardRegistry;
  credentials: Credentials;
  /** Per-shard budget, ms: a shard that does not answer in time is reported unreachable. */
  timeoutMs?: number;
}

const WINDOW_MS = 5 * 60_000;

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`cannot ${what}: no answer within ${ms} ms`)), ms);
    }),
  ]);
}

/**
 * Load and health of every shard, for `apm shards list` and the admin API. Keeps the write-counter
 * samples of the last five minutes per shard, so a long-lived caller (the admin service) reports the
 * rate over its recent past and a one-shot caller samples twice, `sampleMs` apart.
 */
export class ShardStatsCollector {
  readonly #samples = new Map<number, WriteSample[]>();
  readonly #journal: MoveJournal;

  constructor(private readonly o: ShardStatsOptions) {
    this.#journal = new MoveJournal(o.directory.db.promise);
  }

  async collect(opts: { sampleMs?: number } = {}): Promise<ShardStats[]> {
    const [shards, counts, moves] = await Promise.all([this.o.directory.listShards(), this.o.directory.accountCounts(), this.#journal.list({ limit: 1000 })]);
    const active = moves.filter((m) => m.active);
    return Promise.all(
      shards.map(async (s) => ({
        id: s.id,
        address: s.address,
        state: s.state,
        accounts: counts.get(s.id) ?? 0,
        movesIn: active.filter((m) => m.toShard === s.id).length,
        movesOut: active.filter((m) => m.fromShard === s.id).length,
        ...(await this.#one(s, opts.sampleMs ?? 1000)),
      })),
    );
  }

  async #one(s: Shard, sampleMs: number): Promise<Pick<ShardStats, 'health' | 'tables' | 'dataBytes' | 'rowsPerMinute' | 'fenced'>> {
    const budget = this.o.timeoutMs ?? 5000;
    try {
      return await within(this.#measure(s, sampleMs), budget + sampleMs, `ask shard ${s.id}`);
    } catch (err) {
      return { health: { reachable: false, latencyMs: null, version: null, error: (err as Error).message, replicas: [] }, tables: null, dataBytes: null, rowsPerMinute: null, fenced: 0 };
    }
  }

  async #measure(s: Shard, sampleMs: number): Promise<Pick<ShardStats, 'health' | 'tables' | 'dataBytes' | 'rowsPerMinute' | 'fenced'>> {
    const store = await this.o.shards.storeFor(s.id);
    const t0 = process.hrtime.bigint();
    const [v] = await store.pool.query<any[]>('SELECT VERSION() AS v');
    const latencyMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const [tables, size, fenced, replication] = await Promise.all([this.#tables(store), this.#size(store), fencedAccounts(store.pool), this.#replication(store)]);
    return {
      health: { reachable: true, latencyMs: Math.round(latencyMs * 10) / 10, version: String(v[0].v), ...replication },
      tables,
      dataBytes: size,
      rowsPerMinute: await this.#rate(s.id, store, sampleMs),
      fenced: fenced.filter((f) => f.state === 'fenced' && f.leased).length,
    };
  }

  async #tables(store: ShardStore): Promise<{ minute: number; hour: number; day: number }> {
    const [rows] = await store.pool.query<any[]>('SELECT kind, COUNT(*) AS n FROM table_registry GROUP BY kind');
    const out = { minute: 0, hour: 0, day: 0 };
    for (const r of rows) out[r.kind as 'minute' | 'hour' | 'day'] = Number(r.n);
    return out;
  }

  async #size(store: ShardStore): Promise<number> {
    const [rows] = await store.pool.query<any[]>('SELECT COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) AS b FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()');
    return Number(rows[0].b);
  }

  async #sample(store: ShardStore): Promise<WriteSample> {
    const [rows] = await store.pool.query<any[]>("SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_rows_inserted', 'Innodb_rows_updated')");
    return writeSampleOf(rows, Date.now());
  }

  async #rate(shardId: number, store: ShardStore, sampleMs: number): Promise<number | null> {
    const list = (this.#samples.get(shardId) ?? []).filter((x) => x.at >= Date.now() - WINDOW_MS);
    list.push(await this.#sample(store));
    if (list[0]!.at > Date.now() - sampleMs && sampleMs > 0) {
      await new Promise((r) => setTimeout(r, sampleMs));
      list.push(await this.#sample(store));
    }
    this.#samples.set(shardId, list.slice(-100));
    return rowsPerMinute(list);
  }

  /** The server's own replication, and its registered replicas' lag (asked with the same credentials). */
  async #replication(store: ShardStore): Promise<Pick<ShardHealth, 'replicaOf' | 'replicas'>> {
    const show = async (modern: string, legacy: string): Promise<any[]> => {
      try {
        return (await store.pool.query<any[]>(modern))[0];
      } catch {
        return (await store.pool.query<any[]>(legacy))[0];
      }
    };
    const replicaOf = parseReplicaStatus(await show('SHOW REPLICA STATUS', 'SHOW SLAVE STATUS'));
    const hosts = parseReplicaHosts(await show('SHOW REPLICA HOSTS', 'SHOW SLAVE HOSTS'));
    const replicas = await Promise.all(hosts.map((h) => this.#askReplica(`${h.host}:${h.port}`, h.host, h.port)));
    return { ...(replicaOf ? { replicaOf } : {}), replicas };
  }

  async #askReplica(address: string, host: string, port: number): Promise<ReplicaHealth> {
    let conn: mysql.Connection | undefined;
    try {
      conn = await mysql.createConnection({ host, port, ...this.o.credentials, connectTimeout: 2000 });
      let rows: any[];
      try {
        [rows] = await conn.query<any[]>('SHOW REPLICA STATUS');
      } catch {
        [rows] = await conn.query<any[]>('SHOW SLAVE STATUS');
      }
      const r = parseReplicaStatus(rows);
      return { address, lagSeconds: r?.lagSeconds ?? null, ...(r?.error ? { error: r.error } : r?.sqlRunning === false ? { error: 'replication SQL thread is not running' } : {}) };
    } catch (err) {
      return { address, lagSeconds: null, error: `cannot ask replica: ${(err as Error).message}` };
    } finally {
      await conn?.end().catch(() => undefined);
    }
  }
}
