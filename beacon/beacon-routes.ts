import { PayloadTooLargeError } from '../lib/errors.js';
import { holdResponse, isAborted, readBody, send, statusLine, type HttpRequest, type HttpResponse, type TemplatedApp } from '../lib/http/uws.js';
import type { BeaconIntake, BeaconRequestMeta } from './beacon-intake.js';
import type { BeaconMetrics } from './beacon-metrics.js';
import { BeaconRejection } from './beacon-rejection.js';
import { normalizeAddress } from './country-lookup.js';
import { originOfReferer } from './origin-allowed.js';
import type { RumScript } from './rum-script.js';
import { type Log } from '../lib/log/log.js';

/**
 * The beacon's route table (uWebSockets.js):
 *
 * | route                 | answer                                                                 |
 * |-----------------------|------------------------------------------------------------------------|
 * | POST /beacon          | 204, empty (JSON payload in a text/plain body, as sendBeacon sends it)  |
 * | GET  /beacon?d=<json> | 200 image/gif 1×1 (image fallback; the origin comes from the Referer)   |
 * | GET  /rum-<v>.js      | the script, cached for a year (immutable); other versions 302 to it    |
 * | GET  /rum.js          | the current script, cached 5 minutes (for the one-line include)        |
 * | GET  /healthz         | 200 ok                                                                 |
 *
 * Every beacon answer carries `Cache-Control: no-store` and no cookie; rejections answer their
 * status with `{"error": "cannot …"}`. No CORS headers are needed: a text/plain POST is a simple
 * request and the browser ignores the answer.
 */
export interface BeaconRouteDeps {
  intake: BeaconIntake;
  metrics: BeaconMetrics;
  script: RumScript;
  maxBodyBytes: number;
  trustForwardedFor: boolean;
  log: Log;
}

/** A 43-byte transparent 1×1 GIF. */
const GIF = Buffer.from('R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==', 'base64');
const NO_STORE = { 'Cache-Control': 'no-store' };
const decoder = new TextDecoder();

function metaOf(res: HttpResponse, req: HttpRequest, origin: string | undefined, trustForwardedFor: boolean): BeaconRequestMeta {
  const forwarded = trustForwardedFor ? req.getHeader('x-forwarded-for').split(',')[0]!.trim() : '';
  return {
    origin,
    userAgent: req.getHeader('user-agent'),
    address: normalizeAddress(forwarded || decoder.decode(res.getRemoteAddressAsText())),
  };
}

function answer(res: HttpResponse, r: BeaconRejection | undefined, ok: () => void): void {
  if (r === undefined) ok();
  else send(res, r.status, JSON.stringify({ error: r.message }), { ...NO_STORE, 'Content-Type': 'application/json' });
}

/**
 * 413 for a body that is not read (whole or rest): the answer, then the connection is closed
 * (`end(body, true)`), or the unread bytes would be taken as the next keep-alive request and it hangs.
 */
function tooLarge(res: HttpResponse, r: BeaconRejection): void {
  if (isAborted(res)) return;
  res.cork(() => {
    res.writeStatus(statusLine(r.status)).writeHeader('Cache-Control', 'no-store').writeHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ error: r.message }), true);
  });
}

/** A bug must not crash the service: log it and answer 500 if the response is still open. */
function internalError(d: BeaconRouteDeps, res: HttpResponse, err: unknown): void {
  d.log.error(`BUG: ${(err as Error)?.stack ?? String(err)}`);
  try {
    send(res, 500, JSON.stringify({ error: 'internal error' }), { ...NO_STORE, 'Content-Type': 'application/json' });
  } catch {
    // already answered
  }
}

function settle(d: BeaconRouteDeps, res: HttpResponse, result: BeaconRejection | undefined | Promise<BeaconRejection | undefined>, ok: () => void): void {
  if (!(result instanceof Promise)) return answer(res, result, ok);
  holdResponse(res);
  result
    .then(
      (r) => answer(res, r, ok),
      (err: Error) => {
        // The answer names the problem; the details (SQL, addresses) go to the log only.
        d.log.warn(`cannot resolve the browser key: ${err.message}`);
        answer(res, new BeaconRejection('unavailable', 'cannot accept beacon: the account directory is unavailable'), ok);
      },
    )
    .catch((err: unknown) => internalError(d, res, err));
}

const noContent = (res: HttpResponse) => () => send(res, 204, '', NO_STORE);
const pixel = (res: HttpResponse) => () => send(res, 200, GIF, { ...NO_STORE, 'Content-Type': 'image/gif' });

function postBeacon(d: BeaconRouteDeps, res: HttpResponse, req: HttpRequest): void {
  const meta = metaOf(res, req, req.getHeader('origin') || undefined, d.trustForwardedFor);
  const declared = Number(req.getHeader('content-length') || '0');
  if (declared > d.maxBodyBytes) {
    // Answer without reading, and close: the unread body must not become the next request.
    return tooLarge(res, d.intake.reject(new BeaconRejection('too_large', `cannot accept beacon: body of ${declared} bytes is over the ${d.maxBodyBytes}-byte limit`)));
  }
  readBody(res, { limit: d.maxBodyBytes })
    .then(
      (body) => settle(d, res, d.intake.accept(body.toString('utf8'), meta), noContent(res)),
      (err: Error) => {
        if (err instanceof PayloadTooLargeError) {
          tooLarge(res, d.intake.reject(new BeaconRejection('too_large', `cannot accept beacon: body is over the ${d.maxBodyBytes}-byte limit`)));
        }
        // Otherwise the client went away: nothing to answer, nothing counted.
      },
    )
    .catch((err: unknown) => internalError(d, res, err));
}

