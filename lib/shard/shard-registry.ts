import type { Credentials } from '../db/connect.js';
import { createPool, ensureDatabase, JOB_STATEMENT_TIMEOUT_MS, parseAddress, REQUEST_STATEMENT_TIMEOUT_MS } from '../db/connect.js';
import type { Account, Directory } from '../directory/directory.js';
import { ShardStore } from './shard-store.js';
import type { ShardDatabase } from './shard-database.js';

export interface ShardRegistryOptions extends Credentials {
  database: string;
  maxMetricsPerApplication: number;
  /** Connections per shard pool (writer transactions + dictionary + reads). */
  connectionLimit: number;
  /** How long an account → shard lookup is trusted; moves are followed within this time. */
  accountTtlMs: number;
  /** The bound of every statement of these stores (default REQUEST_STATEMENT_TIMEOUT_MS, lib/db/connect.ts). */
  statementTimeoutMs?: number;
  /** The bound of the `jobs` registry (default JOB_STATEMENT_TIMEOUT_MS). */
  jobStatementTimeoutMs?: number;
}

/**
 * One ShardStore (pool, caches, migrated schema) per shard server of the directory. Stores are made
 * on first use, so a shard added by `apm shards add` is picked up without a restart; the account →
 * shard mapping is re-read after accountTtlMs, so moved accounts are followed too.
 */
export class ShardRegistry {
  readonly #stores = new Map<number, Promise<ShardStore>>();
  readonly #accounts = new Map<number, { account: Account; until: number }>();
  #jobs: ShardRegistry | undefined;
  /** The request registry of a jobs registry (forgotten accounts are forgotten there too). */
  #parent: ShardRegistry | undefined;

  constructor(readonly directory: Directory, private readonly o: ShardRegistryOptions) {}

  /** The bound of every statement of these stores that sets no timeout of its own. */
  get statementTimeoutMs(): number {
    return this.o.statementTimeoutMs ?? REQUEST_STATEMENT_TIMEOUT_MS;
  }

  /**
   * The same shards for jobs (rollups, seals, purges, moves, the CLI): stores over pools of their own
   * whose statements have the job bound instead of the request bound (lib/db/connect.ts). Opened on
   * first use, closed with this registry; this registry itself when its bound is the job bound.
   */
  get jobs(): ShardRegistry {
    const jobMs = this.o.jobStatementTimeoutMs ?? JOB_STATEMENT_TIMEOUT_MS;
    if (this.statementTimeoutMs === jobMs) return this;
    if (!this.#jobs) {
      this.#jobs = new ShardRegistry(this.directory, { ...this.o, statementTimeoutMs: jobMs });
      this.#jobs.#parent = this;
    }
    return this.#jobs;
  }

  storeFor(shardId: number): Promise<ShardStore> {
    let p = this.#stores.get(shardId);
    if (!p) {
      p = this.#open(shardId);
      this.#stores.set(shardId, p);
      p.catch(() => this.#stores.delete(shardId));
    }
    return p;
  }

  async #open(shardId: number): Promise<ShardStore> {
    const shard = await this.directory.getShard(shardId);
    const address = parseAddress(shard.address);
    await ensureDatabase(address, this.o, this.o.database);
    const pool = createPool<ShardDatabase>(address, { ...this.o, connectionLimit: this.o.connectionLimit });
    const store = new ShardStore(shardId, pool, { maxMetricsPerApplication: this.o.maxMetricsPerApplication });
    try {
      await store.migrate();
    } catch (err) {
      await pool.end();
      throw err;
    }
    return store;
  }

  /** The account (cached briefly) and the store of the shard it lives on now. */
  async storeForAccount(accountId: number): Promise<{ account: Account; store: ShardStore }> {
    const account = await this.account(accountId);
    return { account, store: await this.storeFor(account.shardId) };
  }

  async account(accountId: number): Promise<Account> {
    const hit = this.#accounts.get(accountId);
    if (hit && hit.until > Date.now()) return hit.account;
    const account = await this.directory.getAccount(accountId);
    if (this.#accounts.size > 100_000) this.#accounts.clear();
    this.#accounts.set(accountId, { account, until: Date.now() + this.o.accountTtlMs });
    return account;
  }

  /** Drops the cached account record (after a move) so the next lookup reads the directory (in the jobs and request registries alike). */
  forgetAccount(accountId: number): void {
    const root = this.#parent ?? this;
    root.#accounts.delete(accountId);
    if (root.#jobs) root.#jobs.#accounts.delete(accountId);
  }

  /** Stores of every shard in the directory (opening any not yet open). */
  async all(): Promise<ShardStore[]> {
    const shards = await this.directory.listShards();
    return Promise.all(shards.map((s) => this.storeFor(s.id)));
  }

  /** Closes and forgets the store of a shard (after it was unregistered). */
  async drop(shardId: number): Promise<void> {
    const p = this.#stores.get(shardId);
    this.#stores.delete(shardId);
    const store = await p?.catch(() => undefined);
    await store?.close();
    await this.#jobs?.drop(shardId);
  }

  async close(): Promise<void> {
    await this.#jobs?.close();
    const stores = await Promise.allSettled([...this.#stores.values()]);
    this.#stores.clear();
    await Promise.all(stores.map((s) => (s.status === 'fulfilled' ? s.value.close() : undefined)));
  }
}
