import http from 'node:http';

/** Helpers for the OTLP receiver tests: requests over plain HTTP, and OTLP/JSON bodies. */

export interface OtlpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface OtlpPostOptions {
  apiKey?: string;
  contentType?: string;
  contentEncoding?: string;
  /** Send the body in pieces with Transfer-Encoding: chunked (as the OpenTelemetry exporters do). */
  chunked?: boolean;
  method?: string;
}

/** One request to http://127.0.0.1:<port>/v1/metrics. */
export function otlpPost(port: number, body: Buffer | string, o: OtlpPostOptions = {}): Promise<OtlpAnswer> {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const headers: Record<string, string> = { 'Content-Type': o.contentType ?? 'application/json' };
  if (o.apiKey !== undefined) headers['api-key'] = o.apiKey;
  if (o.contentEncoding) headers['Content-Encoding'] = o.contentEncoding;
  if (!o.chunked) headers['Content-Length'] = String(bytes.length);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: o.method ?? 'POST', path: '/v1/metrics', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (o.chunked) {
      const third = Math.ceil(bytes.length / 3);
      req.write(bytes.subarray(0, third));
      setTimeout(() => {
        req.write(bytes.subarray(third, 2 * third));
        req.end(bytes.subarray(2 * third));
      }, 20);
    } else req.end(bytes);
  });
}

/** Unix nanoseconds as the decimal string OTLP/JSON uses. */
export function nanos(seconds: number): string {
  return String(BigInt(Math.round(seconds * 1000)) * 1_000_000n);
}

export const str = (key: string, value: string) => ({ key, value: { stringValue: value } });

export function exportBody(resourceAttributes: Array<ReturnType<typeof str>>, metrics: unknown[]): { resourceMetrics: unknown[] } {
  return { resourceMetrics: [{ resource: { attributes: resourceAttributes }, scopeMetrics: [{ scope: { name: 'test' }, metrics }] }] };
}

/** A monotonic delta sum with one point per [attributes, value]. */
export function deltaCounter(name: string, start: number, end: number, points: Array<[Array<ReturnType<typeof str>>, number]>) {
  return {
    name,
    unit: '1',
    sum: {
      aggregationTemporality: 1,
      isMonotonic: true,
      dataPoints: points.map(([attributes, v]) => ({ attributes, startTimeUnixNano: nanos(start), timeUnixNano: nanos(end), asInt: v })),
    },
  };
}
