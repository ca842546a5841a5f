import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBeacon, type BeaconHandle } from '../../beacon/beacon.js';
import type { ShardStore } from '../../lib/shard/shard-store.js';
import { freePort } from '../harness/ports.js';
import { connectAgent, startCollectorCluster, type CollectorCluster } from './collector-newrelic-helpers.js';
import { footprint, Gen, poster, prng } from './fuzz-helpers.js';
import { sample } from './beacon-helpers.js';
import { sealMinutes } from '../../rollup/minute-seal.js';

/**
 * Issue #18: a seeded fuzz of every ingest endpoint (New Relic collector, OTLP, beacon). For each
 * case: the answer is a 2xx, or a 4xx naming the problem ("cannot …"); a 4xx wrote nothing (not even
 * a dictionary name); nothing crashes; and a clean account posting at the same time never sees a 5xx
 * and gets every accepted number stored.
 */
const CASES = Number(process.env.APM_FUZZ_CASES ?? 1500);
let cluster: CollectorCluster;
let otlpPort: number;
let beacon: BeaconHandle;

beforeAll(async () => {
  otlpPort = await freePort();
  cluster = await startCollectorCluster({ collectorEnv: { APM_OTLP_HTTP_PORT: String(otlpPort) } });
}, 120_000);
afterAll(async () => {
  await beacon?.stop();
  await cluster?.stop();
});

async function account(name: string): Promise<{ id: number; key: string; browserKey: string; store: ShardStore }> {
  const made = await cluster.c.directory.createAccount({ name });
  const { store } = await cluster.c.registry.storeForAccount(made.account.id);
  return { id: made.account.id, key: made.licenseKey, browserKey: made.browserKey, store };
}

const nowS = () => Date.now() / 1000;

