import { createHash } from 'node:crypto';
import type { PoolConnection } from 'mysql2/promise';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { RetryableError } from '../errors.js';
import { RowMerger } from '../timeslice/row-merger.js';
import type { TimesliceRow } from '../timeslice/timeslice.js';
import type { ShardRegistry } from './shard-registry.js';
import type { ShardStore } from './shard-store.js';
import { takeBatch } from './shard-writer-batch.js';
import { isWritableRow, ledgerDdl, upsertSql, valuesTuple } from './shard-writer-sql.js';
import type { Fence } from '../ops/account-fence.js';
import { WriterFences } from '../ops/writer-fences.js';
import { ledgerTableName, type TableKind } from './table-naming.js';

export interface WriteRow {
  kind: TableKind;
  /** Any second inside the row's table span (usually the row's period). */
  t: number;
  row: TimesliceRow;
}

export interface WriteRequest {
  accountId: number;
  shardId: number;
  rows: WriteRow[];
  /**
   * Identifies a delivery: a request whose key was already committed for this account is
   * acknowledged without writing (see "Retries and deduplication" in schema/README.md).
   */
  dedupeKey?: string;
}

export interface WriterOptions {
  batchRows: number;
  flushMs: number;
  maxPendingRows: number;
  connections: number;
  timeoutMs: number;
  now: () => number;
  registry?: Registry;
}

interface Pending {
  req: WriteRequest;
  digest: Buffer | undefined;
  deadline: number;
  resolve: (r: WriteOutcome) => void;
  reject: (e: Error) => void;
}

export type WriteOutcome = 'committed' | 'duplicate';

class ShardQueue {
  queue: Pending[] = [];
  pendingRows = 0;
  inFlight = 0;
  /** Accounts a transaction in flight holds: their other requests wait for the next transaction. */
  busyAccounts = new Set<number>();
  timer: NodeJS.Timeout | undefined;
  downUntil = 0;
}

const RETRIES = 4;
const NO_SUCH_TABLE = 1146;
const TRANSIENT = new Set([1213 /* deadlock */, 1205 /* lock wait timeout */, 1062 /* ledger key raced */]);

/**
 * The shared batched writer. Rows of many concurrent requests are grouped per shard into
 * transactions of about `batchRows` rows (never splitting a request), merged per (table, metric,
 * agent, period) in memory, and written as multi-row upserts that merge exactly with what is stored.
 * A request's promise resolves only after its transaction committed. Back-pressure: past
 * `maxPendingRows` queued rows per shard, or when the shard is unreachable, writes fail at once with
 * RetryableError (503); a request still queued at its deadline fails the same way. A request that
 * entered a transaction is never failed while its outcome is unknown.
 */
export class ShardWriter {
  readonly #queues = new Map<number, ShardQueue>();
  /** "<shard>:<ledger table>" known to exist. */
  readonly #ledgers = new Set<string>();
  /** Online account moves: see lib/ops/account-fence.ts (the only hook of lib/ops in this file). */
  readonly #fences = new WriterFences();
  readonly #ledgerSweeps = new Map<number, number>();
  #stopped = false;
  readonly #sweeper: NodeJS.Timeout;
  readonly #m;

