import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAlerts, type AlertsHandle } from '../../alerts/alerts.js';
import { SeriesReader, metricKey } from '../../dashboard/series-reader.js';
import { startPinger, type PingerHandle } from '../../pinger/pinger.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';
import { startHttpSink, startSmtpSink, type HttpSink, type SmtpSink } from './alerts-sinks.js';

// A minute boundary ten minutes ago: the injected clock starts there and moves in 10 s steps.
const T0 = Math.floor(Date.now() / 60_000) * 60 - 600;
let clock = T0;
let c: TestCluster;
let smtp: SmtpSink;
let sink: HttpSink;
let alerts: AlertsHandle;
let pinger: PingerHandle;
let target: http.Server;
let targetPort = 0;

function startTarget(port: number): Promise<http.Server> {
  const s = http.createServer((_req, res) => res.end('shop ok'));
  return new Promise((r) => s.listen(port, '127.0.0.1', () => r(s)));
}
function stopTarget(s: http.Server): Promise<void> {
  s.closeAllConnections();
  return new Promise((r) => s.close(() => r()));
}

beforeAll(async () => {
  c = await startTestCluster({ shards: 1, now: () => clock });
  [smtp, sink] = await Promise.all([startSmtpSink('alerts', 's3cret'), startHttpSink()]);
  const config = c.config.with({
    APM_ALERTS_SMTP_HOST: '127.0.0.1', APM_ALERTS_SMTP_PORT: String(smtp.port), APM_ALERTS_SMTP_TLS: 'none',
    APM_ALERTS_SMTP_USER: 'alerts', APM_ALERTS_SMTP_PASSWORD: 's3cret', APM_ALERTS_PAGERDUTY_URL: `${sink.url}/pd`,
    APM_ALERTS_METRICS_PORT: '0', APM_PINGER_METRICS_PORT: '0', APM_ALERTS_DASHBOARD_URL: 'http://dash.test',
  });
  const deps = c.deps({ config, now: () => clock });
  alerts = await startAlerts(deps, { schedule: false });
  pinger = await startPinger(deps, { timer: false });
  target = await startTarget(0);
  targetPort = (target.address() as AddressInfo).port;
});
afterAll(async () => {
  await pinger?.stop();
  await alerts?.stop();
  if (target?.listening) await stopTarget(target);
  await smtp?.stop();
  await sink?.stop();
  await c?.stop();
});