/** Checks one fuzz answer; returns whether it was accepted. */
function judge(label: string, status: number, text: string, message: (t: string) => string | undefined): boolean {
  if (status >= 200 && status < 300) return true;
  expect(status, `${label}: ${text.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
  expect(status, `${label}: ${text.slice(0, 200)}`).toBeLessThan(500);
  expect(message(text), `${label}: ${text.slice(0, 200)}`).toMatch(/^cannot /);
  return false;
}

function nrCase(g: Gen, run: string, end: number): { body: string; label: string } {
  const metrics: unknown[] = [
    [{ name: 'WebTransaction' }, [2, 0.5, 0.4, 0.2, 0.3, 0.13]],
    [{ name: 'Custom/x', scope: 'WebTransaction/x' }, [1, 1, 1, 1, 1, 1]],
    [{ name: 'Apdex' }, [3, 1, 0, 0.5, 0.5, 0]],
    [{ name: 'Errors/all' }, [1, 0, 0, 0, 0, 0]],
  ];
  let body: unknown[] = [run, end - 60, end, metrics];
  const done: string[] = [];
  const n = g.chance(0.25) ? 0 : 1 + g.int(3);
  for (let k = 0; k < n; k++) {
    const m = metrics[g.int(metrics.length)] as [Record<string, unknown>, unknown[]];
    if (!Array.isArray(m) || m[0] === null || typeof m[0] !== 'object' || !Array.isArray(m[1])) continue; // already broken
    switch (g.int(9)) {
      case 0: m[1][g.int(6)] = g.nastyNumber(); done.push('stat'); break;
      case 1: m[0].name = g.nastyText(); done.push('name'); break;
      case 2: m[0].scope = g.nastyText(); done.push('scope'); break;
      case 3: body[1] = g.pick([end + 5, end - 10 * 86400, -1, 'x', end - 3601, end - 0.5]); done.push('start'); break;
      case 4: body[2] = g.pick([end + 1e6, 'x', null, end - 100 * 86400]); done.push('end'); break;
      case 5: m[0] = g.pick([{}, { name: 5 }, 7, null] as unknown[]) as Record<string, unknown>; metrics[0] = [g.int(3)] ; done.push('spec'); break;
      case 6: body = g.pick([[run, end - 60, end], [run, end - 60, end, {}], [run, end - 60, end, [[]]]] as unknown[][]); done.push('shape'); break;
      case 7: m[1] = [1, 1e15, 1e15, 1e15, 1e15, 1e30]; done.push('top'); break;
      default: metrics.push([{ name: g.nastyText() }, [1, 2e-9, 1e-9, 2e-9, 2e-9, 4e-18]]); done.push('extra');
    }
  }
  if (g.chance(0.03)) return { body: JSON.stringify(body).slice(0, g.int(40)), label: 'truncated' };
  return { body: JSON.stringify(body), label: done.join('+') || 'valid' };
}

describe('fuzz: New Relic collector', () => {
  it(`${CASES} seeded cases: 2xx or 4xx naming the problem, nothing written for a 4xx, the clean account never sees a 5xx`, async () => {
    const g = new Gen(prng(18_001));
    const fuzz = await account('fuzz-nr');
    const clean = await account('clean-nr');
    const fuzzRun = await connectAgent(cluster.col, fuzz.key, { apps: ['fz'], host: 'h', pid: 1 });
    const cleanRun = await connectAgent(cluster.col, clean.key, { apps: ['cl'], host: 'h', pid: 2 });
    const p = poster({ port: cluster.col.port, tls: { ca: cluster.col.caPem } });
    const q = (key: string, run: string) => `/agent_listener/invoke_raw_method?marshal_format=json&protocol_version=17&license_key=${key}&method=metric_data&run_id=${encodeURIComponent(run)}`;
    const t0 = nowS() - 600;
    let accepted = 0;
    try {
      for (let i = 0; i < CASES; i++) {
        const end = t0 + i * 0.2;
        const c = nrCase(g, fuzzRun, end);
        const before = await footprint(fuzz.store, fuzz.id);
        const cleanBody = JSON.stringify([cleanRun, end - 60, end, [[{ name: 'Custom/ok' }, [1, 0.5, 0.5, 0.5, 0.5, 0.25]]]]);
        const [a, b] = await Promise.all([
          p.post(q(fuzz.key, fuzzRun), c.body, { 'Content-Type': 'application/json' }),
          p.post(q(clean.key, cleanRun), cleanBody, { 'Content-Type': 'application/json' }),
        ]);
        expect(b.status, `clean account, case ${i}: ${b.text}`).toBe(200);
        if (judge(`case ${i} (${c.label})`, a.status, a.text, (t) => JSON.parse(t).exception?.message)) accepted++;
        else expect(await footprint(fuzz.store, fuzz.id), `case ${i} (${c.label}) answered ${a.status} but wrote`).toBe(before);
      }
    } finally {
      p.close();
    }
    expect(accepted).toBeGreaterThan(CASES / 10);
    // Every clean harvest once, for its agent (the application row is the minute seal's, below).
    expect(await footprint(clean.store, clean.id)).toMatch(new RegExp(`, ${CASES} calls$`));
    // Sealed (as the rollup does once the minutes closed), the application pseudo-agent holds them once more.
    const conn = await clean.store.pool.getConnection();
    try {
      await sealMinutes(conn, 2 ** 31, clean.id, (t, err) => { throw err; });
    } finally {
      conn.release();
    }
    expect(await footprint(clean.store, clean.id)).toMatch(new RegExp(`, ${2 * CASES} calls$`));
  }, 300_000);
});

function otlpCase(g: Gen, t: number): { body: string; label: string } {
  const ns = (s: number) => String(BigInt(Math.round(s * 1000)) * 1_000_000n);
  const attrs = [{ key: 'k', value: { stringValue: 'v' } }];
  const gauge = { name: 'g', unit: 's', gauge: { dataPoints: [{ attributes: attrs, timeUnixNano: ns(t), asDouble: 1.5 }] } };
  const counter = { name: 'c', unit: '1', sum: { aggregationTemporality: 1, isMonotonic: true, dataPoints: [{ attributes: attrs, startTimeUnixNano: ns(t - 5), timeUnixNano: ns(t), asInt: 3 }] } };
  const hist = { name: 'h', unit: 'ms', histogram: { aggregationTemporality: 1, dataPoints: [{ startTimeUnixNano: ns(t - 5), timeUnixNano: ns(t), count: 2, sum: 30, min: 10, max: 20, bucketCounts: [1, 1], explicitBounds: [15] }] } };
  const exp = { name: 'e', unit: 's', exponentialHistogram: { aggregationTemporality: 1, dataPoints: [{ startTimeUnixNano: ns(t - 5), timeUnixNano: ns(t), count: 2, sum: 3, scale: 2, zeroCount: 0, positive: { offset: 0, bucketCounts: [1, 1] } }] } };
  const resource = { attributes: [{ key: 'service.name', value: { stringValue: 'fz' } }, { key: 'service.instance.id', value: { stringValue: 'i1' } }] };
  const metrics: any[] = [gauge, counter, hist, exp];
  let body: unknown = { resourceMetrics: [{ resource, scopeMetrics: [{ scope: { name: 'fuzz' }, metrics }] }] };
  const done: string[] = [];
  const n = g.chance(0.25) ? 0 : 1 + g.int(3);
  for (let k = 0; k < n; k++) {
    const m = g.pick(metrics);
    const point = (m.gauge ?? m.sum ?? m.histogram ?? m.exponentialHistogram).dataPoints[0];
    switch (g.int(10)) {
      case 0: if ('asDouble' in point) point.asDouble = g.nastyNumber(); else point.asInt = g.nastyNumber(); point.sum = g.nastyNumber(); done.push('value'); break;
      case 1: m.unit = g.pick(['h', 'd', 'ns', 'min', 'By', '', 'x']); if ('asDouble' in point) point.asDouble = 1e308; else point.sum = 1.7e308; done.push('unit'); break;
      case 2: attrs[0]!.value.stringValue = g.nastyText(); done.push('attr'); break;
      case 3: (resource.attributes[g.int(2)]!.value as { stringValue: string }).stringValue = g.nastyText(); done.push('resource'); break;
      case 4: m.name = g.nastyText(); done.push('name'); break;
      case 5: point.timeUnixNano = g.pick(['0', 'x', ns(t - 100 * 86400), ns(t + 86400), '99999999999999999999']); done.push('time'); break;
      case 6: exp.exponentialHistogram.dataPoints[0]!.scale = g.pick([-10, 20, -11, 21, 0.5]); exp.exponentialHistogram.dataPoints[0]!.positive.offset = g.pick([1e6, -1e6, 2 ** 31, 1]); done.push('scale'); break;
      case 7: point.count = g.nastyNumber(); point.bucketCounts = [g.nastyNumber(), 1]; done.push('count'); break;
      case 8: body = g.pick([{ resourceMetrics: 5 }, [], null, { resourceMetrics: [5] }, 'x']); done.push('shape'); break;
      default: point.min = g.nastyNumber(); point.max = g.nastyNumber(); done.push('minmax');
    }
  }
  return { body: JSON.stringify(body), label: done.join('+') || 'valid' };
}

describe('fuzz: OTLP', () => {
  it(`${CASES} seeded cases: 2xx (rejections in partialSuccess) or 4xx naming the problem, nothing written for a 4xx, the clean account never sees a 5xx`, async () => {
    const g = new Gen(prng(18_002));
    const fuzz = await account('fuzz-otlp');
    const clean = await account('clean-otlp');
    const p = poster({ port: otlpPort });
    let accepted = 0;
    try {
      for (let i = 0; i < CASES; i++) {
        const t = nowS() - 1;
        const c = otlpCase(g, t);
        const before = await footprint(fuzz.store, fuzz.id);
        const cleanBody = JSON.stringify({
          resourceMetrics: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'ok' } }] }, scopeMetrics: [{ metrics: [
            { name: 'ok', unit: '1', sum: { aggregationTemporality: 1, isMonotonic: true, dataPoints: [{ startTimeUnixNano: String(BigInt(Math.round((t - 1) * 1000)) * 1_000_000n), timeUnixNano: String(BigInt(Math.round(t * 1000)) * 1_000_000n + BigInt(i)), asInt: 1 }] } },
          ] }] }],
        });
        const [a, b] = await Promise.all([
          p.post('/v1/metrics', c.body, { 'Content-Type': 'application/json', 'api-key': fuzz.key }),
          p.post('/v1/metrics', cleanBody, { 'Content-Type': 'application/json', 'api-key': clean.key }),
        ]);
        expect([b.status, b.text], `clean account, case ${i}`).toEqual([200, '{}']);
        if (judge(`case ${i} (${c.label})`, a.status, a.text, (t) => JSON.parse(t).message)) accepted++;
        else expect(await footprint(fuzz.store, fuzz.id), `case ${i} (${c.label}) answered ${a.status} but wrote`).toBe(before);
      }
    } finally {
      p.close();
    }
    expect(accepted).toBeGreaterThan(CASES / 2);
    expect(await footprint(clean.store, clean.id)).toMatch(new RegExp(`, ${CASES} calls$`)); // OTLP/ok, for the application (no instance)
  }, 300_000);
});

function beaconCase(g: Gen, key: string): { body: string; label: string } {
  const o: Record<string, unknown> = { v: 1, k: key, a: 'Shop', u: '/products/42', t: 'navigate', m: [0, 10, 222, 324, 390, 579], fcp: 288, lcp: 592, inp: null, cls: 0.1 };
  const done: string[] = [];
  const n = g.chance(0.3) ? 0 : 1 + g.int(2);
  for (let k = 0; k < n; k++) {
    switch (g.int(7)) {
      case 0: o.u = g.chance(0.7) ? `/${g.nastyText()}` : g.nastyText(); done.push('path'); break;
      case 1: (o.m as unknown[])[g.int(6)] = g.nastyNumber(); done.push('mark'); break;
      case 2: o[g.pick(['fcp', 'lcp', 'inp', 'cls'])] = g.nastyNumber(); done.push('timing'); break;
      case 3: o.a = g.nastyText(); done.push('app'); break;
      case 4: o.v = g.pick([2, '1', null]); done.push('version'); break;
      case 5: o.k = g.pick(['', 'nope', 5]); done.push('key'); break;
      default: o.u = `/${g.nastyText()}/${g.nastyText()} `; done.push('path2');
    }
  }
  if (g.chance(0.03)) return { body: JSON.stringify(o).slice(0, g.int(30)), label: 'truncated' };
  return { body: JSON.stringify(o), label: done.join('+') || 'valid' };
}

async function pageViews(store: ShardStore, accountId: number): Promise<number> {
  let n = 0;
  for (const t of await store.listTables({ accountId, kind: 'minute' })) {
    const [r] = await store.pool.query<any[]>(
      `SELECT COALESCE(SUM(d.call_count), 0) AS c FROM ${t.name} d JOIN metric_names m ON m.account_id = ? AND m.id = d.metric_id WHERE m.name = 'Browser/PageLoad' AND m.scope = ''`,
      [accountId],
    );
    n += Number(r[0].c);
  }
  return n;
}

describe('fuzz: beacon', () => {
  it(`${CASES} seeded cases: 204 or 4xx naming the problem; every 204 is written, nothing else; the clean account loses nothing`, async () => {
    const origin = 'http://127.0.0.1:5599';
    const fuzz = await account('fuzz-beacon');
    const clean = await account('clean-beacon');
    for (const a of [fuzz, clean]) {
      const app = await cluster.c.directory.ensureApplication(a.id, 'Shop');
      await cluster.c.directory.updateApplication(app.id, { allowedOrigins: [origin] });
    }
    const config = cluster.c.config.with({ APM_BEACON_PORT: '0', APM_BEACON_METRICS_PORT: '0', APM_BEACON_FLUSH_SECONDS: '60' });
    beacon = await startBeacon(cluster.c.deps({ config }));
    const g = new Gen(prng(18_003));
    const p = poster({ port: Number(new URL(beacon.url).port) });
    let accepted = 0;
    try {
      for (let i = 0; i < CASES; i++) {
        const c = beaconCase(g, fuzz.browserKey);
        const headers = { 'Content-Type': 'text/plain;charset=UTF-8', Origin: origin };
        const cleanBody = JSON.stringify({ v: 1, k: clean.browserKey, a: 'Shop', u: '/ok', t: 'navigate', m: [0, 10, 222, 324, 390, 579], cls: 0 });
        const [a, b] = await Promise.all([p.post('/beacon', c.body, headers), p.post('/beacon', cleanBody, headers)]);
        expect(b.status, `clean account, case ${i}: ${b.text}`).toBe(204);
        if (judge(`case ${i} (${c.label})`, a.status, a.text, (t) => JSON.parse(t).error)) accepted++;
        if (i % 500 === 499) await beacon.flush();
      }
      await beacon.flush();
    } finally {
      p.close();
    }
    const text = await (await fetch(beacon.metricsUrl)).text();
    expect(sample(text, 'apm_beacon_flush_failures_total')).toBe(0);
    expect(accepted).toBeGreaterThan(CASES / 4);
    expect(await pageViews(fuzz.store, fuzz.id)).toBe(accepted);
    expect(await pageViews(clean.store, clean.id)).toBe(CASES);
  }, 300_000);
});