function getBeacon(d: BeaconRouteDeps, res: HttpResponse, req: HttpRequest): void {
  const query = req.getQuery() ?? '';
  const meta = metaOf(res, req, originOfReferer(req.getHeader('referer') || undefined), d.trustForwardedFor);
  // URL encoding may triple a body's size.
  if (query.length > 3 * d.maxBodyBytes) {
    const r = d.intake.reject(new BeaconRejection('too_large', `cannot accept beacon: query of ${query.length} bytes is over the limit`));
    return answer(res, r, pixel(res));
  }
  let data: string | null = null;
  try {
    data = new URLSearchParams(query).get('d');
  } catch {
    data = null;
  }
  if (data === null) {
    return answer(res, d.intake.reject(new BeaconRejection('bad_payload', 'cannot accept beacon: query parameter d is missing')), pixel(res));
  }
  settle(d, res, d.intake.accept(data, meta), pixel(res));
}

function serveScript(d: BeaconRouteDeps, res: HttpResponse, req: HttpRequest, pinned: boolean): void {
  const s = d.script;
  const headers: Record<string, string> = {
    'Content-Type': 'application/javascript; charset=utf-8',
    'Cache-Control': pinned ? 'public, max-age=31536000, immutable' : 'public, max-age=300',
    ETag: s.etag,
    Vary: 'Accept-Encoding',
    'X-Content-Type-Options': 'nosniff',
    'Cross-Origin-Resource-Policy': 'cross-origin',
  };
  d.metrics.scripts.inc({ version: pinned ? 'pinned' : 'latest' });
  if (req.getHeader('if-none-match') === s.etag) return send(res, 304, '', headers);
  if (/\bgzip\b/.test(req.getHeader('accept-encoding'))) return send(res, 200, s.gzip, { ...headers, 'Content-Encoding': 'gzip' });
  send(res, 200, s.text, headers);
}

type Handler = (res: HttpResponse, req: HttpRequest) => void;

function notFound(res: HttpResponse, req: HttpRequest): void {
  const url = req.getUrl();
  send(res, 404, JSON.stringify({ error: `cannot find ${url}: no route ${req.getMethod().toUpperCase()} ${url}` }), { ...NO_STORE, 'Content-Type': 'application/json' });
}

/**
 * Once the service is stopping (the listener is closed but keep-alive connections live on), every
 * request answers 503 and its connection is closed, so clients reconnect to another beacon.
 */
function unlessStopping(d: BeaconRouteDeps, h: Handler): Handler {
  const guarded: Handler = (res, req) => {
    try {
      h(res, req);
    } catch (err) {
      internalError(d, res, err);
    }
  };
  return (res, req) => {
    if (!d.intake.closed) return guarded(res, req);
    // A beacon is counted (as unavailable) like any other refused one.
    const r = req.getUrl() === '/beacon' ? d.intake.accept('', { origin: undefined, userAgent: '', address: '' }) : undefined;
    const message = r instanceof BeaconRejection ? r.message : 'cannot answer request: the beacon service is stopping';
    res.cork(() => {
      res.writeStatus(statusLine(503)).writeHeader('Cache-Control', 'no-store').writeHeader('Retry-After', '5').writeHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ error: message }), true);
    });
  };
}

/** Registers the routes on `app`. */
export function beaconRoutes(app: TemplatedApp, d: BeaconRouteDeps): void {
  const pinnedPath = `/rum-${d.script.version}.js`;
  const route = (h: Handler) => unlessStopping(d, h);
  app.post('/beacon', route((res, req) => postBeacon(d, res, req)));
  app.get('/beacon', route((res, req) => getBeacon(d, res, req)));
  app.get('/rum.js', route((res, req) => serveScript(d, res, req, false)));
  app.get(pinnedPath, route((res, req) => serveScript(d, res, req, true)));
  app.get('/healthz', route((res) => send(res, 200, 'ok\n', { ...NO_STORE, 'Content-Type': 'text/plain' })));
  app.any('/beacon', route((res, req) => {
    const r = d.intake.reject(new BeaconRejection('bad_method', `cannot accept beacon: method ${req.getMethod().toUpperCase()} is not allowed (use POST or GET)`));
    send(res, r.status, JSON.stringify({ error: r.message }), { ...NO_STORE, Allow: 'GET, POST', 'Content-Type': 'application/json' });
  }));
  app.any('/*', route((res, req) => {
    // Pages still naming an older version (after an upgrade) are sent to the current one.
    if (req.getMethod() === 'get' && /^\/rum-[0-9a-f]{12}\.js$/.test(req.getUrl())) {
      return send(res, 302, '', { Location: pinnedPath, 'Cache-Control': 'public, max-age=300' });
    }
    notFound(res, req);
  }));
}
