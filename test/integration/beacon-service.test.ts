import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBeacon, type BeaconHandle } from '../../beacon/beacon.js';
import type { WriteRequest } from '../../lib/shard/shard-writer.js';
import { runCli } from '../../bin/apm.js';
import { freePort } from '../harness/ports.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';
import { findRow, minuteRows, sample } from './beacon-helpers.js';

const PAGE_ORIGIN = 'http://127.0.0.1:5555';
// A fixed minute well in the future, so no table span has ended (no late-data marking).
const T0 = Date.UTC(2030, 0, 2, 10, 7, 15) / 1000;
const MINUTE = Math.floor(T0 / 60) * 60;

let c: TestCluster;
let beacon: BeaconHandle;
let clock = T0;
let failNextAnswer = false;
let account: { id: number; shardId: number };
let browserKey: string;
let shopId: number;

function payload(over: Record<string, unknown> = {}) {
  return { v: 1, k: browserKey, a: 'Shop', u: '/products/42', t: 'navigate', m: [0, 10, 222, 324, 390, 579], fcp: 288, lcp: 592, inp: null, cls: 0.1, ...over };
}

async function post(body: unknown, headers: Record<string, string> = { origin: PAGE_ORIGIN }) {
  return fetch(`${beacon.url}/beacon`, {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': 'text/plain;charset=UTF-8', ...headers },
  });
}

/** A GET that leaves the body encoded (fetch always decodes gzip). */
function rawGet(url: string, headers: Record<string, string>): Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

async function metricsText(): Promise<string> {
  return (await fetch(beacon.metricsUrl)).text();
}

async function rows() {
  const { store } = await c.registry.storeForAccount(account.id);
  return minuteRows(store, account.id, MINUTE);
}

beforeAll(async () => {
  c = await startTestCluster({ shards: 1 });
  const created = await c.directory.createAccount({ name: 'beacon-it' });
  account = created.account;
  browserKey = created.browserKey;
  const shop = await c.directory.ensureApplication(account.id, 'Shop');
  shopId = shop.id;
  await c.directory.updateApplication(shop.id, { allowedOrigins: [PAGE_ORIGIN], browserApdexT: 0.5 });
  await c.directory.ensureApplication(account.id, 'Unconfigured');
  // The writer passed to the beacon loses the answer of one commit on demand (the commit happened).
  const writer = new Proxy(c.writer, {
    get(target, prop) {
      if (prop !== 'write') return Reflect.get(target, prop);
      return async (req: WriteRequest) => {
        const outcome = await target.write(req);
        if (failNextAnswer) {
          failNextAnswer = false;
          throw new Error('connection reset after COMMIT');
        }
        return outcome;
      };
    },
  });
  const config = c.config.with({
    APM_BEACON_PORT: '0',
    APM_BEACON_METRICS_PORT: '0',
    APM_BEACON_FLUSH_SECONDS: '60',
    APM_BEACON_MAX_PAGE_GROUPS: '3',
    APM_BEACON_TRUST_FORWARDED_FOR: 'true',
  });
  beacon = await startBeacon(c.deps({ config, writer, now: () => clock }));
});

afterAll(async () => {
  await beacon?.stop();
  await c?.stop();
});

