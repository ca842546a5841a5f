import { silentLog } from '../../lib/log/log.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { startCollector } from '../../collector/collector.js';
import { RollupMetrics } from '../../rollup/rollup-metrics.js';
import { RollupRunner } from '../../rollup/rollup-runner.js';
import { startDashboard, type DashboardHandle } from '../../dashboard/dashboard.js';
import type { ServiceHandle } from '../../lib/services.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';
import { freePort } from '../harness/ports.js';

/**
 * The dashboard's views for OpenTelemetry applications in headless Chromium, over data sent by the
 * real OpenTelemetry SDK and OTLP/HTTP exporter through the real collector: the application list with
 * health, the OTLP overview (http.server.request.duration), the metric explorer (one metric, agents
 * compared), an application with custom metrics only, and the rough edges (sign-in page, favicon,
 * time zone, drag-zoom kept in the URL). Screenshots of each view go to test-output/.
 */
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const OUTPUT = path.resolve('test-output');

let c: TestCluster;
let collector: ServiceHandle;
let dashboard: DashboardHandle;
let context: BrowserContext;
let userDataDir = '';
let readKey = '';
let shopId = 0;
let workerId = 0;
let batchId = 0;
/** The batch job's durations (seconds), sent as one OTLP exponential histogram two hours ago. */
const JOB_VALUES = [...Array.from({ length: 90 }, (_, i) => 0.1 + i * 0.001), ...Array.from({ length: 9 }, (_, i) => 1 + i * 0.1), 10];
const exactPercentile = (q: number) => [...JOB_VALUES].sort((a, b) => a - b)[Math.floor(q * (JOB_VALUES.length - 1))]!;

/** A hand-made OTLP/HTTP JSON export (the SDK stamps the current time; this one is two hours old). */
async function postOldHistogram(otlpPort: number, licenseKey: string, at: number) {
  const scale = 8;
  const counts = new Map<number, number>();
  for (const v of JOB_VALUES) {
    const i = Math.ceil(Math.log2(v) * 2 ** scale) - 1;
    counts.set(i, (counts.get(i) ?? 0) + 1);
  }
  const offset = Math.min(...counts.keys());
  const bucketCounts = Array.from({ length: Math.max(...counts.keys()) - offset + 1 }, (_, k) => String(counts.get(offset + k) ?? 0));
  const ns = (t: number) => `${BigInt(t) * 1_000_000_000n}`;
  const body = {
    resourceMetrics: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'otel-batch' } }] },
      scopeMetrics: [{ scope: { name: 'e2e' }, metrics: [{
        name: 'job.duration', unit: 's',
        exponentialHistogram: { aggregationTemporality: 1, dataPoints: [{
          startTimeUnixNano: ns(at - 60), timeUnixNano: ns(at), count: String(JOB_VALUES.length), sum: JOB_VALUES.reduce((a, b) => a + b, 0),
          min: Math.min(...JOB_VALUES), max: Math.max(...JOB_VALUES), scale, zeroCount: '0', positive: { offset, bucketCounts },
        }] },
      }] }],
    }],
  };
  const res = await fetch(`http://127.0.0.1:${otlpPort}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json', 'api-key': licenseKey }, body: JSON.stringify(body) });
  if (res.status !== 200) throw new Error(`OTLP export answered ${res.status}: ${await res.text()}`);
}
const problems: string[] = [];

/** One OTel SDK instance of a service: records, then flushes once through the real exporter. */
async function otelInstance(otlpPort: number, licenseKey: string, service: string, instance: string, record: (meter: ReturnType<MeterProvider['getMeter']>) => void) {
  const exporter = new OTLPMetricExporter({ url: `http://127.0.0.1:${otlpPort}/v1/metrics`, headers: { 'api-key': licenseKey } });
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 600_000, exportTimeoutMillis: 30_000 });
  const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': service, 'service.instance.id': instance }), readers: [reader] });
  record(provider.getMeter('e2e', '1.0.0'));
  await provider.forceFlush();
  await provider.shutdown();
}

function request(meter: ReturnType<MeterProvider['getMeter']>, list: Array<[seconds: number, status: number, times: number]>) {
  const h = meter.createHistogram('http.server.request.duration', { unit: 's' });
  for (const [seconds, status, times] of list) for (let i = 0; i < times; i++) h.record(seconds, { 'http.request.method': 'GET', 'http.response.status_code': status });
}

