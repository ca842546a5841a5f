import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExportMetricsServiceRequest, ExportMetricsServiceResponse, RpcStatus } from '../../collector/otlp/otlp-proto.js';
import { RetryableError } from '../../lib/errors.js';
import type { ShardStore } from '../../lib/shard/shard-store.js';
import type { TestCluster } from '../harness/mariadb.js';
import type { RefusingWriter } from '../harness/refusing-writer.js';
import { freePort } from '../harness/ports.js';
import { committed, rowCount, scrape, type RunningCollector, startCollectorCluster, type CollectorCluster } from './collector-newrelic-helpers.js';
import { deltaCounter, exportBody, nanos, otlpPost, str } from './otlp-helpers.js';

let c: TestCluster;
let col: RunningCollector;
let port: number;
/** Refuses the next N writes like a full writer queue, then passes through to the real writer. */
let refusing: RefusingWriter;

let cluster: CollectorCluster;

beforeAll(async () => {
  port = await freePort();
  cluster = await startCollectorCluster({ clusterEnv: { APM_MAX_METRICS_PER_APP: '10' }, collectorEnv: { APM_OTLP_HTTP_PORT: String(port), APM_OTLP_MAX_BODY_BYTES: '100000' } });
  ({ c, col, refusing } = cluster);
});
afterAll(async () => cluster?.stop());

async function account(name: string) {
  const made = await c.directory.createAccount({ name });
  const { store } = await c.registry.storeForAccount(made.account.id);
  return { id: made.account.id, key: made.licenseKey, store };
}

async function ids(store: ShardStore, accountId: number, service: string, instance?: string) {
  const application = (await c.directory.findApplication(accountId, service))!;
  return {
    app: await store.applicationAgentId(accountId, application.id),
    agent: instance === undefined ? undefined : await store.agentId(accountId, { applicationId: application.id, host: instance, pid: 0, language: 'otlp' }),
  };
}

const t = () => Math.floor(Date.now() / 1000) - 1;
const resource = (service: string, instance?: string) => [str('service.name', service), ...(instance ? [str('service.instance.id', instance)] : [])];

