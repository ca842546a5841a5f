import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalCa, issueServerCert } from '../../collector/tls/local-ca.js';
import type { TestCluster } from '../harness/mariadb.js';
import type { RefusingWriter } from '../harness/refusing-writer.js';
import { capture, countsOf, shiftedMetricData } from '../harness/newrelic-captures.js';
import { agentPost, committed, connectAgent, rowCount, scrape, startTestCollector, type RunningCollector, startCollectorCluster, type CollectorCluster } from './collector-newrelic-helpers.js';
import { lineLog } from '../../lib/log/log.js';

let c: TestCluster;
let col: RunningCollector;
let refusing: RefusingWriter;

let cluster: CollectorCluster;

beforeAll(async () => {
  cluster = await startCollectorCluster({ clusterEnv: { APM_MAX_METRICS_PER_APP: '200' } });
  ({ c, col, refusing } = cluster);
});
afterAll(async () => cluster?.stop());

const now = () => Date.now() / 1000;

async function account(name: string) {
  const made = await c.directory.createAccount({ name });
  const { store } = await c.registry.storeForAccount(made.account.id);
  return { id: made.account.id, key: made.licenseKey, store };
}

async function agentIds(store: Awaited<ReturnType<typeof account>>['store'], accountId: number, app: string, host: string, pid: number) {
  const application = (await c.directory.findApplication(accountId, app))!;
  return {
    agent: await store.agentId(accountId, { applicationId: application.id, host, pid, language: 'nodejs' }),
    app: await store.applicationAgentId(accountId, application.id),
  };
}

describe('handshake', () => {
  it('preconnect redirects to this collector; connect answers a signed run id and creates app and agent', async () => {
    const a = await account('handshake');
    const pre = await agentPost(col, 'preconnect', capture('01').body, { licenseKey: a.key });
    expect(pre.status).toBe(200);
    expect(pre.body.return_value.redirect_host).toBe(`127.0.0.1:${col.port}`);
    const con = await agentPost(col, 'connect', capture('02').body, { licenseKey: a.key });
    expect(con.status).toBe(200);
    const rv = con.body.return_value;
    expect(rv.agent_run_id).toMatch(/^r1\./);
    expect(rv.account_id).toBe(String(a.id));
    const app = await c.directory.findApplication(a.id, 'research-app');
    expect(rv.application_id).toBe(String(app!.id));
    expect(rv.apdex_t).toBe(app!.apdexT);
    const agents = await a.store.listAgents(a.id, app!.id);
    expect(agents.map((x) => [x.host, x.pid, x.language])).toEqual([['vm', 16828, 'nodejs'], ['', 0, '']]);
    const settings = await agentPost(col, 'agent_settings', capture('03').body, { licenseKey: a.key, runId: rv.agent_run_id });
    expect(settings).toMatchObject({ status: 200, body: { return_value: null } });
  });

  it('an unknown license key gets 401 on preconnect and connect', async () => {
    for (const m of ['preconnect', 'connect']) {
      const r = await agentPost(col, m, capture('02').body, { licenseKey: '0123456789abcdef0123456789abcdef01234567' });
      expect(r.status).toBe(401);
      expect(r.body.exception.message).toBe('cannot connect agent: unknown license key');
    }
  });

  it('a forged run id or another account’s run id gets 401', async () => {
    const a = await account('forged');
    const b = await account('foreign');
    const runB = await connectAgent(col, b.key, { apps: ['b'], host: 'h', pid: 1 });
    const body = shiftedMetricData(capture('05'), 'fake-run-1', now());
    const forged = await agentPost(col, 'metric_data', body, { licenseKey: a.key, runId: 'fake-run-1' });
    expect(forged.status).toBe(401);
    expect(forged.body.exception.message).toMatch(/cannot accept run id: it was not issued by this collector/);
    const foreign = await agentPost(col, 'metric_data', shiftedMetricData(capture('05'), runB, now()), { licenseKey: a.key, runId: runB });
    expect(foreign.status).toBe(401);
    expect(foreign.body.exception.message).toMatch(/belongs to another license key/);
    expect(await rowCount(a.store, a.id)).toBe(0);
    expect(await rowCount(b.store, b.id)).toBe(0);
  });
});

