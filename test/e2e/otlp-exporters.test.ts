import { AggregationTemporalityPreference, OTLPMetricExporter as JsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector } from '../../collector/collector.js';
import { RetryableError } from '../../lib/errors.js';
import type { ServiceHandle } from '../../lib/services.js';
import type { ShardStore } from '../../lib/shard/shard-store.js';
import type { TestCluster } from '../harness/mariadb.js';
import type { RefusingWriter } from '../harness/refusing-writer.js';
import { freePort } from '../harness/ports.js';
import { committed, scrape, type RunningCollector, startCollectorCluster, type CollectorCluster } from '../integration/collector-newrelic-helpers.js';

/**
 * The real OpenTelemetry JS SDK (@opentelemetry/sdk-metrics) with both real OTLP/HTTP exporters
 * (-http = JSON, -proto = protobuf) against the real collector and MariaDB: known recordings in,
 * exact committed timeslices out.
 */
let c: TestCluster;
let col: RunningCollector;
let otlpPort: number;
let refusing: RefusingWriter;

let cluster: CollectorCluster;

beforeAll(async () => {
  otlpPort = await freePort();
  cluster = await startCollectorCluster({ collectorEnv: { APM_OTLP_HTTP_PORT: String(otlpPort) } });
  ({ c, col, refusing } = cluster);
});
afterAll(async () => cluster?.stop());

async function account(name: string) {
  const made = await c.directory.createAccount({ name });
  const { store } = await c.registry.storeForAccount(made.account.id);
  return { id: made.account.id, key: made.licenseKey, store };
}

/** An SDK whose exports happen only when the test flushes (the interval is far longer than the test). */
function sdk(exporter: PushMetricExporter, attributes: Record<string, string>) {
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 600_000, exportTimeoutMillis: 30_000 });
  const provider = new MeterProvider({ resource: resourceFromAttributes(attributes), readers: [reader] });
  return { provider, meter: provider.getMeter('e2e-meter', '1.0.0') };
}

async function appAgent(store: ShardStore, accountId: number, service: string) {
  const app = (await c.directory.findApplication(accountId, service))!;
  return store.applicationAgentId(accountId, app.id);
}

/** Minute rows of one metric for one agent, oldest first. */
async function minuteRows(store: ShardStore, accountId: number, agentId: number, name: string) {
  const out: Array<{ period: number; count: number; exclusive: number }> = [];
  for (const t of await store.listTables({ accountId, kind: 'minute' })) {
    const [rows] = await store.pool.query<any[]>(
      `SELECT d.period, d.call_count AS c, d.exclusive_time AS e FROM ${t.name} d JOIN metric_names n ON n.account_id = ? AND n.id = d.metric_id
       WHERE d.agent_id = ? AND n.name = ? ORDER BY d.period`,
      [accountId, agentId, name],
    );
    for (const r of rows) out.push({ period: Number(r.period), count: Number(r.c), exclusive: Number(r.e) });
  }
  return out.sort((a, b) => a.period - b.period);
}

