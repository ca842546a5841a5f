import { unavailableAsRetryable } from '../lib/db/storage-unavailable.js';
import { AuthError, httpStatusOf, InputError, NotFoundError } from '../lib/errors.js';
import { holdResponse, readBody, send, sendError, sendJson, uws, type HttpRequest, type HttpResponse, type TemplatedApp } from '../lib/http/uws.js';
import type { Account } from '../lib/directory/directory.js';
import type { DashboardSettings } from './dashboard-config.js';
import type { DashboardMetrics } from './dashboard-metrics.js';
import { apiKeyOf, SESSION_COOKIE, type Credentials, type ReadAuth } from './read-auth.js';
import type { ReadApi } from './read-api.js';
import type { Asset } from './static-assets.js';
import { type Log } from '../lib/log/log.js';
import { addPrometheusRoutes } from './prometheus/prometheus-routes.js';
import type { PrometheusApi } from './prometheus/prometheus-api.js';

/**
 * The dashboard's HTTP routes on one uWebSockets.js App (the house server: the same helpers, abort
 * handling and error mapping as the collector and beacon). The read API is JSON under /api/; the web UI
 * is static files. Every API answer is `Cache-Control: no-store`; pages carry a strict CSP.
 */
const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
const API_HEADERS = { ...SECURITY_HEADERS, 'Cache-Control': 'no-store' };
const MAX_SIGN_IN_BODY = 4096;

interface Incoming {
  query: URLSearchParams;
  params: string[];
  credentials: Credentials;
  contentType: string;
}

type Answer = { status: number; body: unknown; headers?: Record<string, string> };

export interface DashboardServerDeps {
  settings: DashboardSettings;
  auth: ReadAuth;
  api: ReadApi;
  assets: Map<string, Asset>;
  metrics: DashboardMetrics;
  log: Log;
  /** The Prometheus-compatible API under /prometheus (dashboard/prometheus/). */
  prometheus?: PrometheusApi;
  /** GET /api/alerts: the account's policies, incidents and monitors (alerts/alerts-view.ts). */
  alerts?: (account: Account) => Promise<unknown>;
}

