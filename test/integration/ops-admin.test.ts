import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startAdmin, type AdminHandle } from '../../admin/admin.js';
import { runCli } from '../../bin/apm.js';
import { MoveJournal } from '../../lib/ops/move-journal.js';
import type { ShardStats } from '../../lib/ops/shard-stats.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';
import { freePort } from '../harness/ports.js';
import { startReplicatedPair, type ReplicatedPair } from './ops-replication.js';

// Two shard servers from the harness, plus a real primary/replica pair (delayed replica) that the
// admin API adds as a third shard; the admin service and the `apm` CLI run against them.
let c: TestCluster;
let pair: ReplicatedPair;
let admin: AdminHandle;
const TOKEN = 'test-admin-token-0123456789abcdef';
let env: Record<string, string>;

async function call(method: string, route: string, o: { token?: string | null; body?: string | object } = {}) {
  const headers: Record<string, string> = {};
  const token = o.token === undefined ? TOKEN : o.token;
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  const body = o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
  const r = await fetch(`${admin.url}${route}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  return { status: r.status, headers: r.headers, json: (await r.json()) as any };
}

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (err.push(String(chunk)), true));
  try {
    const code = await runCli(argv, env);
    return { code, out: out.join('\n'), err: err.join('') };
  } finally {
    log.mockRestore();
    error.mockRestore();
    stderr.mockRestore();
  }
}

beforeAll(async () => {
  c = await startTestCluster({ shards: 2 });
  pair = await startReplicatedPair(path.join(c.dataDir, 'pair'));
  const config = c.config.with({ APM_ADMIN_PORT: String(await freePort()), APM_ADMIN_METRICS_PORT: String(await freePort()), APM_ADMIN_TOKEN: TOKEN });
  admin = await startAdmin(c.deps({ config }));
  env = { APM_SHARDS: c.servers.map((s) => `${s.address.host}:${s.address.port}`).join(','), APM_DATA_DIR: c.dataDir };
});

afterAll(async () => {
  await admin?.stop();
  await c?.stop();
  await pair?.stop();
});

describe('admin API', () => {
  it('needs the admin token: 401 without, 403 with a wrong one; /healthz is open', async () => {
    expect((await call('GET', '/healthz', { token: null })).json).toEqual({ ok: true });
    const none = await call('GET', '/admin/shards', { token: null });
    expect([none.status, none.headers.get('www-authenticate'), none.json.error]).toEqual([401, 'Bearer realm="apm-admin"', 'cannot authorize: send Authorization: Bearer <admin token>']);
    const wrong = await call('GET', '/admin/shards', { token: 'x'.repeat(32) });
    expect([wrong.status, wrong.json.error]).toEqual([403, 'cannot authorize: wrong admin token']);
    expect((await call('POST', '/admin/accounts', { token: 'nope', body: { name: 'x' } })).status).toBe(403);
    expect((await call('GET', '/admin/nothing')).status).toBe(404);
  });

  it('lists shards with state, accounts, tables, size, rows per minute and health', async () => {
    const made = (await call('POST', '/admin/accounts', { body: { name: 'listed' } })).json;
    const { store } = await c.registry.storeForAccount(made.account.id);
    const app = await c.directory.ensureApplication(made.account.id, 'app');
    const [m] = await store.metricIds(made.account.id, [{ name: 'WebTransaction', scope: '' }]);
    const agentId = await store.applicationAgentId(made.account.id, app.id);
    const t = Math.floor(Date.now() / 60000) * 60;
    await c.writer.write({ accountId: made.account.id, shardId: made.account.shardId, rows: [{ kind: 'minute', t, row: { metricId: m!, agentId, period: t, callCount: 1, totalTime: 1, exclusiveTime: 1, minTime: 1, maxTime: 1, sumOfSquares: 1 } }] });
    const r = await call('GET', '/admin/shards');
    expect(r.status).toBe(200);
    const shards = r.json.shards as ShardStats[];
    expect(shards.map((s) => [s.id, s.state, s.accounts, s.health.reachable])).toEqual([[1, 'open', 1, true], [2, 'open', 0, true]]);
    const home = shards.find((s) => s.id === made.account.shardId)!;
    expect(home.tables).toEqual({ minute: 1, hour: 0, day: 0 });
    expect(home.dataBytes).toBeGreaterThan(0);
    expect(home.rowsPerMinute).toBeGreaterThanOrEqual(0);
    expect(home.health.replicas).toEqual([]);
    expect(home.health.replicaOf).toBeUndefined();
  });

  it('adds a shard only once it is prepared; closes and opens shards', async () => {
    const bad = await call('POST', '/admin/shards', { body: { address: 'not an address' } });
    expect([bad.status, bad.json.error]).toEqual([400, 'cannot add shard: cannot parse server address "not an address": expected host:port']);
    expect((await call('POST', '/admin/shards', { body: '{"address":' })).json.error).toBe('cannot add shard: the body is not JSON');
    const downPort = await freePort();
    const down = await call('POST', '/admin/shards', { body: { address: `127.0.0.1:${downPort}` } });
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBe('10');
    expect(down.json.error).toMatch(/^cannot add shard at 127\.0\.0\.1:\d+: .*\(nothing was registered; run the command again once the server is up\)$/);
    expect((await c.directory.listShards()).map((s) => s.id)).toEqual([1, 2]);
    const added = await call('POST', '/admin/shards', { body: { address: `127.0.0.1:${pair.primary.port}` } });
    expect(added.status).toBe(201);
    // Id 3 went to the failed add (auto-increment ids are not reused).
    expect(added.json).toMatchObject({ id: 4, state: 'open', existed: false, templates: { minute: 4, hour: 4, day: 4 } });
    // A shard whose server is gone, as an earlier version's failed add left it behind.
    expect(await c.directory.addShard(`127.0.0.1:${downPort}`, 'closed')).toMatchObject({ id: 5, state: 'closed' });
    expect((await call('POST', '/admin/shards/4/close')).json).toMatchObject({ id: 4, state: 'closed' });
    expect((await call('POST', '/admin/shards/4/open')).json).toMatchObject({ id: 4, state: 'open' });
    expect((await call('POST', '/admin/shards/99/close')).status).toBe(404);
    expect((await call('POST', '/admin/shards/abc/close')).status).toBe(400);
  });

  it('reports the replication lag of a shard\'s replica', async () => {
    await new Promise((r) => setTimeout(r, 2500)); // the delayed replica falls further behind every second
    const shards = (await call('GET', '/admin/shards')).json.shards as ShardStats[];
    const primary = shards.find((s) => s.id === 4)!;
    expect(primary.health.replicas).toHaveLength(1);
    expect(primary.health.replicas[0]!.address).toBe(`127.0.0.1:${pair.replica.port}`);
    expect(primary.health.replicas[0]!.error).toBeUndefined();
    expect(primary.health.replicas[0]!.lagSeconds).toBeGreaterThanOrEqual(2);
    expect(shards.find((s) => s.id === 5)!.health).toMatchObject({ reachable: false });
  });

  it('moves an account in the background and reports its progress and outcome', async () => {
    const made = (await call('POST', '/admin/accounts', { body: { name: 'moved', plan: 'paid' } })).json;
    expect(made).toMatchObject({ account: { name: 'moved', plan: 'paid' } });
    expect(made.licenseKey).toMatch(/^[0-9a-f]{40}$/);
    const id = made.account.id;
    const from = made.account.shardId as number;
    const to = from === 1 ? 2 : 1;
    expect((await call('POST', `/admin/accounts/${id}/move`, { body: { to: from } })).json.error).toBe(`cannot move account ${id}: it already lives on shard ${from}`);
    expect((await call('POST', `/admin/accounts/${id}/move`, { body: { to: 'two' } })).status).toBe(400);
    expect((await call('POST', '/admin/accounts/9999/move', { body: { to } })).status).toBe(404);
    expect((await call('POST', `/admin/accounts/${id}/move`, { body: 'x'.repeat(20_000) })).status).toBe(413);
    const started = await call('POST', `/admin/accounts/${id}/move`, { body: { to } });
    expect(started.status).toBe(202);
    expect(started.json).toMatchObject({ accountId: id, fromShard: from, toShard: to, state: 'copying' });
    let status: any;
    for (let i = 0; i < 200; i++) {
      status = (await call('GET', `/admin/moves/${started.json.id}`)).json;
      if (status.state === 'done' && !status.runningHere) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toMatchObject({ state: 'done', active: false, recovery: { running: false, canResume: false, canRollback: false } });
    expect((await c.directory.getAccount(id)).shardId).toBe(to);
    expect((await call('GET', `/admin/moves?account=${id}`)).json.moves.map((m: any) => m.id)).toEqual([started.json.id]);
    expect((await call('POST', `/admin/accounts/${id}/move/resume`)).json.error).toBe(`cannot resume a move of account ${id}: it has no unfinished move`);
    expect((await call('POST', `/admin/accounts/${id}/move/rollback`)).status).toBe(404);
    expect((await call('GET', '/admin/moves/9999')).status).toBe(404);
    const metrics = await (await fetch(admin.metricsUrl)).text();
    expect(metrics).toMatch(/apm_admin_moves_total\{outcome="done",service="admin"\} 1/);
    expect(metrics).toMatch(/apm_admin_requests_total\{route="move",status="202",service="admin"\} 1/);
    expect(metrics).toMatch(/apm_admin_shard_up\{shard="1",service="admin"\} 1/);
  });
});

describe('move lock', () => {
  it('is held by one process at a time, and a holder whose connection broke notices before its next step', async () => {
    const journal = new MoveJournal(c.directory.db.promise);
    const lock = (await journal.lock(999))!;
    await lock.check();
    expect(await journal.running(999)).toBe(true);
    expect(await journal.lock(999)).toBeUndefined();
    const [rows] = await c.directory.db.promise.query<any[]>("SELECT IS_USED_LOCK(CONCAT(DATABASE(), '.move.999')) AS id");
    await c.directory.db.promise.query(`KILL ${Number(rows[0].id)}`);
    await expect(lock.check()).rejects.toThrow();
    await lock.release();
    expect(await journal.running(999)).toBe(false);
    const again = (await journal.lock(999))!;
    await again.check();
    await again.release();
  });
});

describe('apm CLI', () => {
  it('apm shards list shows every column, and --json the same data', async () => {
    const text = await cli('shards', 'list', '--sample', '200');
    expect(text.code).toBe(0);
    const lines = text.out.split('\n');
    expect(lines[0]).toMatch(/^id\s+address\s+state\s+health\s+accounts\s+moving\s+tables m\/h\/d\s+size\s+rows\/min\s+replication$/);
    expect(lines.find((l) => l.startsWith('5 '))).toMatch(/closed\s+DOWN \(/);
    expect(lines.find((l) => l.startsWith('4 '))).toMatch(new RegExp(`open\\s+up .* replica 127\\.0\\.0\\.1:${pair.replica.port}: lag \\d+ s$`));
    const json = await cli('shards', 'list', '--json', '--sample', '0');
    expect((JSON.parse(json.out) as ShardStats[]).map((s) => s.id)).toEqual([1, 2, 4, 5]);
  });

  it('apm shards close|open, and add refusing an unreachable server', async () => {
    expect((await cli('shards', 'close', '2')).out).toBe(`shard 2 at ${env.APM_SHARDS!.split(',')[1]} is closed`);
    expect((await cli('shards', 'open', '2')).out).toBe(`shard 2 at ${env.APM_SHARDS!.split(',')[1]} is open`);
    const r = await cli('shards', 'add', `127.0.0.1:${await freePort()}`);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^apm: cannot add shard at 127\.0\.0\.1:\d+: .*\(nothing was registered; run the command again once the server is up\)$/);
    expect((await c.directory.listShards()).map((s) => s.id)).toEqual([1, 2, 4, 5]);
  });

  it('apm accounts move with a progress bar; apm accounts moves lists it', async () => {
    const made = await c.directory.createAccount({ name: 'cli-moved' });
    const to = made.account.shardId === 1 ? 2 : 1;
    const r = await cli('accounts', 'move', String(made.account.id), '--to', String(to));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`^move \\d+: account ${made.account.id} moved from shard ${made.account.shardId} to shard ${to}: \\d+ rows copied, verified 0 tables / 0 rows equal on both sides, writes fenced \\d+ ms$`));
    expect(r.err).toMatch(/\[\.+\] 0\/0 tables {2}0 rows {2}copying/);
    expect(r.err).toMatch(/done/);
    const both = await cli('accounts', 'move', String(made.account.id), '--to', '1', '--resume');
    expect([both.code, both.err]).toEqual([2, 'apm: cannot move account: give exactly one of --to <shard>, --resume, --rollback']);
    const list = await cli('accounts', 'moves', '--account', String(made.account.id));
    expect(list.out.split('\n')[1]).toMatch(new RegExp(`^\\d+\\s+${made.account.id}\\s+${made.account.shardId}\\s+${to}\\s+done\\s+0/0`));
  });
});
