import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, typedDb } from '../../lib/db/connect.js';
import { inTransaction, queryBuilder, selectOn, statementKysely, writeOn } from '../../lib/db/query-builder.js';
import type { DirectoryDatabase } from '../../lib/directory/directory-database.js';
import { readFences, setFence } from '../../lib/shard/account-fence.js';
import type { ShardDatabase } from '../../lib/shard/shard-database.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';

let c: TestCluster;
beforeAll(async () => {
  c = await startTestCluster({ shards: 1 });
});
afterAll(async () => c?.stop());

const replicasOf = async (shardId: number) =>
  (await c.directory.db.kysely.selectFrom('shard_replicas').select('address').where('shard_id', '=', shardId).execute()).map((r) => r.address);

describe('typed statements (lib/db/query-builder.ts)', () => {
  it('typedDb is the pool’s own kysely', () => {
    expect(typedDb<DirectoryDatabase>(c.directory.db.promise)).toBe(c.directory.db.kysely);
  });

  it('inTransaction commits, rolls back on an error and surfaces that error', async () => {
    const db = c.directory.db.kysely;
    await inTransaction(db, (trx) => trx.insertInto('shard_replicas').values({ shard_id: 901, address: '127.0.0.1:1' }).execute());
    expect(await replicasOf(901)).toEqual(['127.0.0.1:1']);
    const err = await inTransaction(db, async (trx) => {
      await trx.insertInto('shard_replicas').values({ shard_id: 902, address: '127.0.0.1:2' }).execute();
      throw new Error('boom');
    }).catch((e: Error) => e);
    expect((err as Error).message).toBe('boom');
    expect(await replicasOf(902)).toEqual([]);
  });

  it('inTransaction: a statement past its timeout fails with the timeout, not with the rollback on the destroyed connection', async () => {
    // The directory through a pool whose statements are bounded at 200 ms.
    const bounded = createPool<DirectoryDatabase>(c.servers[0]!.address, { user: 'root', password: '', database: c.config.str('APM_DIRECTORY_DATABASE'), connectionLimit: 1, statementTimeoutMs: 200 });
    try {
      const err = await inTransaction(bounded.kysely, async (trx) => {
        await trx.insertInto('shard_replicas').values({ shard_id: 903, address: '127.0.0.1:3' }).execute();
        await sql`SELECT SLEEP(2)`.execute(trx);
      }).catch((e: { code?: string }) => e);
      expect((err as { code?: string }).code).toBe('PROTOCOL_SEQUENCE_TIMEOUT');
      expect(await replicasOf(903)).toEqual([]);
    } finally {
      await bounded.end();
    }
  });

  it('selectOn/writeOn run compiled statements on a held connection, with a per-statement timeout', async () => {
    const { store } = await c.registry.storeForAccount((await c.directory.createAccount({ name: 'typed' })).account.id);
    const q = queryBuilder<ShardDatabase>();
    const conn = await store.pool.getConnection();
    try {
      await conn.query('START TRANSACTION');
      const res = await writeOn(conn, q.insertInto('account_counters').ignore().values({ account_id: 777 }));
      expect(res.affectedRows).toBe(1);
      const rows = await selectOn(conn, q.selectFrom('account_counters').select(['account_id', 'next_metric_id', 'next_agent_id']).where('account_id', '=', 777));
      expect(rows).toEqual([{ account_id: 777, next_metric_id: 1, next_agent_id: 1 }]);
      await conn.query('ROLLBACK');
    } finally {
      conn.release();
    }
    await writeOn(store.pool, q.insertInto('account_counters').ignore().values({ account_id: 778 }));
    const one = q.selectFrom('account_counters').select(sql<number>`SLEEP(2)`.as('s')).where('account_id', '=', 778);
    expect(await selectOn(store.pool, one, { timeoutMs: 200 }).then(() => 'answered', (e: { code?: string }) => e.code)).toBe('PROTOCOL_SEQUENCE_TIMEOUT');
  });

  it('account fences: the locking read keeps LOCK IN SHARE MODE and returns typed fences', async () => {
    const { account } = await c.directory.createAccount({ name: 'fenced' });
    const { store } = await c.registry.storeForAccount(account.id);
    await setFence(store.pool, account.id, 'away', 5);
    const conn = await store.pool.getConnection();
    try {
      await conn.query('START TRANSACTION');
      const fences = await readFences(conn, [account.id], { lock: true });
      expect([...fences.values()]).toEqual([{ accountId: account.id, state: 'away', moveId: 5, leased: false }]);
      // The shared lock holds: another connection cannot change the row until this transaction ends.
      const other = await store.pool.getConnection();
      try {
        await other.query('SET SESSION innodb_lock_wait_timeout = 1');
        const blocked = await other.query("UPDATE account_fences SET state = 'open' WHERE account_id = ?", [account.id]).then(() => 'updated', (e: { code?: string }) => e.code);
        expect(blocked).toBe('ER_LOCK_WAIT_TIMEOUT');
      } finally {
        other.release();
      }
      await conn.query('COMMIT');
    } finally {
      conn.release();
    }
    await setFence(store.pool, account.id, 'open', null);
    expect((await readFences(store.pool, [account.id], { lock: false })).size).toBe(0);
  });

  it('statementKysely runs every statement through its function and refuses transactions', async () => {
    const seen: string[] = [];
    const view = statementKysely<DirectoryDatabase>((q) => {
      seen.push(q.sql);
      return c.directory.db.kysely.executeQuery(q);
    });
    const plans = await view.selectFrom('plans').select('name').orderBy('name').execute();
    expect(plans.map((p) => p.name)).toEqual(['free', 'paid']);
    expect(seen).toEqual(['select `name` from `plans` order by `name`']);
    await expect(view.transaction().execute(async () => undefined)).rejects.toThrow('BUG: transactions are not supported');
  });
});
