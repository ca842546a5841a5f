import { expect } from 'vitest';
import { sealMinuteTable } from '../../rollup/minute-seal.js';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import zlib from 'node:zlib';
import type { ShardStore } from '../../lib/shard/shard-store.js';
import type { ServiceHandle } from '../../lib/services.js';
import { startCollector } from '../../collector/collector.js';
import { freePort } from '../harness/ports.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';
import type { ServiceDeps } from '../../lib/services.js';
import { refusingWriter, type RefusingWriter } from '../harness/refusing-writer.js';
import { capture, shiftedMetricData } from '../harness/newrelic-captures.js';

export interface RunningCollector {
  handle: ServiceHandle;
  port: number;
  metricsPort: number;
  caPem: string;
  caFile: string;
}

/** Starts the collector against a test cluster on free ports; `deps` may replace parts (e.g. the writer). */
export async function startTestCollector(c: TestCluster, env: Record<string, string> = {}, deps: Partial<ServiceDeps> = {}): Promise<RunningCollector> {
  const port = await freePort();
  const metricsPort = await freePort();
  const config = c.config.with({ APM_COLLECTOR_PORT: String(port), APM_COLLECTOR_METRICS_PORT: String(metricsPort), ...env });
  const handle = await startCollector(c.deps({ config, ...deps }));
  const caFile = path.join(c.dataDir, 'collector', 'tls', 'ca.crt');
  return { handle, port, metricsPort, caPem: fs.readFileSync(caFile, 'utf8'), caFile };
}

/** A test cluster with a collector in front of a refusing writer (test/harness/refusing-writer.ts). */
export interface CollectorCluster {
  c: TestCluster;
  col: RunningCollector;
  refusing: RefusingWriter;
  stop(): Promise<void>;
}

/** One shard server, a collector on free ports whose writes can be refused on demand; stop() ends both. */
export async function startCollectorCluster(o: { clusterEnv?: Record<string, string>; collectorEnv?: Record<string, string> } = {}): Promise<CollectorCluster> {
  const c = await startTestCluster({ shards: 1, ...(o.clusterEnv ? { env: o.clusterEnv } : {}) });
  const refusing = refusingWriter(c.writer);
  const col = await startTestCollector(c, o.collectorEnv ?? {}, { writer: refusing.writer });
  return {
    c,
    col,
    refusing,
    async stop() {
      await col.handle.stop();
      await c.stop();
    },
  };
}

/** A new account with one application and one agent (web-1, pid 7) connected through the cluster's collector. */
export async function setupAgent(cluster: CollectorCluster, name: string) {
  const { c, col } = cluster;
  const made = await c.directory.createAccount({ name });
  const { store } = await c.registry.storeForAccount(made.account.id);
  const run = await connectAgent(col, made.licenseKey, { apps: ['app'], host: 'web-1', pid: 7 });
  const app = (await c.directory.findApplication(made.account.id, 'app'))!;
  const agentId = await store.agentId(made.account.id, { applicationId: app.id, host: 'web-1', pid: 7, language: 'nodejs' });
  const appAgentId = await store.applicationAgentId(made.account.id, app.id);
  const post = (method: string, body: unknown, extra: Partial<PostOptions> = {}) => agentPost(col, method, body, { licenseKey: made.licenseKey, runId: run, ...extra });
  return { id: made.account.id, shardId: made.account.shardId, key: made.licenseKey, store, run, agentId, appAgentId, post };
}

export type AgentSetup = Awaited<ReturnType<typeof setupAgent>>;

/** The captured 503 pair (22, then 23 merging it), with the same shift so 23 keeps 22's start as the agent did. */
export function capturedPair(run: string) {
  const t = Date.now() / 1000;
  const first = shiftedMetricData(capture('22'), run, t, 1 + (capture('23').body[2] - capture('22').body[2]));
  const merged = shiftedMetricData(capture('23'), run, t, 1);
  expect(first[1]).toBeCloseTo(merged[1] as number, 6);
  return { first: [first[0], merged[1], first[2], first[3]], merged };
}

export interface AgentAnswer {
  status: number;
  body: any;
  headers: Record<string, string | string[] | undefined>;
}

export interface PostOptions {
  licenseKey: string;
  runId?: string;
  encoding?: 'identity' | 'gzip' | 'deflate';
  /** Send these bytes instead of JSON.stringify(body). */
  raw?: Buffer;
  query?: string;
}

