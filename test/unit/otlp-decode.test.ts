import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decompress, parseRequest } from '../../collector/otlp/otlp-codec.js';
import { normalizeExport } from '../../collector/otlp/otlp-decode.js';
import type { DistributionMetric, NumberMetric } from '../../collector/otlp/otlp-model.js';
import { capture, captureBytes, CAPTURE_WINDOW } from './otlp-capture.js';

const metricsOf = (body: unknown) => {
  const d = normalizeExport(body, CAPTURE_WINDOW);
  return { d, byName: new Map(d.resources[0]!.metrics.map((m) => [m.name, m])) };
};

describe('OTLP decoding of the real captures', () => {
  it('maps the JSON cumulative export onto shapes, units and identities', () => {
    const { d, byName } = metricsOf(capture('json-cumulative-export1.json').body);
    expect(d.resources).toHaveLength(1);
    expect(d.resources[0]!.identity).toEqual({ serviceName: 'research-otel', instance: undefined, pid: 0, language: 'otlp' });
    expect(d.acceptedPoints).toBe(10);
    expect(d.rejected).toEqual([]);
    expect([...byName.keys()]).toEqual(['http.server.requests', 'http.server.duration', 'payload.size', 'http.server.active_requests', 'jobs.done', 'process.heap.used']);

    const requests = byName.get('http.server.requests') as NumberMetric;
    expect([requests.shape, requests.temporality]).toEqual(['counter', 'cumulative']);
    expect(requests.points.map((p) => [p.attributes, p.value])).toEqual([
      [[['http.route', '/a'], ['http.status_code', '500']], 2],
      [[['http.route', '/b'], ['http.status_code', '200']], 7],
      [[['http.route', '/a'], ['http.status_code', '200']], 8],
      [[['http.route', '/b'], ['http.status_code', '500']], 2],
    ]);
    expect(requests.points[0]!.startNs).toBe(1795393648306000000n);
    expect(requests.points[0]!.timeNs).toBe(1795393650205000000n);

    // ms → seconds: sum, min, max and bucket bounds.
    const duration = byName.get('http.server.duration') as DistributionMetric;
    expect([duration.shape, duration.temporality]).toEqual(['distribution', 'cumulative']);
    const a = duration.points[0]!;
    expect([a.count, a.sum, a.min, a.max]).toEqual([10, 0.54, 0.003, 0.115]);
    expect(a.buckets.map((b) => [b.lo, b.hi, b.count])).toEqual([
      [-Infinity, 0.005, 1], [0.005, 0.01, 1], [0.01, 0.025, 1], [0.025, 0.05, 2], [0.05, 0.1, 3], [0.1, Infinity, 2],
    ]);
    // "By" is not a time unit: stored as sent.
    const payload = byName.get('payload.size') as DistributionMetric;
    expect([payload.points[0]!.count, payload.points[0]!.sum, payload.points[0]!.max, payload.points[0]!.buckets.length]).toEqual([19, 17100, 1800, 16]);

    const active = byName.get('http.server.active_requests') as NumberMetric;
    expect([active.shape, active.points[0]!.value]).toEqual(['gauge', -5]);
    const jobs = byName.get('jobs.done') as NumberMetric;
    expect([jobs.shape, jobs.points[0]!.value, jobs.points[0]!.attributes]).toEqual(['counter', 38, [['ok', 'true']]]);
    const heap = byName.get('process.heap.used') as NumberMetric;
    expect([heap.shape, heap.points[0]!.value]).toEqual(['gauge', 11697840]);
  });

  it('reads delta temporality, keeping the up-down counter cumulative (a level)', () => {
    const { byName } = metricsOf(capture('json-delta-export2.json').body);
    expect((byName.get('http.server.requests') as NumberMetric).temporality).toBe('delta');
    expect((byName.get('http.server.duration') as DistributionMetric).temporality).toBe('delta');
    expect((byName.get('http.server.active_requests') as NumberMetric).shape).toBe('gauge');
    expect((byName.get('jobs.done') as NumberMetric).points[0]!.value).toBe(38);
  });

  it('decodes the protobuf captures with protobufjs to exactly what the JSON path gives', () => {
    const fromPb = normalizeExport(parseRequest(captureBytes('proto-cumulative-export1.pb'), 'protobuf'), CAPTURE_WINDOW);
    const fromJson = normalizeExport(capture('proto-cumulative-export1.decoded.json').body, CAPTURE_WINDOW);
    expect(fromPb).toEqual(fromJson);
    expect(fromPb.acceptedPoints).toBe(10);
    const delta = normalizeExport(parseRequest(captureBytes('proto-delta-gzip-export1.gunzipped.pb'), 'protobuf'), CAPTURE_WINDOW);
    expect(delta).toEqual(normalizeExport(capture('proto-delta-gzip-export1.decoded.json').body, CAPTURE_WINDOW));
    const hist = delta.resources[0]!.metrics.find((m) => m.name === 'http.server.duration') as DistributionMetric;
    expect([hist.temporality, hist.points[0]!.count, hist.points[0]!.sum]).toEqual(['delta', 10, 0.54]);
  });

  it('decodes a gzip body (the gzip capture, compressed as the exporter sends it)', async () => {
    const c = capture('json-gzip-export1.json');
    expect(c.headers['content-encoding']).toBe('gzip');
    const gz = zlib.gzipSync(Buffer.from(JSON.stringify(c.body)));
    const plain = await decompress(gz, 'gzip', 1 << 20);
    expect(normalizeExport(parseRequest(plain, 'json'), CAPTURE_WINDOW)).toEqual(normalizeExport(c.body, CAPTURE_WINDOW));
  });

  it('accepts int64 fields as JSON strings (proto3 JSON) as well as numbers', () => {
    const body = {
      resourceMetrics: [{
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }, { key: 'service.instance.id', value: { stringValue: 'i-1' } }, { key: 'process.pid', value: { intValue: '4242' } }, { key: 'telemetry.sdk.language', value: { stringValue: 'go' } }] },
        scopeMetrics: [{ metrics: [
          { name: 'c', sum: { aggregationTemporality: 'AGGREGATION_TEMPORALITY_DELTA', isMonotonic: true, dataPoints: [{ startTimeUnixNano: '1795393600000000000', timeUnixNano: '1795393650000000000', asInt: '9007199254740993' }] } },
          { name: 'h', unit: 's', histogram: { aggregationTemporality: 1, dataPoints: [{ timeUnixNano: '1795393650000000000', startTimeUnixNano: '1795393600000000000', count: '3', sum: 1.5, bucketCounts: ['1', '2'], explicitBounds: [0.5] }] } },
        ] }],
      }],
    };
    const d = normalizeExport(body, CAPTURE_WINDOW);
    expect(d.rejected).toEqual([]);
    expect(d.resources[0]!.identity).toEqual({ serviceName: 'svc', instance: 'i-1', pid: 4242, language: 'otlp/go' });
    const [c, h] = d.resources[0]!.metrics as [NumberMetric, DistributionMetric];
    expect(c.points[0]!.value).toBe(9007199254740992);
    expect([h.points[0]!.count, h.points[0]!.min, h.points[0]!.buckets.map((b) => b.count)]).toEqual([3, undefined, [1, 2]]);
  });
});

