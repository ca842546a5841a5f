import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_EPOCH_MAX_AGE_MS, rotateKey } from '../../lib/directory/key-epoch.js';
import { openStorage, type Storage } from '../../lib/storage.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';
import { capture, countsOf, shiftedMetricData } from '../harness/newrelic-captures.js';
import { agentPost, committed, connectAgent, startTestCollector, type RunningCollector } from './collector-newrelic-helpers.js';

// Two real shard servers and a collector. Shard 2's server is frozen with SIGSTOP (resumed after);
// a second "process" (its own storage) rotates keys while the collector serves.
let c: TestCluster;
let col: RunningCollector;
let other: Storage;
const now = () => Date.now() / 1000;

beforeAll(async () => {
  c = await startTestCluster({ shards: 2 });
  col = await startTestCollector(c);
  other = await openStorage(c.config, { shardAddresses: c.servers.map((s) => s.address) });
});

afterAll(async () => {
  await col?.handle.stop();
  await other?.close();
  await c?.stop();
});

async function agent(name: string, wantShard: number) {
  for (;;) {
    const made = await c.directory.createAccount({ name });
    if (made.account.shardId !== wantShard) continue;
    const { store } = await c.registry.storeForAccount(made.account.id);
    const run = await connectAgent(col, made.licenseKey, { apps: ['app'], host: 'web-1', pid: 7 });
    const app = (await c.directory.findApplication(made.account.id, 'app'))!;
    const agentId = await store.agentId(made.account.id, { applicationId: app.id, host: 'web-1', pid: 7, language: 'nodejs' });
    return { id: made.account.id, key: made.licenseKey, run, store, agentId };
  }
}

function serverPid(index: number): number {
  return Number(fs.readFileSync(path.join(c.dataDir, 'mariadb', `shard-${index}`, 'mariadb.pid'), 'utf8').trim());
}

describe('a frozen shard server (SIGSTOP)', () => {
  it('answers 503 with Retry-After within 10 s; other shards carry on; the resent harvest is counted once', async () => {
    const [s1, s2] = await c.directory.listShards();
    const frozen = await agent('frozen', s2!.id);
    const healthy = await agent('healthy', s1!.id);
    const first = shiftedMetricData(capture('05'), frozen.run, now(), 120);
    expect((await agentPost(col, 'metric_data', first, { licenseKey: frozen.key, runId: frozen.run })).status).toBe(200);
    const second = shiftedMetricData(capture('06'), frozen.run, now(), 1);
    const pid = serverPid(2);
    process.kill(pid, 'SIGSTOP');
    let answer;
    let elapsed;
    try {
      const t0 = Date.now();
      answer = await agentPost(col, 'metric_data', second, { licenseKey: frozen.key, runId: frozen.run });
      elapsed = Date.now() - t0;
      // The healthy shard's account is served meanwhile.
      const ok = await agentPost(col, 'metric_data', shiftedMetricData(capture('05'), healthy.run, now(), 1), { licenseKey: healthy.key, runId: healthy.run });
      expect(ok.status).toBe(200);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    console.log(`frozen shard: harvest answered ${answer.status} after ${elapsed} ms`);
    expect(answer.status).toBe(503);
    expect(Number(answer.headers['retry-after'])).toBeGreaterThan(0);
    expect(elapsed).toBeLessThan(10_000);
    // The agent resends the same harvest after Retry-After: accepted once the server is back.
    let status = 0;
    for (let i = 0; i < 60 && status !== 200; i++) {
      status = (await agentPost(col, 'metric_data', second, { licenseKey: frozen.key, runId: frozen.run })).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 500));
    }
    expect(status).toBe(200);
    expect((await agentPost(col, 'metric_data', second, { licenseKey: frozen.key, runId: frozen.run })).status).toBe(200);
    const want = countsOf(first);
    for (const [k, n] of countsOf(second)) want.set(k, (want.get(k) ?? 0) + n);
    const got = await committed(frozen.store, frozen.id, frozen.agentId);
    expect(new Map([...got].map(([k, v]) => [k, v.count]))).toEqual(want);
  }, 90_000);
});

describe('key rotation', () => {
  it('refuses the old license key on a running collector within the bound (connect and harvests); the new one works', async () => {
    const [s1] = await c.directory.listShards();
    const a = await agent('rotated', s1!.id);
    const body = () => shiftedMetricData(capture('05'), a.run, now(), 1);
    expect((await agentPost(col, 'metric_data', body(), { licenseKey: a.key, runId: a.run })).status).toBe(200);
    // Rotated by another process (its own directory connection and caches).
    const t0 = Date.now();
    const fresh = await rotateKey(other.directory, a.id, 'license');
    expect(fresh).toMatch(/^[0-9a-f]{40}$/);
    let refusedAfter: number | undefined;
    while (Date.now() - t0 < 10_000) {
      const r = await agentPost(col, 'metric_data', body(), { licenseKey: a.key, runId: a.run });
      if (r.status === 401) {
        refusedAfter = Date.now() - t0;
        break;
      }
      expect(r.status).toBe(200);
      await new Promise((res) => setTimeout(res, 100));
    }
    console.log(`key rotation: old license key refused by the collector after ${refusedAfter} ms`);
    expect(refusedAfter).toBeDefined();
    expect(refusedAfter!).toBeLessThanOrEqual(KEY_EPOCH_MAX_AGE_MS + 1000);
    expect((await agentPost(col, 'connect', [{ pid: 7, host: 'web-1', language: 'nodejs', app_name: ['app'] }], { licenseKey: a.key })).status).toBe(401);
    const run = await connectAgent(col, fresh, { apps: ['app'], host: 'web-1', pid: 7 });
    expect((await agentPost(col, 'metric_data', shiftedMetricData(capture('05'), run, now(), 1), { licenseKey: fresh, runId: run })).status).toBe(200);
    expect(await c.directory.accountByLicenseKey(a.key)).toBeUndefined();
  }, 30_000);
});
