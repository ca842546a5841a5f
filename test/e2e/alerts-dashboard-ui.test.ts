import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertStore } from '../../alerts/alert-store.js';
import { startDashboard, type DashboardHandle } from '../../dashboard/dashboard.js';
import { startPinger, type PingerHandle } from '../../pinger/pinger.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';
import { freePort } from '../harness/ports.js';

/**
 * The alerts page in headless Chromium: a monitored server answers one check and then is stopped, so
 * the pinger opens a down incident; the page shows the incident, the policy and the monitor's
 * availability from its Availability/<monitor> timeslices; the Overview shades the incident on its charts.
 */
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
let c: TestCluster;
let dashboard: DashboardHandle;
let pinger: PingerHandle;
let context: BrowserContext;
let userDataDir = '';
let clock = Math.floor(Date.now() / 1000) - 120;

beforeAll(async () => {
  c = await startTestCluster({ shards: 1 });
  const config = c.config.with({ APM_DASHBOARD_PORT: String(await freePort()), APM_DASHBOARD_METRICS_PORT: '0', APM_PINGER_METRICS_PORT: '0' });
  dashboard = await startDashboard(c.deps({ config }));
  pinger = await startPinger(c.deps({ config, now: () => clock }), { timer: false });
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'apm-alerts-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, { executablePath: '/usr/bin/chromium', headless: true, args: FLAGS });
}, 60_000);
afterAll(async () => {
  await context?.close();
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
  await pinger?.stop();
  await dashboard?.stop();
  await c?.stop();
});

describe('the dashboard alerts page', () => {
  it('shows the open incident, the policies and the monitors with their availability', async () => {
    const made = await c.directory.createAccount({ name: 'ui' });
    const acc = made.account.id;
    const app = await c.directory.ensureApplication(acc, 'shop');
    // Five minutes of web traffic, so the Overview draws its charts (the incident is shaded there too).
    const { store } = await c.registry.storeForAccount(acc);
    const ids = await store.metricIds(acc, [{ name: 'HttpDispatcher', scope: '' }, { name: 'WebTransaction', scope: '' }], { applicationId: app.id });
    const agentId = await store.applicationAgentId(acc, app.id);
    const minute0 = Math.floor(Date.now() / 60_000) * 60 - 300;
    const slice = { callCount: 10, totalTime: 1, exclusiveTime: 1, minTime: 0.1, maxTime: 0.1, sumOfSquares: 0.1 };
    const rows = [0, 1, 2, 3, 4].flatMap((k) => ids.map((metricId) => ({ kind: 'minute' as const, t: minute0 + k * 60, row: { ...slice, metricId, agentId, period: minute0 + k * 60 } })));
    await c.writer.write({ accountId: acc, shardId: made.account.shardId, rows });
    const alerts = new AlertStore(c.directory);
    const mail = await alerts.createChannel(acc, { name: 'oncall', type: 'email', to: 'oncall@shop.test' });
    await alerts.createPolicy(acc, app.id, { name: 'errors', metric: 'error_rate', critical: '5%', duration: 3, channels: [mail.id] });
    const target = http.createServer((_q, res) => res.end('ok'));
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(target.address() as AddressInfo).port}/`;
    await pinger.store.create(acc, app.id, { name: 'home', url, interval: 10, timeout: 1000 });
    await pinger.tickNow();
    target.closeAllConnections();
    await new Promise((r) => target.close(r));
    for (const step of [10, 10]) {
      clock += step;
      await pinger.tickNow();
    }

    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${dashboard.url}/`);
    await page.locator('#key').fill(made.readKey);
    await page.locator('#sign-in-form button').click();
    await page.locator('#tabs a[data-page="alerts"]').click();
    await page.locator('#monitors').waitFor();
    expect(await page.locator('#open-incidents .value').textContent()).toBe('1');
    const incident = await page.locator('#incidents tbody tr').first().locator('td').allTextContents();
    expect(incident.slice(1, 4)).toEqual(['critical', 'open', `home is down (${url})`]);
    expect(incident[7]).toBe('0 sent'); // the monitor has no channels
    expect(await page.locator('#policies tbody tr td').allTextContents()).toEqual(['errors', 'error rate: critical above 5 % for 3 min', 'oncall (email)', 'yes']);
    const monitor = await page.locator('#monitors tbody tr td').allTextContents();
    expect(monitor.slice(0, 1).concat(monitor.slice(2, 4), monitor.slice(5, 6))).toEqual(['home', '10 s', '33.3 %', '3 (2)']);
    // The incident is shaded on the application's four charts.
    expect(await page.locator('#incident-charts').getAttribute('data-incidents')).toBe('1');
    expect(await page.locator('#incident-charts .chart canvas').count()).toBe(4);
    await page.screenshot({ path: path.resolve('test-output', 'dashboard-alerts.png'), fullPage: true });
    // The Overview shades the same incident on its charts (from the same /api/alerts data).
    await page.locator('#tabs a[data-page="overview"]').click();
    await page.locator('#overview-charts').waitFor();
    expect(await page.locator('#overview-charts').getAttribute('data-incidents')).toBe('1');
    expect(await page.locator('#overview-charts .chart canvas').count()).toBe(4);
    await page.screenshot({ path: path.resolve('test-output', 'dashboard-overview-incidents.png'), fullPage: true });
    expect(errors).toEqual([]);
  }, 60_000);
});
