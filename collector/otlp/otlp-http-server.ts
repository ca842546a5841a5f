import type { Registry } from 'prom-client';
import { closeListen, listen, uws } from '../../lib/http/uws.js';
import type { ServiceDeps } from '../../lib/services.js';
import { readOtlpSettings } from './otlp-config.js';
import { registerOtlpRoutes } from './otlp-routes.js';

export interface OtlpHttpServer {
  port: number;
  /** e.g. "http://127.0.0.1:4318/v1/metrics (OTLP/HTTP)". */
  address: string;
  /** Stops listening, then waits for exports in progress. Idempotent. */
  stop(): Promise<void>;
}

/**
 * The plain-HTTP OTLP listener on APM_OTLP_HTTP_PORT (default 4318, where exporters send by
 * default), next to the HTTPS collector port that serves the same route. Started by startCollector.
 */
export async function startOtlpHttpServer(deps: ServiceDeps, registry: Registry, opts: { port?: number } = {}): Promise<OtlpHttpServer> {
  const s = readOtlpSettings(deps.config);
  const app = uws.App();
  const receiver = registerOtlpRoutes(app, deps, registry);
  const { socket, port } = await listen(app, s.bindHost, opts.port ?? s.httpPort);
  let stopped: Promise<void> | undefined;
  return {
    port,
    address: `http://${s.bindHost}:${port}/v1/metrics (OTLP/HTTP)`,
    stop() {
      stopped ??= (async () => {
        closeListen(socket);
        await receiver.drain();
      })();
      return stopped;
    },
  };
}