describe('metric_data', () => {
  it('writes the 60 s harvest (capture 05) per agent and application-wide, with exact values', async () => {
    const a = await account('rows');
    const run = await connectAgent(col, a.key, { apps: ['shop'], host: 'web-1', pid: 100 });
    const r = await agentPost(col, 'metric_data', shiftedMetricData(capture('05'), run, now()), { licenseKey: a.key, runId: run });
    expect(r).toMatchObject({ status: 200, body: { return_value: null } });
    const ids = await agentIds(a.store, a.id, 'shop', 'web-1', 100);
    for (const agentId of [ids.agent, ids.app]) {
      const got = await committed(a.store, a.id, agentId);
      expect(got.size).toBe(84);
      expect(got.get('WebTransaction|')).toEqual({ count: 413, total: 1.92747467, exclusive: 1.505038390703125, min: 0.00012078100000000001, max: 0.056826626, sumsq: 0.040358455741861234 });
      expect(got.get('HttpDispatcher|')!.count).toBe(413);
      expect(got.get('Apdex/Custom/seg|')).toEqual({ count: 51, total: 0, exclusive: 0, min: 0.5, max: 0.5, sumsq: 0 });
      expect(got.get('Custom/research-segment|WebTransaction/Custom/seg')!.count).toBe(51);
      expect(got.get('Errors/all|')).toEqual({ count: 104, total: 0, exclusive: 0, min: 0, max: 0, sumsq: 0 });
      expect(got.get('Custom/Custom/Research/Value|')).toEqual({ count: 52, total: 283.0131740437195, exclusive: 283.0131740437195, min: 0.4782513874181893, max: 9.912423650844302, sumsq: 1936.20713479652 });
    }
    expect(await rowCount(a.store, a.id)).toBe(168);
  });

  it('merges the application-wide rows of two agents exactly and keeps each agent apart', async () => {
    const a = await account('two-agents');
    const run1 = await connectAgent(col, a.key, { apps: ['shop'], host: 'web-1', pid: 1 });
    const run2 = await connectAgent(col, a.key, { apps: ['shop'], host: 'web-2', pid: 2 });
    const t = now();
    const [r1, r2] = await Promise.all([
      agentPost(col, 'metric_data', shiftedMetricData(capture('05'), run1, t), { licenseKey: a.key, runId: run1 }),
      agentPost(col, 'metric_data', shiftedMetricData(capture('06'), run2, t), { licenseKey: a.key, runId: run2 }),
    ]);
    expect([r1.status, r2.status]).toEqual([200, 200]);
    const one = await agentIds(a.store, a.id, 'shop', 'web-1', 1);
    const two = await agentIds(a.store, a.id, 'shop', 'web-2', 2);
    expect((await committed(a.store, a.id, one.agent)).get('WebTransaction|')!.count).toBe(413);
    expect((await committed(a.store, a.id, two.agent)).get('WebTransaction|')!.count).toBe(19);
    const app = (await committed(a.store, a.id, one.app)).get('WebTransaction|')!;
    expect(app.count).toBe(432);
    expect(app.total).toBeCloseTo(1.92747467 + 0.09103920399999998, 12);
    expect(app.min).toBe(0.00012078100000000001);
    expect(app.max).toBe(0.056826626);
  });

  it('writes every application an agent names (roll-up names) for the agent and each application', async () => {
    const a = await account('rollup-names');
    const run = await connectAgent(col, a.key, { apps: ['shop', 'all-shops'], host: 'web-1', pid: 5 });
    expect((await agentPost(col, 'metric_data', shiftedMetricData(capture('06'), run, now()), { licenseKey: a.key, runId: run })).status).toBe(200);
    for (const app of ['shop', 'all-shops']) {
      const ids = await agentIds(a.store, a.id, app, 'web-1', 5);
      expect((await committed(a.store, a.id, ids.agent)).get('WebTransaction|')!.count).toBe(19);
      expect((await committed(a.store, a.id, ids.app)).get('WebTransaction|')!.count).toBe(19);
    }
  });

  it('accepts gzip and deflate bodies (captures 20, 21)', async () => {
    const a = await account('compressed');
    const run = await connectAgent(col, a.key, { apps: ['big'], host: 'web-1', pid: 9 });
    const r20 = await agentPost(col, 'metric_data', shiftedMetricData(capture('20'), run, now(), 120), { licenseKey: a.key, runId: run, encoding: 'gzip' });
    expect(r20.status).toBe(200);
    const r21 = await agentPost(col, 'metric_data', shiftedMetricData(capture('21'), run, now(), 1), { licenseKey: a.key, runId: run, encoding: 'deflate' });
    expect(r21.status).toBe(200);
    // 1584 names for an application bounded at 200: the first 200 kept, the rest folded into Overflow/MetricNames.
    const ids = await agentIds(a.store, a.id, 'big', 'web-1', 9);
    const got = await committed(a.store, a.id, ids.app);
    expect(got.size).toBe(201);
    const overflow = got.get('Overflow/MetricNames|')!;
    const total = [...countsOf(capture('20').body).values(), ...countsOf(capture('21').body).values()].reduce((s, n) => s + n, 0);
    const kept = [...got.entries()].filter(([k]) => k !== 'Overflow/MetricNames|').reduce((s, [, v]) => s + v.count, 0);
    expect(kept + overflow.count).toBe(total);
    expect(await scrape(col, 'apm_collector_overflow_names_total')).toBe(2 * (1584 - 200));
  });
}, 60_000);

