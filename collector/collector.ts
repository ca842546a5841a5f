import path from 'node:path';
import type { Registry } from 'prom-client';
import { closeListen, listen, uws } from '../lib/http/uws.js';
import { createServiceRegistry, startMetricsServer } from '../lib/metrics/registry.js';
import type { ServiceDeps, ServiceHandle } from '../lib/services.js';
import { maxAgeProblem } from '../lib/shard/minute-retention.js';
import { readCollectorSettings, type CollectorSettings } from './collector-config.js';
import { CollectorMetrics } from './collector-metrics.js';
import { registerCollectorRoutes } from './collector-routes.js';
import { demoKeyCommand, demoKeysFile, ensureDemoAccount } from './demo-account.js';
import { InflightBudget } from './inflight-budget.js';
import { AgentHandshake } from './newrelic/agent-handshake.js';
import { AgentListener } from './newrelic/agent-listener.js';
import { HarvestWriter } from './newrelic/harvest-writer.js';
import { ensureRunSecret } from './newrelic/run-secret.js';
import { RunToken } from './newrelic/run-token.js';
import { startOtlpHttpServer } from './otlp/otlp-http-server.js';
import type { OtlpOwners } from './otlp/otlp-owner.js';
import { OtlpReceiver } from './otlp/otlp-receiver.js';
import { ensureLocalTls, loadConfiguredTls, type CollectorTls } from './tls/collector-tls.js';
import { type Log } from '../lib/log/log.js';

export interface CollectorOptions {
  /** Embedded default only: create (once) a "demo" account and print its license key. */
  demoAccount?: boolean;
  /** One of several collector processes (collector-processes.ts): who stores which OTLP sender. */
  owners?: OtlpOwners;
  /** More registries served on the collector's /metrics (a collector process: its own writer's). */
  registries?: Registry[];
}

/** The running collector: its ports and its OTLP receiver (which stores parts forwarded by sibling processes). */
export interface CollectorHandle extends ServiceHandle {
  ports: { port: number; otlpPort: number; metricsPort: number };
  otlp: OtlpReceiver;
}

/** Harvest records of runs silent this long are purged (agents that died without shutdown). */
const RECORD_MAX_AGE_SECONDS = 2 * 86400;
const PURGE_EVERY_MS = 3600_000;
const STOP_WAIT_MS = 10_000;

/**
 * The collector: New Relic agent protocol 17 over HTTPS on uWebSockets.js (plus the OTLP routes,
 * mounted by collector/otlp), and its self-metrics on a plain-HTTP /metrics port. Writes go through
 * the shared ShardWriter; a request is answered 200 only after its rows are committed.
 */
