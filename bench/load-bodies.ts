import { benchStats, seedOf, type BenchMetric } from './bench-metrics.js';

/**
 * The payloads the load generator sends, as the real clients send them: New Relic agent protocol 17
 * (connect, metric_data) and rum.js beacons (payload version 1). Pure: strings in, strings out.
 */

export const BENCH_APP = 'bench-app';
export const BENCH_ORIGIN = 'http://shop.bench.example';
export const AGENT_LISTENER = '/agent_listener/invoke_raw_method';

/** Query string of an agent call (the license key travels in clear, as the agents send it). */
export function agentPath(method: string, licenseKey: string, runId?: string): string {
  const q = `method=${method}&license_key=${encodeURIComponent(licenseKey)}&protocol_version=17&marshal_format=json`;
  return `${AGENT_LISTENER}?${q}${runId === undefined ? '' : `&run_id=${encodeURIComponent(runId)}`}`;
}

/** The agent's host name: one host per simulated agent index (pid 1000 + index). */
export function agentHost(agent: number): string {
  return `bench-host-${agent}`;
}

export function agentPid(agent: number): number {
  return 1000 + agent;
}

/** connect body `[ {environment facts} ]` of simulated agent `agent` (the fields the collector reads). */
export function connectBody(agent: number): string {
  return JSON.stringify([
    {
      pid: agentPid(agent),
      host: agentHost(agent),
      display_host: agentHost(agent),
      language: 'nodejs',
      app_name: [BENCH_APP],
      agent_version: '13.20.0',
      identifier: `nodejs:${BENCH_APP}`,
      high_security: false,
      labels: [],
      settings: {},
      utilization: { metadata_version: 5, logical_processors: 2, total_ram_mib: 4096, hostname: agentHost(agent) },
    },
  ]);
}

/**
 * The harvest window of simulated minute `minute` of the hour starting at `hourStart`: 60 s ending
 * half a minute into the minute (the collector files a harvest under the minute of its end), each
 * window starting where the previous one ended, as an agent's consecutive harvests do.
 */
export function harvestWindow(hourStart: number, minute: number): { start: number; end: number } {
  const end = hourStart + 60 * minute + 30.5;
  return { start: end - 60, end };
}

/** metric_data bodies `[run_id, start, end, [[spec, stats], …]]`; specs are serialized once. */
export class HarvestBodies {
  readonly #specs: string[];

  constructor(private readonly metrics: readonly BenchMetric[]) {
    this.#specs = metrics.map((m) => JSON.stringify(m.scope === '' ? { name: m.name } : { name: m.name, scope: m.scope }));
  }

  body(runId: string, account: number, agent: number, hourStart: number, minute: number): string {
    const { start, end } = harvestWindow(hourStart, minute);
    const parts: string[] = new Array(this.metrics.length);
    for (let m = 0; m < this.metrics.length; m++) {
      const s = benchStats(seedOf(account, agent, m, minute), this.metrics[m]!.apdex);
      parts[m] = `[${this.#specs[m]},[${s.callCount},${s.totalTime},${s.exclusiveTime},${s.minTime},${s.maxTime},${s.sumOfSquares}]]`;
    }
    return `[${JSON.stringify(runId)},${start},${end},[${parts.join(',')}]]`;
  }
}

const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
];

export function beaconUserAgent(i: number): string {
  return USER_AGENTS[i % USER_AGENTS.length]!;
}

/**
 * Page view `i` of a browser of the account with `browserKey`: rum.js payload version 1, whole
 * milliseconds of a plausible navigation (marks in order: activationStart, requestStart,
 * responseStart, responseEnd, domContentLoadedEventEnd, loadEventEnd).
 */
export function beaconBody(browserKey: string, i: number): string {
  const j = i % 97;
  const request = 5 + (j % 20);
  const first = request + 30 + j;
  const end = first + 10 + (j % 7);
  const dcl = end + 100 + 3 * j;
  const load = dcl + 50 + 2 * j;
  return JSON.stringify({
    v: 1,
    k: browserKey,
    a: BENCH_APP,
    u: `/products/${1000 + (i % 500)}`,
    m: [0, request, first, end, dcl, load],
    fcp: dcl - 20,
    lcp: load - 10,
    inp: j % 3 === 0 ? null : 40 + j,
    cls: (j % 10) / 100,
  });
}
