import http from 'node:http';
import https from 'node:https';
import { LatencyHistogram, type HistogramData } from './latency-histogram.js';

/** One request of the load, sent as is (and re-sent as is on retry, as agents and browsers do). */
export interface LoadRequest {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** Free for the caller (e.g. the simulated minute); passed back in onOk. */
  tag?: number;
}

/** Where the load goes: an origin on the loopback interface, with the CA to trust for https. */
export interface LoadTarget {
  origin: string;
  ca?: string;
}

export type Verdict = 'ok' | 'retry' | 'fail';

export interface RunOptions {
  concurrency: number;
  /** Date.now() after which no request (or retry) starts; requests in flight finish. */
  deadline: number;
  /** How a status is judged; default: 2xx ok, 429 and 5xx retry (agents keep the data), others fail. */
  judge?: (status: number) => Verdict;
  /** Attempts after the first before a request is abandoned. */
  maxRetries?: number;
  onOk?: (req: LoadRequest, body: Buffer) => void;
}

/** What one run did. Latencies are of successful attempts, from sending to the last byte of the answer. */
export interface RunStats {
  ok: number;
  failed: number;
  retries: number;
  /** Requests given up (retries exhausted or the deadline passed while retrying). */
  abandoned: number;
  /** Requests never started because the deadline passed. */
  notStarted: boolean;
  statuses: Record<string, number>;
  /** First few failure answers, for the report (bounded). */
  failures: string[];
  seconds: number;
  latency: HistogramData;
}

const MAX_FAILURES_KEPT = 5;
const REQUEST_TIMEOUT_MS = 60_000;

export function defaultJudge(status: number): Verdict {
  if (status >= 200 && status < 300) return 'ok';
  if (status === 429 || status >= 500) return 'retry';
  return 'fail';
}

/**
 * A closed-loop HTTP(S) load runner: `concurrency` workers each send the next request of the source
 * as soon as their previous one is answered, over keep-alive connections (at most `concurrency`
 * sockets). Loopback only: the target must be 127.0.0.1.
 */
export class HttpLoader {
  readonly #agent: http.Agent;
  readonly #url: URL;
  readonly #lib: typeof http | typeof https;

  constructor(readonly target: LoadTarget, maxSockets: number) {
    this.#url = new URL(target.origin);
    if (this.#url.hostname !== '127.0.0.1') throw new Error(`BUG: the bench sends load to 127.0.0.1 only, not ${this.#url.hostname}`);
    const secure = this.#url.protocol === 'https:';
    this.#lib = secure ? https : http;
    this.#agent = secure
      ? new https.Agent({ keepAlive: true, maxSockets, ...(target.ca ? { ca: target.ca } : {}) })
      : new http.Agent({ keepAlive: true, maxSockets });
  }

  async run(source: Iterator<LoadRequest>, o: RunOptions): Promise<RunStats> {
    const judge = o.judge ?? defaultJudge;
    const maxRetries = o.maxRetries ?? 20;
    const latency = new LatencyHistogram();
    const stats: RunStats = { ok: 0, failed: 0, retries: 0, abandoned: 0, notStarted: false, statuses: {}, failures: [], seconds: 0, latency: latency.toJSON() };
    const started = performance.now();
    const worker = async () => {
      for (;;) {
        if (Date.now() >= o.deadline) {
          stats.notStarted = true;
          return;
        }
        const next = source.next();
        if (next.done) return;
        await this.#deliver(next.value, o, judge, maxRetries, latency, stats);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, o.concurrency) }, worker));
    stats.seconds = (performance.now() - started) / 1000;
    stats.latency = latency.toJSON();
    return stats;
  }

  async #deliver(req: LoadRequest, o: RunOptions, judge: (s: number) => Verdict, maxRetries: number, latency: LatencyHistogram, stats: RunStats): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const t0 = performance.now();
      let verdict: Verdict;
      let why = '';
      try {
        const { status, body } = await this.#send(req);
        stats.statuses[status] = (stats.statuses[status] ?? 0) + 1;
        verdict = judge(status);
        if (verdict === 'ok') {
          latency.record(performance.now() - t0);
          stats.ok++;
          o.onOk?.(req, body);
          return;
        }
        why = `${status} ${body.toString('utf8').slice(0, 300)}`;
      } catch (err) {
        const code = (err as { code?: string }).code ?? 'error';
        stats.statuses[code] = (stats.statuses[code] ?? 0) + 1;
        verdict = 'retry';
        why = `${code}: ${(err as Error).message}`;
      }
      if (verdict === 'fail') {
        stats.failed++;
        if (stats.failures.length < MAX_FAILURES_KEPT) stats.failures.push(`${req.method} ${req.path.split('?')[0]}: ${why}`);
        return;
      }
      if (attempt >= maxRetries || Date.now() >= o.deadline) {
        stats.abandoned++;
        if (stats.failures.length < MAX_FAILURES_KEPT) stats.failures.push(`${req.method} ${req.path.split('?')[0]} abandoned after ${attempt + 1} attempts: ${why}`);
        return;
      }
      stats.retries++;
      await new Promise((r) => setTimeout(r, Math.min(2000, 25 * 2 ** attempt)));
    }
  }

  #send(req: LoadRequest): Promise<{ status: number; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { ...req.headers };
      if (req.body !== undefined) headers['Content-Length'] = Buffer.byteLength(req.body);
      const r = this.#lib.request(
        { host: this.#url.hostname, port: this.#url.port, method: req.method, path: req.path, headers, agent: this.#agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      r.setTimeout(REQUEST_TIMEOUT_MS, () => r.destroy(Object.assign(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`), { code: 'ETIMEDOUT' })));
      r.on('error', reject);
      r.end(req.body);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** Adds b's counts into a (for runs made of several loader runs). */
export function mergeRunStats(a: RunStats, b: RunStats): RunStats {
  const latency = LatencyHistogram.fromJSON(a.latency);
  latency.merge(LatencyHistogram.fromJSON(b.latency));
  const statuses = { ...a.statuses };
  for (const [k, v] of Object.entries(b.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
  return {
    ok: a.ok + b.ok,
    failed: a.failed + b.failed,
    retries: a.retries + b.retries,
    abandoned: a.abandoned + b.abandoned,
    notStarted: a.notStarted || b.notStarted,
    statuses,
    failures: [...a.failures, ...b.failures].slice(0, MAX_FAILURES_KEPT),
    seconds: a.seconds + b.seconds,
    latency: latency.toJSON(),
  };
}

export function emptyRunStats(): RunStats {
  return { ok: 0, failed: 0, retries: 0, abandoned: 0, notStarted: false, statuses: {}, failures: [], seconds: 0, latency: new LatencyHistogram().toJSON() };
}
