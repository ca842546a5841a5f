import { benchMetrics } from './bench-metrics.js';
import { emptyRunStats, HttpLoader, mergeRunStats, type LoadRequest, type LoadTarget, type RunStats } from './http-load.js';
import { agentPath, BENCH_ORIGIN, beaconBody, beaconUserAgent, connectBody, HarvestBodies } from './load-bodies.js';

/** Jobs of the load generator; plain data, so they travel to a generator process unchanged. */
export interface ConnectJob {
  target: LoadTarget;
  /** License key of each simulated account (account index = position). */
  licenseKeys: string[];
  agents: number;
  concurrency: number;
  /** Date.now() after which nothing new starts. */
  deadline: number;
}

export interface ConnectResult {
  connected: number;
  stats: RunStats;
}

export interface HarvestJob {
  hourStart: number;
  minutes: number;
  metrics: number;
  concurrency: number;
  deadline: number;
}

export interface HarvestResult {
  /** Simulated minutes whose every post was answered. */
  minutesDone: number;
  /** Date.now() when each finished minute's last post was answered. */
  minuteDoneAt: number[];
  startedAt: number;
  /** Request body bytes sent (first attempts). */
  bodyBytes: number;
  stats: RunStats;
}

export interface BeaconJob {
  target: LoadTarget;
  browserKeys: string[];
  seconds: number;
  concurrency: number;
  deadline: number;
}

export interface BeaconResult {
  stats: RunStats;
}

const HEADERS = {
  'Content-Type': 'application/json',
  'Content-Encoding': 'identity',
  'User-Agent': 'NewRelic-NodeAgent/13.20.0 (nodejs 20 linux-x64)',
  Connection: 'Keep-Alive',
};

/**
 * Simulated New Relic agents and browsers. Agents connect once (a run id each) and then post one
 * metric_data harvest per simulated minute; minutes go one after the other, each posted as fast as
 * the collector answers (the minute clock is compressed). A post answered 503/429 or not answered is
 * re-sent unchanged, as an agent keeps its data. Memory is bounded by the shape (run ids) and the
 * concurrency (bodies in flight).
 */
export class LoadGenerator {
  #collector: HttpLoader | undefined;
  /** runIds[account][agent] */
  #runIds: string[][] = [];
  #licenseKeys: string[] = [];

  async connect(job: ConnectJob): Promise<ConnectResult> {
    this.#collector?.close();
    this.#collector = new HttpLoader(job.target, job.concurrency);
    this.#licenseKeys = job.licenseKeys;
    this.#runIds = job.licenseKeys.map(() => new Array<string>(job.agents).fill(''));
    function* source(): Generator<LoadRequest> {
      for (let g = 0; g < job.agents; g++) {
        for (let a = 0; a < job.licenseKeys.length; a++) {
          yield { method: 'POST', path: agentPath('connect', job.licenseKeys[a]!), headers: HEADERS, body: connectBody(g), tag: a * job.agents + g };
        }
      }
    }
    let connected = 0;
    const stats = await this.#collector.run(source(), {
      concurrency: job.concurrency,
      deadline: job.deadline,
      onOk: (req, body) => {
        const runId = (JSON.parse(body.toString('utf8')) as { return_value?: { agent_run_id?: unknown } }).return_value?.agent_run_id;
        if (typeof runId !== 'string') throw new Error(`cannot connect simulated agent: no agent_run_id in ${body.toString('utf8').slice(0, 200)}`);
        this.#runIds[Math.floor(req.tag! / job.agents)]![req.tag! % job.agents] = runId;
        connected++;
      },
    });
    return { connected, stats };
  }

  async harvestHour(job: HarvestJob, onMinute: (minute: number, at: number) => void): Promise<HarvestResult> {
    const loader = this.#collector;
    if (!loader) throw new Error('BUG: connect before harvesting');
    const missing = this.#runIds.flat().filter((r) => r === '').length;
    if (missing > 0) throw new Error(`cannot post harvests: ${missing} simulated agents have no run id (connect failed)`);
    const bodies = new HarvestBodies(benchMetrics(job.metrics));
    const keys = this.#licenseKeys;
    const runIds = this.#runIds;
    const result: HarvestResult = { minutesDone: 0, minuteDoneAt: [], startedAt: Date.now(), bodyBytes: 0, stats: emptyRunStats() };
    for (let k = 0; k < job.minutes && Date.now() < job.deadline; k++) {
      function* minute(): Generator<LoadRequest> {
        const agents = runIds[0]?.length ?? 0;
        for (let g = 0; g < agents; g++) {
          for (let a = 0; a < runIds.length; a++) {
            const runId = runIds[a]![g]!;
            const body = bodies.body(runId, a, g, job.hourStart, k);
            result.bodyBytes += body.length;
            yield { method: 'POST', path: agentPath('metric_data', keys[a]!, runId), headers: HEADERS, body, tag: k };
          }
        }
      }
      const stats = await loader.run(minute(), { concurrency: job.concurrency, deadline: job.deadline });
      result.stats = mergeRunStats(result.stats, stats);
      if (stats.notStarted || stats.abandoned > 0 || stats.failed > 0) break;
      result.minutesDone = k + 1;
      result.minuteDoneAt.push(Date.now());
      onMinute(k, Date.now());
    }
    result.stats.seconds = (Date.now() - result.startedAt) / 1000;
    return result;
  }

  /** Page views round-robin over the accounts' browser keys, for `seconds`. */
  async beacons(job: BeaconJob): Promise<BeaconResult> {
    const loader = new HttpLoader(job.target, job.concurrency);
    const until = Math.min(job.deadline, Date.now() + job.seconds * 1000);
    function* source(): Generator<LoadRequest> {
      for (let i = 0; ; i++) {
        yield {
          method: 'POST',
          path: '/beacon',
          headers: { 'Content-Type': 'text/plain;charset=UTF-8', Origin: BENCH_ORIGIN, 'User-Agent': beaconUserAgent(i) },
          body: beaconBody(job.browserKeys[i % job.browserKeys.length]!, i),
        };
      }
    }
    try {
      const stats = await loader.run(source(), { concurrency: job.concurrency, deadline: until, maxRetries: 0 });
      return { stats };
    } finally {
      loader.close();
    }
  }

  close(): void {
    this.#collector?.close();
    this.#collector = undefined;
  }
}