describe('POST /v1/metrics (plain HTTP listener of the collector)', () => {
  it('writes a JSON export for the agent and the application, and answers {}', async () => {
    const a = await account('otlp-json');
    const end = t();
    const body = exportBody(resource('checkout', 'pod-1'), [
      deltaCounter('orders', end - 5, end, [[[str('region', 'eu')], 3], [[str('region', 'us')], 4]]),
      { name: 'latency', unit: 'ms', histogram: { aggregationTemporality: 1, dataPoints: [{ startTimeUnixNano: nanos(end - 5), timeUnixNano: nanos(end), count: 2, sum: 300, min: 100, max: 200, bucketCounts: [0, 2], explicitBounds: [50] }] } },
    ]);
    const r = await otlpPost(port, JSON.stringify(body), { apiKey: a.key, chunked: true });
    expect([r.status, r.headers['content-type'], r.body.toString()]).toEqual([200, 'application/json', '{}']);
    const who = await ids(a.store, a.id, 'checkout', 'pod-1');
    for (const agentId of [who.agent!, who.app]) {
      const rows = await committed(a.store, a.id, agentId);
      expect(rows.get('OTLP/orders|')).toMatchObject({ count: 2, total: 7, min: 3, max: 4 });
      expect(rows.get('OTLP/orders/region=eu|')).toMatchObject({ count: 1, total: 3 });
      expect(rows.get('OTLP/orders/region=us|')).toMatchObject({ count: 1, total: 4 });
      expect(rows.get('OTLP/latency|')).toEqual({ count: 2, total: 0.3, exclusive: 0.3, min: 0.1, max: 0.2, sumsq: 0.1 ** 2 + 0.2 ** 2 }); // two observations: exactly min and max
      expect(rows.size).toBe(4);
    }
    // The same body again (an exporter retry after a lost answer): acknowledged, not counted twice.
    const again = await otlpPost(port, JSON.stringify(body), { apiKey: a.key });
    expect([again.status, again.body.toString()]).toEqual([200, '{}']);
    expect((await committed(a.store, a.id, who.app)).get('OTLP/orders|')).toMatchObject({ count: 2, total: 7 });
    expect(await scrape(col, 'apm_collector_otlp_duplicate_exports_total')).toBe(1);
  });

  it('takes protobuf + gzip and answers an ExportMetricsServiceResponse', async () => {
    const a = await account('otlp-proto');
    const end = t();
    const obj = exportBody(resource('billing'), [deltaCounter('invoices', end - 2, end, [[[], 11]])]);
    const pb = ExportMetricsServiceRequest.encode(ExportMetricsServiceRequest.fromObject(obj)).finish();
    const r = await otlpPost(port, zlib.gzipSync(pb), { apiKey: a.key, contentType: 'application/x-protobuf', contentEncoding: 'gzip', chunked: true });
    expect([r.status, r.headers['content-type'], r.body.length]).toEqual([200, 'application/x-protobuf', 0]);
    const who = await ids(a.store, a.id, 'billing');
    expect((await committed(a.store, a.id, who.app)).get('OTLP/invoices|')).toMatchObject({ count: 1, total: 11 });
    // No instance attribute: application rows only.
    expect(await rowCount(a.store, a.id)).toBe(1);
  });

  it('turns cumulative exports into per-minute deltas (series started after the collector)', async () => {
    const a = await account('otlp-cumulative');
    const start = Date.now() / 1000; // after the collector started: the series counts from its start
    const point = (end: number, v: number) => exportBody(resource('cart', 'pod-9'), [{ name: 'adds', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [{ startTimeUnixNano: nanos(start), timeUnixNano: nanos(end), asDouble: v }] } }]);
    for (const [end, v] of [[start + 1, 5], [start + 2, 12], [start + 3, 20]] as const) {
      expect((await otlpPost(port, JSON.stringify(point(end, v)), { apiKey: a.key })).status).toBe(200);
    }
    const who = await ids(a.store, a.id, 'cart', 'pod-9');
    expect((await committed(a.store, a.id, who.agent!)).get('OTLP/adds|')).toMatchObject({ count: 3, total: 20, min: 5, max: 8 });
  });

  it('answers partialSuccess with the rejected count, writing only the valid points', async () => {
    const a = await account('otlp-partial');
    const end = t();
    const body = exportBody(resource('search'), [
      deltaCounter('queries', end - 1, end, [[[], 6]]),
      { name: 'broken', gauge: { dataPoints: [{ timeUnixNano: nanos(end), asDouble: 'NaN' }, { asDouble: 1 }] } },
    ]);
    const r = await otlpPost(port, JSON.stringify(body), { apiKey: a.key });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body.toString())).toEqual({
      partialSuccess: { rejectedDataPoints: 2, errorMessage: 'cannot accept 2 data point(s): broken: value NaN is not a finite number (1); broken: time_unix_nano is missing or not a valid time (1)' },
    });
    const who = await ids(a.store, a.id, 'search');
    const rows = await committed(a.store, a.id, who.app);
    expect([...rows.keys()]).toEqual(['OTLP/queries|']);
    expect(await scrape(col, 'apm_collector_otlp_points_total', { outcome: 'rejected' })).toBeGreaterThanOrEqual(2);
  });

  it.each([
    ['garbage JSON', '{"resourceMetrics":[', 'application/json', 400, /^cannot decode metrics export: the body is not valid JSON/],
    ['not an export', '[1,2,3]', 'application/json', 400, /^cannot decode metrics export: the body is not an ExportMetricsServiceRequest object$/],
    ['an unknown content type', 'x', 'text/plain', 415, /^cannot decode metrics export: Content-Type "text\/plain"/],
  ])('answers %s with a JSON google.rpc.Status and writes nothing', async (_what, body, contentType, status, message) => {
    const a = await account(`otlp-bad-${status}-${contentType.length}-${body.length}`);
    const r = await otlpPost(port, body, { apiKey: a.key, contentType });
    expect(r.status).toBe(status);
    const answer = JSON.parse(r.body.toString());
    expect(answer.code).toBe(3);
    expect(answer.message).toMatch(message);
    expect(await rowCount(a.store, a.id)).toBe(0);
  });

  it('answers an undecodable protobuf body with a protobuf Status', async () => {
    const a = await account('otlp-bad-pb');
    const r = await otlpPost(port, Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f]), { apiKey: a.key, contentType: 'application/x-protobuf' });
    expect([r.status, r.headers['content-type']]).toEqual([400, 'application/x-protobuf']);
    const s = RpcStatus.toObject(RpcStatus.decode(r.body));
    expect(s.code).toBe(3);
    expect(s.message).toMatch(/^cannot decode metrics export: the body is not a valid protobuf ExportMetricsServiceRequest/);
  });

  it('refuses a missing or unknown api-key, other methods and too large bodies', async () => {
    const body = JSON.stringify(exportBody(resource('x'), [deltaCounter('n', t() - 1, t(), [[[], 1]])]));
    const none = await otlpPost(port, body);
    expect([none.status, JSON.parse(none.body.toString())]).toEqual([401, { code: 16, message: "cannot accept metrics export: no api-key header (send the account's license key in api-key)" }]);
    const wrong = await otlpPost(port, body, { apiKey: 'not-a-key' });
    expect([wrong.status, JSON.parse(wrong.body.toString()).message]).toEqual([403, 'cannot accept metrics export: the api-key is not a license key of any account']);
    const get = await otlpPost(port, '', { method: 'GET' });
    expect([get.status, get.headers.allow]).toEqual([405, 'POST']);
    const a = await account('otlp-large');
    for (const chunked of [true, false]) {
      const big = await otlpPost(port, Buffer.alloc(150_000, 0x20), { apiKey: a.key, chunked });
      expect([big.status, JSON.parse(big.body.toString()).message]).toEqual([413, 'cannot accept body: more than 100000 bytes']);
    }
    const bomb = await otlpPost(port, zlib.gzipSync(Buffer.alloc(20_000_000, 0x20)), { apiKey: a.key, contentEncoding: 'gzip' });
    expect([bomb.status, JSON.parse(bomb.body.toString()).message]).toEqual([413, `cannot decode metrics export: it decodes to more than the limit of ${16 * 1024 * 1024} bytes`]);
    expect(await rowCount(a.store, a.id)).toBe(0);
  });

  it('answers 429/503 with Retry-After when the shard cannot take the data, and keeps the state for the retry', async () => {
    const a = await account('otlp-retry');
    const start = Date.now() / 1000;
    const body = (end: number, v: number) => JSON.stringify(exportBody(resource('queue', 'w-1'), [{ name: 'jobs', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [{ startTimeUnixNano: nanos(start), timeUnixNano: nanos(end), asInt: v }] } }]));
    expect((await otlpPost(port, body(start + 1, 4), { apiKey: a.key })).status).toBe(200);
    refusing.refuse(1, (req) => new RetryableError(`cannot write to shard ${req.shardId}: 500000 rows are already waiting`, 7, 429));
    const refused = await otlpPost(port, body(start + 2, 9), { apiKey: a.key });
    expect([refused.status, refused.headers['retry-after'], JSON.parse(refused.body.toString())]).toEqual([
      429, '7', { code: 8, message: `cannot write to shard ${(await c.registry.account(a.id)).shardId}: 500000 rows are already waiting` },
    ]);
    // The exporter resends the same body: the delta 9 - 4 is written once.
    expect((await otlpPost(port, body(start + 2, 9), { apiKey: a.key })).status).toBe(200);
    const who = await ids(a.store, a.id, 'queue', 'w-1');
    expect((await committed(a.store, a.id, who.agent!)).get('OTLP/jobs|')).toMatchObject({ count: 2, total: 9 });

    // An account whose shard is unreachable: 503 with Retry-After, nothing lost on our side.
    const dead = await c.directory.addShard(`127.0.0.1:${await freePort()}`, 'closed');
    const b = await account('otlp-dead-shard');
    await c.directory.setAccountShard(b.id, dead.id);
    c.registry.forgetAccount(b.id);
    const down = await otlpPost(port, body(start + 2, 9), { apiKey: b.key });
    expect([down.status, down.headers['retry-after'], JSON.parse(down.body.toString()).code]).toEqual([503, '5', 14]);
  });

  it('folds attribute sets past the per-application bound into Overflow/MetricNames', async () => {
    const a = await account('otlp-cardinality');
    const end = t();
    const points: Array<[Array<ReturnType<typeof str>>, number]> = Array.from({ length: 15 }, (_, i) => [[str('user', `u${String(i).padStart(2, '0')}`)], i + 1]);
    const r = await otlpPost(port, JSON.stringify(exportBody(resource('profile'), [deltaCounter('logins', end - 1, end, points)])), { apiKey: a.key });
    expect([r.status, r.body.toString()]).toEqual([200, '{}']);
    const who = await ids(a.store, a.id, 'profile');
    const rows = await committed(a.store, a.id, who.app);
    // Bound 10: the merged name and 9 attribute sets keep their names; u09..u14 (values 10..15) fold.
    expect(rows.get('OTLP/logins|')).toMatchObject({ count: 15, total: 120 });
    expect(rows.get('OTLP/logins/user=u08|')).toMatchObject({ count: 1, total: 9 });
    expect(rows.get('OTLP/logins/user=u09|')).toBeUndefined();
    expect(rows.get('Overflow/MetricNames|')).toMatchObject({ count: 6, total: 10 + 11 + 12 + 13 + 14 + 15 });
    expect(rows.size).toBe(11);
    expect(await scrape(col, 'apm_collector_otlp_overflow_names_total')).toBe(6);
  });
});
