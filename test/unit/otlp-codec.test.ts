import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { attributedMetricName, canonicalAttributes, instrumentMetricName, parseOtlpMetricName } from '../../collector/otlp/otlp-attributes.js';
import { decompress, encodeResponse, encodeStatus, formatOf, parseRequest } from '../../collector/otlp/otlp-codec.js';
import { distributionTimeslice } from '../../collector/otlp/otlp-distribution.js';
import { ExportMetricsServiceResponse, RpcStatus } from '../../collector/otlp/otlp-proto.js';
import { buildRows, namesInOrder } from '../../collector/otlp/otlp-rows.js';
import { httpStatusOf } from '../../lib/errors.js';

describe('OTLP/HTTP framing', () => {
  it.each([
    ['application/json', 'json'],
    ['application/json; charset=utf-8', 'json'],
    ['application/x-protobuf', 'protobuf'],
    ['Application/X-Protobuf', 'protobuf'],
  ])('reads the format from Content-Type %s', (ct, f) => expect(formatOf(ct)).toBe(f));

  it('answers 415 to other content types', () => {
    let err: unknown;
    try {
      formatOf('text/plain');
    } catch (e) {
      err = e;
    }
    expect(httpStatusOf(err)).toBe(415);
    expect((err as Error).message).toBe('cannot decode metrics export: Content-Type "text/plain" is not application/json or application/x-protobuf');
  });

  it('undoes gzip and deflate, and bounds the decompressed size', async () => {
    const body = Buffer.from('{"resourceMetrics":[]}'.padEnd(5000, ' '));
    expect(await decompress(zlib.gzipSync(body), 'gzip', 10_000)).toEqual(body);
    expect(await decompress(zlib.deflateSync(body), 'deflate', 10_000)).toEqual(body);
    expect(await decompress(body, '', 5000)).toBe(body);
    await expect(decompress(body, 'identity', 4999)).rejects.toMatchObject({ status: 413 });
    await expect(decompress(zlib.gzipSync(body), 'gzip', 4999)).rejects.toMatchObject({ status: 413, message: 'cannot decode metrics export: it decodes to more than the limit of 4999 bytes' });
    await expect(decompress(Buffer.from('not gzip'), 'gzip', 4999)).rejects.toMatchObject({ status: 400 });
    await expect(decompress(body, 'br', 10_000)).rejects.toMatchObject({ status: 415 });
  });

  it('answers 400 to bodies that do not decode', () => {
    expect(() => parseRequest(Buffer.from('{"resourceMetrics":'), 'json')).toThrow(/^cannot decode metrics export: the body is not valid JSON/);
    expect(() => parseRequest(Buffer.from([0x0a, 0xff, 0xff, 0xff]), 'protobuf')).toThrow(/^cannot decode metrics export: the body is not a valid protobuf ExportMetricsServiceRequest/);
  });

  it('encodes success answers in the request format', () => {
    expect(encodeResponse('json', undefined)).toEqual({ body: '{}', contentType: 'application/json' });
    expect(encodeResponse('json', { rejectedDataPoints: 2, errorMessage: 'bad' }).body).toBe('{"partialSuccess":{"rejectedDataPoints":2,"errorMessage":"bad"}}');
    const empty = encodeResponse('protobuf', undefined);
    expect([empty.contentType, empty.body.length]).toEqual(['application/x-protobuf', 0]);
    const partial = encodeResponse('protobuf', { rejectedDataPoints: 3, errorMessage: 'why' });
    expect(ExportMetricsServiceResponse.toObject(ExportMetricsServiceResponse.decode(partial.body as Uint8Array), { longs: Number })).toEqual({
      partialSuccess: { rejectedDataPoints: 3, errorMessage: 'why' },
    });
  });

  it('encodes error answers as google.rpc.Status', () => {
    expect(encodeStatus('json', 400, 'cannot x: y').body).toBe('{"code":3,"message":"cannot x: y"}');
    const pb = encodeStatus('protobuf', 503, 'busy');
    expect(RpcStatus.toObject(RpcStatus.decode(pb.body as Uint8Array))).toEqual({ code: 14, message: 'busy' });
  });
});

