import https from 'node:https';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RetryableError } from '../../lib/errors.js';
import { parseMetricData } from '../../collector/newrelic/metric-data.js';
import type { TestCluster } from '../harness/mariadb.js';
import type { RefusingWriter } from '../harness/refusing-writer.js';
import { freePort } from '../harness/ports.js';
import { capture, shiftedMetricData } from '../harness/newrelic-captures.js';
import { capturedPair as pair, committed, rowCount, scrape, setupAgent, startCollectorCluster, type AgentSetup, type CollectorCluster, type RunningCollector } from './collector-newrelic-helpers.js';

let c: TestCluster;
let col: RunningCollector;
/** Refuses the next N writes the way a full writer queue does (503), then passes through. */
let refusing: RefusingWriter;

let cluster: CollectorCluster;

beforeAll(async () => {
  cluster = await startCollectorCluster({});
  ({ c, col, refusing } = cluster);
});
afterAll(async () => cluster?.stop());

const now = () => Date.now() / 1000;

const agentSetup = (name: string) => setupAgent(cluster, name);

/** Asserts the agent's and the application's committed rows equal one copy of `body`, exactly. */
async function expectCommittedOnce(s: AgentSetup, body: unknown[]) {
  const h = parseMetricData(body, s.run, { now: now(), maxFutureSeconds: 300, maxAgeSeconds: 86400 });
  for (const agentId of [s.agentId, s.appAgentId]) {
    const got = await committed(s.store, s.id, agentId);
    expect(got.size).toBe(h.metrics.length);
    for (const m of h.metrics) {
      const v = got.get(`${m.name}|${m.scope}`)!;
      expect(v.count, m.name).toBe(m.stats.callCount);
      expect(v.total, m.name).toBeCloseTo(m.stats.totalTime, 6);
      expect(v.min, m.name).toBe(m.stats.minTime);
      expect(v.max, m.name).toBe(m.stats.maxTime);
    }
  }
}

describe('retries never double count (captured 503 sequence 22 → 23)', () => {
  it('shard down: 22 gets 503 quickly and writes nothing; 23 (merged, same start) is counted once', async () => {
    const s = await agentSetup('shard-down');
    const { first, merged } = pair(s.run);
    const dead = await c.directory.addShard(`127.0.0.1:${await freePort()}`, 'closed');
    await c.directory.setAccountShard(s.id, dead.id);
    c.registry.forgetAccount(s.id);
    const t0 = Date.now();
    const r22 = await s.post('metric_data', first);
    expect(r22.status).toBe(503);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(r22.headers['retry-after']).toBe('10');
    expect(r22.body.exception.message).toMatch(/^cannot write harvest: shard of account \d+ is unavailable/);
    await c.directory.setAccountShard(s.id, s.shardId);
    c.registry.forgetAccount(s.id);
    expect(await rowCount(s.store, s.id)).toBe(0);
    expect((await s.post('metric_data', merged)).status).toBe(200);
    await expectCommittedOnce(s, merged);
  });

  it('writer refuses after the record was kept: 22 gets 503; 23 writes 22 and the delta, once', async () => {
    const s = await agentSetup('writer-refuses');
    const { first, merged } = pair(s.run);
    refusing.refuse(1, (req) => new RetryableError(`cannot write to shard ${req.shardId}: 500000 rows are already waiting`, 5));
    const r22 = await s.post('metric_data', first);
    expect(r22.status).toBe(503);
    expect(r22.headers['retry-after']).toBe('5');
    expect(await rowCount(s.store, s.id)).toBe(0);
    expect((await s.post('metric_data', merged)).status).toBe(200);
    await expectCommittedOnce(s, merged);
  });

  it('22 committed but its 200 lost: the merged 23 adds only what is new', async () => {
    const s = await agentSetup('lost-ack');
    const { first, merged } = pair(s.run);
    const format = async () => {
      const [rows] = await s.store.pool.query<any[]>('SELECT state FROM harvest_records WHERE account_id = ?', [s.id]);
      return rows.map((r) => (r.state as Buffer)[0]);
    };
    expect((await s.post('metric_data', first)).status).toBe(200);
    await expectCommittedOnce(s, first);
    // A new harvest's record holds its metrics by dictionary id (format 5, format 4's layout); reading
    // it back for the merged resend takes their names from the dictionary.
    expect(await format()).toEqual([0x0e]);
    const merges = await scrape(col, 'apm_collector_harvests_total', { kind: 'merged' });
    expect((await s.post('metric_data', merged)).status).toBe(200);
    expect(await scrape(col, 'apm_collector_harvests_total', { kind: 'merged' })).toBe(merges + 1);
    await expectCommittedOnce(s, merged);
    expect(await format()).toEqual([0x0f]); // a merged record (its piece is the delta) keeps the names (format 6)
  });

  it('the identical payload delivered again (also concurrently, also gzip) is counted once', async () => {
    const s = await agentSetup('identical');
    const body = shiftedMetricData(capture('05'), s.run, now());
    const first = await Promise.all([s.post('metric_data', body), s.post('metric_data', body)]);
    // Two at once for one run: the collector takes them one after the other; the second is a duplicate.
    expect(first.map((r) => r.status)).toEqual([200, 200]);
    expect((await s.post('metric_data', body)).status).toBe(200);
    expect((await s.post('metric_data', body, { encoding: 'gzip' })).status).toBe(200);
    await expectCommittedOnce(s, body);
  });
});

