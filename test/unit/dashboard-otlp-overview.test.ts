import { describe, expect, it } from 'vitest';
import { OTLP_HTTP_INSTRUMENTS, otlpOverviewOf, serverErrorNames } from '../../dashboard/otlp-overview.js';
import { metricKey, type SeriesResult } from '../../dashboard/series-reader.js';
import type { Timeslice } from '../../lib/timeslice/timeslice.js';

const t = (callCount: number, totalTime: number): Timeslice => ({ callCount, totalTime, exclusiveTime: totalTime, minTime: 0, maxTime: 0, sumOfSquares: 0 });
const [current, old] = OTLP_HTTP_INSTRUMENTS;
const name = (attrs: string) => ({ name: `OTLP/http.server.request.duration/${attrs}`, scope: '' });

describe('OTLP overview from the HTTP semantic conventions', () => {
  it('counts status 500–599 of the instrument as server errors, nothing else', () => {
    const names = [
      name('http.request.method=GET,http.response.status_code=200'),
      name('http.request.method=GET,http.response.status_code=500'),
      name('http.response.status_code=503'),
      name('http.response.status_code=404'),
      name('http.response.status_code=600'),
      name('http.response.status_code=5xx'),
      { name: 'OTLP/http.server.request.duration/~long-attributes', scope: '' },
      { name: 'OTLP/http.client.request.duration/http.response.status_code=500', scope: '' },
      { ...name('http.response.status_code=502'), scope: 'WebTransaction/x' },
    ];
    expect(serverErrorNames(current!, names).map((m) => m.name)).toEqual([names[1]!.name, names[2]!.name]);
    expect(serverErrorNames(old!, [{ name: 'OTLP/http.server.duration/http.status_code=500', scope: '' }])).toHaveLength(1);
  });

  it('gives throughput, mean response time and error rate per point and over the window', () => {
    const from = 6000;
    const buckets = [from, from + 60, from + 120];
    const errA = name('http.response.status_code=500');
    const errB = name('http.response.status_code=503');
    const data = new Map([
      [metricKey({ name: 'OTLP/http.server.request.duration', scope: '' }), new Map([[from, t(10, 2)], [from + 120, t(5, 5)]])],
      [metricKey(errA), new Map([[from, t(1, 1)]])],
      [metricKey(errB), new Map([[from, t(1, 1)], [from + 120, t(5, 5)]])],
    ]);
    const r: SeriesResult = { resolution: { kind: 'minute', step: 60, from, to: from + 180, points: 3 }, buckets, data, stitchedHours: [], unrolledHours: [], tablesRead: { minute: 1, hour: 0, day: 0 } };
    const o = otlpOverviewOf(r, current!, [errA, errB], from + 180);
    expect(o.series.throughput).toEqual([10, null, 5]);
    expect(o.series.responseTime).toEqual([0.2, null, 1]);
    expect(o.series.errorRate).toEqual([0.2, null, 1]);
    expect(o.series.apdex).toEqual([null, null, null]);
    expect(o.summary).toEqual({ throughput: 5, responseTime: 7 / 15, errorRate: 7 / 15, database: null, external: null, code: null, apdex: null, apdexT: null });
  });
});