describe('real OpenTelemetry exporters → collector → MariaDB', () => {
  it('exporter-metrics-otlp-http: JSON, delta, gzip, chunked, over the plain-HTTP port', async () => {
    const a = await account('e2e-json-delta');
    const exporter = new JsonExporter({
      url: `http://127.0.0.1:${otlpPort}/v1/metrics`,
      headers: { 'api-key': a.key },
      compression: 'gzip' as NonNullable<ConstructorParameters<typeof JsonExporter>[0]>['compression'], // CompressionAlgorithm.GZIP
      temporalityPreference: AggregationTemporalityPreference.DELTA,
    });
    const { provider, meter } = sdk(exporter, { 'service.name': 'shop-delta', 'service.instance.id': 'pod-a' });
    const requests = meter.createCounter('http.server.requests');
    const duration = meter.createHistogram('http.server.duration', { unit: 'ms', advice: { explicitBucketBoundaries: [5, 10, 25, 50, 100] } });
    requests.add(1, { 'http.route': '/a' });
    requests.add(1, { 'http.route': '/a' });
    requests.add(2, { 'http.route': '/b' });
    for (const v of [4, 20, 30]) duration.record(v, { 'http.route': '/a' });
    await provider.forceFlush();
    requests.add(5, { 'http.route': '/a' });
    duration.record(120, { 'http.route': '/a' });
    await provider.forceFlush();
    await provider.shutdown();

    const app = (await c.directory.findApplication(a.id, 'shop-delta'))!;
    const agent = await a.store.agentId(a.id, { applicationId: app.id, host: 'pod-a', pid: 0, language: 'otlp' }); // resourceFromAttributes alone sets no telemetry.sdk.language
    for (const agentId of [agent, await appAgent(a.store, a.id, 'shop-delta')]) {
      const rows = await committed(a.store, a.id, agentId);
      // Delta: export 1 carries /a=2 and /b=2, export 2 /a=5 (series without new recordings are not sent).
      expect(rows.get('OTLP/http.server.requests|')).toMatchObject({ count: 3, total: 9, min: 2, max: 5 });
      expect(rows.get('OTLP/http.server.requests/http.route=/a|')).toMatchObject({ count: 2, total: 7 });
      expect(rows.get('OTLP/http.server.requests/http.route=/b|')).toMatchObject({ count: 1, total: 2 });
      const d = rows.get('OTLP/http.server.duration/http.route=/a|')!;
      expect([d.count, d.min, d.max]).toEqual([4, 0.004, 0.12]);
      expect(d.total).toBeCloseTo(0.174, 12);
    }
  });

  it('exporter-metrics-otlp-proto: protobuf, cumulative (the default), over the HTTPS collector port', async () => {
    const a = await account('e2e-proto-cumulative');
    const exporter = new ProtoExporter({
      url: `https://127.0.0.1:${col.port}/v1/metrics`,
      headers: { 'api-key': a.key },
      httpAgentOptions: { ca: col.caPem },
    });
    const { provider, meter } = sdk(exporter, { 'service.name': 'shop-cumulative' });
    const jobs = meter.createCounter('jobs.done');
    const size = meter.createHistogram('payload.size', { unit: 'By' });
    let calls = 0;
    meter.createObservableGauge('queue.depth').addCallback((r) => r.observe(40 + ++calls));
    jobs.add(5, { ok: true });
    size.record(100);
    size.record(300);
    await provider.forceFlush();
    jobs.add(7, { ok: true });
    size.record(50);
    await provider.forceFlush();
    await provider.shutdown();

    const agentId = await appAgent(a.store, a.id, 'shop-cumulative');
    const rows = await committed(a.store, a.id, agentId);
    // The series started after the collector: export 1 counts from the start, then deltas; the
    // final export on shutdown has no new recordings (delta 0 for the counter, no histogram row).
    expect(rows.get('OTLP/jobs.done/ok=true|')).toMatchObject({ count: 3, total: 12, min: 0, max: 7 });
    expect(rows.get('OTLP/payload.size|')).toMatchObject({ count: 3, total: 450, min: 50, max: 300 });
    // One gauge sample per collection (two flushes and shutdown): 41, 42, 43.
    expect(calls).toBe(3);
    expect(rows.get('OTLP/queue.depth|')).toMatchObject({ count: 3, total: 126, min: 41, max: 43 });
    const gauge = await minuteRows(a.store, a.id, agentId, 'OTLP/queue.depth');
    expect(gauge.at(-1)!.exclusive).toBe(43); // the last sample of the last minute
  });

  it('a 503 from the shard is retried by the real exporter and counted once', async () => {
    const a = await account('e2e-retry');
    const exporter = new JsonExporter({ url: `http://127.0.0.1:${otlpPort}/v1/metrics`, headers: { 'api-key': a.key }, temporalityPreference: AggregationTemporalityPreference.DELTA });
    const { provider, meter } = sdk(exporter, { 'service.name': 'shop-retry' });
    meter.createCounter('orders').add(17);
    const before = await scrape(col, 'apm_collector_otlp_requests_total', { format: 'json', status: '503' });
    refusing.refuse(1, (req) => new RetryableError(`cannot write to shard ${req.shardId}: it is busy`, 1, 503));
    await provider.forceFlush();
    await provider.shutdown();
    expect(refusing.remaining).toBe(0);
    expect(await scrape(col, 'apm_collector_otlp_requests_total', { format: 'json', status: '503' })).toBe(before + 1);
    const rows = await committed(a.store, a.id, await appAgent(a.store, a.id, 'shop-retry'));
    expect(rows.get('OTLP/orders|')).toMatchObject({ count: 1, total: 17 });
  });

  it('after a collector restart the next cumulative point is the baseline', async () => {
    const a = await account('e2e-restart');
    const port = await freePort();
    const start = (): Promise<ServiceHandle> =>
      startCollector(c.deps({ config: c.config.with({ APM_COLLECTOR_PORT: '0', APM_COLLECTOR_METRICS_PORT: '0', APM_OTLP_HTTP_PORT: String(port) }) }));
    let collector = await start();
    const exporter = new JsonExporter({ url: `http://127.0.0.1:${port}/v1/metrics`, headers: { 'api-key': a.key }, keepAlive: false });
    const { provider, meter } = sdk(exporter, { 'service.name': 'shop-restart', 'host.name': 'vm-1' });
    const counter = meter.createCounter('logins');
    counter.add(5);
    await provider.forceFlush(); // cumulative 5: counted from the start
    await collector.stop();
    collector = await start();
    counter.add(7);
    await provider.forceFlush(); // cumulative 12: the new collector's baseline
    counter.add(3);
    await provider.forceFlush(); // cumulative 15: delta 3
    await provider.shutdown();
    await collector.stop();
    const rows = await committed(a.store, a.id, await appAgent(a.store, a.id, 'shop-restart'));
    expect(rows.get('OTLP/logins|')).toMatchObject({ count: 3, total: 8 }); // 5 + 3 + the shutdown export's 0
  });
});