describe('OTLP point validation', () => {
  const t = '1795393650000000000';
  const one = (metric: Record<string, unknown>) => normalizeExport({ resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'm', ...metric }] }] }] }, CAPTURE_WINDOW);
  const gauge = (p: Record<string, unknown>) => one({ gauge: { dataPoints: [p] } });
  const hist = (p: Record<string, unknown>) => one({ histogram: { aggregationTemporality: 1, dataPoints: [{ timeUnixNano: t, ...p }] } });

  it.each([
    [gauge({ asDouble: 1 }), 'time_unix_nano is missing or not a valid time'],
    [gauge({ timeUnixNano: t }), 'point has neither as_double nor as_int'],
    [gauge({ timeUnixNano: t, asDouble: 'NaN' }), 'value NaN is not a finite number'],
    [gauge({ timeUnixNano: '1695393650000000000', asDouble: 1 }), 'time 2023-09-22T14:40:50.000Z is older than 86400 s'],
    [gauge({ timeUnixNano: '1795403650000000000', asDouble: 1 }), 'time 2026-11-23T03:14:10.000Z is more than 300 s in the future'],
    [one({ sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [{ startTimeUnixNano: '1795393660000000000', timeUnixNano: t, asInt: 1 }] } }), 'start_time_unix_nano is after time_unix_nano'],
    [one({ sum: { isMonotonic: true, dataPoints: [{ timeUnixNano: t, asInt: 1 }] } }), 'sum has no aggregation_temporality'],
    [one({ sum: { aggregationTemporality: 1, isMonotonic: true, dataPoints: [{ timeUnixNano: t, asInt: -1 }] } }), 'a monotonic delta sum point is negative'],
    [hist({ count: 3, sum: 1, bucketCounts: [1, 1], explicitBounds: [1, 2] }), 'bucket_counts has 2 entries for 2 explicit_bounds (must be one more)'],
    [hist({ count: 3, sum: 1, bucketCounts: [1, 1], explicitBounds: [1] }), 'bucket_counts add up to 2, not to count 3'],
    [hist({ count: 2, sum: 1, bucketCounts: [1, 0, 1], explicitBounds: [2, 1] }), 'explicit_bounds are not strictly increasing'],
    [hist({ count: 2 }), 'point has no sum (needed for total time)'],
    [hist({ count: -2, sum: 1 }), 'count -2 is not a count'],
    [hist({ count: 2, sum: 1, min: 3, max: 1 }), 'min 3 is greater than max 1'],
  ])('rejects a bad point with its reason (%#)', (d, reason) => {
    expect(d.rejected).toMatchObject([{ metric: 'm', reason }]);
    expect(d.acceptedPoints).toBe(0);
    expect(d.resources).toEqual([]);
  });

  it('skips points flagged "no recorded value" without rejecting them', () => {
    const d = gauge({ timeUnixNano: t, flags: 1 });
    expect([d.skippedPoints, d.rejected.length, d.acceptedPoints]).toEqual([1, 0, 0]);
  });

  it('rejects a name that is empty or too long, and keeps the other metrics', () => {
    const ok = { name: 'ok', gauge: { dataPoints: [{ timeUnixNano: t, asDouble: 1 }] } };
    const d = normalizeExport({ resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'x'.repeat(201), gauge: { dataPoints: [{ timeUnixNano: t, asDouble: 1 }] } }, ok] }] }] }, CAPTURE_WINDOW);
    expect(d.rejected).toMatchObject([{ metric: 'x'.repeat(201), reason: 'metric name must be 1 to 200 printable characters' }]);
    expect(d.resources[0]!.metrics.map((m) => m.name)).toEqual(['ok']);
  });

  it.each([[null], ['text'], [[1, 2]], [{ resourceMetrics: 7 }], [{ resourceMetrics: [5] }]])('throws InputError for a body that is not an export (%j)', (body) => {
    expect(() => normalizeExport(body, CAPTURE_WINDOW)).toThrow(/^cannot decode metrics export: /);
  });

  it('converts exponential histogram buckets to ranges', () => {
    const d = one({ exponentialHistogram: { aggregationTemporality: 1, dataPoints: [{ timeUnixNano: t, count: 4, sum: 7, scale: 0, zeroCount: 1, positive: { offset: 1, bucketCounts: [2, 1] }, min: 0, max: 5 }] } });
    const p = (d.resources[0]!.metrics[0] as DistributionMetric).points[0]!;
    expect(p.buckets).toEqual([{ lo: -0, hi: 0, count: 1 }, { lo: 2, hi: 4, count: 2 }, { lo: 4, hi: 8, count: 1 }]);
  });
});
