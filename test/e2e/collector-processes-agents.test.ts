import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AggregationTemporalityPreference, OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';
import { committed, scrape } from '../integration/collector-newrelic-helpers.js';
import { startTestProcesses, type RunningProcesses } from '../integration/collector-processes-helpers.js';
import { AGENT_NO_UTILIZATION_PROBES } from '../harness/newrelic-env.js';

/**
 * The collector as two real processes (issue #20) under real clients: two unmodified `newrelic`
 * agents of one application, each reporting to another process; and the real OpenTelemetry SDK with
 * cumulative temporality whose consecutive exports alternate between the processes. Each process has
 * a port of its own here so the test decides where a request lands (on the shared port the kernel does).
 */
const APP = path.join(path.dirname(fileURLToPath(import.meta.url)), 'collector-newrelic-app.cjs');
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

let c: TestCluster;
let r: RunningProcesses;
const children: ChildProcess[] = [];
beforeAll(async () => {
  c = await startTestCluster({ shards: 1 });
  r = await startTestProcesses(c, { count: 2, own: true });
});
afterAll(async () => {
  for (const ch of children) if (ch.exitCode === null) ch.kill('SIGKILL');
  await r?.procs.stop();
  await c?.stop();
});

/** The instrumented app (collector-newrelic-app.cjs) reporting to collector process `i`. */
async function agentApp(licenseKey: string, i: number): Promise<{ child: ChildProcess; port: number; exited: Promise<number | null> }> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: c.dataDir,
    NEW_RELIC_NO_CONFIG_FILE: 'true',
    NEW_RELIC_APP_NAME: 'procs-shop',
    NEW_RELIC_LICENSE_KEY: licenseKey,
    NEW_RELIC_HOST: 'localhost',
    NEW_RELIC_PORT: String(r.at(i).port),
    NEW_RELIC_CERTIFICATES: r.at(i).caPem,
    NEW_RELIC_LOG: path.join(c.dataDir, `newrelic-${i}.log`),
    ...AGENT_NO_UTILIZATION_PROBES,
  };
  const child = spawn(process.execPath, [APP], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`agent app ${i} not ready in 30 s`)), 30_000);
    child.stdout!.on('data', (d) => {
      const m = /READY ([0-9]+)/.exec((out += String(d)));
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    void exited.then((code) => reject(new Error(`agent app ${i} exited with ${code}`)));
  });
  return { child, port, exited };
}

async function hit(port: number, route: string, times: number): Promise<void> {
  for (let i = 0; i < times; i++) await (await fetch(`http://127.0.0.1:${port}${route}`)).text();
}