describe('an agent shutting down while its first harvest is in flight', () => {
  it('two successive harvests of one run posted at once both commit (200), each counted once', async () => {
    const s = await agentSetup('overlapping');
    const t = now() - 120;
    const h1 = shiftedMetricData(capture('06'), s.run, t, 60);
    const h2 = [s.run, (h1[2] as number) + 0.001, (h1[2] as number) + 30, capture('05').body[3]];
    const answers = await Promise.all([s.post('metric_data', h1), s.post('metric_data', h2)]);
    expect(answers.map((r) => r.status)).toEqual([200, 200]);
    const got = await committed(s.store, s.id, s.agentId);
    const wt = (b: unknown[]) => (b[3] as Array<[{ name: string; scope?: string }, number[]]>).find(([m]) => m.name === 'WebTransaction' && !m.scope)?.[1][0] ?? 0;
    expect(got.get('WebTransaction|')!.count).toBe(wt(h1) + wt(h2));
  });
});

describe('bad input: a clear status and message, nothing of the payload written', () => {
  it('answers 400 / 413 with the problem named and writes no row', async () => {
    const s = await agentSetup('bad-input');
    const ok = shiftedMetricData(capture('05'), s.run, now());
    const withStats = (stats: unknown[], name = 'Custom/x') => [ok[0], ok[1], ok[2], [...(ok[3] as unknown[]), [{ name }, stats]]];
    const future = [ok[0], now(), now() + 3600, ok[3]];
    const bomb = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
    const cases: Array<[string, Promise<{ status: number; body: any }>, number, RegExp]> = [
      ['unknown method', s.post('get_everything', []), 400, /unknown method/],
      ['bad JSON', s.post('metric_data', null, { raw: Buffer.from('["r1", 1, 2, [') }), 400, /cannot parse metric_data body: not JSON/],
      ['NaN', s.post('metric_data', null, { raw: Buffer.from(`["${s.run}", ${ok[1]}, ${ok[2]}, [[{"name":"A"},[NaN,0,0,0,0,0]]]]`) }), 400, /not JSON/],
      ['negative count', s.post('metric_data', withStats([-2, 0, 0, 0, 0, 0])), 400, /call count -2 is negative/],
      ['min > max', s.post('metric_data', withStats([2, 1, 1, 0.9, 0.1, 0.82])), 400, /min 0.9 is greater than max 0.1/],
      ['name over 255 bytes', s.post('metric_data', withStats([1, 0, 0, 0, 0, 0], `Custom/${'x'.repeat(250)}`)), 400, /name is 257 bytes long/],
      ['control character', s.post('metric_data', withStats([1, 0, 0, 0, 0, 0], 'Custom/\u0007bell')), 400, /contains a control character/],
      ['window far in the future', s.post('metric_data', future), 400, /in the future/],
      ['wrong shape', s.post('metric_data', { metrics: [] }), 400, /body must be the array/],
      ['body over the limit', s.post('metric_data', null, { raw: Buffer.alloc(1_000_001, 0x20) }), 413, /more than 1000000/],
      ['gzip bomb', s.post('metric_data', null, { raw: bomb, encoding: 'gzip' }), 413, /decodes to more than the limit/],
    ];
    for (const [what, answer, status, message] of cases) {
      const r = await answer;
      expect(r.status, what).toBe(status);
      expect(r.body.exception.message, what).toMatch(message);
    }
    expect(await rowCount(s.store, s.id)).toBe(0);
    expect(await scrape(col, 'apm_collector_requests_total', { method: 'unknown', status: '400' })).toBeGreaterThanOrEqual(1);
    expect(await scrape(col, 'apm_collector_bytes_in_flight')).toBe(0);
  });
});

