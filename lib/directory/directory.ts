import { sql, type Selectable, type Updateable } from 'kysely';
import type { DbPool } from '../db/connect.js';
import { formatAddress, parseAddress } from '../db/connect.js';
import { migrate } from '../db/migrations.js';
import { inTransaction } from '../db/query-builder.js';
import { ConflictError, InputError, NotFoundError } from '../errors.js';
import type { Account, Application, DirectoryDatabase, NewAccount, Retention, Shard, ShardState } from './directory-database.js';
import { hashKey, newBrowserKey, newLicenseKey, newReadKey } from './keys.js';

export type { Account, Application, NewAccount, Shard, ShardState } from './directory-database.js';

/** Picks the open shard after `lastShardId` in id order, wrapping around; undefined when none is open. */
export function nextShard(shards: readonly Shard[], lastShardId: number): Shard | undefined {
  const open = shards.filter((s) => s.state === 'open').sort((a, b) => a.id - b.id);
  return open.find((s) => s.id > lastShardId) ?? open[0];
}

const ACCOUNT_COLUMNS = [
  'accounts.id', 'accounts.name', 'accounts.plan', 'accounts.shard_id', 'accounts.browser_key', 'accounts.created_at',
  'plans.minute_days', 'plans.hour_days', 'plans.day_days',
] as const;

type AccountRow = Pick<Selectable<DirectoryDatabase['accounts']>, 'id' | 'name' | 'plan' | 'shard_id' | 'browser_key' | 'created_at'> &
  Pick<Selectable<DirectoryDatabase['plans']>, 'minute_days' | 'hour_days' | 'day_days'>;

function toAccount(r: AccountRow): Account {
  return {
    id: Number(r.id),
    name: r.name,
    plan: r.plan,
    shardId: Number(r.shard_id),
    browserKey: r.browser_key,
    createdAt: r.created_at,
    retention: { minuteDays: Number(r.minute_days), hourDays: Number(r.hour_days), dayDays: r.day_days === null ? null : Number(r.day_days) },
  };
}

function toApplication(r: Selectable<DirectoryDatabase['applications']>): Application {
  let origins: unknown;
  try {
    origins = JSON.parse(r.allowed_origins);
  } catch {
    origins = [];
  }
  return {
    id: Number(r.id),
    accountId: Number(r.account_id),
    name: r.name,
    apdexT: Number(r.apdex_t),
    browserApdexT: Number(r.browser_apdex_t),
    allowedOrigins: Array.isArray(origins) ? origins.filter((o): o is string => typeof o === 'string') : [],
  };
}

/**
 * The directory: shards, accounts (round-robin over open shards), applications and keys.
 * Secret keys are stored as SHA-256 hashes and returned only by createAccount.
 */
export class Directory {
  constructor(readonly db: DbPool<DirectoryDatabase>) {}

  /** Applies pending schema/directory migrations (DDL: with the job bound, lib/db/connect.ts). */
  async migrate(): Promise<string[]> {
    return migrate(this.db.jobs.promise, 'directory');
  }

  async listShards(): Promise<Shard[]> {
    const rows = await this.db.kysely.selectFrom('shards').select(['id', 'address', 'state']).orderBy('id').execute();
    return rows.map((r) => ({ id: Number(r.id), address: r.address, state: r.state }));
  }

  async getShard(id: number): Promise<Shard> {
    const s = (await this.listShards()).find((x) => x.id === id);
    if (!s) throw new NotFoundError(`cannot find shard ${id}: no such shard`);
    return s;
  }

  /** Registers a shard server (normalised host:port); returns the existing one when already known. */
  async addShard(address: string, state: ShardState = 'open'): Promise<Shard> {
    let normal: string;
    try {
      normal = formatAddress(parseAddress(address));
    } catch (err) {
      throw new InputError((err as Error).message);
    }
    await this.db.kysely.insertInto('shards').ignore().values({ address: normal, state }).execute();
    const s = (await this.listShards()).find((x) => x.address === normal);
    if (!s) throw new Error(`BUG: shard ${normal} missing after insert`);
    return s;
  }

  async setShardState(id: number, state: ShardState): Promise<Shard> {
    if (!(await this.listShards()).some((s) => s.id === id)) {
      throw new NotFoundError(`cannot ${state === 'open' ? 'open' : 'close'} shard ${id}: no such shard`);
    }
    await this.db.kysely.updateTable('shards').set({ state }).where('id', '=', id).execute();
    return this.getShard(id);
  }