export async function startCollector(deps: ServiceDeps, opts: CollectorOptions = {}): Promise<CollectorHandle> {
  const log = deps.log.child({ service: 'collector' });
  const settings = readCollectorSettings(deps.config, deps.dataDir);
  const ageProblem = maxAgeProblem(settings.maxAgeSeconds, await deps.directory.shortestMinuteRetentionDays());
  if (ageProblem) throw new Error(ageProblem);
  const tls = settings.tls ? loadConfiguredTls(settings.tls) : await ensureLocalTls(settings.tlsDir, new Date(deps.now() * 1000));
  const token = new RunToken(ensureRunSecret(settings.runSecret, settings.runSecretFile));
  const registry = createServiceRegistry('collector');
  const metrics = new CollectorMetrics(registry);
  const budget = new InflightBudget(settings.maxInflightBytes, (used) => metrics.bytesInFlight.set(used));
  const harvests = new HarvestWriter(deps.shards, deps.writer, metrics, deps.now, deps.config.num('APM_WRITER_MAX_PENDING_ROWS'));
  const handshake = new AgentHandshake({
    directory: deps.directory,
    shards: deps.shards,
    token,
    metrics,
    now: deps.now,
    eventPeriodMs: settings.eventPeriodMs,
    maxPayloadBytes: settings.maxBodyBytes,
  });
  const demo = opts.demoAccount ? await ensureDemoAccount(deps.directory, demoKeysFile(deps.dataDir)) : undefined;
  let port = settings.port;
  const agents = new AgentListener({ settings, port: () => port, token, handshake, harvests, shards: deps.shards, writer: deps.writer, metrics, budget, now: deps.now, log });

  const app = uws.SSLApp({ key_file_name: tls.keyFile, cert_file_name: tls.certFile });
  registerCollectorRoutes(app, deps, registry, agents);
  const otlp = OtlpReceiver.for(deps, registry);
  otlp.owners = opts.owners;
  const listening = await listen(app, settings.bindHost, settings.port);
  port = listening.port;
  let metricsServer;
  try {
    metricsServer = await startMetricsServer([registry, ...(opts.registries ?? [])], { host: settings.bindHost, port: settings.metricsPort });
  } catch (err) {
    closeListen(listening.socket);
    throw new Error(`cannot start collector: cannot serve /metrics on ${settings.bindHost}:${settings.metricsPort}: ${(err as Error).message}`);
  }
  // OTLP: the plain-HTTP OTLP/HTTP listener (APM_OTLP_HTTP_PORT), sharing the HTTPS app's receiver.
  const otlpHttp = await startOtlpHttpServer(deps, registry).catch(async (err: Error) => {
    closeListen(listening.socket);
    await metricsServer.stop();
    throw new Error(`cannot start collector: ${err.message}`);
  });
  const purge = setInterval(() => {
    harvests.purgeRecords(RECORD_MAX_AGE_SECONDS).catch((err: Error) => log.warn(`cannot purge harvest records: ${err.message}`));
  }, PURGE_EVERY_MS);
  purge.unref();

  // Never the key itself in a log: a command reading it from the demo keys file (mode 0600).
  const licenseKey = demo ? `"$(${demoKeyCommand(demoKeysFile(deps.dataDir), 'licenseKey')})"` : undefined;
  for (const line of agentSettingsText(settings, tls, port, licenseKey)) log.info(line);

  let stopped: Promise<void> | undefined;
  return {
    name: 'collector',
    ports: { port, otlpPort: otlpHttp.port, metricsPort: metricsServer.port },
    otlp,
    addresses: [
      `https://${hostForUrl(settings.bindHost)}:${port}${'/agent_listener/invoke_raw_method'} (New Relic agents, protocol 17)`,
      `${metricsServer.url} (self-metrics)`,
      otlpHttp.address,
    ],
    stop() {
      stopped ??= (async () => {
        clearInterval(purge);
        closeListen(listening.socket);
        const until = Date.now() + STOP_WAIT_MS;
        while (agents.inProgress > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
        await otlpHttp.stop();
        await metricsServer.stop();
      })();
      return stopped;
    },
  };
}

/** The exact settings an unmodified New Relic agent needs to report here. */
export function agentSettingsText(settings: CollectorSettings, tls: CollectorTls, port: number, licenseKey: string | undefined): string[] {
  const [host, agentPort] = settings.publicAddress ? splitAddress(settings.publicAddress) : [settings.bindHost === '0.0.0.0' ? '127.0.0.1' : settings.bindHost, port];
  const caFile = path.resolve(tls.caFile);
  return [
    'collector: New Relic agents (newrelic 13.x on Node 20, 14.x on Node 22) report here with these settings:',
    `  NEW_RELIC_HOST=${host}`,
    `  NEW_RELIC_PORT=${agentPort}`,
    `  NEW_RELIC_LICENSE_KEY=${licenseKey ?? '<license key printed by: npm run apm -- accounts create <name>>'}`,
    `  NEW_RELIC_CERTIFICATES="$(cat ${caFile})"`,
    `  (or NODE_EXTRA_CA_CERTS=${caFile}, which also works through an HTTP proxy)`,
  ];
}

function splitAddress(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  return [address.slice(0, i).replace(/^\[|\]$/g, ''), Number(address.slice(i + 1))];
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
