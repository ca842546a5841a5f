import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBeacon, type BeaconHandle } from '../../beacon/beacon.js';
import { startCollector } from '../../collector/collector.js';
import { startDashboard, type DashboardHandle } from '../../dashboard/dashboard.js';
import type { ServiceHandle } from '../../lib/services.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';
import { freePort } from '../harness/ports.js';
import { AGENT_NO_UTILIZATION_PROBES } from '../harness/newrelic-env.js';

/**
 * The dashboard end to end: a web application under the real New Relic agent reports to the real
 * collector, a page with rum.js in headless Chromium reports to the beacon, and headless Chromium signs
 * in to the dashboard and renders the overview, transactions and browser pages from that data.
 */
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const OUTPUT = path.resolve('test-output');
const APP = 'e2e-shop';
const REQUESTS = { '/users': 20, '/checkout': 10, '/fail': 5 } as const;

let c: TestCluster;
let collector: ServiceHandle;
let collectorPort = 0;
let beacon: BeaconHandle;
let dashboard: DashboardHandle;
let site: http.Server;
let siteUrl = '';
let context: BrowserContext;
let userDataDir = '';
let readKey = '';
let emptyReadKey = '';
let appId = 0;
const pageErrors: string[] = [];

function message(child: ChildProcess, pick: (m: any) => boolean, what: string): Promise<any> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for the agent app: ${what}`)), 60_000);
    child.on('message', (m) => {
      if (pick(m)) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.on('exit', (code) => reject(new Error(`agent app exited (${code}) before: ${what}`)));
  });
}

/** Runs the fixture app under `node -r newrelic`, sends it traffic, and flushes the agent at shutdown. */
async function runAgentApp(licenseKey: string): Promise<void> {
  const caFile = path.join(c.dataDir, 'collector', 'tls', 'ca.crt');
  const child = fork(path.resolve('test/fixtures/dashboard-agent-app.cjs'), [], {
    execArgv: ['-r', 'newrelic'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    env: {
      PATH: process.env.PATH,
      DB_PORT: String(c.servers[0]!.address.port),
      NEW_RELIC_NO_CONFIG_FILE: 'true',
      NEW_RELIC_APP_NAME: APP,
      NEW_RELIC_LICENSE_KEY: licenseKey,
      NEW_RELIC_HOST: '127.0.0.1',
      NEW_RELIC_PORT: String(collectorPort),
      NODE_EXTRA_CA_CERTS: caFile,
      NEW_RELIC_LOG: path.join(c.dataDir, 'newrelic_agent.log'),
      ...AGENT_NO_UTILIZATION_PROBES,
    },
  });
  const ready = await message(child, (m) => 'ready' in m, 'agent connected');
  if (!ready.ready) throw new Error(`the agent did not connect (state ${ready.state}); see ${path.join(c.dataDir, 'newrelic_agent.log')}`);
  for (const [route, n] of Object.entries(REQUESTS)) {
    for (let i = 0; i < n; i++) {
      const res = await fetch(`http://127.0.0.1:${ready.port}${route}`);
      await res.text();
    }
  }
  const done = message(child, (m) => 'shutdown' in m, 'shutdown harvest');
  child.send('shutdown');
  const answer = await done;
  if (answer.error) throw new Error(`agent shutdown failed: ${answer.error}`);
}

beforeAll(async () => {
  fs.mkdirSync(OUTPUT, { recursive: true });
  c = await startTestCluster({ shards: 1 });
  const account = await c.directory.createAccount({ name: 'Acme Shops' });
  readKey = account.readKey;
  emptyReadKey = (await c.directory.createAccount({ name: 'Newcomer' })).readKey;
  collectorPort = await freePort();
  const config = c.config.with({
    APM_COLLECTOR_PORT: String(collectorPort), APM_COLLECTOR_METRICS_PORT: '0', APM_OTLP_HTTP_PORT: '0',
    APM_BEACON_PORT: '0', APM_BEACON_METRICS_PORT: '0', APM_BEACON_FLUSH_SECONDS: '0.2',
    APM_DASHBOARD_PORT: '0', APM_DASHBOARD_METRICS_PORT: '0',
  });
  collector = await startCollector(c.deps({ config }));
  beacon = await startBeacon(c.deps({ config }));
  dashboard = await startDashboard(c.deps({ config }));
  await runAgentApp(account.licenseKey);
  const app = await c.directory.findApplication(account.account.id, APP);
  if (!app) throw new Error(`the collector did not create application ${APP}`);
  appId = app.id;

  site = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html><head><title>shop</title><link rel="icon" href="data:,">` +
      `<script src="${beacon.url}${beacon.scriptPath}" data-key="${account.browserKey}" data-app="${APP}" data-delay="50"></script></head>` +
      `<body><h1>Product ${req.url}</h1><p>Text to paint.</p></body></html>`);
  });
  siteUrl = await new Promise((resolve) => site.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(site.address() as { port: number }).port}`)));
  await c.directory.updateApplication(appId, { allowedOrigins: [siteUrl] });
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'apm-dashboard-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, { executablePath: '/usr/bin/chromium', headless: true, args: FLAGS, viewport: { width: 1400, height: 1000 } });
}, 240_000);

