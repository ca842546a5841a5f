import fs from 'node:fs';
import path from 'node:path';
import { startCollectorProcesses, type CollectorProcesses } from '../../collector/collector-processes.js';
import { lineLog } from '../../lib/log/log.js';
import type { TestCluster } from '../harness/mariadb.js';
import { freePort } from '../harness/ports.js';
import type { RunningCollector } from './collector-newrelic-helpers.js';

export interface RunningProcesses {
  procs: CollectorProcesses;
  /** Process i as a RunningCollector (its own ports), for agentPost and scrape. */
  at(i: number): RunningCollector;
  /** Lines the supervisor logged. */
  lines: string[];
}

/**
 * N collector processes (compiled dist/bin/collector-process.js) in front of a test cluster. `own`:
 * each process also gets a port of its own for agents and OTLP (so a test can address one process);
 * otherwise all share the first one's (SO_REUSEPORT).
 */
export async function startTestProcesses(c: TestCluster, o: { count: number; own: boolean; env?: Record<string, string>; backoff?: { firstMs: number; maxMs: number } }): Promise<RunningProcesses> {
  const own = o.own ? await Promise.all(Array.from({ length: o.count }, async () => ({ port: await freePort(), otlp: await freePort() }))) : [];
  const lines: string[] = [];
  const procs = await startCollectorProcesses({
    count: o.count,
    config: c.config.with({ APM_COLLECTOR_PORT: '0', APM_COLLECTOR_METRICS_PORT: '0', APM_OTLP_HTTP_PORT: '0', APM_LOG_LEVEL: 'warn', APM_LOG_FORMAT: 'json', ...o.env }),
    log: lineLog((l) => lines.push(l)),
    shardAddresses: c.servers.map((s) => s.address),
    backoff: o.backoff ?? { firstMs: 50, maxMs: 200 },
    ...(o.own ? { envFor: (i: number) => ({ APM_COLLECTOR_PORT: String(own[i]!.port), APM_OTLP_HTTP_PORT: String(own[i]!.otlp) }) } : {}),
  });
  const caFile = path.join(c.dataDir, 'collector', 'tls', 'ca.crt');
  const caPem = fs.readFileSync(caFile, 'utf8');
  return {
    procs,
    lines,
    at: (i) => ({ handle: procs, port: procs.ports()[i]!.port, metricsPort: procs.ports()[i]!.metricsPort, caPem, caFile }),
  };
}
