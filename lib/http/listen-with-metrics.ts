import type { Registry } from 'prom-client';
import { startMetricsServer, type MetricsServer } from '../metrics/registry.js';
import { listen, type TemplatedApp } from './uws.js';

/**
 * Starts a service's plain-HTTP /metrics server and its uWebSockets.js listener, or neither: when the
 * listener cannot bind, the metrics server is stopped again before the error is thrown.
 */
export async function listenWithMetrics(
  app: TemplatedApp,
  registries: readonly Registry[],
  o: { host: string; port: number; metricsPort: number },
): Promise<{ listening: Awaited<ReturnType<typeof listen>>; metricsServer: MetricsServer }> {
  const metricsServer = await startMetricsServer(registries, { host: o.host, port: o.metricsPort });
  try {
    return { listening: await listen(app, o.host, o.port), metricsServer };
  } catch (err) {
    await metricsServer.stop();
    throw err;
  }
}
