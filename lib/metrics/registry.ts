import http from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';

/** A fresh Registry for one service: process metrics prefixed apm_<service>_, label service=<name>. */
export function createServiceRegistry(service: string, opts: { defaultMetrics?: boolean } = {}): Registry {
  if (!/^[a-z][a-z0-9_]*$/.test(service)) throw new Error(`BUG: service name ${JSON.stringify(service)} must be [a-z0-9_]`);
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: `apm_${service}_` });
  return registry;
}

/** Body and content type of a /metrics answer over one or more registries. */
export async function renderMetrics(registries: readonly Registry[]): Promise<{ body: string; contentType: string }> {
  const merged = registries.length === 1 ? registries[0]! : Registry.merge([...registries]);
  return { body: await merged.metrics(), contentType: merged.contentType };
}

export interface MetricsServer {
  port: number;
  url: string;
  stop(): Promise<void>;
}

/**
 * Plain-HTTP /metrics on its own port (kept off the ingest listeners so scrapes never queue behind
 * agent traffic). port 0 picks a free port.
 */
export async function startMetricsServer(registries: readonly Registry[], opts: { host: string; port: number }): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: scrape GET /metrics\n');
      return;
    }
    renderMetrics(registries).then(
      ({ body, contentType }) => res.writeHead(200, { 'content-type': contentType }).end(body),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`cannot render metrics: ${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  let stopped: Promise<void> | undefined;
  return {
    port,
    url: `http://${opts.host}:${port}/metrics`,
    stop() {
      stopped ??= new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}