  /** The shortest minute retention of any plan, in days (bounds how late collectors accept data). */
  async shortestMinuteRetentionDays(): Promise<number> {
    const r = await this.db.kysely.selectFrom('plans').select((eb) => eb.fn.min('minute_days').as('d')).executeTakeFirst();
    return Number(r?.d ?? 0);
  }

  /**
   * Unregisters a shard that holds no account and is part of no unfinished move. Serialised with
   * account creation (the assignment cursor's lock), so no account lands on it meanwhile.
   */
  async removeShard(id: number): Promise<Shard> {
    const shard = await this.getShard(id);
    await inTransaction(this.db.kysely, async (trx) => {
      await trx.selectFrom('assignment_cursor').select('last_shard_id').where('id', '=', 1).forUpdate().executeTakeFirstOrThrow();
      const accounts = await trx.selectFrom('accounts').select(sql<number>`COUNT(*)`.as('n')).where('shard_id', '=', id).executeTakeFirstOrThrow();
      if (Number(accounts.n) > 0) throw new ConflictError(`cannot remove shard ${id}: it holds ${accounts.n} account(s); move them away first (apm accounts move <account> --to <shard>)`);
      const moves = await trx
        .selectFrom('account_moves')
        .select(sql<number>`COUNT(*)`.as('n'))
        .where('active', '=', 1)
        .where((eb) => eb.or([eb('from_shard', '=', id), eb('to_shard', '=', id)]))
        .executeTakeFirstOrThrow();
      if (Number(moves.n) > 0) throw new ConflictError(`cannot remove shard ${id}: an unfinished move involves it; finish or roll it back first (apm accounts moves)`);
      await trx.deleteFrom('shards').where('id', '=', id).execute();
    });
    return shard;
  }

  /** The retention of every plan (what purges may drop, by tier). */
  async planRetentions(): Promise<Retention[]> {
    const rows = await this.db.kysely.selectFrom('plans').select(['minute_days', 'hour_days', 'day_days']).execute();
    return rows.map((p) => ({ minuteDays: Number(p.minute_days), hourDays: Number(p.hour_days), dayDays: p.day_days === null ? null : Number(p.day_days) }));
  }

  async plans(): Promise<string[]> {
    return (await this.db.kysely.selectFrom('plans').select('name').orderBy('name').execute()).map((r) => r.name);
  }

  /**
   * Creates an account on the next open shard after the persisted cursor. The cursor row is locked
   * FOR UPDATE, so concurrent creations from any number of processes take one cursor step each.
   */
  async createAccount(input: { name: string; plan?: string }): Promise<NewAccount> {
    const name = input.name.trim();
    const plan = input.plan ?? 'free';
    if (name.length === 0 || name.length > 255) throw new InputError('cannot create account: name must be 1 to 255 characters');
    if (!(await this.plans()).includes(plan)) throw new InputError(`cannot create account: unknown plan ${JSON.stringify(plan)} (plans: ${(await this.plans()).join(', ')})`);
    const licenseKey = newLicenseKey();
    const browserKey = newBrowserKey();
    const readKey = newReadKey();
    const id = await inTransaction(this.db.kysely, async (trx) => {
      const cursor = await trx.selectFrom('assignment_cursor').select('last_shard_id').where('id', '=', 1).forUpdate().executeTakeFirstOrThrow();
      const shards = await trx.selectFrom('shards').select(['id', 'address', 'state']).execute();
      const shard = nextShard(shards.map((s) => ({ ...s, id: Number(s.id) })), Number(cursor.last_shard_id));
      if (!shard) throw new InputError('cannot create account: no open shard (add one with `apm shards add` or open one)');
      const r = await trx
        .insertInto('accounts')
        .values({ name, plan, shard_id: shard.id, license_key_hash: hashKey(licenseKey), read_key_hash: hashKey(readKey), browser_key: browserKey })
        .executeTakeFirstOrThrow();
      await trx.updateTable('assignment_cursor').set({ last_shard_id: shard.id }).where('id', '=', 1).execute();
      return Number(r.insertId);
    });
    return { account: await this.getAccount(id), licenseKey, browserKey, readKey };
  }