describe('OTLP attribute naming', () => {
  it('builds sorted, escaped names that parse back', () => {
    const attrs = canonicalAttributes([
      { key: 'z', value: { stringValue: 'a,b%c' } },
      { key: 'http.route', value: { stringValue: '/products/{id}' } },
      { key: 'k=/', value: { intValue: '12' } },
      { key: 'ok', value: { boolValue: true } },
      { key: 'empty', value: {} },
      { key: 'list', value: { arrayValue: { values: [{ stringValue: 'x' }, { doubleValue: 1.5 }] } } },
    ]);
    expect(attrs).toEqual([['http.route', '/products/{id}'], ['k=/', '12'], ['list', '[x;1.5]'], ['ok', 'true'], ['z', 'a,b%c']]);
    const name = attributedMetricName('http.server.duration', attrs)!;
    expect(name).toBe('OTLP/http.server.duration/http.route=/products/{id},k%3D%2F=12,list=[x;1.5],ok=true,z=a%2Cb%25c');
    expect(parseOtlpMetricName(name)).toEqual({
      instrument: 'http.server.duration',
      attributes: { 'http.route': '/products/{id}', 'k=/': '12', list: '[x;1.5]', ok: 'true', z: 'a,b%c' },
    });
    expect(parseOtlpMetricName(instrumentMetricName('a/b.c'))).toEqual({ instrument: 'a/b.c', attributes: {} });
    expect(attributedMetricName('m', [])).toBeUndefined();
  });

  it('folds attribute sets whose name would pass 255 characters', () => {
    const name = attributedMetricName('m', [['k', 'v'.repeat(300)]]);
    expect(name).toBe('OTLP/m/~long-attributes');
    expect(parseOtlpMetricName(name!)).toEqual({ instrument: 'm', attributes: undefined });
  });
});

describe('OTLP distributions as timeslices', () => {
  it('is exact for one observation and for min = max', () => {
    expect(distributionTimeslice({ count: 1, sum: 0.2, min: undefined, max: undefined, buckets: [] })).toEqual({
      callCount: 1, totalTime: 0.2, exclusiveTime: 0.2, minTime: 0.2, maxTime: 0.2, sumOfSquares: 0.04000000000000001,
    });
    expect(distributionTimeslice({ count: 4, sum: 2, min: 0.5, max: 0.5, buckets: [] }).sumOfSquares).toBe(1);
  });

  it('estimates the sum of squares from bucket midpoints clamped to min and max', () => {
    const t = distributionTimeslice({
      count: 3, sum: 9, min: 1, max: 5,
      buckets: [{ lo: -Infinity, hi: 2, count: 1 }, { lo: 2, hi: 4, count: 1 }, { lo: 4, hi: Infinity, count: 1 }],
    });
    // midpoints of [1,2], [2,4], [4,5]: 1.5, 3, 4.5 → 2.25 + 9 + 20.25
    expect(t).toEqual({ callCount: 3, totalTime: 9, exclusiveTime: 9, minTime: 1, maxTime: 5, sumOfSquares: 31.5 });
  });

  it('never estimates a sum of squares below sum²/count (variance ≥ 0)', () => {
    const t = distributionTimeslice({ count: 2, sum: 10, min: undefined, max: undefined, buckets: [{ lo: 0, hi: 2, count: 2 }] });
    expect([t.minTime, t.maxTime, t.sumOfSquares]).toEqual([0, 5, 50]);
  });
});

describe('OTLP rows', () => {
  const slice = (v: number) => ({ callCount: 1, totalTime: v, exclusiveTime: v, minTime: v, maxTime: v, sumOfSquares: v * v });

  it('writes each contribution to the agent (naming its application), merged per name and minute', () => {
    const planned = [
      { resource: 0, names: ['OTLP/c', 'OTLP/c/a=1'], minute: 60, slice: slice(2) },
      { resource: 0, names: ['OTLP/c', 'OTLP/c/a=2'], minute: 60, slice: slice(3) },
    ];
    expect(namesInOrder(planned, 0)).toEqual(['OTLP/c', 'OTLP/c/a=1', 'OTLP/c/a=2']);
    const rows = buildRows(planned, [{ agentIds: [5, 1], metricIds: new Map([['OTLP/c', 10], ['OTLP/c/a=1', 11], ['OTLP/c/a=2', 11]]) }]);
    // The agent's rows only, naming the application pseudo-agent (the minute seal derives its rows).
    expect(rows.map((w) => [w.kind, w.t, w.row.metricId, w.row.agentId, w.row.callCount, w.row.totalTime, w.row.minTime, w.row.maxTime, w.applicationAgentId])).toEqual([
      ['minute', 60, 10, 5, 2, 5, 2, 3, 1],
      ['minute', 60, 11, 5, 2, 5, 2, 3, 1], // two names folded into one (overflow) id merge
    ]);
    // A resource without an instance writes the pseudo-agent's rows directly.
    const direct = buildRows(planned, [{ agentIds: [1], metricIds: new Map([['OTLP/c', 10], ['OTLP/c/a=1', 11], ['OTLP/c/a=2', 11]]) }]);
    expect(direct.map((w) => [w.row.metricId, w.row.agentId, w.row.callCount, w.applicationAgentId])).toEqual([
      [10, 1, 2, undefined],
      [11, 1, 2, undefined],
    ]);
    expect(planned[0]!.slice.totalTime).toBe(2); // the plan's slices are not mutated
  });
});