describe('beacon service', () => {
  it('serves rum.js pinned for a year and the current one for five minutes, gzipped, without cookies', async () => {
    const pinned = await fetch(`${beacon.url}${beacon.scriptPath}`, { headers: { 'accept-encoding': 'gzip' } });
    expect(pinned.status).toBe(200);
    expect(pinned.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(pinned.headers.get('content-type')).toBe('application/javascript; charset=utf-8');
    expect(pinned.headers.get('set-cookie')).toBeNull();
    const text = await pinned.text(); // fetch decodes the gzip body
    expect(text.startsWith('/*! apm rum.js')).toBe(true);
    const raw = await rawGet(`${beacon.url}/rum.js`, { 'accept-encoding': 'gzip' });
    expect(raw.headers['content-encoding']).toBe('gzip');
    expect(raw.headers['cache-control']).toBe('public, max-age=300');
    const gz = raw.body;
    expect(gz.length).toBeLessThan(2500);
    expect(gunzipSync(gz).toString()).toBe(text);
    const again = await fetch(`${beacon.url}/rum.js`, { headers: { 'if-none-match': pinned.headers.get('etag')! } });
    expect(again.status).toBe(304);
    const old = await fetch(`${beacon.url}/rum-000000000000.js`, { redirect: 'manual' });
    expect([old.status, old.headers.get('location'), old.headers.get('cache-control')]).toEqual([302, beacon.scriptPath, 'public, max-age=300']);
    const junk = await fetch(`${beacon.url}/rum-zz.js`);
    expect([junk.status, (await junk.json()).error]).toEqual([404, 'cannot find /rum-zz.js: no route GET /rum-zz.js']);
  });

  it('accepts POST and image beacons with 204 / a 1×1 GIF, no-store and no cookie', async () => {
    const r = await post(payload());
    expect(r.status).toBe(204);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.headers.get('set-cookie')).toBeNull();
    expect(await r.text()).toBe('');
    const img = await fetch(`${beacon.url}/beacon?d=${encodeURIComponent(JSON.stringify(payload({ u: '/products/7?ref=mail' })))}`, {
      headers: { referer: `${PAGE_ORIGIN}/products/7?ref=mail` },
    });
    expect(img.status).toBe(200);
    expect(img.headers.get('content-type')).toBe('image/gif');
    expect(img.headers.get('cache-control')).toBe('no-store');
    expect((await img.arrayBuffer()).byteLength).toBe(43);
  });

  it('rejects bad input with a status and a message, counts it by reason and writes nothing of it', async () => {
    const big = JSON.stringify(payload({ u: '/evil', pad: 'x'.repeat(5000) }));
    const cases: Array<[Promise<Response>, number, string]> = [
      [post(payload({ k: 'bk_wrong' })), 403, 'cannot accept beacon: unknown browser key'],
      [post(payload({ u: '/evil' }), { origin: 'https://evil.example' }), 403, 'cannot accept beacon: origin "https://evil.example" is not allowed for application "Shop"'],
      [post(payload({ u: '/evil' }), {}), 403, 'cannot accept beacon: origin (none sent) is not allowed for application "Shop"'],
      [post(payload({ a: 'Unconfigured', u: '/evil' })), 403, 'cannot accept beacon: origin "http://127.0.0.1:5555" is not allowed for application "Unconfigured"'],
      [post(payload({ a: 'Nope' })), 403, `cannot accept beacon: account ${account.id} has no application "Nope" (create it with \`apm apps set\`)`],
      [post('{"v":1,"k":'), 400, 'cannot accept beacon: the body is not JSON'],
      [post(payload({ u: '/evil', m: [0, 10, -222, 324, 390, 579] })), 400, 'cannot accept beacon: responseStart -222 ms is not within [0, 3600000)'],
      [post(payload({ u: '/evil', m: [0, 10, 222, 324, 390, 86_400_000] })), 400, 'cannot accept beacon: loadEventEnd 86400000 ms is not within [0, 3600000)'],
      [post(big), 413, `cannot accept beacon: body of ${Buffer.byteLength(big)} bytes is over the 4096-byte limit`],
      [fetch(`${beacon.url}/beacon`, { method: 'PUT', body: 'x' }), 405, 'cannot accept beacon: method PUT is not allowed (use POST or GET)'],
      [fetch(`${beacon.url}/beacon?x=1`), 400, 'cannot accept beacon: query parameter d is missing'],
    ];
    for (const [pending, status, message] of cases) {
      const r = await pending;
      expect([r.status, (await r.json()).error, r.headers.get('cache-control')]).toEqual([status, message, 'no-store']);
    }
    const text = await metricsText();
    const count = (reason: string) => sample(text, 'apm_beacon_beacons_total', { outcome: 'rejected', reason });
    expect([count('bad_key'), count('origin_not_allowed'), count('unknown_app'), count('bad_payload'), count('bad_timing'), count('too_large'), count('bad_method')]).toEqual([
      1, 3, 1, 2, 2, 1, 1,
    ]);
    expect(sample(text, 'apm_beacon_beacons_total', { outcome: 'accepted', reason: 'none' })).toBe(2);
    await beacon.flush();
    const written = await rows();
    expect(written.filter((r) => r.scope === '/evil')).toEqual([]);
    expect(findRow(written, 'Browser/PageLoad')!.callCount).toBe(2);
  });

  it('writes exact minute rows per page group and for the application, only for the pseudo-agent', async () => {
    clock = T0 + 1; // same minute as the beacons above
    const r1 = await post(payload({ u: '/products/42/', m: [0, 0, 100, 100, 150, 200], fcp: null, lcp: null, inp: 48, cls: 0 }), {
      origin: PAGE_ORIGIN,
      'x-forwarded-for': '8.8.8.8, 10.0.0.1',
      'user-agent': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0',
    });
    expect(r1.status).toBe(204);
    expect(sample(await metricsText(), 'apm_beacon_open_keys')).toBe(2);
    await beacon.flush();
    expect(sample(await metricsText(), 'apm_beacon_open_keys')).toBe(0);
    const written = await rows();
    const { store } = await c.registry.storeForAccount(account.id);
    const pseudo = await store.applicationAgentId(account.id, shopId);
    expect(new Set(written.map((r) => r.agentId))).toEqual(new Set([pseudo]));
    expect(new Set(written.map((r) => r.period))).toEqual(new Set([MINUTE]));
    // Three page views: 579 ms, 579 ms (the image beacon), 200 ms.
    const load = findRow(written, 'Browser/PageLoad')!;
    expect([load.callCount, load.totalTime, load.minTime, load.maxTime]).toEqual([3, 0.579 + 0.579 + 0.2, 0.2, 0.579]);
    expect(load.sumOfSquares).toBeCloseTo(0.579 ** 2 * 2 + 0.04, 12);
    const page = findRow(written, 'Browser/PageLoad', '/products/{id}')!;
    expect(page.callCount).toBe(3);
    const phases = ['Browser/Network', 'Browser/Backend', 'Browser/DOMProcessing', 'Browser/Rendering'].map((n) => findRow(written, n, '/products/{id}')!);
    expect(phases.map((p) => Math.round(p.totalTime * 1000))).toEqual([112 * 2 + 0, 212 * 2 + 100, 66 * 2 + 50, 189 * 2 + 50]);
    expect(phases.reduce((s, p) => s + Math.round(p.totalTime * 1000), 0)).toBe(579 * 2 + 200);
    expect(findRow(written, 'Browser/TTFB')!.totalTime).toBeCloseTo(0.222 * 2 + 0.1, 12);
    expect(findRow(written, 'Browser/FCP')!.callCount).toBe(2);
    expect(findRow(written, 'Browser/INP')).toMatchObject({ callCount: 1, totalTime: 0.048 });
    expect(findRow(written, 'Browser/CLS')).toMatchObject({ callCount: 3, maxTime: 0.1, minTime: 0 });
    // Browser Apdex with T = 0.5 s: 200 ms satisfied, 579 ms tolerating (<= 2 s) twice.
    expect(findRow(written, 'Browser/Apdex')).toMatchObject({ callCount: 1, totalTime: 2, exclusiveTime: 0, minTime: 0.5, maxTime: 0.5 });
    expect(findRow(written, 'Browser/ByBrowser/Firefox')).toMatchObject({ callCount: 1, totalTime: 0.2 });
    expect(findRow(written, 'Browser/ByBrowser/Other')).toMatchObject({ callCount: 2 }); // Node's fetch UA
    expect(findRow(written, 'Browser/ByCountry/US')).toMatchObject({ callCount: 1, totalTime: 0.2 });
    expect(findRow(written, 'Browser/ByCountry/ZZ')).toMatchObject({ callCount: 2 });
    expect(findRow(written, 'Browser/ByBrowser/Firefox', '/products/{id}')).toBeUndefined();
  });

  it('folds page groups past the per-application bound into (overflow)', async () => {
    clock = T0 + 2;
    for (const u of ['/a', '/b', '/c', '/a']) expect((await post(payload({ u }))).status).toBe(204);
    await beacon.flush();
    const written = await rows();
    // Bound 3: /products/{id} and /a, /b fit; /c folds.
    expect(findRow(written, 'Browser/PageLoad', '/a')!.callCount).toBe(2);
    expect(findRow(written, 'Browser/PageLoad', '/b')!.callCount).toBe(1);
    expect(findRow(written, 'Browser/PageLoad', '/c')).toBeUndefined();
    expect(findRow(written, 'Browser/PageLoad', '(overflow)')!.callCount).toBe(1);
    expect(findRow(written, 'Browser/PageLoad')!.callCount).toBe(7);
    expect(sample(await metricsText(), 'apm_beacon_page_group_overflow_total')).toBe(1);
  });

  it('keeps a batch whose shard is unreachable and writes it once the shard is back', async () => {
    const dead = await c.directory.addShard(`127.0.0.1:${await freePort()}`, 'closed');
    await c.directory.setAccountShard(account.id, dead.id);
    c.registry.forgetAccount(account.id);
    clock = T0 + 3;
    expect((await post(payload({ u: '/b' }))).status).toBe(204);
    await beacon.flush();
    expect(beacon.flusher.pendingBatches).toBe(1);
    expect(sample(await metricsText(), 'apm_beacon_flush_failures_total')).toBe(1);
    await c.directory.setAccountShard(account.id, account.shardId);
    c.registry.forgetAccount(account.id);
    await beacon.flush();
    expect(beacon.flusher.pendingBatches).toBe(0);
    const written = await rows();
    expect(findRow(written, 'Browser/PageLoad', '/b')!.callCount).toBe(2);
    expect(findRow(written, 'Browser/PageLoad')!.callCount).toBe(8);
  });

  it('does not count a retried batch twice when only the answer of its commit was lost', async () => {
    clock = T0 + 4;
    expect((await post(payload({ u: '/b' }))).status).toBe(204);
    failNextAnswer = true;
    await beacon.flush();
    expect(beacon.flusher.pendingBatches).toBe(1);
    await beacon.flush();
    expect(beacon.flusher.pendingBatches).toBe(0);
    const written = await rows();
    expect(findRow(written, 'Browser/PageLoad', '/b')!.callCount).toBe(3);
    expect(findRow(written, 'Browser/PageLoad')!.callCount).toBe(9);
  });

  it('buckets by server receive time and writes what it holds on stop', async () => {
    clock = T0 + 60;
    expect((await post(payload())).status).toBe(204);
    await beacon.stop();
    const written = await rows();
    expect(findRow(written, 'Browser/PageLoad', '', MINUTE + 60)!.callCount).toBe(1);
    expect(findRow(written, 'Browser/PageLoad', '', MINUTE)!.callCount).toBe(9);
    // Keep-alive connections outlive the listener: they get 503 and are closed, and nothing more is counted.
    const late = await post(payload());
    expect([late.status, (await late.json()).error]).toEqual([503, 'cannot accept beacon: the beacon service is stopping']);
    let refused = false;
    for (let i = 0; i < 20 && !refused; i++) {
      const r = await fetch(`${beacon.url}/healthz`).catch(() => undefined);
      if (r) expect(r.status).toBe(503); // another pooled keep-alive connection, closed by this answer
      refused = r === undefined;
    }
    expect(refused).toBe(true);
    expect(findRow(await rows(), 'Browser/PageLoad', '', MINUTE + 60)!.callCount).toBe(1);
  });
});