/** One agent-protocol request over HTTPS, trusting only the collector's CA (as the agent does). */
export function agentPost(col: RunningCollector, method: string, body: unknown, o: PostOptions): Promise<AgentAnswer> {
  const json = o.raw ?? Buffer.from(JSON.stringify(body));
  const encoding = o.encoding ?? 'identity';
  const payload = encoding === 'gzip' && !o.raw ? zlib.gzipSync(json) : encoding === 'deflate' && !o.raw ? zlib.deflateSync(json) : json;
  const q = o.query ?? `marshal_format=json&protocol_version=17&license_key=${encodeURIComponent(o.licenseKey)}&method=${method}${o.runId ? `&run_id=${encodeURIComponent(o.runId)}` : ''}`;
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: col.port,
        method: 'POST',
        path: `/agent_listener/invoke_raw_method?${q}`,
        ca: col.caPem,
        agent: false,
        headers: { 'Content-Type': 'application/json', 'Content-Encoding': encoding, 'Content-Length': String(payload.length) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // left as text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, headers: res.headers });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** connect with the captured connect body, changed to name `apps`, `host` and `pid`. Returns the run id. */
export async function connectAgent(col: RunningCollector, licenseKey: string, facts: { apps: string[]; host: string; pid: number }): Promise<string> {
  const body = [{ pid: facts.pid, host: facts.host, display_host: facts.host, language: 'nodejs', app_name: facts.apps, agent_version: '13.20.0' }];
  const r = await agentPost(col, 'connect', body, { licenseKey });
  if (r.status !== 200) throw new Error(`connect answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body.return_value.agent_run_id as string;
}

export interface Committed {
  count: number;
  total: number;
  exclusive: number;
  min: number;
  max: number;
  sumsq: number;
}

/**
 * Committed minute data of an account per "name|scope" for one agent id, summed over every minute table.
 * The minute tables are sealed whole first (what the rollup does once their minutes have closed), so an
 * application pseudo-agent's rows hold every agent's (rollup/minute-seal.ts); later writes stay exact.
 */
export async function committed(store: ShardStore, accountId: number, agentId: number): Promise<Map<string, Committed>> {
  const tables = await store.listTables({ accountId, kind: 'minute' });
  await sealWhole(store, tables);
  const out = new Map<string, Committed>();
  for (const t of tables) {
    const [rows] = await store.pool.query<any[]>(
      `SELECT n.name, n.scope, SUM(d.call_count) AS c, SUM(d.total_time) AS t, SUM(d.exclusive_time) AS e, MIN(d.min_time) AS mn, MAX(d.max_time) AS mx, SUM(d.sum_of_squares) AS s
       FROM ${t.name} d JOIN metric_names n ON n.account_id = ? AND n.id = d.metric_id WHERE d.agent_id = ? GROUP BY n.name, n.scope`,
      [accountId, agentId],
    );
    for (const r of rows) {
      const k = `${r.name}|${r.scope}`;
      const have = out.get(k);
      const v = { count: Number(r.c), total: Number(r.t), exclusive: Number(r.e), min: Number(r.mn), max: Number(r.mx), sumsq: Number(r.s) };
      if (!have) out.set(k, v);
      else out.set(k, { count: have.count + v.count, total: have.total + v.total, exclusive: have.exclusive + v.exclusive, min: Math.min(have.min, v.min), max: Math.max(have.max, v.max), sumsq: have.sumsq + v.sumsq });
    }
  }
  return out;
}

/** Rows in every minute table of the account (to prove "nothing written"). */
export async function rowCount(store: ShardStore, accountId: number): Promise<number> {
  let n = 0;
  for (const t of await store.listTables({ accountId, kind: 'minute' })) {
    const [rows] = await store.pool.query<any[]>(`SELECT COUNT(*) AS n FROM ${t.name}`);
    n += Number(rows[0].n);
  }
  return n;
}

/** The value of one sample of the collector's /metrics, or 0 when absent. */
export async function scrape(col: RunningCollector, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${col.metricsPort}/metrics`)).text();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

/** Seals minute tables through their end (rollup/minute-seal.ts), as the rollup does once they have closed. */
export async function sealWhole(store: ShardStore, tables: ReadonlyArray<{ name: string; accountId: number; start: number; end: number }>): Promise<void> {
  const conn = await store.pool.getConnection();
  try {
    for (const t of tables) await sealMinuteTable(conn, { name: t.name, accountId: t.accountId, start: t.start, end: t.end }, t.end);
  } finally {
    conn.release();
  }
}
