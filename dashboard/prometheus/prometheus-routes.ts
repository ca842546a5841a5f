import type { Account } from '../../lib/directory/directory.js';
import { AuthError, httpStatusOf, InputError, NotFoundError, PayloadTooLargeError, publicMessageOf, RetryableError } from '../../lib/errors.js';
import { holdResponse, readBody, sendJson, type HttpRequest, type HttpResponse, type TemplatedApp } from '../../lib/http/uws.js';
import type { DashboardMetrics } from '../dashboard-metrics.js';
import { apiKeyOf, type ReadAuth } from '../read-auth.js';
import { PromError } from './prom-error.js';
import { PromAnswer } from './prom-format.js';
import { BUILD_INFO, type PrometheusApi } from './prometheus-api.js';
import { type Log } from '../../lib/log/log.js';

/**
 * The Prometheus HTTP API's routes under /prometheus (a Grafana "Prometheus" data source URL is
 * http://<dashboard>/prometheus). Each endpoint answers GET (parameters in the URL) and POST (a
 * form-encoded body, merged with the URL's parameters, as Prometheus does). The caller's read key
 * comes as `Authorization: Bearer <key>`, basic auth with the key as password, or `X-Api-Key`.
 * Answers are Prometheus's envelopes: {"status":"success","data":…} or
 * {"status":"error","errorType":…,"error":…}.
 */
export const PROMETHEUS_PREFIX = '/prometheus';
const MAX_FORM_BYTES = 256 * 1024;
const HEADERS = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };

export interface PrometheusRouteDeps {
  api: PrometheusApi;
  auth: ReadAuth;
  metrics: DashboardMetrics;
  log: Log;
}

interface Incoming {
  query: URLSearchParams;
  param: string;
  key: string;
  contentType: string;
}

type Handler = (account: Account, i: Incoming) => Promise<unknown> | unknown;

export function addPrometheusRoutes(app: TemplatedApp, d: PrometheusRouteDeps): void {
  const route = (path: string, name: string, fn: Handler) => {
    for (const method of ['get', 'post'] as const) {
      app[method](`${PROMETHEUS_PREFIX}/api/v1${path}`, (res, req) => {
        const incoming = readIncoming(req, path.includes(':'));
        holdResponse(res);
        const end = d.metrics.duration.startTimer({ route: name });
        const answer = async () => {
          if (method === 'post') mergeForm(incoming, await readBody(res, { limit: MAX_FORM_BYTES }));
          const account = await d.auth.accountOf(incoming.key);
          return fn(account, incoming);
        };
        answer().then(
          (data) => {
            d.metrics.requests.inc({ route: name, status: '200' });
            sendJson(res, 200, data instanceof PromAnswer ? { status: 'success', data: data.data, warnings: data.warnings } : { status: 'success', data }, HEADERS);
            end();
          },
          (err: unknown) => {
            const e = promErrorOf(err);
            d.metrics.requests.inc({ route: name, status: String(e.status) });
            if (e.status === 500) d.log.error(`${name} failed: ${(err as Error)?.stack ?? String(err)}`);
            const extra: Record<string, string> = {};
            if (err instanceof RetryableError) extra['Retry-After'] = String(err.retryAfterSeconds);
            if (err instanceof AuthError) extra['WWW-Authenticate'] = 'Basic realm="apm read API key as password"';
            sendJson(res, e.status, { status: 'error', errorType: e.errorType, error: e.message }, { ...HEADERS, ...extra });
            end();
          },
        );
      });
    }
  };
  route('/query', 'prom_query', (a, i) => d.api.query(a, i.query));
  route('/query_range', 'prom_query_range', (a, i) => d.api.queryRange(a, i.query));
  route('/series', 'prom_series', (a, i) => d.api.series(a, i.query));
  route('/labels', 'prom_labels', (a, i) => d.api.labels(a, i.query));
  route('/label/:name/values', 'prom_label_values', (a, i) => d.api.labelValues(a, i.param, i.query));
  route('/metadata', 'prom_metadata', (_a, i) => d.api.metadata(i.query));
  route('/status/buildinfo', 'prom_buildinfo', () => BUILD_INFO);
  // No exemplars, rules or alerts are kept here: the empty answers Prometheus gives when it has none.
  route('/query_exemplars', 'prom_exemplars', () => []);
  route('/rules', 'prom_rules', () => ({ groups: [] }));
  route('/alerts', 'prom_alerts', () => ({ alerts: [] }));
  route('/*', 'prom_unknown', () => {
    throw new NotFoundError('unknown Prometheus API endpoint (see docs/api.md, "Prometheus-compatible query API")');
  });
}

function readIncoming(req: HttpRequest, hasParam: boolean): Incoming {
  return {
    query: new URLSearchParams(req.getQuery() ?? ''),
    param: hasParam ? decodeURIComponent(req.getParameter(0) ?? '') : '',
    key: keyOf(req.getHeader('x-api-key'), req.getHeader('authorization')),
    contentType: req.getHeader('content-type'),
  };
}

/** The read key: X-Api-Key, `Bearer <key>`, or basic auth's password (any user name). */
export function keyOf(xApiKey: string, authorization: string): string {
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization);
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : '';
  }
  return apiKeyOf(xApiKey, authorization);
}

function mergeForm(i: Incoming, body: Buffer): void {
  if (body.length === 0) return;
  if (!/^application\/x-www-form-urlencoded\b/i.test(i.contentType)) {
    throw new InputError('cannot read the request: a POST body must be application/x-www-form-urlencoded');
  }
  for (const [k, v] of new URLSearchParams(body.toString('utf8'))) i.query.append(k, v);
}

function promErrorOf(err: unknown): PromError {
  if (err instanceof PromError) return err;
  const status = httpStatusOf(err);
  const message = publicMessageOf(err);
  if (err instanceof AuthError) return new PromError('unauthorized', message, status);
  if (err instanceof NotFoundError) return new PromError('not_found', message, 404);
  if (err instanceof InputError || err instanceof PayloadTooLargeError) return new PromError('bad_data', message, status);
  if (err instanceof RetryableError) return new PromError('unavailable', message, status);
  return new PromError('internal', message, 500);
}
