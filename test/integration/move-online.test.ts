import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fenceOf } from '../../lib/shard/account-fence.js';
import { AccountMover, ConflictError } from '../../lib/ops/account-mover.js';
import { periodTablesOn, type MoveProgress } from '../../lib/ops/move-context.js';
import { acquireRollupLock } from '../../lib/shard/rollup-lock.js';
import { openStorage, type Storage } from '../../lib/storage.js';
import type { Timeslice } from '../../lib/timeslice/timeslice.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';
import { freePort } from '../harness/ports.js';
import { sealWhole, startTestCollector, type RunningCollector } from './collector-newrelic-helpers.js';
import { LoadGenerator, OtlpLoad, storedRows, type Acked } from './move-load.js';
import { accountChecksums, expectExact, merged, otherRows } from './move-checks.js';
import { otlpPost } from './otlp-helpers.js';

// Three real MariaDB servers; accounts A, B, C land on shards 1, 2, 3 (round-robin). Two extra
// "collector processes" (own registry, writer and caches) post continuously while accounts move.
let c: TestCluster;
let p1: Storage;
let p2: Storage;
const acct = { a: 0, b: 0, c: 0 };
const app = { a: 0, b: 0, c: 0 };
let shardIds: number[] = [];
/** Seeded (historical) rows of account A, keyed like Acked.rows. */
const seeded = new Map<string, Timeslice>();

const HOUR = 3600;
const now = () => Date.now() / 1000;

function mover(extra: Partial<ConstructorParameters<typeof AccountMover>[0]> = {}): AccountMover {
  return new AccountMover({ directory: c.directory, shards: c.registry, cleanupDelayMs: 2500, chunkRows: 50, ...extra });
}

/** Seeds A with closed history: a minute table 3 h ago ('done'), an hour table and a day table. */
async function seedHistory(): Promise<void> {
  const { account, store } = await c.registry.storeForAccount(acct.a);
  const agentId = await store.agentId(acct.a, { applicationId: app.a, host: 'h1', pid: 1, language: 'nodejs' });
  const [m] = await store.metricIds(acct.a, [{ name: 'Custom/history', scope: '' }], { applicationId: app.a });
  const minute = Math.floor((now() - 3 * HOUR) / 60) * 60;
  const hour = Math.floor((now() - 40 * 86400) / HOUR) * HOUR;
  const day = Math.floor((now() - 400 * 86400) / 86400) * 86400;
  const slice = { callCount: 3, totalTime: 0.75, exclusiveTime: 0.5, minTime: 0.125, maxTime: 0.5, sumOfSquares: 0.3125 };
  for (const [kind, t] of [['minute', minute], ['minute', minute + 60], ['hour', hour], ['day', day]] as const) {
    await c.writer.write({ accountId: acct.a, shardId: account.shardId, rows: [{ kind, t, row: { ...slice, metricId: m!, agentId, period: t } }] });
  }
  seeded.set(`Custom/history|h1|${minute}`, slice);
  seeded.set(`Custom/history|h1|${minute + 60}`, slice);
  const ts = (await store.listTables({ accountId: acct.a, kind: 'minute' }))[0]!;
  await store.setRollupState(ts.name, 'done');
  // Per-account rows of other parts: the rollup's day states and a collector harvest record.
  await store.pool.query("INSERT INTO rollup_days (account_id, day, state, rolls) VALUES (?, ?, 'done', 2)", [acct.a, Math.floor(minute / 86400) * 86400]);
  await store.pool.query("INSERT INTO harvest_records (account_id, run_nonce, version, harvest_start, state) VALUES (?, '0123456789abcdef', 3, 1234.5, X'00ff')", [acct.a]);
}

