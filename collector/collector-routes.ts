import type { Registry } from 'prom-client';
import { NotFoundError } from '../lib/errors.js';
import { sendError, type HttpRequest, type HttpResponse, type TemplatedApp } from '../lib/http/uws.js';
import type { ServiceDeps } from '../lib/services.js';
import type { AgentListener } from './newrelic/agent-listener.js';
import { AGENT_LISTENER_PATH } from './newrelic/agent-query.js';
import { registerOtlpRoutes } from './otlp/otlp-routes.js';

/**
 * The collector's route table (one HTTPS uWebSockets.js app). uWebSockets.js matches static paths
 * before wildcards, whatever the registration order.
 *
 * | method    | path                                | handler                                  |
 * |-----------|-------------------------------------|------------------------------------------|
 * | POST, PUT | /agent_listener/invoke_raw_method   | New Relic agent protocol 17 (newrelic/)  |
 * | POST      | /v1/metrics                         | OTLP/HTTP metrics (otlp/)                |
 * | any       | anything else                       | 404                                      |
 */
/** `deps` and `registry` are for the OTLP routes mounted at the marked line. */
export function registerCollectorRoutes(app: TemplatedApp, deps: ServiceDeps, registry: Registry, agents: AgentListener): void {
  // Agents send POST; PUT only with the internal setting put_for_data_send.
  app.post(AGENT_LISTENER_PATH, agents.handle);
  app.put(AGENT_LISTENER_PATH, agents.handle);
  // OTLP: mounted by collector/otlp
  registerOtlpRoutes(app, deps, registry);
  app.any('/*', notFound);
}

function notFound(res: HttpResponse, req: HttpRequest): void {
  const what = `${req.getMethod().toUpperCase()} ${req.getUrl().slice(0, 200)}`;
  sendError(res, new NotFoundError(`cannot route ${what}: agents post to ${AGENT_LISTENER_PATH}, OTLP exporters to /v1/metrics`));
}
