import mysql, { type RowDataPacket } from 'mysql2/promise';
import type { Credentials } from '../db/connect.js';
import type { Directory, Shard } from '../directory/directory.js';
import type { ShardRegistry } from '../shard/shard-registry.js';
import type { ShardStore } from '../shard/shard-store.js';
import { fencedAccounts } from '../shard/account-fence.js';
import { sql, type CompiledQuery } from 'kysely';
import { queryBuilder } from '../db/query-builder.js';
import type { ShardDatabase } from '../shard/shard-database.js';
import { beforeDeadline, boundedQuery } from './bounded-query.js';
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
  /** Statistics that did not answer in time or failed (the shard is up: its health check answered). */
  statsError?: string;
  /** How long this shard's pass took, ms. */
  statsMs?: number;
}

/** One bounded statement on a shard (bounded-query.ts): raw text for server statistics, or a compiled typed statement. */
type Query = <T>(statement: string | CompiledQuery<T>, what: string) => Promise<T[]>;

/** Rows of the raw statements (server functions, mysql.* statistics, SHOW: outside the typed schema). */
type VersionRow = { v: string };
type SizeRow = { b: number | string };
type StatusRow = { Variable_name: string; Value: unknown };
type ShowRow = Record<string, unknown>;

/** Typed statements compiled here and run through boundedQuery on the shard's pool. */
const shardSql = queryBuilder<ShardDatabase>();

export interface ShardStatsOptions {
  directory: Directory;
  shards: ShardRegistry;
  credentials: Credentials;
  /**
   * Per-shard budget, ms, of the health check (one `SELECT VERSION()`): a shard that does not answer in
   * time is reported unreachable. Each statistic has the same budget of its own: one that runs out is
   * cancelled on the server and reported missing (null, with statsError), never as the shard DOWN.
   */
  timeoutMs?: number;
}

const WINDOW_MS = 5 * 60_000;

type Measured = Pick<ShardStats, 'health' | 'tables' | 'dataBytes' | 'rowsPerMinute' | 'fenced' | 'statsError' | 'statsMs'>;

/**
 * Load and health of every shard, for `apm shards list` and the admin API. Keeps the write-counter
 * samples of the last five minutes per shard, so a long-lived caller (the admin service) reports the
 * rate over its recent past and a one-shot caller samples twice, `sampleMs` apart.
 *
 * Nothing here opens the shard's period tables (a shard holds hundreds of thousands; opening them
 * evicts the writer's hot tables from the table cache): table counts come from the registry (an index
 * scan), sizes from InnoDB's persistent statistics (mysql.innodb_table_stats, the page counts InnoDB
 * keeps per index, refreshed by its background statistics). Every statement is cancelled on the server
 * at its deadline (bounded-query.ts), and a pass still running when the next is asked for is joined,
 * never started twice.
 */
export class ShardStatsCollector {
  readonly #samples = new Map<number, WriteSample[]>();
  readonly #journal: MoveJournal;
  readonly #inFlight = new Map<number, Promise<Measured>>();

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

