import { closeListen, uws } from '../lib/http/uws.js';
import { createServiceRegistry } from '../lib/metrics/registry.js';
import { listenWithMetrics } from '../lib/http/listen-with-metrics.js';
import type { ServiceDeps, ServiceHandle } from '../lib/services.js';
import { beaconSettings } from './beacon-config.js';
import { BeaconAggregator } from './beacon-aggregator.js';
import { BeaconApps } from './beacon-apps.js';
import { BeaconFlusher } from './beacon-flusher.js';
import { BeaconIntake } from './beacon-intake.js';
import { BeaconMetrics } from './beacon-metrics.js';
import { beaconRoutes } from './beacon-routes.js';
import { BrowserFamilyCache } from './browser-family.js';
import { loadCountryLookup } from './country-lookup.js';
import { PageGroupLimiter } from './page-group.js';
import { loadRumScript } from './rum-script.js';
import { type Log } from '../lib/log/log.js';

/** A running beacon with its parts exposed for tests and the benchmark. */
export interface BeaconHandle extends ServiceHandle {
  /** Base URL of the beacon listener, e.g. http://127.0.0.1:8081 */
  url: string;
  metricsUrl: string;
  /** Path of the versioned script, e.g. /rum-0123456789ab.js */
  scriptPath: string;
  /** Writes everything aggregated so far (and retries pending batches) now. */
  flush(): Promise<void>;
  apps: BeaconApps;
  flusher: BeaconFlusher;
  aggregator: BeaconAggregator;
  registry: ReturnType<typeof createServiceRegistry>;
}

/** How long stop() keeps retrying batches that cannot be written (shard down) before dropping them. */
const STOP_RETRY_MS = 5_000;

/**
 * The beacon service: serves rum.js and takes page-view beacons on one uWebSockets.js listener,
 * aggregates them in memory and flushes every APM_BEACON_FLUSH_SECONDS through the shared shard
 * writer. stop() closes the listener first, then flushes what is in memory (SIGTERM in bin/start.ts).
 */
export async function startBeacon(deps: ServiceDeps): Promise<BeaconHandle> {
  const log = deps.log.child({ service: 'beacon' });
  const s = beaconSettings(deps.config);
  const script = loadRumScript();
  const countryOf = s.country ? loadCountryLookup() : undefined;
  const registry = createServiceRegistry('beacon');
  const aggregator = new BeaconAggregator(s.maxOpenKeys);
  const metrics = new BeaconMetrics(registry, () => aggregator.size);
  const apps = new BeaconApps(deps.directory, { ttlSeconds: s.directoryTtlSeconds, now: deps.now });
  const intake = new BeaconIntake({
    apps,
    aggregator,
    limiter: new PageGroupLimiter(s.maxPageGroups),
    families: new BrowserFamilyCache(),
    countryOf,
    metrics,
    now: deps.now,
  });
  const flusher = new BeaconFlusher({ aggregator, shards: deps.shards, writer: deps.writer, metrics, maxPendingBatches: s.maxPendingBatches, log: log });

  const app = uws.App();
  beaconRoutes(app, { intake, metrics, script, maxBodyBytes: s.maxBodyBytes, trustForwardedFor: s.trustForwardedFor, log: log });
  const { listening: listening, metricsServer } = await listenWithMetrics(app, [registry], { host: s.host, port: s.port, metricsPort: s.metricsPort });
  const timer = setInterval(() => void flusher.flush().catch((err: Error) => log.error(`BUG: flush failed: ${err.stack ?? err.message}`)), s.flushSeconds * 1000);
  timer.unref();

  const url = `http://${s.host}:${listening.port}`;
  let stopping: Promise<void> | undefined;
  const stop = async () => {
    clearInterval(timer);
    closeListen(listening.socket);
    intake.close();
    // A timer flush in progress drained the aggregator before the last beacons came in: flush() then
    // joins it, so flush again until nothing is left in memory (the listener is closed by now).
    await flusher.flush();
    if (aggregator.size > 0) await flusher.flush();
    const deadline = Date.now() + STOP_RETRY_MS;
    while ((flusher.pendingBatches > 0 || aggregator.size > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      await flusher.flush();
    }
    const lost = flusher.abandon();
    if (lost > 0) log.warn(`stopped with ${lost} page views unwritten (their batches still failed; the reasons are logged above)`);
    await metricsServer.stop();
  };
  return {
    name: 'beacon',
    addresses: [
      `${url}/rum-${script.version}.js (browser script, cached for a year; ${url}/rum.js is always the current one)`,
      `${url}/beacon (page-view beacons; allow a site with: apm apps set <account> <app> --origin https://site.example)`,
      `${metricsServer.url} (self-metrics)`,
    ],
    url,
    metricsUrl: metricsServer.url,
    scriptPath: `/rum-${script.version}.js`,
    flush: () => flusher.flush(),
    apps,
    flusher,
    aggregator,
    registry,
    stop: () => (stopping ??= stop()),
  };
}