describe('two collector processes under real clients', () => {
  it('newrelic agents of one application on different processes: exact per agent and application-wide', async () => {
    const made = await c.directory.createAccount({ name: 'procs-nr' });
    const shop = await c.directory.ensureApplication(made.account.id, 'procs-shop');
    await c.directory.updateApplication(shop.id, { apdexT: 10 });
    const [a, b] = await Promise.all([agentApp(made.licenseKey, 0), agentApp(made.licenseKey, 1)]);
    await Promise.all([hit(a.port, '/fast', 7), (async () => (await hit(b.port, '/fast', 4), await hit(b.port, '/custom', 2)))()]);
    for (const x of [a, b]) x.child.stdin!.end('shutdown\n');
    expect(await Promise.all([a.exited, b.exited])).toEqual([0, 0]);

    const { store } = await c.registry.storeForAccount(made.account.id);
    const agents = await store.listAgents(made.account.id, shop.id);
    const idOf = (pid: number | undefined) => agents.find((x) => x.pid === pid && x.language === 'nodejs')!.id;
    const count = (m: Map<string, { count: number }>, k: string) => m.get(k)?.count ?? 0;
    const ra = await committed(store, made.account.id, idOf(a.child.pid));
    const rb = await committed(store, made.account.id, idOf(b.child.pid));
    const rapp = await committed(store, made.account.id, agents.find((x) => x.host === '' && x.pid === 0)!.id);
    expect(count(ra, 'WebTransaction/Custom/fast|')).toBe(7);
    expect(count(rb, 'WebTransaction/Custom/fast|')).toBe(4);
    expect(rb.get('Custom/Known/Value|')).toMatchObject({ count: 2, total: 0.5 });
    expect(count(rapp, 'HttpDispatcher|')).toBe(13);
    expect(count(rapp, 'WebTransaction/Custom/fast|')).toBe(11);
    expect(rapp.get('Apdex|')).toMatchObject({ count: 13, total: 0, exclusive: 0 });
    // Each process took one agent's connect and harvests.
    for (const i of [0, 1]) {
      expect(await scrape(r.at(i), 'apm_collector_requests_total', { method: 'connect', status: '200' })).toBe(1);
      expect(await scrape(r.at(i), 'apm_collector_requests_total', { method: 'metric_data', status: '200' })).toBeGreaterThan(0);
    }
  }, 120_000);

  it('OpenTelemetry SDK, cumulative: exports alternating between processes store what one process would', async () => {
    const made = await c.directory.createAccount({ name: 'procs-otlp' });
    const control = await c.directory.createAccount({ name: 'procs-otlp-control' });
    const exporter = (key: string, i: number) =>
      new OTLPMetricExporter({ url: `http://127.0.0.1:${r.procs.ports()[i]!.otlpPort}/v1/metrics`, headers: { 'api-key': key }, temporalityPreference: AggregationTemporalityPreference.CUMULATIVE });
    // The real exporters, one per process; export k goes to process k % 2.
    const both = [exporter(made.licenseKey, 0), exporter(made.licenseKey, 1)];
    let k = 0;
    const alternating: PushMetricExporter = {
      export: (m, done) => both[k++ % 2]!.export(m, done),
      forceFlush: async () => undefined,
      shutdown: async () => void (await Promise.all(both.map((e) => e.shutdown()))),
      selectAggregationTemporality: (t) => both[0]!.selectAggregationTemporality!(t),
    };
    const run = async (exp: PushMetricExporter) => {
      const reader = new PeriodicExportingMetricReader({ exporter: exp, exportIntervalMillis: 600_000, exportTimeoutMillis: 30_000 });
      const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'procs-svc', 'service.instance.id': 'pod-1' }), readers: [reader] });
      const meter = provider.getMeter('e2e', '1.0.0');
      const jobs = meter.createCounter('jobs.done');
      const size = meter.createHistogram('payload.size', { unit: 'By', advice: { explicitBucketBoundaries: [10, 100, 1000] } });
      jobs.add(5);
      for (const v of [3, 30, 300]) size.record(v);
      await provider.forceFlush();
      jobs.add(7);
      size.record(8);
      await provider.forceFlush();
      jobs.add(1);
      for (const v of [30, 1000]) size.record(v);
      await provider.forceFlush();
      await provider.shutdown();
    };
    await run(alternating);
    await run(exporter(control.licenseKey, 0));
    expect(k).toBe(4);

    const stored = async (accountId: number) => {
      const { store } = await c.registry.storeForAccount(accountId);
      const app = (await c.directory.findApplication(accountId, 'procs-svc'))!;
      const agentId = await store.applicationAgentId(accountId, app.id);
      const rows = await committed(store, accountId, agentId);
      const buckets = new Map<number, number>();
      for (const t of await store.listTables({ accountId, kind: 'minute' })) {
        const [found] = await store.pool.query<any[]>(
          `SELECT d.bucket, SUM(d.count) AS n FROM ${'dm' + t.name.slice(2)} d JOIN metric_names m ON m.account_id = ? AND m.id = d.metric_id WHERE d.agent_id = ? AND m.name = 'OTLP/payload.size' GROUP BY d.bucket`,
          [accountId, agentId],
        );
        for (const f of found) buckets.set(Number(f.bucket), (buckets.get(Number(f.bucket)) ?? 0) + Number(f.n));
      }
      return { jobs: rows.get('OTLP/jobs.done|'), size: rows.get('OTLP/payload.size|'), buckets };
    };
    const got = await stored(made.account.id);
    // Cumulative 5, 12, 13, 13 → increases 5, 7, 1, 0; the histogram's six observations, once each.
    expect(got.jobs).toMatchObject({ count: 4, total: 13, min: 0, max: 7 });
    expect(got.size).toMatchObject({ count: 6, total: 1371 });
    expect([...got.buckets.values()].reduce((a, b) => a + b, 0)).toBe(6);
    // Bucket for bucket, exactly what the same exports to one process stored.
    const want = await stored(control.account.id);
    expect(got).toEqual(want);
  }, 120_000);
});