describe('availability monitoring', () => {
  it('an HTTP server stopped for 30 s gives exactly one down incident, its recovery, and one notification per channel per transition', async () => {
    const made = await c.directory.createAccount({ name: 'pinged' });
    const acc = made.account.id;
    const app = await c.directory.ensureApplication(acc, 'shop');
    const email = await alerts.store.createChannel(acc, { name: 'oncall mail', type: 'email', to: 'oncall@shop.test' });
    const hook = await alerts.store.createChannel(acc, { name: 'hook', type: 'webhook', url: `${sink.url}/hook`, secret: 'a-webhook-secret-of-some-length' });
    const pd = await alerts.store.createChannel(acc, { name: 'pd', type: 'pagerduty', routingKey: 'R0UT1NGKEY0123456789abcdefABCDEF' });
    const monitor = await pinger.store.create(acc, app.id, {
      name: 'home', url: `http://127.0.0.1:${targetPort}/`, interval: 10, timeout: 2000, bodyContains: 'ok', channels: [email.id, hook.id, pd.id],
    });
    expect(monitor.intervalSeconds).toBe(10);

    const reports = [];
    for (let t = 0; t <= 70; t += 10) {
      clock = T0 + t;
      if (t === 30) await stopTarget(target); // down from 25 s to 55 s of the injected clock
      if (t === 60) target = await startTarget(targetPort);
      if (t === 50) {
        // On call acknowledges the open incident: PagerDuty gets an acknowledge event, nobody else is told.
        const [open] = await alerts.incidents.list(acc, { state: 'open' });
        expect((await alerts.incidents.acknowledge(acc, open!.id, 'alice', clock)).acknowledgedBy).toBe('alice');
      }
      reports.push(await pinger.tickNow());
      await alerts.deliverNow();
    }
    expect(reports.map((r) => r!.checked)).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    expect(reports.map((r) => r!.failed)).toEqual([0, 0, 0, 1, 1, 1, 0, 0]);
    expect(reports.map((r) => r!.opened + r!.closed)).toEqual([0, 0, 0, 0, 1, 0, 1, 0]);

    const incidents = await alerts.incidents.list(acc);
    expect(incidents).toHaveLength(1);
    const inc = incidents[0]!;
    expect(inc).toMatchObject({ kind: 'down', sourceId: monitor.id, level: 'critical', state: 'closed', openedAt: T0 + 40, closedAt: T0 + 60, applicationId: app.id });
    expect(inc).toMatchObject({ acknowledgedBy: 'alice', acknowledgedAt: T0 + 50 });
    expect(inc.notifications!.map((n) => [n.transition, n.channelId, n.state, n.attempts])).toEqual([
      ['open', email.id, 'sent', 1], ['open', hook.id, 'sent', 1], ['open', pd.id, 'sent', 1],
      ['ack', pd.id, 'sent', 1],
      ['close', email.id, 'sent', 1], ['close', hook.id, 'sent', 1], ['close', pd.id, 'sent', 1],
    ]);
    await expect(alerts.incidents.acknowledge(acc, inc.id, 'bob', clock)).rejects.toThrow(`cannot acknowledge incident ${inc.id}: it is resolved`);

    // Email: two real SMTP deliveries (authenticated), text with the incident id and the chart link.
    expect(smtp.mails).toHaveLength(2);
    expect(smtp.mails.map((m) => m.headers.get('x-apm-incident'))).toEqual([String(inc.id), String(inc.id)]);
    expect(smtp.mails.map((m) => m.to)).toEqual([['oncall@shop.test'], ['oncall@shop.test']]);
    expect(smtp.mails[0]!.text).toContain(`OPENED: home is down (http://127.0.0.1:${targetPort}/)`);
    expect(smtp.mails[0]!.text).toContain(`#${inc.id} (down)`);
    expect(smtp.mails[0]!.text).toContain(`http://dash.test/#/apps/${app.id}/overview?from=`);
    expect(smtp.mails[0]!.text).toContain('<a href=');
    expect(smtp.mails[1]!.text).toContain('RESOLVED: home is down');

    // Webhook: two signed JSON posts.
    const hooks = sink.posts.filter((p) => p.path === '/hook');
    expect(hooks.map((p) => p.json.event)).toEqual(['open', 'close']);
    for (const p of hooks) {
      const ts = String(p.headers['x-apm-timestamp']);
      const want = `sha256=${createHmac('sha256', 'a-webhook-secret-of-some-length').update(`${ts}.${p.body}`).digest('hex')}`;
      expect(p.headers['x-apm-signature']).toBe(want);
      expect(p.json).toMatchObject({ version: 1, incident: { id: inc.id, kind: 'down', level: 'critical' }, application: { id: app.id, name: 'shop' }, account: { id: acc } });
    }
    // PagerDuty: trigger, acknowledge, resolve with one dedup_key.
    const events = sink.posts.filter((p) => p.path === '/pd').map((p) => p.json);
    expect(events.map((e) => [e.event_action, e.dedup_key, e.routing_key])).toEqual([
      ['trigger', `apm-incident-${inc.id}`, 'R0UT1NGKEY0123456789abcdefABCDEF'],
      ['acknowledge', `apm-incident-${inc.id}`, 'R0UT1NGKEY0123456789abcdefABCDEF'],
      ['resolve', `apm-incident-${inc.id}`, 'R0UT1NGKEY0123456789abcdefABCDEF'],
    ]);
    expect(events[0].payload).toMatchObject({ severity: 'critical', source: 'shop' });

    // The checks are timeslices of the application: 8 checks, 3 failures (counted like errors).
    const { account, store } = await c.registry.storeForAccount(acc);
    const names = [{ name: 'Availability/home', scope: '' }, { name: 'Errors/Availability/home', scope: '' }];
    const r = await new SeriesReader({ maxPoints: 500, maxStitchTables: 12 }).read(store, account, app.id, names, { from: T0, to: T0 + 120 }, T0 + 120, 'total');
    expect(r.data.get(metricKey(names[0]!))?.get(0)?.callCount).toBe(8);
    expect(r.data.get(metricKey(names[1]!))?.get(0)?.callCount).toBe(3);
    const sent = (await alerts.registry.getSingleMetric('apm_alerts_notifications_total')!.get()).values;
    expect(sent.filter((v) => v.labels.outcome === 'sent').reduce((n, v) => n + v.value, 0)).toBe(7);
  }, 60_000);
});
