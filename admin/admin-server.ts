import { AuthError, httpStatusOf, NotFoundError } from '../lib/errors.js';
import { holdResponse, readBody, sendError, sendJson, uws, type HttpResponse, type TemplatedApp } from '../lib/http/uws.js';
import { jsonObject, positiveInt, type AdminApi, type Answer } from './admin-api.js';
import type { AdminMetrics } from './admin-metrics.js';
import { bearerToken, tokenMatches } from './admin-token.js';
import { type Log } from '../lib/log/log.js';
import { registerAlertRoutes } from './alerts-admin.js';
import type { Directory } from '../lib/directory/directory.js';

/** Largest request body the admin API reads (its bodies are a few small JSON fields). */
export const MAX_ADMIN_BODY = 16 * 1024;

const HEADERS = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };

interface Incoming {
  authorization: string;
  params: string[];
  query: URLSearchParams;
}

type Handler = (i: Incoming, res: HttpResponse) => Promise<Answer>;

export interface AdminServerDeps {
  api: AdminApi;
  metrics: AdminMetrics;
  token: string;
  log: Log;
  /** Alert and monitor routes (alerts-admin.ts): the pinger's allowed hosts and the clock. */
  alerts?: { directory: Directory; allowedHosts: readonly string[]; now: () => number };
}

/**
 * The admin API on one uWebSockets.js App. Every route but GET /healthz needs
 * `Authorization: Bearer <APM_ADMIN_TOKEN>` (401 without, 403 with a wrong one). Request data is read
 * before anything asynchronous (uWebSockets.js reuses the request object); bodies are JSON objects of at
 * most MAX_ADMIN_BODY bytes. Routes are documented in docs/api.md.
 */
export function createAdminApp(d: AdminServerDeps): TemplatedApp {
  const app = uws.App();
  const route = (method: 'get' | 'post' | 'del', pattern: string, name: string, fn: Handler, opts: { open?: boolean } = {}) => {
    const nParams = (pattern.match(/:/g) ?? []).length;
    app[method](pattern, (res, req) => {
      const incoming: Incoming = {
        authorization: req.getHeader('authorization'),
        params: Array.from({ length: nParams }, (_, i) => req.getParameter(i) ?? ''),
        query: new URLSearchParams(req.getQuery() ?? ''),
      };
      holdResponse(res);
      const run = async () => {
        if (!opts.open) authorize(incoming.authorization, d.token);
        return fn(incoming, res);
      };
      run().then(
        (a) => {
          d.metrics.requests.inc({ route: name, status: String(a.status) });
          sendJson(res, a.status, a.body, HEADERS);
        },
        (err: unknown) => {
          const status = httpStatusOf(err);
          d.metrics.requests.inc({ route: name, status: String(status) });
          if (status === 500) d.log.error(`${name} failed: ${(err as Error)?.stack ?? String(err)}`);
          sendError(res, err, status === 401 ? { ...HEADERS, 'WWW-Authenticate': 'Bearer realm="apm-admin"' } : HEADERS);
        },
      );
    });
  };
  const body = async (res: HttpResponse, what: string) => jsonObject(await readBody(res, { limit: MAX_ADMIN_BODY }), what);
  const id = (i: Incoming, n: number, what: string) => positiveInt(i.params[n], what);

  route('get', '/healthz', 'healthz', async () => ({ status: 200, body: { ok: true } }), { open: true });
  route('get', '/admin/shards', 'shards', () => d.api.shards());
  route('post', '/admin/shards', 'add_shard', async (_i, res) => d.api.addShard(await body(res, 'add shard')));
  route('del', '/admin/shards/:id', 'remove_shard', async (i) => d.api.removeShard(id(i, 0, 'shard id')));
  route('post', '/admin/shards/:id/close', 'close_shard', async (i) => d.api.setShardState(id(i, 0, 'shard id'), 'closed'));
  route('post', '/admin/shards/:id/open', 'open_shard', async (i) => d.api.setShardState(id(i, 0, 'shard id'), 'open'));
  route('get', '/admin/shards/:id/replicas', 'replicas', async (i) => d.api.replicas(id(i, 0, 'shard id')));
  route('post', '/admin/shards/:id/replicas', 'add_replica', async (i, res) => d.api.addReplica(id(i, 0, 'shard id'), await body(res, 'add replica')));
  route('post', '/admin/shards/:id/replicas/remove', 'remove_replica', async (i, res) => d.api.removeReplica(id(i, 0, 'shard id'), await body(res, 'remove replica')));
  route('get', '/admin/accounts', 'accounts', () => d.api.accounts());
  route('post', '/admin/accounts', 'create_account', async (_i, res) => d.api.createAccount(await body(res, 'create account')));
  route('post', '/admin/accounts/:id/rotate-key', 'rotate_key', async (i, res) => d.api.rotateKey(id(i, 0, 'account id'), await body(res, 'rotate key')));
  route('post', '/admin/accounts/:id/move', 'move', async (i, res) => d.api.startMove(id(i, 0, 'account id'), await body(res, 'move account')));
  route('post', '/admin/accounts/:id/move/resume', 'move_resume', async (i) => d.api.resume(id(i, 0, 'account id')));
  route('post', '/admin/accounts/:id/move/rollback', 'move_rollback', async (i) => d.api.rollback(id(i, 0, 'account id')));
  route('get', '/admin/moves', 'moves', async (i) => d.api.moves(i.query.has('account') ? positiveInt(i.query.get('account'), 'account') : undefined));
  route('get', '/admin/moves/:id', 'move_status', async (i) => d.api.move(id(i, 0, 'move id')));
  if (d.alerts) registerAlertRoutes(route, body, d.alerts.directory, d.alerts.allowedHosts, d.alerts.now);
  app.any('/*', (res) => {
    holdResponse(res);
    d.metrics.requests.inc({ route: 'unknown', status: '404' });
    sendError(res, new NotFoundError('cannot find route: see docs/api.md for the admin API'), HEADERS);
  });
  return app;
}

/** 401 without a bearer token, 403 with a wrong one. */
export function authorize(header: string, token: string): void {
  const given = bearerToken(header);
  if (given === undefined) throw new AuthError('cannot authorize: send Authorization: Bearer <admin token>', 401);
  if (!tokenMatches(given, token)) throw new AuthError('cannot authorize: wrong admin token', 403);
}