beforeAll(async () => {
  fs.mkdirSync(OUTPUT, { recursive: true });
  c = await startTestCluster({ shards: 1 });
  const account = await c.directory.createAccount({ name: 'Otel Shops' });
  readKey = account.readKey;
  const otlpPort = await freePort();
  const config = c.config.with({
    APM_COLLECTOR_PORT: '0', APM_COLLECTOR_METRICS_PORT: '0', APM_OTLP_HTTP_PORT: String(otlpPort),
    APM_DASHBOARD_PORT: '0', APM_DASHBOARD_METRICS_PORT: '0',
  });
  collector = await startCollector(c.deps({ config }));
  dashboard = await startDashboard(c.deps({ config }));
  // otel-shop: pod-a 8 × 0.1 s (200) and 2 × 0.3 s (500); pod-b 5 × 0.2 s (200) and an orders counter.
  await otelInstance(otlpPort, account.licenseKey, 'otel-shop', 'pod-a', (m) => request(m, [[0.1, 200, 8], [0.3, 500, 2]]));
  await otelInstance(otlpPort, account.licenseKey, 'otel-shop', 'pod-b', (m) => {
    request(m, [[0.2, 200, 5]]);
    m.createCounter('orders.placed').add(3);
  });
  await otelInstance(otlpPort, account.licenseKey, 'otel-worker', 'w-1', (m) => m.createCounter('jobs.done').add(7));
  const now = Math.floor(Date.now() / 1000);
  await postOldHistogram(otlpPort, account.licenseKey, Math.floor(now / 3600) * 3600 - 2 * 3600 + 600);
  // The real rollup: every closed hour (the batch job's) into the hour table.
  const rollup = new RollupRunner({ directory: c.directory, shards: c.registry, metrics: new RollupMetrics(new Registry()), log: silentLog, graceSeconds: 300, maxPeriodsPerRun: 1000, lockWaitSeconds: 0 });
  const [report] = await rollup.run({ now, purge: false });
  if (report!.hours < 1 || report!.failures > 0) throw new Error(`rollup did not roll the batch hour: ${JSON.stringify(report)}`);
  batchId = (await c.directory.findApplication(account.account.id, 'otel-batch'))!.id;
  shopId = (await c.directory.findApplication(account.account.id, 'otel-shop'))!.id;
  workerId = (await c.directory.findApplication(account.account.id, 'otel-worker'))!.id;
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'apm-explorer-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, { executablePath: '/usr/bin/chromium', headless: true, args: FLAGS, viewport: { width: 1400, height: 1000 } });
}, 240_000);

afterAll(async () => {
  await context?.close();
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
  await dashboard?.stop();
  await collector?.stop();
  await c?.stop();
});

async function api(p: string): Promise<any> {
  const res = await fetch(`${dashboard.url}/api/${p}`, { headers: { 'X-Api-Key': readKey } });
  if (!res.ok) throw new Error(`${p}: ${res.status} ${await res.text()}`);
  return res.json();
}

function watch(page: Page): Page {
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  // A failed load is logged by Chromium without its URL: the response listener below names it (the
  // first visit's GET /api/session answers 401 by design: not signed in yet).
  page.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && problems.push(`console: ${m.text()}`));
  page.on('response', (r) => r.status() >= 400 && !r.url().endsWith('/api/session') && problems.push(`${r.status()} ${r.url()}`));
  return page;
}

const shot = async (page: Page, name: string) => {
  await page.screenshot({ path: path.join(OUTPUT, `${name}.png`), fullPage: true });
  console.log(`dashboard e2e screenshot: ${path.join(OUTPUT, `${name}.png`)}`);
};