describe('a client that goes away mid-body', () => {
  it('writes nothing, releases its in-flight bytes and is counted as aborted', async () => {
    const s = await agentSetup('aborted');
    const before = await scrape(col, 'apm_collector_requests_total', { method: 'metric_data', status: 'aborted' });
    await new Promise<void>((resolve) => {
      const req = https.request({
        host: '127.0.0.1',
        port: col.port,
        method: 'POST',
        path: `/agent_listener/invoke_raw_method?marshal_format=json&protocol_version=17&license_key=${s.key}&method=metric_data&run_id=${s.run}`,
        ca: col.caPem,
        agent: false,
        headers: { 'Content-Type': 'application/json', 'Content-Length': '5000' },
      });
      req.on('error', () => resolve());
      req.write(`["${s.run}", 1, 2, [`);
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 200);
    });
    for (let i = 0; i < 250 && (await scrape(col, 'apm_collector_requests_total', { method: 'metric_data', status: 'aborted' })) === before; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await scrape(col, 'apm_collector_requests_total', { method: 'metric_data', status: 'aborted' })).toBe(before + 1);
    expect(await scrape(col, 'apm_collector_bytes_in_flight')).toBe(0);
    expect(await rowCount(s.store, s.id)).toBe(0);
  });
});

describe('other methods and self-metrics', () => {
  it('answers event, error and trace payloads with 200, counts them, stores nothing; after shutdown a resend of the last harvest still counts once', async () => {
    const s = await agentSetup('events');
    for (const p of ['07', '08', '09', '10', '11', '13']) {
      const cap = capture(p);
      const body = [s.run, ...cap.body.slice(1)];
      expect((await s.post(cap.query.method!, body)).status, cap.query.method).toBe(200);
    }
    expect(await scrape(col, 'apm_collector_ignored_items_total', { method: 'span_event_data' })).toBe(capture('07').body[2].length);
    expect(await scrape(col, 'apm_collector_ignored_items_total', { method: 'error_data' })).toBe(capture('11').body[1].length);
    expect(await rowCount(s.store, s.id)).toBe(0);
    const last = shiftedMetricData(capture('06'), s.run, now());
    expect((await s.post('metric_data', last)).status).toBe(200);
    expect(await s.post('shutdown', [])).toMatchObject({ status: 200, body: { return_value: null } });
    // The run's record stays (the purge takes it after 2 days): the last harvest's piece was saved with it
    // under no ledger key, so only the record tells its resend from a new harvest.
    const [after] = await s.store.pool.query<any[]>('SELECT COUNT(*) AS n FROM harvest_records WHERE account_id = ?', [s.id]);
    expect(Number(after[0].n)).toBe(1);
    expect((await s.post('metric_data', last)).status).toBe(200);
    await expectCommittedOnce(s, last);
  });

  it('exposes requests by method and status, rows per shard, write sizes, commit latency and dictionary size', async () => {
    const s = await agentSetup('metrics');
    const ok = (await scrape(col, 'apm_collector_requests_total', { method: 'metric_data', status: '200' }));
    const rows = await scrape(col, 'apm_collector_rows_written_total', { shard: String(s.shardId) });
    const commits = await scrape(col, 'apm_collector_commit_seconds_count');
    expect((await s.post('metric_data', shiftedMetricData(capture('06'), s.run, now()))).status).toBe(200);
    expect(await scrape(col, 'apm_collector_requests_total', { method: 'metric_data', status: '200' })).toBe(ok + 1);
    // One row per metric of capture 06 (80): the agent's; the application's are derived by the minute seal.
    expect(await scrape(col, 'apm_collector_rows_written_total', { shard: String(s.shardId) })).toBe(rows + 80);
    expect(await scrape(col, 'apm_collector_commit_seconds_count')).toBe(commits + 1);
    expect(await scrape(col, 'apm_collector_write_rows_bucket', { le: '250' })).toBeGreaterThanOrEqual(1);
    expect(await scrape(col, 'apm_collector_dictionary_names', { shard: String(s.shardId) })).toBeGreaterThanOrEqual(80);
    expect(await scrape(col, 'apm_collector_connects_total')).toBeGreaterThanOrEqual(1);
  });
});
