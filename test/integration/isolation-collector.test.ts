import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShardStore } from '../../lib/shard/shard-store.js';
import { tableName } from '../../lib/shard/table-naming.js';
import type { TestCluster } from '../harness/mariadb.js';
import { freePort } from '../harness/ports.js';
import { agentPost, committed, connectAgent, rowCount, scrape, startCollectorCluster, type CollectorCluster, type RunningCollector } from './collector-newrelic-helpers.js';
import { exportBody, nanos, otlpPost, str } from './otlp-helpers.js';

/**
 * Issue #18 at the collector, against MariaDB: bad values never reach the writer (400 naming the
 * field, nothing written, not even a dictionary name), so a clean account on the same shard never
 * sees a 5xx; names are canonical; harvests land in their own minute; OTLP reports every point it
 * does not store; the dictionary caps before storing.
 */
let c: TestCluster;
let col: RunningCollector;
let port: number;
let cluster: CollectorCluster;

beforeAll(async () => {
  port = await freePort();
  cluster = await startCollectorCluster({ clusterEnv: { APM_MAX_METRICS_PER_APP: '10' }, collectorEnv: { APM_OTLP_HTTP_PORT: String(port), APM_WRITER_MAX_PENDING_ROWS: '1000' } });
  ({ c, col } = cluster);
});
afterAll(async () => cluster?.stop());

async function account(name: string) {
  const made = await c.directory.createAccount({ name });
  const { store } = await c.registry.storeForAccount(made.account.id);
  return { id: made.account.id, key: made.licenseKey, store };
}

async function dictionarySize(store: ShardStore, accountId: number): Promise<number> {
  const [rows] = await store.pool.query<any[]>('SELECT COUNT(*) AS n FROM metric_names WHERE account_id = ?', [accountId]);
  return Number(rows[0].n);
}

const nowS = () => Date.now() / 1000;
/** The last whole minute that has ended: [m, m + 60). */
const alignedWindow = (): [number, number] => {
  const m = Math.floor(nowS() / 60) * 60 - 60;
  return [m, m + 60];
};