beforeAll(async () => {
  c = await startTestCluster({ shards: 3 });
  shardIds = (await c.directory.listShards()).map((s) => s.id);
  const addresses = c.servers.map((s) => s.address);
  p1 = await openStorage(c.config, { shardAddresses: addresses });
  p2 = await openStorage(c.config, { shardAddresses: addresses });
  for (const k of ['a', 'b', 'c'] as const) {
    acct[k] = (await c.directory.createAccount({ name: `move-${k}` })).account.id;
    app[k] = (await c.directory.ensureApplication(acct[k], `app-${k}`)).id;
  }
  await seedHistory();
});

afterAll(async () => {
  await p1?.close();
  await p2?.close();
  await c?.stop();
});

describe('online account move', () => {
  const gens: Record<string, LoadGenerator> = {};
  const acked: Record<string, Acked> = {};

  it('moves an account while two collector processes post to it: rows equal exactly what was acknowledged', async () => {
    expect((await Promise.all([acct.a, acct.b, acct.c].map((id) => c.directory.getAccount(id)))).map((a) => a.shardId)).toEqual(shardIds);
    const before = await accountChecksums(c.storage, acct.c);
    const cGen = new LoadGenerator(p1, acct.c, app.c, 'c0', { intervalMs: 40, names: 5, newNameEvery: 1000 });
    gens.a1 = new LoadGenerator(p1, acct.a, app.a, 'a1', { intervalMs: 10, names: 12, newNameEvery: 7 });
    gens.a2 = new LoadGenerator(p2, acct.a, app.a, 'a2', { intervalMs: 10, names: 12, newNameEvery: 11 });
    gens.b = new LoadGenerator(p2, acct.b, app.b, 'b', { intervalMs: 15, names: 8, newNameEvery: 13 });
    Object.values(gens).forEach((g) => g.start());
    // C gets some data before the snapshot only (then stays untouched by the move).
    cGen.start();
    await new Promise((r) => setTimeout(r, 600));
    const cAcked = await cGen.stop();
    const cBefore = await accountChecksums(c.storage, acct.c);
    expect(cBefore).not.toEqual(before);
    await new Promise((r) => setTimeout(r, 1200));

    const others = await otherRows((await c.registry.storeFor(shardIds[0]!)).pool, acct.a);
    expect(others).toHaveLength(2);
    const progress: MoveProgress[] = [];
    const move = await mover({ onProgress: (p) => progress.push(p) }).move(acct.a, shardIds[1]!);
    expect(move.state).toBe('done');
    expect(move.fencedMs).toBeGreaterThan(0);
    expect(progress.map((p) => p.phase)).toEqual(expect.arrayContaining(['copying', 'syncing', 'switching', 'switched', 'done']));
    expect((await c.directory.getAccount(acct.a)).shardId).toBe(shardIds[1]);

    await new Promise((r) => setTimeout(r, 800));
    await gens.a1.resendKept(); // acknowledgements "lost" before the move, resent to the new shard
    acked.a1 = await gens.a1.stop();
    acked.a2 = await gens.a2.stop();
    acked.b = await gens.b.stop();
    for (const k of ['a1', 'a2', 'b']) {
      expect(acked[k]!.doubleCounted, k).toBe(0);
      expect(acked[k]!.duplicates, k).toBeGreaterThan(0);
    }
    expect(acked.a1!.retried + acked.a2!.retried).toBeGreaterThan(0);
    expect([...acked.a1!.refusals.keys(), ...acked.a2!.refusals.keys()].some((m) => /being moved|moved to another shard/.test(m))).toBe(true);

    // Everything acknowledged for A, plus its history, is on the new shard exactly once.
    expectExact(await storedRows(c.registry, acct.a), merged(acked.a1!.rows, acked.a2!.rows, seeded));
    // B lived on the target all along; C on the third shard: untouched.
    expectExact(await storedRows(c.registry, acct.b), acked.b!.rows);
    expectExact(await storedRows(c.registry, acct.c), cAcked.rows);
    expect(await accountChecksums(c.storage, acct.c)).toEqual(cBefore);

    // History moved with its registry state; nothing of A is left on the old shard but its fence.
    const dst = await c.registry.storeFor(shardIds[1]!);
    const src = await c.registry.storeFor(shardIds[0]!);
    const kinds = (await dst.listTables({ accountId: acct.a })).map((t) => `${t.kind}:${t.rollupState}`);
    expect(kinds).toEqual(expect.arrayContaining(['minute:done', 'hour:open', 'day:open']));
    expect(await periodTablesOn(src.pool, acct.a)).toEqual([]);
    const [left] = await src.pool.query<any[]>(
      'SELECT (SELECT COUNT(*) FROM table_registry WHERE account_id = ?) AS r, (SELECT COUNT(*) FROM metric_names WHERE account_id = ?) AS m, (SELECT COUNT(*) FROM agents WHERE account_id = ?) AS g',
      [acct.a, acct.a, acct.a],
    );
    expect(left[0]).toEqual({ r: 0, m: 0, g: 0 });
    expect(await otherRows(dst.pool, acct.a)).toEqual(others);
    expect(await otherRows(src.pool, acct.a)).toEqual([]);
    expect((await fenceOf(src.pool, acct.a)).state).toBe('away');
    expect((await fenceOf(dst.pool, acct.a)).state).toBe('open');
    const journal = (await mover().status({ accountId: acct.a }))[0]!;
    expect(journal.verified?.tables).toBe((await dst.listTables({ accountId: acct.a })).length);
  });

  it('an interrupted move says it can be resumed or rolled back, refuses a second move, and resumes', async () => {
    const gen = new LoadGenerator(p1, acct.b, app.b, 'b2', { intervalMs: 10, names: 6, newNameEvery: 5 });
    gen.start();
    await new Promise((r) => setTimeout(r, 500));
    await expect(mover({ crashAt: 'copying' }).move(acct.b, shardIds[2]!)).rejects.toThrow(/simulated crash/);
    const [status] = await mover().status({ accountId: acct.b });
    expect(status!.state).toBe('copying');
    expect(status!.recovery).toMatchObject({ running: false, canResume: true, canRollback: true });
    expect(status!.recovery.message).toMatch(/was interrupted while copying \(1\/\d+ tables\).*resumed \(apm accounts move \d+ --resume\) or rolled back/);
    const again = mover().move(acct.b, shardIds[2]!);
    await expect(again).rejects.toBeInstanceOf(ConflictError);
    await expect(again).rejects.toThrow(/interrupted while copying/);

    const done = await mover().resume(acct.b);
    expect(done.state).toBe('done');
    expect((await c.directory.getAccount(acct.b)).shardId).toBe(shardIds[2]);
    await new Promise((r) => setTimeout(r, 300));
    const b2 = await gen.stop();
    expect(b2.doubleCounted).toBe(0);
    expectExact(await storedRows(c.registry, acct.b), merged(acked.b!.rows, b2.rows));
  });

  it('a mover that dies behind the write fence blocks writes only until its lease lapses; the move then resumes (back to a shard the account left)', async () => {
    const gen = new LoadGenerator(p2, acct.a, app.a, 'a3', { intervalMs: 10, names: 6, newNameEvery: 9 });
    gen.start();
    await new Promise((r) => setTimeout(r, 400));
    await expect(mover({ crashAt: 'fenced', leaseSeconds: 2 }).move(acct.a, shardIds[0]!)).rejects.toThrow(/simulated crash/);
    const at = gen.acked.deliveries;
    await new Promise((r) => setTimeout(r, 3500));
    expect(gen.acked.deliveries).toBeGreaterThan(at + 10); // the lease lapsed: writes go on, on the old shard
    const [status] = await mover().status({ accountId: acct.a });
    expect(status!.recovery.canRollback).toBe(true);
    const done = await mover().resume(acct.a);
    expect(done.state).toBe('done');
    expect((await c.directory.getAccount(acct.a)).shardId).toBe(shardIds[0]);
    await new Promise((r) => setTimeout(r, 300));
    const a3 = await gen.stop();
    expect(a3.doubleCounted).toBe(0);
    expect(a3.duplicates).toBeGreaterThan(0);
    expectExact(await storedRows(c.registry, acct.a), merged(acked.a1!.rows, acked.a2!.rows, seeded, a3.rows));
    expect(await periodTablesOn((await c.registry.storeFor(shardIds[1]!)).pool, acct.a)).toEqual([]);
  });

  it('a mover stopped between the source\'s "away" and the directory switch, or after the switch, is resumed (and only resumed after the switch)', async () => {
    const gen = new LoadGenerator(p2, acct.b, app.b, 'b3', { intervalMs: 10, names: 6, newNameEvery: 7 });
    gen.start();
    await new Promise((r) => setTimeout(r, 300));
    const src = await c.registry.storeFor(shardIds[2]!);
    await expect(mover({ crashAt: 'away' }).move(acct.b, shardIds[0]!)).rejects.toThrow(/simulated crash/);
    expect((await fenceOf(src.pool, acct.b)).state).toBe('away');
    expect((await c.directory.getAccount(acct.b)).shardId).toBe(shardIds[2]);
    expect((await mover().resume(acct.b)).state).toBe('done');
    expect((await c.directory.getAccount(acct.b)).shardId).toBe(shardIds[0]);

    await expect(mover({ crashAt: 'switched' }).move(acct.b, shardIds[1]!)).rejects.toThrow(/simulated crash/);
    const [status] = await mover().status({ accountId: acct.b });
    expect(status!.recovery).toMatchObject({ canResume: true, canRollback: false });
    await expect(mover().rollback(acct.b)).rejects.toThrow(/cannot roll back: .*was interrupted after the switch: the account already lives on shard \d+; it can only be resumed/);
    expect((await mover().resume(acct.b)).state).toBe('done');
    expect(await periodTablesOn((await c.registry.storeFor(shardIds[0]!)).pool, acct.b)).toEqual([]);
    await new Promise((r) => setTimeout(r, 300));
    const b3 = await gen.stop();
    expect(b3.doubleCounted).toBe(0);
    const stored = await storedRows(c.registry, acct.b);
    for (const [k, v] of b3.rows) expect(stored.get(k), k).toEqual(v);
    for (const [k, v] of acked.b!.rows) expect(stored.get(k), k).toEqual(v);
  });

  it('rolls an interrupted move back: the account stays where it was and the target keeps nothing', async () => {
    const gen = new LoadGenerator(p1, acct.c, app.c, 'c1', { intervalMs: 10, names: 6, newNameEvery: 4 });
    gen.start();
    await new Promise((r) => setTimeout(r, 400));
    // A rollup run holds the source's lock: the move copies, then waits for it before the sync pass.
    const rollupRun = (await acquireRollupLock((await c.registry.storeFor(shardIds[2]!)).pool, 0))!;
    const released = new Promise((r) => setTimeout(r, 1500)).then(() => rollupRun.release());
    const phases: string[] = [];
    await expect(mover({ crashAt: 'syncing', onProgress: (p) => phases.push(p.phase) }).move(acct.c, shardIds[0]!)).rejects.toThrow(/simulated crash/);
    await released;
    expect(phases.indexOf('waiting')).toBeGreaterThan(phases.lastIndexOf('copying'));
    expect(phases.lastIndexOf('syncing')).toBeGreaterThan(phases.indexOf('waiting'));
    const dst = await c.registry.storeFor(shardIds[0]!);
    expect((await periodTablesOn(dst.pool, acct.c)).length).toBeGreaterThan(0);
    const back = await mover().rollback(acct.c);
    expect(back.state).toBe('rolled_back');
    expect((await c.directory.getAccount(acct.c)).shardId).toBe(shardIds[2]);
    expect(await periodTablesOn(dst.pool, acct.c)).toEqual([]);
    const [left] = await dst.pool.query<any[]>('SELECT COUNT(*) AS n FROM metric_names WHERE account_id = ?', [acct.c]);
    expect(Number(left[0].n)).toBe(0);
    const [rows] = await dst.pool.query<any[]>('SELECT (SELECT COUNT(*) FROM account_fences WHERE account_id = ?) AS f, (SELECT COUNT(*) FROM account_counters WHERE account_id = ?) AS n', [acct.c, acct.c]);
    expect([Number(rows[0].f), Number(rows[0].n)]).toEqual([0, 0]); // the target as it was: no fence, no counter row
    expect((await fenceOf((await c.registry.storeFor(shardIds[2]!)).pool, acct.c)).state).toBe('open');
    await expect(mover().rollback(acct.c)).rejects.toThrow(/has no unfinished move/);
    await new Promise((r) => setTimeout(r, 300));
    const c1 = await gen.stop();
    expect(c1.doubleCounted).toBe(0);
    const stored = await storedRows(c.registry, acct.c);
    for (const [k, v] of c1.rows) expect(stored.get(k), k).toEqual(v);
  });
});

