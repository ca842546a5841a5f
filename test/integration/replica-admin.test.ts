import { silentLog } from '../../lib/log/log.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdmin, type AdminHandle } from '../../admin/admin.js';
import { HeartbeatWriter } from '../../lib/replica/heartbeat-writer.js';
import { freePort } from '../harness/ports.js';
import { startReplicatedShard, type ReplicatedShard } from './replica-fixture.js';
import { runCliCaptured } from '../harness/cli-capture.js';

const TOKEN = 'test-admin-token-0123456789abcdef';
let shard: ReplicatedShard;
let admin: AdminHandle;
let heartbeat: HeartbeatWriter;
let env: Record<string, string>;
let replica = '';
let primary = '';

async function call(method: string, route: string, body?: object) {
  const r = await fetch(`${admin.url}${route}`, { method, headers: { Authorization: `Bearer ${TOKEN}` }, ...(body ? { body: JSON.stringify(body) } : {}) });
  return { status: r.status, json: (await r.json()) as any };
}

const cli = (...argv: string[]) => runCliCaptured(argv, env);

beforeAll(async () => {
  shard = await startReplicatedShard();
  const config = shard.config.with({ APM_ADMIN_PORT: String(await freePort()), APM_ADMIN_METRICS_PORT: String(await freePort()), APM_ADMIN_TOKEN: TOKEN });
  admin = await startAdmin({ config, directory: shard.storage.directory, shards: shard.storage.shards, writer: shard.storage.writer, now: () => Date.now() / 1000, dataDir: '/nonexistent', log: silentLog });
  primary = `127.0.0.1:${shard.primary.servers[0]!.address.port}`;
  replica = `127.0.0.1:${shard.replicaAddress.port}`;
  env = { APM_SHARDS: primary, APM_DATA_DIR: '/nonexistent' };
  heartbeat = new HeartbeatWriter({ directory: shard.storage.directory, credentials: { user: 'root', password: '' }, database: 'apm_shard' });
}, 180_000);

afterAll(async () => {
  await heartbeat?.stop();
  await admin?.stop();
  await shard?.stop();
});

describe('registering replicas', () => {
  it('refuses bad registrations with a 4xx naming the problem, and writes nothing', async () => {
    expect(await call('POST', '/admin/shards/1/replicas', { address: 'nope' })).toEqual({ status: 400, json: { error: 'cannot add replica: cannot parse server address "nope": expected host:port' } });
    expect(await call('POST', '/admin/shards/1/replicas', { address: primary })).toEqual({ status: 400, json: { error: `cannot add replica: ${primary} is the primary of shard 1` } });
    expect(await call('POST', '/admin/shards/7/replicas', { address: replica })).toEqual({ status: 404, json: { error: 'cannot add replica: no shard 7' } });
    expect(await call('POST', '/admin/shards/1/replicas', {})).toEqual({ status: 400, json: { error: 'cannot add replica: give "address" as "host:port"' } });
    expect(await call('POST', '/admin/shards/1/replicas/remove', { address: replica })).toEqual({ status: 404, json: { error: `cannot remove replica: ${replica} is not a replica of shard 1` } });
    expect((await call('GET', '/admin/shards/1/replicas')).json).toEqual({ shard: 1, replicas: [] });
    expect((await cli('shards', 'replicas', 'add', '1', 'x')).code).toBe(2);
  });

  it('adds through the admin API, shows heartbeat lag and state, removes through the CLI', async () => {
    await shard.caughtUp();
    expect(await call('POST', '/admin/shards/1/replicas', { address: replica })).toEqual({ status: 201, json: { shardId: 1, address: replica, existed: false } });
    expect((await cli('shards', 'replicas', 'add', '1', replica)).out).toBe(`replica ${replica} of shard 1 (already registered)`);
    const before = (await call('GET', '/admin/shards/1/replicas')).json.replicas;
    expect(before).toEqual([{ address: replica, state: 'no_heartbeat', lagSeconds: null, secondsBehindMaster: 0, ioRunning: true, sqlRunning: true, error: 'no heartbeat replicated yet' }]);
    expect([...(await heartbeat.tick()).values()]).toEqual(['wrote']);
    await shard.caughtUp();
    const list = await cli('shards', 'replicas', 'list', '--json');
    const rows = JSON.parse(list.out);
    expect(rows.map((r: any) => [r.shard, r.address, r.state, r.lagSeconds < 5, r.sqlRunning])).toEqual([[1, replica, 'current', true, true]]);
    await shard.onReplica('STOP SLAVE SQL_THREAD');
    const shards = (await call('GET', '/admin/shards')).json.shards;
    expect(shards[0].readReplicas.map((r: any) => [r.address, r.sqlRunning, r.secondsBehindMaster])).toEqual([[replica, false, null]]);
    const text = await cli('shards', 'list', '--sample', '0');
    expect(text.out).toContain('read replicas');
    expect(text.out).toMatch(new RegExp(`${replica} (current|lagging), lag [0-9.]+ s \\(Seconds_Behind_Master NULL, SQL thread stopped\\)`));
    await shard.onReplica('START SLAVE SQL_THREAD');
    expect((await cli('shards', 'replicas', 'remove', '1', replica)).out).toBe(`replica ${replica} of shard 1 removed`);
    expect((await call('GET', '/admin/shards/1/replicas')).json).toEqual({ shard: 1, replicas: [] });
  });
});