  #one(s: Shard, sampleMs: number): Promise<Measured> {
    let p = this.#inFlight.get(s.id);
    if (!p) {
      p = this.#measure(s, sampleMs).finally(() => this.#inFlight.delete(s.id));
      this.#inFlight.set(s.id, p);
    }
    return p;
  }

  async #measure(s: Shard, sampleMs: number): Promise<Measured> {
    const budget = this.o.timeoutMs ?? 5000;
    const t0 = Date.now();
    const down = (err: unknown): Measured => ({
      health: { reachable: false, latencyMs: null, version: null, error: (err as Error).message, replicas: [] },
      tables: null, dataBytes: null, rowsPerMinute: null, fenced: 0, statsMs: Date.now() - t0,
    });
    let store: ShardStore;
    let version: string;
    let latencyMs: number;
    try {
      store = await beforeDeadline(this.o.shards.storeFor(s.id), t0 + budget, `open shard ${s.id}`);
      const h0 = process.hrtime.bigint();
      const v = await boundedQuery<VersionRow[]>(store.pool, 'SELECT VERSION() AS v', [], budget, { mariadb: false, what: `ask shard ${s.id}` });
      latencyMs = Number(process.hrtime.bigint() - h0) / 1e6;
      version = String(v[0]!.v);
    } catch (err) {
      return down(err);
    }
    const q: Query = <T>(statement: string | CompiledQuery<T>, what: string) =>
      typeof statement === 'string'
        ? boundedQuery<T[]>(store.pool, statement, [], budget, { mariadb: /mariadb/i.test(version), what: `${what} of shard ${s.id}` })
        : boundedQuery<T[]>(store.pool, statement.sql, [...statement.parameters], budget, { mariadb: /mariadb/i.test(version), what: `${what} of shard ${s.id}` });
    const errors: string[] = [];
    const soft = async <T>(p: Promise<T>, fallback: T): Promise<T> => {
      try {
        return await p;
      } catch (err) {
        errors.push((err as Error).message);
        return fallback;
      }
    };
    const [tables, size, fenced, replication, rate] = await Promise.all([
      soft(this.#tables(q), null),
      soft(this.#size(q), null),
      soft(beforeDeadline(fencedAccounts(store.pool), Date.now() + budget, `read the fences of shard ${s.id}`), []),
      soft(beforeDeadline(this.#replication(store), Date.now() + budget, `read the replication of shard ${s.id}`), { replicas: [] as ReplicaHealth[] }),
      soft(this.#rate(s.id, q, sampleMs), null),
    ]);
    return {
      health: { reachable: true, latencyMs: Math.round(latencyMs * 10) / 10, version, ...replication },
      tables,
      dataBytes: size,
      rowsPerMinute: rate,
      fenced: fenced.filter((f) => f.state === 'fenced' && f.leased).length,
      ...(errors.length ? { statsError: errors.join('; ') } : {}),
      statsMs: Date.now() - t0,
    };
  }

  /** Registered tables by kind: a covering scan of the registry's (kind, period_start, account_id) index. */
  async #tables(q: Query): Promise<{ minute: number; hour: number; day: number }> {
    const rows = await q(shardSql.selectFrom('table_registry').select(['kind', sql<number>`COUNT(*)`.as('n')]).groupBy('kind').compile(), 'count the tables');
    const out = { minute: 0, hour: 0, day: 0 };
    for (const r of rows) out[r.kind] = Number(r.n);
    return out;
  }

  /**
   * Data + index bytes from InnoDB's persistent statistics (pages per index × page size): no table is
   * opened. Approximate like information_schema's figures (which come from the same statistics, after
   * opening every table); null when the statistics cannot be read (no SELECT on mysql.*).
   */
  async #size(q: Query): Promise<number> {
    const rows = await q<SizeRow>(
      'SELECT COALESCE(SUM(clustered_index_size + sum_of_other_index_sizes), 0) * @@innodb_page_size AS b FROM mysql.innodb_table_stats WHERE database_name = DATABASE()',
      'read the size',
    );
    return Number(rows[0]!.b);
  }

  async #sample(q: Query): Promise<WriteSample> {
    const rows = await q<StatusRow>("SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_rows_inserted', 'Innodb_rows_updated')", 'sample the write counters');
    return writeSampleOf(rows, Date.now());
  }

  async #rate(shardId: number, q: Query, sampleMs: number): Promise<number | null> {
    const list = (this.#samples.get(shardId) ?? []).filter((x) => x.at >= Date.now() - WINDOW_MS);
    list.push(await this.#sample(q));
    if (list[0]!.at > Date.now() - sampleMs && sampleMs > 0) {
      await new Promise((r) => setTimeout(r, sampleMs));
      list.push(await this.#sample(q));
    }
    this.#samples.set(shardId, list.slice(-100));
    return rowsPerMinute(list);
  }

  /** The server's own replication, and its registered replicas' lag (asked with the same credentials). */
  async #replication(store: ShardStore): Promise<Pick<ShardHealth, 'replicaOf' | 'replicas'>> {
    const show = async (modern: string, legacy: string): Promise<ShowRow[]> => {
      try {
        return (await store.pool.query<Array<RowDataPacket & ShowRow>>(modern))[0];
      } catch {
        return (await store.pool.query<Array<RowDataPacket & ShowRow>>(legacy))[0];
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
      let rows: ShowRow[];
      try {
        [rows] = await conn.query<Array<RowDataPacket & ShowRow>>('SHOW REPLICA STATUS');
      } catch {
        [rows] = await conn.query<Array<RowDataPacket & ShowRow>>('SHOW SLAVE STATUS');
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