afterAll(async () => {
  await context?.close();
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
  await new Promise((r) => (site ? site.close(r) : r(undefined)));
  await dashboard?.stop();
  await beacon?.stop();
  await collector?.stop();
  await c?.stop();
});

async function api(path: string, key = readKey): Promise<any> {
  const res = await fetch(`${dashboard.url}/api/${path}`, { headers: { 'X-Api-Key': key } });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}
const sum = (a: Array<number | null>) => a.reduce<number>((s, v) => s + (v ?? 0), 0);

async function signIn(page: Page, key: string): Promise<void> {
  await page.goto(`${dashboard.url}/`);
  await page.locator('#key').fill(key);
  await page.locator('#sign-in-form button').click();
}

describe('dashboard in headless Chromium over really ingested data', () => {
  it('the read API sees exactly what the agent reported', async () => {
    const calls = async (name: string) => sum((await api(`applications/${appId}/metric?last=30m&name=${encodeURIComponent(name)}`)).series.callCount);
    // 20 /users + 10 /checkout + the 10 /internal calls /checkout makes + 5 /fail.
    expect(await calls('HttpDispatcher')).toBe(45);
    expect(await calls('Errors/all')).toBe(5);
    expect(await calls('External/all')).toBe(10);
    expect(await calls('Datastore/all')).toBeGreaterThanOrEqual(20);
    const overview = await api(`applications/${appId}/overview?last=30m`);
    expect(overview.summary.errorRate).toBe(5 / 45);
    expect(overview.summary.database).toBeGreaterThan(0.02 * 20 / 45 * 0.9); // SLEEP(0.02) on 20 of 45 requests
    expect(overview.summary.external).toBeGreaterThan(0);
    // The agent's transaction events (analytic_event_data) give estimated percentiles of every web transaction.
    const web = (await api(`applications/${appId}/metric?last=30m&name=WebTransaction`)).percentiles;
    expect([web.count, web.estimate, web.relativeError, web.sampled]).toEqual([45, true, 0.01, { seen: 45, sent: 45 }]);
    expect(web.estimateNote).toBe("Estimated from the agent's transaction events: in this window it sent 45 of the 45 transactions it saw.");
    expect(web.summary.p99).toBeGreaterThanOrEqual(web.summary.p50);
    expect(web.summary.p50).toBeGreaterThan(0);
  });

  it('signs in with the read key and renders the overview with uPlot charts; values show on hover', async () => {
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await signIn(page, readKey);
    await page.locator('h1', { hasText: `${APP} · overview` }).waitFor();
    expect(page.url()).not.toContain(readKey);
    const cookies = await context.cookies(dashboard.url);
    expect(cookies.map((k) => [k.name, k.httpOnly, k.sameSite, k.value.includes(readKey)])).toEqual([['apm_session', true, 'Strict', false]]);
    expect(await page.evaluate(() => document.cookie)).toBe('');
    await expect.poll(() => page.locator('.chart canvas').count()).toBe(5);
    expect(await page.locator('.chart h3').allTextContents()).toEqual(['Web response time by component (ms)', 'Throughput (rpm)', 'Error rate (%)', 'Apdex score (score)', 'Web response time percentiles (estimated) (ms)']);
    expect(await page.locator('.chart').nth(4).locator('.note').textContent()).toMatch(/^45 sampled transactions; each within 1 % .*it sent 45 of the 45 transactions it saw\.$/);
    const tiles = Object.fromEntries(await page.locator('.tile').evaluateAll((ts) => ts.map((t) => [t.querySelector('.label')!.textContent, t.querySelector('.value')!.textContent])));
    expect(tiles['Throughput']).toMatch(/^[0-9.,]+ rpm$/);
    expect(tiles['Error rate']).toBe('11.1 %'); // 5 of 45
    expect(tiles['Response time']).toMatch(/^[0-9.]+ ms$/);
    // Hover the busiest minute of the throughput chart: its legend shows that minute's value.
    const chart = page.locator('.chart').nth(1);
    const target = await chart.evaluate((box) => {
      const u = (box as any).__chart;
      const ys: Array<number | null> = u.data[1];
      let i = 0;
      ys.forEach((v, k) => { if ((v ?? -1) > (ys[i] ?? -1)) i = k; });
      const r = u.over.getBoundingClientRect();
      return { x: Math.min(r.left + u.valToPos(u.data[0][i], 'x'), r.right - 2), y: r.top + u.valToPos(ys[i], 'y'), value: (ys[i] ?? 0) as number };
    });
    await page.mouse.move(target.x, target.y);
    const legend = chart.locator('.u-legend .u-series').nth(1).locator('.u-value');
    await expect.poll(() => chart.evaluate((box) => (box as any).__chart.cursor.idx)).not.toBeNull();
    await expect.poll(() => legend.textContent()).toMatch(/^[0-9.,]+ rpm$/);
    expect(await legend.textContent()).toBe(`${target.value >= 100 ? Math.round(target.value) : target.value.toFixed(target.value >= 10 ? 1 : 2)} rpm`);
    await page.screenshot({ path: path.join(OUTPUT, 'dashboard-overview.png'), fullPage: true });
    console.log(`dashboard e2e screenshot: ${path.join(OUTPUT, 'dashboard-overview.png')}`);

    await page.locator('#tabs a[data-page="transactions"]').click();
    await page.locator('h1', { hasText: `${APP} · transactions` }).waitFor();
    const names = await page.locator('table.data').first().locator('tbody td:first-child').allTextContents();
    expect(names.sort()).toEqual(['Custom/checkout', 'Custom/fail', 'Custom/internal', 'Custom/users']);
    await page.locator('tbody tr', { hasText: 'Custom/users' }).first().click();
    await page.locator('h2', { hasText: 'Custom/users' }).waitFor();
    await expect.poll(() => page.locator('table.data').nth(1).locator('tbody td:first-child').allTextContents()).toContainEqual(expect.stringMatching(/^Datastore\/statement\/MySQL\//));
    await page.close();
    expect(pageErrors).toEqual([]);
  });

  it('renders the browser page from beacons of a real page view', async () => {
    const shop = await context.newPage();
    for (const p of ['/products/1', '/products/2']) {
      await shop.goto(`${siteUrl}${p}`);
      await shop.waitForTimeout(300);
    }
    await shop.close();
    await expect.poll(async () => sum((await api(`applications/${appId}/browser?last=30m`)).series.pageViews.map((v: number | null) => (v === null ? null : 1))), { timeout: 20_000 }).toBeGreaterThan(0);
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${dashboard.url}/#/apps/${appId}/browser?last=30m`);
    await page.locator('h1', { hasText: `${APP} · browser` }).waitFor();
    await expect.poll(() => page.locator('.chart canvas').count()).toBe(7);
    expect(await page.locator('.chart h3').allTextContents()).toEqual([
      'Page load time by phase (ms)', 'Page views (ppm)', 'Web vitals (means) (ms)', 'Cumulative layout shift (mean) (score)',
      'Page load percentiles (ms)', 'Web vitals (75th percentile, as Core Web Vitals are judged) (ms)', 'Cumulative layout shift (75th percentile) (score)',
    ]);
    const browser = await api(`applications/${appId}/browser?last=30m`);
    expect(browser.percentiles.pageLoad.count).toBe(browser.series.pageViews.reduce((s: number, v: number | null) => s + (v ?? 0), 0));
    expect(await page.locator('.chart h3').first().textContent()).toBe('Page load time by phase (ms)');
    expect(await page.locator('h2').allTextContents()).toEqual(['By page', 'By browser', 'By country']);
    await page.screenshot({ path: path.join(OUTPUT, 'dashboard-browser.png'), fullPage: true });
    console.log(`dashboard e2e screenshot: ${path.join(OUTPUT, 'dashboard-browser.png')}`);
    await page.close();
    expect(pageErrors).toEqual([]);
  });

  it('explains how to point an agent at the collector to an account without data, and refuses a wrong key', async () => {
    const page = await context.newPage();
    await page.goto(`${dashboard.url}/`); // still signed in from the test before
    await page.locator('#sign-out').click();
    await page.locator('#sign-in-form').waitFor();
    await page.locator('#key').fill('not-a-read-key');
    await page.locator('#sign-in-form button').click();
    await expect.poll(() => page.locator('#sign-in-error').textContent()).toBe('That key is not a read API key of any account. Check it and try again.');
    await page.locator('#key').fill(emptyReadKey);
    await page.locator('#sign-in-form button').click();
    await page.locator('h2', { hasText: 'No application has reported yet' }).waitFor();
    const how = await page.locator('.empty pre').textContent();
    expect(how).toContain(`NEW_RELIC_HOST=127.0.0.1 NEW_RELIC_PORT=${collectorPort}`);
    expect(await page.locator('#account-name').textContent()).toBe('Newcomer');
    await page.close();
  });
});