export function createDashboardApp(d: DashboardServerDeps): TemplatedApp {
  const app = uws.App();
  const route = (method: 'get' | 'post' | 'del', pattern: string, name: string, params: number, fn: (i: Incoming, res: HttpResponse) => Promise<Answer>) => {
    app[method](pattern, (res, req) => {
      const incoming = readIncoming(req, params);
      holdResponse(res);
      const end = d.metrics.duration.startTimer({ route: name });
      fn(incoming, res).then(
        (a) => {
          d.metrics.requests.inc({ route: name, status: String(a.status) });
          if (a.status === 204) send(res, 204, '', { ...API_HEADERS, ...a.headers });
          else sendJson(res, a.status, a.body, { ...API_HEADERS, ...a.headers });
          end();
        },
        (thrown: unknown) => {
          // A shard or the directory that cannot answer is 503 + Retry-After (docs/api.md), its details only logged.
          const err = unavailableAsRetryable(thrown, `cannot answer ${name}: the account's storage is unavailable`);
          const status = httpStatusOf(err);
          d.metrics.requests.inc({ route: name, status: String(status) });
          if (status === 500) d.log.error(`${name} failed: ${(err as Error)?.stack ?? String(err)}`);
          if (err !== thrown) d.log.warn(`${name} answered 503: ${(thrown as Error).message}`);
          sendError(res, err, API_HEADERS);
          end();
        },
      );
    });
  };
  const authed = (pattern: string, name: string, fn: (account: Account, i: Incoming) => Promise<unknown>) =>
    route('get', pattern, name, (pattern.match(/:/g) ?? []).length, async (i) => ({ status: 200, body: await fn(await d.auth.authenticate(i.credentials), i) }));

  route('post', '/api/session', 'sign_in', 0, async (i, res) => signIn(d, i, await readBody(res, { limit: MAX_SIGN_IN_BODY })));
  route('get', '/api/session', 'session', 0, async (i) => {
    const account = await d.auth.authenticate(i.credentials);
    return { status: 200, body: { account: { id: account.id, name: account.name } } };
  });
  route('del', '/api/session', 'sign_out', 0, async (i) => {
    const s = d.auth.sessionOf(i.credentials);
    if (s) d.auth.sessions.delete(s.id);
    return { status: 204, body: null, headers: { 'Set-Cookie': cookie(d.settings, '', 0) } };
  });
  route('get', '/api/info', 'info', 0, async () => ({ status: 200, body: { collectorUrl: d.settings.collectorUrl, otlpUrl: d.settings.otlpUrl, beaconUrl: d.settings.beaconUrl } }));
  authed('/api/applications', 'applications', (a) => d.api.applications(a));
  authed('/api/applications/health', 'health', (a) => d.api.health(a));
  authed('/api/applications/:id/agents', 'agents', (a, i) => d.api.agents(a, i.params[0]!));
  authed('/api/applications/:id/overview', 'overview', (a, i) => d.api.overview(a, i.params[0]!, i.query));
  authed('/api/applications/:id/browser', 'browser', (a, i) => d.api.browser(a, i.params[0]!, i.query));
  authed('/api/applications/:id/transactions', 'transactions', (a, i) => d.api.transactions(a, i.params[0]!, i.query));
  authed('/api/applications/:id/transaction', 'transaction', (a, i) => d.api.transaction(a, i.params[0]!, i.query));
  authed('/api/applications/:id/metrics', 'metric_names', (a, i) => d.api.metricNames(a, i.params[0]!, i.query));
  authed('/api/applications/:id/metric', 'metric', (a, i) => d.api.metric(a, i.params[0]!, i.query));
  if (d.prometheus) addPrometheusRoutes(app, { api: d.prometheus, auth: d.auth, metrics: d.metrics, log: d.log });
  if (d.alerts) authed('/api/alerts', 'alerts', (a) => d.alerts!(a));
  route('get', '/api/*', 'unknown', 0, async () => {
    throw new NotFoundError('cannot find API endpoint: see docs/api.md for the read API');
  });

  for (const [url, asset] of d.assets) {
    const headers = { ...SECURITY_HEADERS, 'Content-Type': asset.contentType, 'Cache-Control': url === '/' ? 'no-cache' : 'public, max-age=300' };
    app.get(url, (res) => {
      d.metrics.requests.inc({ route: 'static', status: '200' });
      send(res, 200, asset.body, url === '/' ? { ...headers, 'Content-Security-Policy': CSP } : headers);
    });
  }
  app.any('/*', (res) => {
    d.metrics.requests.inc({ route: 'unknown', status: '404' });
    send(res, 404, 'not found: open / for the dashboard\n', { ...SECURITY_HEADERS, 'Content-Type': 'text/plain' });
  });
  return app;
}

function readIncoming(req: HttpRequest, params: number): Incoming {
  return {
    query: new URLSearchParams(req.getQuery() ?? ''),
    params: Array.from({ length: params }, (_, k) => req.getParameter(k) ?? ''),
    credentials: { apiKey: apiKeyOf(req.getHeader('x-api-key'), req.getHeader('authorization')), cookie: req.getHeader('cookie') },
    contentType: req.getHeader('content-type'),
  };
}

async function signIn(d: DashboardServerDeps, i: Incoming, body: Buffer): Promise<Answer> {
  try {
    // JSON only: a cross-site form cannot send it without a CORS preflight, which we never grant.
    if (!/^application\/json\b/i.test(i.contentType)) throw new InputError('cannot sign in: send Content-Type: application/json');
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw new InputError('cannot sign in: the body is not valid JSON');
    }
    const { account, session } = await d.auth.signIn((parsed as { key?: unknown } | null)?.key);
    d.metrics.signIns.inc({ outcome: 'ok' });
    return {
      status: 200,
      body: { account: { id: account.id, name: account.name } },
      headers: { 'Set-Cookie': cookie(d.settings, session.id) },
    };
  } catch (err) {
    d.metrics.signIns.inc({ outcome: err instanceof AuthError ? 'rejected' : 'bad_request' });
    throw err;
  }
}

/**
 * The session cookie: HttpOnly (scripts never see it), SameSite=Strict (no cross-site request carries
 * it), no Max-Age (it ends with the browser session; the server ends idle sessions). maxAge 0 clears it.
 */
function cookie(s: DashboardSettings, value: string, maxAge?: number): string {
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict${maxAge !== undefined ? `; Max-Age=${maxAge}` : ''}${s.secureCookie ? '; Secure' : ''}`;
}