describe('dashboard for OpenTelemetry applications in headless Chromium', () => {
  it('the read API gives the OTLP overview from http.server.request.duration and the health list', async () => {
    const o = await api(`applications/${shopId}/overview?last=30m`);
    expect(o.source).toBe('otlp');
    expect(o.summary.errorRate).toBe(2 / 15);
    expect(o.summary.responseTime).toBeCloseTo(2.4 / 15, 12);
    expect(o.summary.apdex).toBeNull();
    const w = await api(`applications/${workerId}/overview?last=30m`);
    expect(w.source).toBe('custom');
    expect(w.customMetrics).toEqual(['OTLP/jobs.done']);
    const h = await api('applications/health');
    const shop = h.applications.find((a: any) => a.id === shopId);
    // 15 requests, one point per minute (each a whole minute): the points add up to 15; the 30 minutes
    // span 30 or 31 minute buckets.
    expect([shop.source, shop.errorRate, shop.openIncidents, shop.spark.reduce((s: number, v: number | null) => s + (v ?? 0), 0)]).toEqual(['otlp', 2 / 15, 0, 15]);
    expect(shop.spark.length - 30).toBeLessThanOrEqual(1);
    // The alerts service's incidents are wired in: no open incident for this application.
    expect(h.openIncidents).toBe(true);
  });

  it('first visit: the sign-in form alone, no "session ended", favicon served', async () => {
    const page = watch(await context.newPage());
    await page.goto(`${dashboard.url}/`);
    await page.locator('#sign-in-form').waitFor();
    expect(await page.locator('header#top').isVisible()).toBe(false);
    expect(await page.locator('#sign-in-error').isVisible()).toBe(false);
    const icon = await fetch(`${dashboard.url}/favicon.ico`);
    expect([icon.status, icon.headers.get('content-type')]).toEqual([200, 'image/svg+xml']);
    await shot(page, 'dashboard-sign-in');
    await page.locator('#key').fill(readKey);
    await page.locator('#sign-in-form button').click();
    await page.locator('table.apps-health').waitFor();
    expect(await page.locator('table.apps-health thead th').allTextContents()).toEqual(['Application', 'Open incidents', 'Apdex', 'Response time', 'Throughput', 'Error rate', 'Last 30 minutes']);
    const row = page.locator('table.apps-health tbody tr', { hasText: 'otel-shop' });
    expect(await row.locator('td').nth(5).textContent()).toBe('13.3 %');
    expect(await row.locator('svg.spark path, svg.spark circle').count()).toBeGreaterThan(0);
    await shot(page, 'dashboard-apps-health');
    await page.close();
  });

  it('OTLP overview, explorer, agents compared, custom-only application, UTC axis and drag-zoom', async () => {
    const page = watch(await context.newPage());
    await page.goto(`${dashboard.url}/#/apps/${shopId}/overview?last=30m`);
    await page.locator('h1', { hasText: 'otel-shop · overview' }).waitFor();
    await expect.poll(() => page.locator('.chart canvas').count()).toBe(4);
    expect(await page.locator('.chart h3').allTextContents()).toEqual(['Response time (ms)', 'Throughput (rpm)', 'Error rate (%)', 'Response time percentiles (ms)']);
    const tiles = Object.fromEntries(await page.locator('.tile').evaluateAll((ts) => ts.map((t) => [t.querySelector('.label')!.textContent, t.querySelector('.value')!.textContent])));
    expect(tiles).toEqual({ Throughput: expect.stringMatching(/ rpm$/), 'Response time': '160 ms', 'Error rate': '13.3 %' });
    // Legends show the latest value without hovering (the exports may straddle a minute: take the API's).
    const rates = (await api(`applications/${shopId}/overview?last=30m`)).series.errorRate.filter((v: number | null) => v !== null);
    const latest = rates[rates.length - 1] * 100;
    expect(await page.locator('.chart').nth(2).locator('.u-legend .u-series').nth(1).locator('.u-value').textContent()).toBe(`${latest === 0 ? '0' : latest.toFixed(1)} %`);
    await shot(page, 'dashboard-otlp-overview');

    await page.locator('#tz').selectOption('utc');
    await expect.poll(() => page.locator('.chart').first().evaluate((b) => (b as any).__chart?.axes[0].label)).toBe('Time (UTC)');
    expect(await page.locator('.chart').first().evaluate((b) => (b as any).__chart.axes[0].label)).toBe('Time (UTC)');
    expect(await page.locator('#view p.note').first().textContent()).toContain('(UTC)');
    // Drag across the throughput chart: the window becomes the selected range, in the URL.
    const over = await page.locator('.chart').nth(1).locator('.u-over').boundingBox();
    await page.mouse.move(over!.x + over!.width * 0.2, over!.y + 20);
    await page.mouse.down();
    await page.mouse.move(over!.x + over!.width * 0.9, over!.y + 20, { steps: 5 });
    await page.mouse.up();
    await expect.poll(() => page.url()).toMatch(/from=\d+&to=\d+/);
    const q = new URLSearchParams(page.url().split('?')[1]);
    expect(Number(q.get('to')) - Number(q.get('from'))).toBeGreaterThan(600);
    expect(await page.locator('#preset').inputValue()).toBe('custom');
    await expect.poll(() => page.locator('#view p.note').first().textContent()).toContain('(UTC)');
    await shot(page, 'dashboard-zoomed-utc');

    await page.goto(`${dashboard.url}/#/apps/${shopId}/explorer?last=30m`);
    await page.locator('#metric-search').fill('OTLP/http.server.request.duration/');
    await expect.poll(() => page.locator('#metric-list a').allTextContents()).toEqual([
      'OTLP/http.server.request.duration/http.request.method=GET,http.response.status_code=200',
      'OTLP/http.server.request.duration/http.request.method=GET,http.response.status_code=500',
    ]);
    await page.locator('#metric-search').fill('OTLP/h');
    await page.locator('#metric-list a', { hasText: /^OTLP\/http\.server\.request\.duration$/ }).click();
    await page.locator('h1', { hasText: /^OTLP\/http\.server\.request\.duration$/ }).waitFor();
    await expect.poll(() => page.locator('.chart h3').allTextContents()).toEqual(['Calls per minute (cpm)', 'Mean with min–max band (value)', 'Percentiles (value)']);
    await shot(page, 'dashboard-explorer');
    await page.locator('#explorer-by').selectOption('agents');
    await page.locator('h1', { hasText: 'by agent' }).waitFor();
    await page.locator('#explorer-stat').selectOption('callsPerMinute');
    await expect.poll(() => page.url()).toContain('stat=callsPerMinute');
    await expect.poll(() => page.locator('.chart .u-legend .u-series .u-label').allTextContents()).toEqual(['Time', 'pod-a', 'pod-b']);
    await shot(page, 'dashboard-explorer-agents');

    // Percentiles after a real rollup to hours: the batch job's hour is read from its hour table.
    const name = encodeURIComponent('OTLP/job.duration');
    const d = await api(`applications/${batchId}/metric?last=24h&name=${name}`);
    expect(d.window.resolution).toBe('hour');
    expect(d.freshness.tablesRead.hour).toBe(1);
    expect(d.freshness.stitchedHours).not.toContain(d.timestamps[d.percentiles.p99.findIndex((v: number | null) => v !== null)]);
    expect(d.percentiles.count).toBe(100);
    for (const [k, q] of [['p50', 0.5], ['p75', 0.75], ['p95', 0.95], ['p99', 0.99]] as const) {
      // 1 % (the scheme) + half an exponential bucket of scale 8 (0.14 %).
      expect(Math.abs(d.percentiles.summary[k] - exactPercentile(q)) / exactPercentile(q)).toBeLessThanOrEqual(0.0114);
    }
    await page.goto(`${dashboard.url}/#/apps/${batchId}/explorer?last=24h&metric=${name}`);
    await page.locator('h1', { hasText: /^OTLP\/job\.duration$/ }).waitFor();
    await expect.poll(() => page.locator('.chart h3').allTextContents()).toEqual(['Calls per minute (cpm)', 'Mean with min–max band (value)', 'Percentiles (value)']);
    expect(await page.locator('.chart').nth(2).locator('.u-legend .u-series').nth(3).locator('.u-value').textContent()).toBe(
      d.percentiles.summary.p95 >= 100 ? Math.round(d.percentiles.summary.p95).toString() : d.percentiles.summary.p95.toFixed(d.percentiles.summary.p95 >= 10 ? 1 : 2),
    );
    await shot(page, 'dashboard-percentiles-after-rollup');

    await page.goto(`${dashboard.url}/#/apps/${workerId}/overview?last=30m`);
    await page.locator('h2', { hasText: 'This application reports only custom metrics' }).waitFor();
    expect(await page.locator('.empty').textContent()).toContain('OTLP/jobs.done');
    await shot(page, 'dashboard-custom-only');
    await page.close();
    expect(problems).toEqual([]);
  });
});