  #accounts() {
    return this.db.kysely.selectFrom('accounts').innerJoin('plans', 'plans.name', 'accounts.plan').select(ACCOUNT_COLUMNS);
  }

  async getAccount(id: number): Promise<Account> {
    const r = await this.#accounts().where('accounts.id', '=', id).executeTakeFirst();
    if (!r) throw new NotFoundError(`cannot find account ${id}: no such account`);
    return toAccount(r);
  }

  async listAccounts(): Promise<Account[]> {
    return (await this.#accounts().orderBy('accounts.id').execute()).map(toAccount);
  }

  async accountByLicenseKey(key: string): Promise<Account | undefined> {
    const r = await this.#accounts().where('accounts.license_key_hash', '=', hashKey(key)).executeTakeFirst();
    return r ? toAccount(r) : undefined;
  }

  async accountByReadKey(key: string): Promise<Account | undefined> {
    const r = await this.#accounts().where('accounts.read_key_hash', '=', hashKey(key)).executeTakeFirst();
    return r ? toAccount(r) : undefined;
  }

  async accountByBrowserKey(key: string): Promise<Account | undefined> {
    const r = await this.#accounts().where('accounts.browser_key', '=', key).executeTakeFirst();
    return r ? toAccount(r) : undefined;
  }

  /** Points an account at another shard (the last step of a move). */
  async setAccountShard(accountId: number, shardId: number): Promise<void> {
    await this.getShard(shardId);
    await this.db.kysely.updateTable('accounts').set({ shard_id: shardId }).where('id', '=', accountId).execute();
  }

  /** The application of that name, created on first sight (agents name their application). */
  async ensureApplication(accountId: number, name: string): Promise<Application> {
    const trimmed = name.trim();
    if (trimmed.length === 0 || Buffer.byteLength(trimmed) > 255) throw new InputError('cannot use application name: must be 1 to 255 bytes');
    const found = await this.findApplication(accountId, trimmed);
    if (found) return found;
    await this.db.kysely.insertInto('applications').ignore().values({ account_id: accountId, name: trimmed, allowed_origins: '[]' }).execute();
    const made = await this.findApplication(accountId, trimmed);
    if (!made) throw new Error('BUG: application missing after insert');
    return made;
  }

  async findApplication(accountId: number, name: string): Promise<Application | undefined> {
    const r = await this.db.kysely.selectFrom('applications').selectAll().where('account_id', '=', accountId).where('name', '=', name).executeTakeFirst();
    return r ? toApplication(r) : undefined;
  }

  async getApplication(id: number): Promise<Application> {
    const r = await this.db.kysely.selectFrom('applications').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw new NotFoundError(`cannot find application ${id}: no such application`);
    return toApplication(r);
  }

  async listApplications(accountId: number): Promise<Application[]> {
    const rows = await this.db.kysely.selectFrom('applications').selectAll().where('account_id', '=', accountId).orderBy('name').execute();
    return rows.map(toApplication);
  }

  async updateApplication(id: number, change: { apdexT?: number; browserApdexT?: number; allowedOrigins?: string[] }): Promise<Application> {
    const set: Updateable<DirectoryDatabase['applications']> = {};
    for (const [k, v] of [['apdexT', change.apdexT], ['browserApdexT', change.browserApdexT]] as const) {
      if (v !== undefined && !(Number.isFinite(v) && v > 0 && v <= 3600)) throw new InputError(`cannot update application: ${k} must be between 0 and 3600 seconds`);
    }
    if (change.apdexT !== undefined) set.apdex_t = change.apdexT;
    if (change.browserApdexT !== undefined) set.browser_apdex_t = change.browserApdexT;
    if (change.allowedOrigins !== undefined) {
      for (const o of change.allowedOrigins) {
        if (!/^https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?$/.test(o)) throw new InputError(`cannot update application: ${JSON.stringify(o)} is not an origin like https://shop.example`);
      }
      set.allowed_origins = JSON.stringify(change.allowedOrigins);
    }
    if (Object.keys(set).length > 0) await this.db.kysely.updateTable('applications').set(set).where('id', '=', id).execute();
    return this.getApplication(id);
  }

  /** How many accounts each shard holds. */
  async accountCounts(): Promise<Map<number, number>> {
    const rows = await this.db.kysely.selectFrom('accounts').select(['shard_id', sql<number>`COUNT(*)`.as('n')]).groupBy('shard_id').execute();
    return new Map(rows.map((r) => [Number(r.shard_id), Number(r.n)]));
  }

  async close(): Promise<void> {
    await this.db.end();
  }
}
