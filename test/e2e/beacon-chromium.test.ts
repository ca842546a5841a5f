import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBeacon, type BeaconHandle } from '../../beacon/beacon.js';
import { tableSpanStart } from '../../lib/shard/table-naming.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';
import { findRow, minuteRows, type BeaconRow } from '../integration/beacon-helpers.js';

/**
 * Real pages in headless Debian Chromium, served from an origin other than the beacon's, include
 * rum.js (a script tag, the inline loader, and the image fallback); the test asserts the committed
 * minute rows against each page's own PerformanceNavigationTiming entry.
 */
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let c: TestCluster;
let beacon: BeaconHandle;
let site: http.Server;
let foreign: http.Server;
let context: BrowserContext;
let userDataDir: string;
let browserKey: string;
let accountId: number;
const pageErrors: string[] = [];

function listen(server: http.Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}`)));
}

/** The test site: HTML whose first byte waits 60 ms, second half 40 ms later, an image 80 ms late. */
function siteHandler(include: (kind: string) => string): http.RequestListener {
  return (req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname === '/hero.svg') {
      setTimeout(() => res.writeHead(200, { 'content-type': 'image/svg+xml' }).end('<svg xmlns="http://www.w3.org/2000/svg" width="300" height="150"><rect width="300" height="150" fill="#39c"/></svg>'), 80);
      return;
    }
    const kind = u.searchParams.get('include') ?? 'tag';
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.write(`<!doctype html><html><head><meta charset="utf-8"><title>${u.pathname}</title><link rel="icon" href="data:,">${include(kind)}</head>` +
        `<body><h1>Page ${u.pathname}</h1><p>Some text to paint.</p><img src="/hero.svg" width="300" height="150" alt="">`);
      // Product pages insert a banner above the content after DOMContentLoaded (a layout shift).
      const shift = u.pathname.startsWith('/products/')
        ? "document.addEventListener('DOMContentLoaded',function(){setTimeout(function(){var b=document.createElement('div');b.style.height='100px';document.body.insertBefore(b,document.body.firstChild)},30)});"
        : '';
      const busy = 'function busy(ms){var t=performance.now();while(performance.now()-t<ms){}}';
      const click = "document.addEventListener('click',function(){busy(60)});";
      setTimeout(() => res.end(`<p>Second chunk.</p><script>${busy};busy(20);${shift}${click}</script></body></html>`), 40);
    }, 60);
  };
}

async function acceptedAndRejected(): Promise<{ accepted: number; origin: number }> {
  const m = await beacon.registry.getSingleMetric('apm_beacon_beacons_total')!.get();
  const v = (outcome: string, reason: string) => m.values.find((x) => x.labels.outcome === outcome && x.labels.reason === reason)?.value ?? 0;
  return { accepted: v('accepted', 'none'), origin: v('rejected', 'origin_not_allowed') };
}

async function waitFor(what: string, ok: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await ok()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

interface Marks {
  requestStart: number;
  responseStart: number;
  responseEnd: number;
  domContentLoadedEventEnd: number;
  loadEventEnd: number;
}

/** Loads a page and returns its navigation marks, rounded to whole ms as rum.js sends them. */
async function view(page: Page, url: string): Promise<Marks> {
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForFunction(() => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).loadEventEnd > 0);
  const e = await page.evaluate(() => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).toJSON());
  expect(await page.evaluate(() => document.cookie)).toBe('');
  const r = Math.round;
  return { requestStart: r(e.requestStart), responseStart: r(e.responseStart), responseEnd: r(e.responseEnd), domContentLoadedEventEnd: r(e.domContentLoadedEventEnd), loadEventEnd: r(e.loadEventEnd) };
}

function phasesMs(m: Marks) {
  return {
    network: m.requestStart + (m.responseEnd - m.responseStart),
    backend: m.responseStart - m.requestStart,
    dom: m.domContentLoadedEventEnd - m.responseEnd,
    render: m.loadEventEnd - m.domContentLoadedEventEnd,
  };
}

/** Rows of every minute between from and to, summed per (name, scope). */
async function committed(from: number, to: number): Promise<BeaconRow[]> {
  const { store } = await c.registry.storeForAccount(accountId);
  const hours = new Set([tableSpanStart('minute', from), tableSpanStart('minute', to)]);
  const all = (await Promise.all([...hours].map((h) => minuteRows(store, accountId, h)))).flat();
  const sum = new Map<string, BeaconRow>();
  for (const r of all) {
    const k = `${r.name}\u0000${r.scope}`;
    const s = sum.get(k);
    if (!s) sum.set(k, { ...r });
    else {
      s.callCount += r.callCount;
      s.totalTime += r.totalTime;
      s.exclusiveTime += r.exclusiveTime;
      s.minTime = Math.min(s.minTime, r.minTime);
      s.maxTime = Math.max(s.maxTime, r.maxTime);
      s.sumOfSquares += r.sumOfSquares;
    }
  }
  return [...sum.values()];
}

let siteUrl: string;
let foreignUrl: string;

beforeAll(async () => {
  c = await startTestCluster({ shards: 1 });
  const created = await c.directory.createAccount({ name: 'rum-e2e' });
  browserKey = created.browserKey;
  accountId = created.account.id;
  const config = c.config.with({ APM_BEACON_PORT: '0', APM_BEACON_METRICS_PORT: '0', APM_BEACON_FLUSH_SECONDS: '1' });
  beacon = await startBeacon(c.deps({ config }));
  const include = (kind: string) => {
    const src = `${beacon.url}${beacon.scriptPath}`;
    if (kind === 'loader') {
      return `<script>(function(d,s){s=d.createElement('script');s.async=1;s.src='${src}';s.setAttribute('data-key','${browserKey}');s.setAttribute('data-app','Shop');d.head.appendChild(s)})(document)</script>`;
    }
    const tag = `<script src="${src}" data-key="${browserKey}" data-app="Shop"></script>`;
    return kind === 'image' ? `<script>delete Navigator.prototype.sendBeacon</script>${tag}` : tag;
  };
  site = http.createServer(siteHandler(include));
  foreign = http.createServer(siteHandler(include));
  siteUrl = await listen(site);
  foreignUrl = await listen(foreign);
  const shop = await c.directory.ensureApplication(accountId, 'Shop');
  await c.directory.updateApplication(shop.id, { allowedOrigins: [siteUrl], browserApdexT: 0.3 });
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'apm-rum-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, { executablePath: '/usr/bin/chromium', headless: true, args: FLAGS });
});

afterAll(async () => {
  await context?.close();
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
  await beacon?.stop();
  await new Promise((r) => (site ? site.close(r) : r(undefined)));
  await new Promise((r) => (foreign ? foreign.close(r) : r(undefined)));
  await c?.stop();
});

describe('rum.js in headless Chromium', () => {
  it('reports every page view from another origin; committed rows match each page\'s timings', async () => {
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const beaconRequests: string[] = [];
    page.on('request', (r) => {
      if (r.url().startsWith(`${beacon.url}/beacon`)) beaconRequests.push(`${r.method()} ${r.resourceType()} ${new URL(r.url()).search ? 'query' : 'body'}`);
    });
    const from = Date.now() / 1000;
    const views: Marks[] = [];
    const plan: Array<{ url: string; leave: boolean }> = [
      { url: `${siteUrl}/products/17`, leave: false },
      { url: `${siteUrl}/products/42?include=tag&ref=mail`, leave: true }, // left right after load: sent on pagehide
      { url: `${siteUrl}/about?include=loader`, leave: false },
      { url: `${siteUrl}/products/99/?include=loader`, leave: true },
      { url: `${siteUrl}/about?include=image`, leave: false }, // no sendBeacon: image GET, origin from Referer
    ];
    for (const [i, step] of plan.entries()) {
      views.push(await view(page, step.url));
      if (i === 0) await page.mouse.click(20, 20); // one interaction (60 ms handler) before the beacon leaves
      if (!step.leave) await waitFor(`beacon of view ${i + 1}`, async () => (await acceptedAndRejected()).accepted === i + 1);
    }
    await view(page, `${foreignUrl}/foreign/1`);
    await waitFor('foreign beacon', async () => (await acceptedAndRejected()).origin === 1);
    await page.close();
    expect(await acceptedAndRejected()).toEqual({ accepted: 5, origin: 1 });
    expect(pageErrors).toEqual([]);
    // The page without sendBeacon fell back to an image GET carrying the payload in the query.
    expect(beaconRequests.filter((r) => r.startsWith('GET'))).toEqual(['GET image query']);
    expect(await context.cookies()).toEqual([]);

    await beacon.flush();
    const rows = await committed(from, Date.now() / 1000);
    const total = (vs: Marks[], f: (m: Marks) => number) => vs.reduce((s, m) => s + f(m), 0);
    const ms = (x: number) => Math.round(x * 1000);

    const load = findRow(rows, 'Browser/PageLoad')!;
    expect(load.callCount).toBe(5);
    expect(ms(load.totalTime)).toBe(total(views, (m) => m.loadEventEnd));
    expect(ms(load.minTime)).toBe(Math.min(...views.map((m) => m.loadEventEnd)));
    expect(ms(load.maxTime)).toBe(Math.max(...views.map((m) => m.loadEventEnd)));
    const [network, backend, dom, render] = ['Network', 'Backend', 'DOMProcessing', 'Rendering'].map((n) => ms(findRow(rows, `Browser/${n}`)!.totalTime));
    expect([network, backend, dom, render]).toEqual([
      total(views, (m) => phasesMs(m).network),
      total(views, (m) => phasesMs(m).backend),
      total(views, (m) => phasesMs(m).dom),
      total(views, (m) => phasesMs(m).render),
    ]);
    expect(network! + backend! + dom! + render!).toBe(ms(load.totalTime));
    // The site holds the first byte 60 ms: every view's back-end phase includes it.
    expect(Math.min(...views.map((m) => phasesMs(m).backend))).toBeGreaterThanOrEqual(60);

    const products = views.filter((_, i) => i !== 2 && i !== 4);
    const about = [views[2]!, views[4]!];
    expect(findRow(rows, 'Browser/PageLoad', '/products/{id}')).toMatchObject({ callCount: 3 });
    expect(ms(findRow(rows, 'Browser/PageLoad', '/products/{id}')!.totalTime)).toBe(total(products, (m) => m.loadEventEnd));
    expect(ms(findRow(rows, 'Browser/PageLoad', '/about')!.totalTime)).toBe(total(about, (m) => m.loadEventEnd));
    expect(rows.filter((r) => r.scope.startsWith('/foreign'))).toEqual([]);
    expect(new Set(rows.filter((r) => r.name === 'Browser/PageLoad').map((r) => r.scope))).toEqual(new Set(['', '/products/{id}', '/about']));

    const satisfied = views.filter((m) => m.loadEventEnd <= 300).length;
    const tolerating = views.filter((m) => m.loadEventEnd > 300 && m.loadEventEnd <= 1200).length;
    expect(findRow(rows, 'Browser/Apdex')).toMatchObject({ callCount: satisfied, totalTime: tolerating, exclusiveTime: 5 - satisfied - tolerating, minTime: 0.3 });
    expect(findRow(rows, 'Browser/ByBrowser/Chrome')).toMatchObject({ callCount: 5 });
    expect(findRow(rows, 'Browser/ByCountry/ZZ')).toMatchObject({ callCount: 5 });
    expect(findRow(rows, 'Browser/TTFB')).toMatchObject({ callCount: 5 });
    expect(ms(findRow(rows, 'Browser/TTFB')!.totalTime)).toBe(total(views, (m) => m.responseStart));
    expect(findRow(rows, 'Browser/FCP')).toMatchObject({ callCount: 5 });
    const cls = findRow(rows, 'Browser/CLS')!;
    expect([cls.callCount, cls.minTime]).toEqual([5, 0]); // the about pages do not shift
    expect(cls.maxTime).toBeGreaterThan(0);
    expect(findRow(rows, 'Browser/CLS', '/about')!.totalTime).toBe(0);
    const inp = findRow(rows, 'Browser/INP')!;
    expect(inp.callCount).toBe(1);
    expect(inp.totalTime).toBeGreaterThanOrEqual(0.06);
  });
});