describe('New Relic: one tenant never hurts another', () => {
  it('overflowing stats are refused with 400 naming the slot and write nothing; a clean account on the same shard keeps getting 200', async () => {
    const bad = await account('poison');
    const good = await account('clean');
    const badRun = await connectAgent(col, bad.key, { apps: ['p'], host: 'h', pid: 1 });
    const goodRun = await connectAgent(col, good.key, { apps: ['g'], host: 'h', pid: 2 });
    const before = await dictionarySize(bad.store, bad.id);
    const answers = [];
    const end = nowS() - 30;
    for (let i = 0; i < 20; i++) {
      // The poison and a clean harvest of the other account in flight together, 20 times.
      const poison = agentPost(col, 'metric_data', [badRun, end - 60 + i, end + i, [[{ name: 'Custom/x' }, [1, 1e308, 1e308, 0, 1e308, 1e308]]]], { licenseKey: bad.key, runId: badRun });
      const clean = agentPost(col, 'metric_data', [goodRun, end - 60 + i, end + i, [[{ name: 'Custom/ok' }, [1, 0.5, 0.5, 0.5, 0.5, 0.25]]]], { licenseKey: good.key, runId: goodRun });
      answers.push(await Promise.all([poison, clean]));
    }
    const app = (await c.directory.findApplication(good.id, 'g'))!;
    expect((await committed(good.store, good.id, await good.store.applicationAgentId(good.id, app.id))).get('Custom/ok|')).toMatchObject({ count: 20, total: 10 });
    for (const [poison, clean] of answers) {
      expect(poison.status).toBe(400);
      expect(poison.body.exception.message).toMatch(/metric #0 "Custom\/x": total time 1e\+308 is above the maximum 1000000000000000/);
      expect(clean.status).toBe(200);
    }
    expect(await rowCount(bad.store, bad.id)).toBe(0);
    expect(await dictionarySize(bad.store, bad.id)).toBe(before);
  });

  it.each([
    ['a negative total time', [1, -1, 0, 0, 0, 0], /total time -1 is negative/],
    ['exclusive time above total', [1, 1, 2, 1, 1, 1], /exclusive time 2 is greater than total time 1/],
  ])('refuses %s with 400 naming the field', async (_label, stats, message) => {
    const a = await account(`meaningless-${_label}`);
    const run = await connectAgent(col, a.key, { apps: ['m'], host: 'h', pid: 3 });
    const end = nowS() - 1;
    const r = await agentPost(col, 'metric_data', [run, end - 60, end, [[{ name: 'WebTransaction' }, stats]]], { licenseKey: a.key, runId: run });
    expect([r.status, r.body.exception.message]).toEqual([400, expect.stringMatching(message)]);
    expect(await rowCount(a.store, a.id)).toBe(0);
  });

  it('refuses a 10-day harvest window with 400 naming start and end', async () => {
    const a = await account('ten-days');
    const run = await connectAgent(col, a.key, { apps: ['w'], host: 'h', pid: 4 });
    const end = nowS() - 1;
    const r = await agentPost(col, 'metric_data', [run, end - 10 * 86400, end, [[{ name: 'WebTransaction' }, [1, 1, 1, 1, 1, 1]]]], { licenseKey: a.key, runId: run });
    expect(r.status).toBe(400);
    expect(r.body.exception.message).toMatch(/the window \(start, element 1, to end, element 2\) is 864000 s long, more than 3600 s/);
  });

  it('`Custom/pad ` after `Custom/pad` is the same metric and fails nothing', async () => {
    const a = await account('pad');
    const run = await connectAgent(col, a.key, { apps: ['pad'], host: 'h', pid: 5 });
    const end = nowS() - 1;
    const first = await agentPost(col, 'metric_data', [run, end - 120, end - 60, [[{ name: 'Custom/pad' }, [1, 1, 1, 1, 1, 1]]]], { licenseKey: a.key, runId: run });
    const second = await agentPost(col, 'metric_data', [run, end - 60, end, [[{ name: 'Custom/pad ' }, [2, 4, 4, 2, 2, 8]], [{ name: 'Custom/\ud800x' }, [1, 1, 1, 1, 1, 1]]]], { licenseKey: a.key, runId: run });
    expect([first.status, second.status]).toEqual([200, 400]); // a lone surrogate is refused by name
    expect(second.body.exception.message).toMatch(/unpaired surrogate/);
    const third = await agentPost(col, 'metric_data', [run, end - 59, end, [[{ name: 'Custom/pad ' }, [2, 4, 4, 2, 2, 8]]]], { licenseKey: a.key, runId: run });
    expect(third.status).toBe(200);
    const app = (await c.directory.findApplication(a.id, 'pad'))!;
    const rows = await committed(a.store, a.id, await a.store.applicationAgentId(a.id, app.id));
    expect(rows.get('Custom/pad|')).toEqual({ count: 3, total: 5, exclusive: 5, min: 1, max: 2, sumsq: 9 });
    expect([...rows.keys()]).toEqual(['Custom/pad|']);
  });

  it('a harvest over the row bound gets 413 naming the bound, and stores nothing', async () => {
    const a = await account('too-many-rows');
    const run = await connectAgent(col, a.key, { apps: ['rows'], host: 'h', pid: 7 });
    const end = nowS() - 1;
    // One row per metric (the agent's; the application's is derived by the minute seal): 1001 > 1000.
    const metrics = Array.from({ length: 1001 }, (_, i) => [{ name: `Custom/m${i}` }, [1, 1, 1, 1, 1, 1]]);
    const before = await dictionarySize(a.store, a.id);
    const r = await agentPost(col, 'metric_data', [run, end - 60, end, metrics], { licenseKey: a.key, runId: run });
    expect(r.status).toBe(413);
    expect(r.body.exception.message).toBe(
      'cannot accept metric_data: it makes 1001 rows, more than the 1000 one request may write (APM_WRITER_MAX_PENDING_ROWS); send it in smaller parts',
    );
    expect(await dictionarySize(a.store, a.id)).toBe(before);
  });

  it('a name stored with a trailing space before names were canonical is found again, not duplicated', async () => {
    const a = await account('old-pad');
    await a.store.pool.query("INSERT INTO metric_names (account_id, id, name, scope) VALUES (?, 900, 'Custom/old ', '')", [a.id]);
    await a.store.pool.query('INSERT INTO account_counters (account_id, next_metric_id) VALUES (?, 901)', [a.id]);
    const ids = await a.store.metricIds(a.id, [{ name: 'Custom/old', scope: '' }, { name: 'Custom/old  ', scope: '' }, { name: '/\ud800', scope: '' }]);
    expect(ids.slice(0, 2)).toEqual([900, 900]);
    const again = await a.store.metricIds(a.id, [{ name: '/\ufffd', scope: '' }]);
    expect(again).toEqual([ids[2]]);
    expect(await dictionarySize(a.store, a.id)).toBe(2);
  });

  it('names answered from the cache are exactly the cached canonical ones: variants still go through the checks', async () => {
    const a = await account('cached-names');
    const [id] = await a.store.metricIds(a.id, [{ name: 'Custom/cached', scope: 'WebTransaction/x' }]);
    // Cached now: the same name again, and a trailing-space variant (mapped to it, not stored apart).
    expect(await a.store.metricIds(a.id, [{ name: 'Custom/cached', scope: 'WebTransaction/x' }, { name: 'Custom/cached ', scope: 'WebTransaction/x ' }])).toEqual([id, id]);
    // A name whose key could spell the cached one with the separator moved is refused, not matched.
    await expect(a.store.metricIds(a.id, [{ name: 'Custom/cached\u0000WebTransaction/x', scope: '' }])).rejects.toThrow(/control character/);
    await expect(a.store.metricIds(a.id, [{ name: 'Custom/cached', scope: 'WebTransaction/x\u0000' }])).rejects.toThrow(/control character/);
    expect(await dictionarySize(a.store, a.id)).toBe(1);
  });

  it('the ids remembered for a source: the same names again, folds counted every time, stale once the account is forgotten', async () => {
    const a = await account('memo');
    const app = await c.directory.ensureApplication(a.id, 'memo-app');
    // APM_MAX_METRICS_PER_APP = 10: 12 names, 2 folded into Overflow/MetricNames on every call.
    const many = Array.from({ length: 12 }, (_, i) => ({ name: `Custom/m${i}`, scope: '' }));
    const folds: number[] = [];
    const first = await a.store.metricIds(a.id, many, { applicationId: app.id, source: 'run-1', onOverflow: (n) => folds.push(n) });
    const again = await a.store.metricIds(a.id, many, { applicationId: app.id, source: 'run-1', onOverflow: (n) => folds.push(n) });
    expect(again).toEqual(first);
    expect(folds).toEqual([2, 2]);
    // Names without folds: remembered, then answered in another order by name, not by position.
    const few = many.slice(0, 3);
    const ids = await a.store.metricIds(a.id, few, { applicationId: app.id, source: 'run-2' });
    expect(ids).toEqual(first.slice(0, 3));
    expect(await a.store.metricIds(a.id, [...few].reverse(), { applicationId: app.id, source: 'run-2' })).toEqual([...ids].reverse());
    // The account's names change under it (as on a shard it moved to): forgotten, nothing remembered is used.
    await a.store.pool.query('UPDATE metric_names SET id = id + 1000 WHERE account_id = ? AND name IN (?, ?, ?)', [a.id, ...few.map((n) => n.name)]);
    await a.store.pool.query('UPDATE application_metrics SET metric_id = metric_id + 1000 WHERE account_id = ? AND metric_id IN (?, ?, ?)', [a.id, ...ids]);
    expect(await a.store.metricIds(a.id, few, { applicationId: app.id, source: 'run-2' })).toEqual(ids);
    a.store.dictionary.forgetAccount(a.id);
    expect(await a.store.metricIds(a.id, few, { applicationId: app.id, source: 'run-2' })).toEqual(ids.map((id) => id + 1000));
  });

  it('files an aligned harvest [m, m + 60) under minute m, not m + 60', async () => {
    const a = await account('minute');
    const run = await connectAgent(col, a.key, { apps: ['minute'], host: 'h', pid: 6 });
    const [start, end] = alignedWindow();
    const r = await agentPost(col, 'metric_data', [run, start, end, [[{ name: 'HttpDispatcher' }, [7, 0.7, 0.7, 0.1, 0.1, 0.07]]]], { licenseKey: a.key, runId: run });
    expect(r.status).toBe(200);
    const [periods] = await a.store.pool.query<any[]>(`SELECT DISTINCT period FROM ${tableName('minute', a.id, start)}`);
    expect(periods.map((p) => Number(p.period))).toEqual([start]);
  });
});

const gauge = (name: string, unit: string, points: Array<{ t: number; v: number; attrs?: Array<ReturnType<typeof str>> }>) => ({
  name,
  unit,
  gauge: { dataPoints: points.map((p) => ({ attributes: p.attrs ?? [], timeUnixNano: nanos(p.t), asDouble: p.v })) },
});

async function otlpJson(key: string, body: unknown) {
  const r = await otlpPost(port, JSON.stringify(body), { apiKey: key });
  return { status: r.status, body: r.body.length ? JSON.parse(r.body.toString()) : {} };
}

describe('OTLP: overflow, names and points not stored', () => {
  it('a gauge of 1e308 hours, two attribute sets of 1.7e308 and an extreme exponential histogram are reported, not a 500, and leave no names', async () => {
    const a = await account('otlp-overflow');
    const t = Math.floor(nowS()) - 1;
    const body = exportBody([str('service.name', 'big')], [
      gauge('hours', 'h', [{ t, v: 1e308 }]),
      gauge('huge', '1', [{ t, v: 1.7e308, attrs: [str('k', 'a')] }, { t, v: 1.7e308, attrs: [str('k', 'b')] }]),
      {
        name: 'exp',
        unit: 's',
        exponentialHistogram: {
          aggregationTemporality: 1,
          dataPoints: [{ startTimeUnixNano: nanos(t - 5), timeUnixNano: nanos(t), count: 3, sum: 3, scale: -10, zeroCount: 0, positive: { offset: 1, bucketCounts: [1, 1, 1] } }],
        },
      },
    ]);
    const r = await otlpJson(a.key, body);
    expect(r.status).toBe(200);
    expect(r.body.partialSuccess.rejectedDataPoints).toBe(4);
    expect(r.body.partialSuccess.errorMessage).toMatch(/^cannot accept 4 data point\(s\): hours: out of bounds: value 1e\+308 is Infinity after unit scaling/);
    expect(await dictionarySize(a.store, a.id)).toBe(0);
    expect(await rowCount(a.store, a.id)).toBe(0);
    expect(await scrape(col, 'apm_collector_otlp_points_rejected_total', { reason: 'out_of_bounds' })).toBeGreaterThanOrEqual(4);
  });

  it('a gauge sample an hour older than the series\' last one is reported in partialSuccess (out of order), counted by reason', async () => {
    const a = await account('otlp-stale');
    const t = Math.floor(nowS()) - 1;
    const ok = await otlpJson(a.key, exportBody([str('service.name', 's')], [gauge('level', '1', [{ t, v: 5 }])]));
    expect(ok).toEqual({ status: 200, body: {} });
    const before = await scrape(col, 'apm_collector_otlp_points_rejected_total', { reason: 'out_of_order' });
    const stale = await otlpJson(a.key, exportBody([str('service.name', 's')], [gauge('level', '1', [{ t: t - 3600, v: 6 }, { t: t - 3599, v: 7 }])]));
    expect(stale).toEqual({
      status: 200,
      body: { partialSuccess: { rejectedDataPoints: 2, errorMessage: 'cannot accept 2 data point(s): level: gauge sample is older than the newest sample of its series (out of order) (2)' } },
    });
    expect((await scrape(col, 'apm_collector_otlp_points_rejected_total', { reason: 'out_of_order' })) - before).toBe(2);
  });

  it('control characters never become names: attribute values are escaped, a service.name with one is refused', async () => {
    const a = await account('otlp-control');
    const t = Math.floor(nowS()) - 1;
    const r = await otlpJson(a.key, exportBody([str('service.name', 'svc')], [gauge('g', '1', [{ t, v: 1, attrs: [str('k', 'a\nb\u0085')] }])]));
    expect(r).toEqual({ status: 200, body: {} });
    const [names] = await a.store.pool.query<any[]>('SELECT name FROM metric_names WHERE account_id = ? ORDER BY name', [a.id]);
    expect(names.map((n) => n.name)).toEqual(['OTLP/g', 'OTLP/g/k=a%0Ab%C2%85']);
    const bad = await otlpJson(a.key, exportBody([str('service.name', 'evil\u0007')], [gauge('g', '1', [{ t, v: 1 }])]));
    expect(bad.body.partialSuccess).toEqual({ rejectedDataPoints: 1, errorMessage: 'cannot accept 1 data point(s): g: service.name contains a control character (1)' });
    expect(await c.directory.findApplication(a.id, 'evil\u0007')).toBeUndefined();
  });

  it('caps names per application before storing them: no orphan names', async () => {
    const a = await account('otlp-orphans');
    const t = Math.floor(nowS()) - 1;
    for (let round = 0; round < 3; round++) {
      const points = Array.from({ length: 40 }, (_, i) => ({ t: t - round, v: i, attrs: [str('user', `u${round}-${i}`)] }));
      expect((await otlpJson(a.key, exportBody([str('service.name', 'card')], [gauge('g', '1', points)]))).status).toBe(200);
    }
    // APM_MAX_METRICS_PER_APP = 10: OTLP/g, 9 attribute sets, Overflow/MetricNames; nothing else stored.
    expect(await dictionarySize(a.store, a.id)).toBe(11);
  });
});