  constructor(private readonly shards: ShardRegistry, private readonly o: WriterOptions) {
    const registers = o.registry ? [o.registry] : [];
    this.#m = {
      rows: new Counter({ name: 'apm_writer_rows_written_total', help: 'Timeslice rows upserted, per shard', labelNames: ['shard'], registers }),
      requests: new Counter({ name: 'apm_writer_requests_total', help: 'Write requests by outcome', labelNames: ['outcome'], registers }),
      batch: new Histogram({ name: 'apm_writer_batch_rows', help: 'Rows per committed transaction', buckets: [1, 10, 100, 500, 1000, 2000, 5000, 20000], registers }),
      commit: new Histogram({ name: 'apm_writer_commit_seconds', help: 'Transaction latency from BEGIN to COMMIT', buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers }),
      pending: new Gauge({ name: 'apm_writer_pending_rows', help: 'Rows queued, not yet in a transaction, per shard', labelNames: ['shard'], registers }),
    };
    this.#sweeper = setInterval(() => this.#sweep(), 250);
    this.#sweeper.unref();
  }

  /** Queues the request; resolves once committed ('duplicate' when its dedupe key was already). */
  write(req: WriteRequest): Promise<WriteOutcome> {
    if (this.#stopped) return Promise.reject(new RetryableError('cannot write: the writer is stopping', 5));
    // A malformed row is a caller's bug: fail that request alone, never the batch it would join.
    for (const w of req.rows) {
      if (!isWritableRow(w.row)) {
        try {
          valuesTuple(w.row); // throws the BUG message naming the bad value
        } catch (err) {
          return Promise.reject(err);
        }
      }
    }
    const q = this.#queue(req.shardId);
    if (Date.now() < q.downUntil) {
      this.#m.requests.inc({ outcome: 'shard_down' });
      return Promise.reject(new RetryableError(`cannot write to shard ${req.shardId}: it is unreachable`, 10));
    }
    if (q.pendingRows + req.rows.length > this.o.maxPendingRows && q.pendingRows > 0) {
      this.#m.requests.inc({ outcome: 'overloaded' });
      return Promise.reject(new RetryableError(`cannot write to shard ${req.shardId}: ${q.pendingRows} rows are already waiting`, 5));
    }
    return new Promise<WriteOutcome>((resolve, reject) => {
      const digest = req.dedupeKey === undefined ? undefined : createHash('sha256').update(req.dedupeKey).digest();
      q.queue.push({ req, digest, deadline: Date.now() + this.o.timeoutMs, resolve, reject });
      q.pendingRows += req.rows.length;
      this.#m.pending.set({ shard: String(req.shardId) }, q.pendingRows);
      this.#schedule(req.shardId, q);
    });
  }

  /** Rows queued for a shard (for self-metrics and the benchmark). */
  pendingRows(shardId: number): number {
    return this.#queues.get(shardId)?.pendingRows ?? 0;
  }

  #queue(shardId: number): ShardQueue {
    let q = this.#queues.get(shardId);
    if (!q) this.#queues.set(shardId, (q = new ShardQueue()));
    return q;
  }

  #schedule(shardId: number, q: ShardQueue): void {
    if (q.inFlight >= this.o.connections) return;
    if (q.pendingRows >= this.o.batchRows || this.o.flushMs === 0 || this.#stopped) {
      void this.#flush(shardId, q);
    } else {
      q.timer ??= setTimeout(() => {
        q.timer = undefined;
        void this.#flush(shardId, q);
      }, this.o.flushMs);
    }
  }

  #sweep(): void {
    const now = Date.now();
    for (const [shardId, q] of this.#queues) {
      const keep: Pending[] = [];
      for (const p of q.queue) {
        if (p.deadline < now) {
          q.pendingRows -= p.req.rows.length;
          this.#m.requests.inc({ outcome: 'timeout' });
          p.reject(new RetryableError(`cannot write to shard ${shardId}: not committed within ${this.o.timeoutMs} ms`, 5));
        } else keep.push(p);
      }
      q.queue = keep;
    }
  }

  async #flush(shardId: number, q: ShardQueue): Promise<void> {
    while (q.queue.length > 0 && q.inFlight < this.o.connections) {
      const { batch, rest, rows } = takeBatch(q.queue, q.busyAccounts, this.o.batchRows);
      if (batch.length === 0) return; // every queued account is in a transaction: its end reschedules
      q.queue = rest;
      q.pendingRows -= rows;
      this.#m.pending.set({ shard: String(shardId) }, q.pendingRows);
      const accounts = new Set(batch.map((p) => p.req.accountId));
      for (const a of accounts) q.busyAccounts.add(a);
      q.inFlight++;
      void this.#commit(shardId, q, batch).finally(() => {
        q.inFlight--;
        for (const a of accounts) q.busyAccounts.delete(a);
        if (q.queue.length > 0) this.#schedule(shardId, q);
      });
    }
  }

  async #commit(shardId: number, q: ShardQueue, batch: Pending[]): Promise<void> {
    // Two deliveries with the same key in one batch: the later one follows the first one's outcome.
    const first = new Map<string, Pending>();
    const followers: Array<[Pending, Pending]> = [];
    const leaders: Pending[] = [];
    for (const p of batch) {
      const k = p.digest ? `${p.req.accountId}:${p.digest.toString('hex')}` : undefined;
      const lead = k ? first.get(k) : undefined;
      if (lead) followers.push([p, lead]);
      else {
        if (k) first.set(k, p);
        leaders.push(p);
      }
    }
    const outcomes = new Map<Pending, WriteOutcome>();
    // Requests of an account that is being moved (or has moved) are refused: 503, the client resends.
    const refused = new Map<Pending, RetryableError>();
    try {
      const store = await this.shards.storeFor(shardId);
      const pre = await this.#fences.precheck(store.pool, shardId, leaders.map((p) => p.req.accountId));
      const live = leaders.filter((p) => !pre.has(p.req.accountId));
      for (const p of leaders) if (pre.has(p.req.accountId)) refused.set(p, this.#fences.refuse(this.shards, store, pre.get(p.req.accountId)!));
      for (let attempt = 1; live.length > 0; attempt++) {
        try {
          const { dups, fenced } = await this.#transaction(store, live);
          for (const p of live) {
            const f = fenced.get(p.req.accountId);
            if (f) refused.set(p, this.#fences.refuse(this.shards, store, f));
            else outcomes.set(p, dups.has(p) ? 'duplicate' : 'committed');
          }
          break;
        } catch (err) {
          const errno = (err as { errno?: number }).errno ?? 0;
          if (attempt < RETRIES && errno === NO_SUCH_TABLE) {
            // Another process dropped or moved a table this process had cached: look it up again.
            for (const p of leaders) store.forgetTables(p.req.accountId);
            continue;
          }
          if (attempt < RETRIES && TRANSIENT.has(errno)) continue;
          throw err;
        }
      }
    } catch (err) {
      // The answer names the problem; the driver's text (SQL, table names) stays in `cause`, for logs (#18.9).
      const retryable = err instanceof RetryableError ? err : Object.assign(new RetryableError(`cannot write to shard ${shardId}: the transaction failed`, 5), { cause: err });
      if (isConnectionError(err)) q.downUntil = Date.now() + 1000;
      this.#m.requests.inc({ outcome: 'failed' }, batch.length);
      for (const p of batch) p.reject(retryable);
      return;
    }
    const leaderOf = new Map(followers);
    for (const p of batch) {
      const r = refused.get(leaderOf.get(p) ?? p);
      if (r) {
        this.#m.requests.inc({ outcome: 'fenced' });
        p.reject(r);
        continue;
      }
      const o = outcomes.get(p) ?? 'duplicate';
      this.#m.requests.inc({ outcome: o });
      p.resolve(o);
    }
  }

  /**
   * One transaction for the batch; returns the requests that were duplicates (not written) and the
   * accounts refused by a move fence (nothing of theirs written).
   */
  async #transaction(store: ShardStore, batch: Pending[]): Promise<{ dups: Set<Pending>; fenced: Map<number, Fence> }> {
    const tables = new Map<string, { kind: TableKind; accountId: number; t: number }>();
    for (const p of batch) for (const w of p.req.rows) {
      const key = `${w.kind}:${p.req.accountId}:${w.t}`;
      if (!tables.has(key)) tables.set(key, { kind: w.kind, accountId: p.req.accountId, t: w.t });
    }
    const infos = new Map<string, Awaited<ReturnType<ShardStore['ensureTable']>>>();
    for (const [key, t] of tables) infos.set(key, await store.ensureTable(t.accountId, t.kind, t.t));
    const conn = await store.pool.getConnection();
    const started = process.hrtime.bigint();
    let dups = new Set<Pending>();
    let fenced = new Map<number, Fence>();
    let written = 0;
    try {
      // DDL commits implicitly in MySQL, so the day's ledger table is made before the transaction.
      for (const name of this.#ledgerTables(batch).keys()) {
        if (!this.#ledgers.has(`${store.shardId}:${name}`)) {
          await conn.query(ledgerDdl(name));
          this.#ledgers.add(`${store.shardId}:${name}`);
        }
      }
      await conn.beginTransaction();
      // First statement: the move fence (shared locks held until commit; lib/ops/account-fence.ts).
      fenced = await this.#fences.check(conn, batch.map((p) => p.req.accountId));
      const live = fenced.size === 0 ? batch : batch.filter((p) => !fenced.has(p.req.accountId));
      dups = await this.#ledger(conn, live);
      // Merge in memory per table and row key, then upsert table by table.
      const perTable = new Map<string, RowMerger>();
      for (const p of live) {
        if (dups.has(p)) continue;
        for (const w of p.req.rows) {
          const name = infos.get(`${w.kind}:${p.req.accountId}:${w.t}`)!.name;
          let rows = perTable.get(name);
          if (!rows) perTable.set(name, (rows = new RowMerger()));
          rows.add(w.row);
        }
      }
      for (const [name, rows] of perTable) {
        const list = rows.rows();
        for (let i = 0; i < list.length; i += this.o.batchRows) await conn.query(upsertSql(name, list.slice(i, i + this.o.batchRows)));
        written += list.length;
      }
      // Late rows for a table whose span has ended: the rollup must (re)roll it.
      const ended = [...infos.values()].filter((i) => i.end <= this.o.now() && perTable.has(i.name)).map((i) => i.name);
      if (ended.length > 0) {
        await conn.query(
          `UPDATE table_registry SET rollup_state = 'dirty' WHERE rollup_state IN ('rolling', 'done') AND name IN (${ended.map(() => '?').join(', ')})`,
          ended,
        );
      }
      await this.#commitOrVerify(conn, live, dups);
    } catch (err) {
      await conn.rollback().catch(() => undefined);
      conn.release();
      throw err;
    }
    conn.release();
    this.#m.commit.observe(Number(process.hrtime.bigint() - started) / 1e9);
    this.#maybeDropLedgers(store);
    this.#m.batch.observe(written);
    this.#m.rows.inc({ shard: String(store.shardId) }, written);
    return { dups, fenced };
  }

  /** Finds already-committed keys (locking their ledger range) and records the new ones. */
  /** At most once an hour per shard, drop ledger tables older than a few days (in the background). */
  #maybeDropLedgers(store: ShardStore): void {
    const last = this.#ledgerSweeps.get(store.shardId) ?? 0;
    if (Date.now() - last < 3_600_000) return;
    this.#ledgerSweeps.set(store.shardId, Date.now());
    store.dropOldLedgers(this.o.now()).then(
      (dropped) => dropped.forEach((name) => this.#ledgers.delete(`${store.shardId}:${name}`)),
      () => undefined,
    );
  }

  /** Keyed requests grouped by the ledger table of their earliest row's day. */
  #ledgerTables(batch: Pending[]): Map<string, Pending[]> {
    const byTable = new Map<string, Pending[]>();
    for (const p of batch) {
      if (!p.digest || p.req.rows.length === 0) continue;
      const name = ledgerTableName(earliestT(p.req.rows));
      byTable.set(name, [...(byTable.get(name) ?? []), p]);
    }
    return byTable;
  }

  async #ledger(conn: PoolConnection, batch: Pending[]): Promise<Set<Pending>> {
    const dups = new Set<Pending>();
    for (const [name, ps] of this.#ledgerTables(batch)) {
      const [rows] = await conn.query<any[]>(
        `SELECT account_id, dedupe_key FROM ${name} WHERE (account_id, dedupe_key) IN (${ps.map(() => '(?, ?)').join(', ')}) FOR UPDATE`,
        ps.flatMap((p) => [p.req.accountId, p.digest]),
      );
      const seen = new Set(rows.map((r) => `${r.account_id}:${Buffer.from(r.dedupe_key).toString('hex')}`));
      const fresh = ps.filter((p) => {
        const dup = seen.has(`${p.req.accountId}:${p.digest!.toString('hex')}`);
        if (dup) dups.add(p);
        return !dup;
      });
      if (fresh.length > 0) {
        await conn.query(`INSERT INTO ${name} (account_id, dedupe_key) VALUES ${fresh.map(() => '(?, ?)').join(', ')}`, fresh.flatMap((p) => [p.req.accountId, p.digest]));
      }
    }
    return dups;
  }

  /**
   * COMMIT; when the connection fails during COMMIT the outcome is unknown: if every keyed request of
   * the batch is in the ledger, the commit happened. Unkeyed batches fail (the client retries).
   */
  async #commitOrVerify(conn: PoolConnection, batch: Pending[], dups: Set<Pending>): Promise<void> {
    try {
      await conn.commit();
    } catch (err) {
      const keyed = batch.filter((p) => p.digest && !dups.has(p) && p.req.rows.length > 0);
      if (keyed.length === 0 || keyed.length !== batch.length - dups.size) throw err;
      const store = await this.shards.storeFor(batch[0]!.req.shardId);
      for (const p of keyed) {
        const name = ledgerTableName(earliestT(p.req.rows));
        const [rows] = await store.pool.query<any[]>(`SELECT 1 FROM ${name} WHERE account_id = ? AND dedupe_key = ?`, [p.req.accountId, p.digest]);
        if (rows.length === 0) throw err;
      }
    }
  }

  /** Flushes everything queued, waits for transactions in flight, then refuses new writes. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#sweeper);
    for (;;) {
      let busy = false;
      for (const [shardId, q] of this.#queues) {
        if (q.timer) {
          clearTimeout(q.timer);
          q.timer = undefined;
        }
        if (q.queue.length > 0) void this.#flush(shardId, q);
        if (q.queue.length > 0 || q.inFlight > 0) busy = true;
      }
      if (!busy) return;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? '';
  return /ECONNREFUSED|ETIMEDOUT|PROTOCOL_CONNECTION_LOST|ECONNRESET|EHOSTUNREACH|ENOTFOUND/.test(code);
}

/** The earliest `t` of a request's rows (a loop: spreading 125k+ rows into Math.min overflows the stack). */
function earliestT(rows: readonly WriteRow[]): number {
  let min = Infinity;
  for (const w of rows) if (w.t < min) min = w.t;
  return min;
}
