import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBulkPool, WAITERS_PER_CONNECTION } from '../../lib/db/bulk-pool.js';
import { createPool } from '../../lib/db/connect.js';
import { PREPARED_PER_CONNECTION, WireConnection, type WireOptions } from '../../lib/db/wire/wire-connection.js';
import { classifyWriteError } from '../../lib/shard/shard-writer-errors.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';
import { freePort } from '../harness/ports.js';

/**
 * The bulk client (lib/db/wire) against a real MariaDB: values stored bit for bit, a statement over
 * more rows than one command holds, errors as the writer classifies them, text queries, logins, the
 * pool's bounds, and the prepared statements a connection keeps.
 */
let c: TestCluster;
let o: WireOptions;
beforeAll(async () => {
  c = await startTestCluster({ shards: 1 });
  const a = c.servers[0]!.address;
  o = { host: a.host, port: a.port, user: 'root', password: '', connectTimeoutMs: 3000 };
  const admin = await WireConnection.connect(o);
  await admin.query('CREATE DATABASE IF NOT EXISTS wire_test; CREATE TABLE IF NOT EXISTS wire_test.v (k BIGINT PRIMARY KEY, d DOUBLE, s VARCHAR(40), b BLOB)');
  await admin.close();
  o = { ...o, database: 'wire_test' };
});
afterAll(async () => c?.stop());

/** Runs `work` on a connection of its own as root. */
async function asAdmin(work: (a: WireConnection) => Promise<void>): Promise<void> {
  const a = await WireConnection.connect(o);
  try {
    await work(a);
  } finally {
    await a.close();
  }
}

/** Waits for `ok` (an event of the server's, not a time), failing after 5 s. */
async function until(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(ok()).toBe(true);
}

const upsert = 'INSERT INTO v (k, d, s, b) VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE d = VALUES(d), s = VALUES(s), b = VALUES(b)';