describe('online account move under the collector (OTLP/HTTP)', () => {
  let col: RunningCollector;
  let otlpPort: number;

  beforeAll(async () => {
    otlpPort = await freePort();
    // The collector runs as its own "process": the directory, registry and writer of p1.
    col = await startTestCollector(c, { APM_OTLP_HTTP_PORT: String(otlpPort) }, { directory: p1.directory, shards: p1.shards, writer: p1.writer });
  });
  afterAll(async () => col?.handle.stop());

  it('moves an account while an exporter posts to the collector: per-minute totals equal exactly the exports answered 200', async () => {
    const made = await c.directory.createAccount({ name: 'move-otlp' });
    const id = made.account.id;
    const from = made.account.shardId;
    const to = shardIds.find((s) => s !== from)!;
    const load = new OtlpLoad(async (body) => {
      const r = await otlpPost(otlpPort, body, { apiKey: made.licenseKey });
      return { status: r.status, retryAfter: String(r.headers['retry-after'] ?? '') || undefined };
    }, 'svc-move', 10);
    load.start();
    await new Promise((r) => setTimeout(r, 1500));
    const move = await mover().move(id, to);
    expect(move.state).toBe('done');
    await new Promise((r) => setTimeout(r, 800));
    await load.resendKept();
    await load.stop();
    expect(load.statuses.get(503)).toBeGreaterThan(0); // the fence was met (and the exporter resent)
    expect(load.duplicatesResent).toBeGreaterThan(0);

    const { account, store } = await c.registry.storeForAccount(id);
    expect(account.shardId).toBe(to);
    const application = (await c.directory.findApplication(id, 'svc-move'))!;
    const appAgent = await store.applicationAgentId(id, application.id);
    const [metric] = await store.findMetrics(id, { names: ['OTLP/moves.test'], scope: '' });
    const stored = new Map<number, { count: number; total: number }>();
    const minuteTables = await store.listTables({ accountId: id, kind: 'minute' });
    await sealWhole(store, minuteTables); // the application rows of every minute, as the rollup derives them on the target
    for (const t of minuteTables) {
      const [rows] = await store.pool.query<any[]>(`SELECT period, call_count, total_time FROM ${t.name} WHERE metric_id = ? AND agent_id = ?`, [metric!.id, appAgent]);
      for (const r of rows) stored.set(Number(r.period), { count: Number(r.call_count), total: r.total_time });
    }
    expect([...stored.entries()].sort()).toEqual([...load.acked.entries()].sort());
    expect(await periodTablesOn((await c.registry.storeFor(from)).pool, id)).toEqual([]);
  });
});