describe('apm apps set / list', () => {
  it('creates an application with origins and a browser Apdex threshold, then edits the origins', async () => {
    const env = { APM_SHARDS: `127.0.0.1:${c.servers[0]!.address.port}`, APM_DATA_DIR: c.dataDir };
    const log = console.log;
    const printed: string[] = [];
    console.log = (line: string) => printed.push(line);
    try {
      expect(await runCli(['apps', 'set', String(account.id), 'Cli', 'App', '--origin', 'https://a.example,https://b.example/', '--browser-apdex-t', '2', '--json'], env)).toBe(0);
      expect(JSON.parse(printed.pop()!)).toMatchObject({ name: 'Cli App', browserApdexT: 2, apdexT: 0.5, origins: 'https://a.example https://b.example' });
      expect(await runCli(['apps', 'set', String(account.id), 'Cli App', '--add-origin', 'http://127.0.0.1:8080', '--remove-origin', 'https://A.example', '--json'], env)).toBe(0);
      expect(JSON.parse(printed.pop()!)).toMatchObject({ origins: 'https://b.example http://127.0.0.1:8080', browserApdexT: 2 });
      expect(await runCli(['apps', 'list', String(account.id), '--json'], env)).toBe(0);
      expect((JSON.parse(printed.pop()!) as Array<{ name: string }>).map((a) => a.name)).toEqual(['Cli App', 'Shop', 'Unconfigured']);
    } finally {
      console.log = log;
    }
    const app = await c.directory.findApplication(account.id, 'Cli App');
    expect(app!.allowedOrigins).toEqual(['https://b.example', 'http://127.0.0.1:8080']);
    const error = console.error;
    const errors: string[] = [];
    console.error = (line: string) => errors.push(line);
    try {
      expect(await runCli(['apps', 'set', String(account.id), 'Cli App', '--origin', 'shop.example'], env)).toBe(2);
      expect(await runCli(['apps', 'set', String(account.id), 'Cli App', '--browser-apdex-t', '0'], env)).toBe(2);
    } finally {
      console.error = error;
    }
    expect(errors).toEqual([
      'apm: cannot update application: "shop.example" is not an origin like https://shop.example',
      'apm: cannot read --browser-apdex-t: expected seconds between 0 and 3600, got "0"',
    ]);
  });
});