describe('write path under concurrency', () => {
  it('twenty agents posting at once: every request committed, the application-wide rows merged exactly', async () => {
    const a = await account('concurrent');
    const runs = await Promise.all(Array.from({ length: 20 }, (_, i) => connectAgent(col, a.key, { apps: ['busy'], host: `web-${i}`, pid: 1000 + i })));
    const t = now();
    const answers = await Promise.all(runs.map((run) => agentPost(col, 'metric_data', shiftedMetricData(capture('05'), run, t), { licenseKey: a.key, runId: run })));
    expect(answers.map((r) => r.status)).toEqual(runs.map(() => 200));
    const ids = await agentIds(a.store, a.id, 'busy', 'web-0', 1000);
    const app = await committed(a.store, a.id, ids.app);
    expect(app.get('WebTransaction|')!.count).toBe(20 * 413);
    expect(app.get('WebTransaction|')!.total).toBeCloseTo(20 * 1.92747467, 9);
    expect(app.get('Errors/all|')!.count).toBe(20 * 104);
    expect((await committed(a.store, a.id, ids.agent)).get('WebTransaction|')!.count).toBe(413);
    expect(await rowCount(a.store, a.id)).toBe(84 * 21);
  });
});

describe('production TLS files', () => {
  it('serves agents with APM_COLLECTOR_TLS_KEY / _CERT and prints the configured CA', async () => {
    const now = new Date();
    const ca = await createLocalCa('production CA', now, 30);
    const server = await issueServerCert(ca, { names: ['localhost', '127.0.0.1'], now, days: 30 });
    const dir = fs.mkdtempSync(path.join(c.dataDir, 'prod-tls-'));
    const write = (name: string, text: string) => (fs.writeFileSync(path.join(dir, name), text), path.join(dir, name));
    const lines: string[] = [];
    const prod = await startTestCollector(
      c,
      { APM_COLLECTOR_TLS_KEY: write('k.pem', server.keyPem), APM_COLLECTOR_TLS_CERT: write('c.pem', server.certPem), APM_COLLECTOR_TLS_CA: write('ca.pem', ca.certPem) },
      { log: lineLog((l) => lines.push(l)) },
    );
    try {
      const a = await account('prod-tls');
      const r = await agentPost({ ...prod, caPem: ca.certPem }, 'preconnect', [{ high_security: false }], { licenseKey: a.key });
      expect(r.status).toBe(200);
      expect(lines).toContain(`  NEW_RELIC_CERTIFICATES="$(cat ${path.join(dir, 'ca.pem')})"`);
      expect(lines).toContain(`  NEW_RELIC_PORT=${prod.port}`);
      // The embedded CA is not trusted by this server's certificate chain.
      await expect(agentPost(prod, 'preconnect', [{}], { licenseKey: a.key })).rejects.toThrow(/certificate/);
    } finally {
      await prod.handle.stop();
    }
  });
});