describe('the bulk client (lib/db/wire, issue #20)', () => {
  it('stores every value bit for bit: doubles at their limits, 64-bit keys, text in UTF-8, every byte, NULL', async () => {
    const conn = await WireConnection.connect(o);
    try {
      await conn.query('DELETE FROM v');
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const rows = [
        [2n ** 63n - 1n, 5e-324, 'ü€😀', bytes],
        [-(2 ** 53) + 1, 1.7976931348623157e308, "it's \\ \u0000", Buffer.alloc(0)],
        [1, 0.1 + 0.2, null, null],
        [2, 3, '', Buffer.from([0x27])],
      ];
      expect(await conn.batch(upsert, rows)).toEqual({ affectedRows: 4 });
      const reader = createPool(c.servers[0]!.address, { user: 'root', password: '', database: 'wire_test', connectionLimit: 1 });
      const [stored] = await reader.promise.query<any[]>('SELECT CAST(k AS CHAR) AS k, d, s, b FROM v ORDER BY k').finally(() => reader.end());
      expect(stored.map((r) => [r.k, r.d, r.s, r.b === null ? null : Buffer.from(r.b).toString('hex')])).toEqual([
        [String(-(2 ** 53) + 1), 1.7976931348623157e308, "it's \\ \u0000", ''],
        ['1', 0.30000000000000004, null, null],
        ['2', 3, '', '27'],
        [String(2n ** 63n - 1n), 5e-324, 'ü€😀', bytes.toString('hex')],
      ]);
      // An upsert that changes a stored row counts 2 (found rows, as MariaDB's connector counted).
      expect(await conn.batch(upsert, [[1, 7.5, 'x', null]])).toEqual({ affectedRows: 2 });
    } finally {
      await conn.close();
    }
  });

  it('a statement over more rows than one command holds goes as several, answered with the rows summed', async () => {
    const conn = await WireConnection.connect(o);
    try {
      await conn.query('DELETE FROM v');
      // 40,000 rows of about 60 bytes: 2.4 MB, three commands of at most 1 MiB.
      const rows = Array.from({ length: 40_000 }, (_, i) => [i, i / 4, `row ${i}`.padEnd(30, '.'), null]);
      expect(await conn.batch(upsert, rows)).toEqual({ affectedRows: 40_000 });
      expect(await conn.query('SELECT COUNT(*) AS n, SUM(d) AS d FROM v')).toEqual([{ n: '40000', d: String((39_999 * 40_000) / 2 / 4) }]);
    } finally {
      await conn.close();
    }
  });

  it('commands sent together are answered in order: a failed one names its error, the others still answer, the connection goes on', async () => {
    const conn = await WireConnection.connect(o);
    try {
      await conn.query('DELETE FROM v');
      const sent = [
        conn.query('SET autocommit = 0; START TRANSACTION; SELECT 9223372036854775807 + 1'),
        conn.batch('INSERT INTO v (k) VALUES (?)', [[1], [1]]),
        conn.batch(upsert, [[5, 1, 'a', null]]),
        conn.query('SELECT k, s, b FROM v; SELECT 2 AS two, NULL AS none'),
      ];
      const settled = await Promise.allSettled(sent);
      expect(settled.map((r) => (r.status === 'rejected' ? [r.reason.errno, r.reason.sqlState, r.reason.fatal, classifyWriteError(r.reason)] : r.value))).toEqual([
        [1690, '22003', false, 'data'],
        [1062, '23000', false, 'transient'],
        { affectedRows: 1 },
        [{ two: '2', none: null }],
      ]);
      await conn.query('ROLLBACK; SET autocommit = 1');
      expect([await conn.query('SELECT COUNT(*) AS n FROM v'), await conn.query('SELECT @@autocommit AS a, @@in_transaction AS t')]).toEqual([[{ n: '0' }], [{ a: '1', t: '0' }]]);
      await expect(conn.query('SELECT * FROM no_such_table')).rejects.toMatchObject({ errno: 1146, sqlState: '42S02', message: "(1146, 42S02) Table 'wire_test.no_such_table' doesn't exist" });
      await expect(conn.batch('INSERT INTO no_such_table VALUES (?)', [[1]])).rejects.toMatchObject({ errno: 1146 });
      expect(conn.alive).toBe(true);
    } finally {
      await conn.close();
    }
  });

  it('a destroyed connection fails every command still waiting, as a lost connection the writer retries; a closed one says QUIT first', async () => {
    const watcher = await WireConnection.connect(o);
    const aborted = async () => Number((await watcher.query("SHOW GLOBAL STATUS LIKE 'Aborted_clients'"))[0]!.Value);
    const before = await aborted();
    const closed = await WireConnection.connect(o);
    await closed.close();
    const conn = await WireConnection.connect(o);
    const waiting = conn.query('SELECT SLEEP(5)');
    conn.destroy();
    const err = await waiting.catch((e: Error) => e);
    expect([(err as { fatal?: boolean }).fatal, classifyWriteError(err), conn.alive, closed.alive]).toEqual([true, 'connection', false, false]);
    await expect(conn.query('SELECT 1')).rejects.toBe(err);
    // The server counts the destroyed connection as aborted (once its SLEEP ends), never the closed one.
    let now = before;
    for (let i = 0; i < 100 && now === before; i++) now = await new Promise((r) => setTimeout(r, 100)).then(aborted);
    expect(now - before).toBe(1);
    await watcher.close();
  });

  it('logs in with a password, refuses a wrong one and an unreachable server, and connects through the server\'s Unix socket', async () => {
    const admin = await WireConnection.connect(o);
    await admin.query("CREATE USER IF NOT EXISTS 'wire'@'localhost' IDENTIFIED BY 's3cret'; CREATE USER IF NOT EXISTS 'wire'@'127.0.0.1' IDENTIFIED BY 's3cret'; GRANT SELECT ON wire_test.* TO 'wire'@'localhost', 'wire'@'127.0.0.1'");
    await admin.close();
    const user = await WireConnection.connect({ ...o, user: 'wire', password: 's3cret' });
    expect((await user.query('SELECT CURRENT_USER() AS u, DATABASE() AS db'))[0]!.db).toBe('wire_test');
    await user.close();
    await expect(WireConnection.connect({ ...o, user: 'wire', password: 'wrong' })).rejects.toMatchObject({ code: 'ER_ACCESS_DENIED_ERROR', errno: 1045, fatal: true });
    await expect(WireConnection.connect({ ...o, database: 'no_such_database' })).rejects.toMatchObject({ code: 'ER_BAD_DB_ERROR', errno: 1049, fatal: true });
    await expect(WireConnection.connect({ ...o, port: await freePort() })).rejects.toMatchObject({ code: 'ECONNREFUSED', fatal: true });
    // An account of another login method: refused by name, and the pool answers "no bulk" (the writer's
    // text trip) instead of failing every write.
    await asAdmin(async (a) => {
      await a.query("INSTALL SONAME 'auth_ed25519'").catch(() => undefined);
      await a.query("CREATE USER IF NOT EXISTS 'wire_ed'@'localhost' IDENTIFIED VIA ed25519 USING PASSWORD('s3cret'); CREATE USER IF NOT EXISTS 'wire_ed'@'127.0.0.1' IDENTIFIED VIA ed25519 USING PASSWORD('s3cret')");
    });
    await expect(WireConnection.connect({ ...o, user: 'wire_ed', password: 's3cret' })).rejects.toMatchObject({
      code: 'ER_NOT_SUPPORTED_AUTH_MODE',
      message: 'cannot authenticate with client_ed25519: the bulk client speaks mysql_native_password only',
    });
    const edPool = createBulkPool(c.servers[0]!.address, { user: 'wire_ed', password: 's3cret', connectionLimit: 1, connectTimeoutMs: 3000 });
    expect([await edPool.connection(), await edPool.connection()]).toEqual([undefined, undefined]);
    await edPool.end();
    const viaSocket = await WireConnection.connect({ socketPath: c.servers[0]!.socket, user: 'root', password: '', connectTimeoutMs: 3000 });
    expect(await viaSocket.query('SELECT 1 AS one')).toEqual([{ one: '1' }]);
    await viaSocket.close();
  });

  it('keeps at most PREPARED_PER_CONNECTION prepared statements a connection, closing the least recently used', async () => {
    const conn = await WireConnection.connect(o);
    const count = async () => Number((await conn.query("SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'"))[0]!.Value);
    try {
      const statement = (i: number) => `INSERT INTO v (k, d) VALUES (?, ${i}) ON DUPLICATE KEY UPDATE d = VALUES(d)`;
      await conn.query('DELETE FROM v');
      const before = await count();
      await conn.batch(statement(0), [[1]]);
      for (let i = 1; i <= PREPARED_PER_CONNECTION + 20; i++) await conn.prepare([statement(i)]);
      expect(await count()).toBe(before + PREPARED_PER_CONNECTION);
      // The first statement was the least recently used: prepared again, still answering (key 1 found
      // with the same value counts 1, key 2 inserted 1).
      await expect(conn.batch(statement(0), [[1], [2]])).resolves.toEqual({ affectedRows: 2 });
      expect(await count()).toBe(before + PREPARED_PER_CONNECTION);
    } finally {
      await conn.close();
    }
  });

  it('batchInTransaction: a statement new to the connection goes in the same write as its execution; a preparation the server refuses runs the statement prepared last, which the rollback discards', async () => {
    const conn = await WireConnection.connect(o);
    const keys = async (t: string) => (await conn.query(`SELECT k FROM ${t} ORDER BY k`)).map((r) => Number(r.k));
    const setting = async () => Number((await conn.query("SHOW GLOBAL VARIABLES LIKE 'max_prepared_stmt_count'"))[0]!.Value);
    const maxStatements = await setting();
    try {
      await conn.query('DELETE FROM v; CREATE TABLE IF NOT EXISTS w (k BIGINT PRIMARY KEY); DELETE FROM w; SET autocommit = 0');
      const writes = conn.writes;
      const [, w, v] = await Promise.all([
        conn.query('START TRANSACTION'),
        conn.batchInTransaction('INSERT INTO w (k) VALUES (?)', [[3]]),
        conn.batchInTransaction('INSERT INTO v (k) VALUES (?)', [[1], [2]]),
        conn.query('COMMIT'),
      ]);
      expect(conn.writes - writes).toBe(1);
      expect([w, v]).toEqual([{ affectedRows: 1 }, { affectedRows: 2 }]);
      expect([await keys('v'), await keys('w')]).toEqual([[1, 2], [3]]);
      // Prepared now: executed by id, and the same statement again prepares nothing.
      await expect(conn.batchInTransaction('INSERT INTO w (k) VALUES (?)', [[4]])).resolves.toEqual({ affectedRows: 1 });
      await conn.query('COMMIT');

      // No room for one more statement on the server: the preparation fails before the server keeps it,
      // so the execution runs the statement prepared last (into v) with the rows meant for w.
      const count = Number((await conn.query("SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'"))[0]!.Value);
      await conn.query(`SET GLOBAL max_prepared_stmt_count = ${count}`);
      await conn.query('START TRANSACTION');
      await expect(conn.batchInTransaction('INSERT INTO w (k) VALUES (?) ON DUPLICATE KEY UPDATE k = k', [[9]])).rejects.toMatchObject({ errno: 1461 });
      expect([await keys('v'), await keys('w')]).toEqual([[1, 2, 9], [3, 4]]);
      await conn.query('ROLLBACK');
      expect([await keys('v'), await keys('w')]).toEqual([[1, 2], [3, 4]]);
    } finally {
      await conn.query(`SET GLOBAL max_prepared_stmt_count = ${maxStatements}; SET autocommit = 1`);
      await conn.close();
    }
  });

  it('the pool: at most connectionLimit connections, a wait for one bounded, a connection that ended replaced, an ended pool refusing', async () => {
    const a = c.servers[0]!.address;
    const pool = createBulkPool(a, { user: 'root', password: '', database: 'wire_test', connectionLimit: 2, connectTimeoutMs: 300 });
    const one = (await pool.connection())!;
    const two = (await pool.connection())!;
    const started = Date.now();
    await expect(pool.connection()).rejects.toThrow(`cannot get a connection of the bulk pool for ${a.host}:${a.port} within 300 ms: all 2 are busy`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    // Past WAITERS_PER_CONNECTION callers a connection, refused at once rather than queued.
    const queued = Array.from({ length: 2 * WAITERS_PER_CONNECTION }, () => pool.connection().catch((e: Error) => e.message));
    await expect(pool.connection()).rejects.toThrow(`cannot get a connection of the bulk pool for ${a.host}:${a.port}: all 2 are busy and 8 callers already wait`);
    expect(new Set(await Promise.all(queued))).toEqual(new Set([`cannot get a connection of the bulk pool for ${a.host}:${a.port} within 300 ms: all 2 are busy`]));
    const third = pool.connection();
    await one.release();
    expect((await third)!.threadId).toBe(one.threadId);
    const fourth = pool.connection();
    two.destroy();
    const replaced = (await fourth)!;
    expect([replaced.alive, replaced.threadId === two.threadId, replaced.threadId === one.threadId]).toEqual([true, false, false]);
    await one.release();
    await replaced.release();
    // An idle connection the server ends (KILL, or its wait_timeout) leaves the pool when its socket closes.
    const admin = await WireConnection.connect(o);
    await admin.query(`KILL ${one.threadId}`);
    await admin.close();
    await until(() => !one.alive);
    const after = (await pool.connection())!;
    expect([after.threadId === one.threadId, after.threadId === replaced.threadId]).toEqual([false, true]);
    await after.release();
    await pool.end();
    await expect(pool.connection()).rejects.toThrow('the pool was ended');
    expect([one.alive, replaced.alive]).toEqual([false, false]);
  });
});
