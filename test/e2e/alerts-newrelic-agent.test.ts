import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAlerts, type AlertsHandle } from '../../alerts/alerts.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';
import { startTestCollector, type RunningCollector } from '../integration/collector-newrelic-helpers.js';
import { startHttpSink, startSmtpSink, type HttpSink, type SmtpSink } from '../integration/alerts-sinks.js';
import { AGENT_NO_UTILIZATION_PROBES } from '../harness/newrelic-env.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const APP = path.join(HERE, 'collector-newrelic-app.cjs');
const CLOCK = path.join(HERE, '..', 'fixtures', 'shifted-clock.cjs');
const ROOT = path.resolve(HERE, '..', '..');
const APP_NAME = 'alerting-shop';

// The minutes the agent's traffic lands in (its clock shifted there), twenty minutes ago.
const B = Math.floor(Date.now() / 60_000) * 60 - 20 * 60;
let clock = B;
let c: TestCluster;
let col: RunningCollector;
let smtp: SmtpSink;
let sink: HttpSink;
let alerts: AlertsHandle;
const children: ChildProcess[] = [];

beforeAll(async () => {
  c = await startTestCluster({ shards: 1 });
  col = await startTestCollector(c);
  [smtp, sink] = await Promise.all([startSmtpSink('oncall', 'pw'), startHttpSink()]);
  const config = c.config.with({
    APM_ALERTS_SMTP_HOST: '127.0.0.1', APM_ALERTS_SMTP_PORT: String(smtp.port), APM_ALERTS_SMTP_TLS: 'none', APM_ALERTS_SMTP_USER: 'oncall', APM_ALERTS_SMTP_PASSWORD: 'pw',
    APM_ALERTS_PAGERDUTY_URL: `${sink.url}/pd`, APM_ALERTS_METRICS_PORT: '0',
  });
  alerts = await startAlerts(c.deps({ config, now: () => clock }), { schedule: false });
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await alerts?.stop();
  await col?.handle.stop();
  await smtp?.stop();
  await sink?.stop();
  await c?.stop();
});

function readLog(file: string): string {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').slice(-20).join('\n') : '(no agent log)';
}

/**
 * Runs the instrumented app with its clock at `minute` + 5 s: `errors` failing and `fast` good
 * requests, then shuts the agent down (it harvests on shutdown), all inside that minute.
 */
async function trafficIn(licenseKey: string, minute: number, errors: number, fast: number): Promise<void> {
  const logFile = path.join(c.dataDir, `newrelic-${minute}.log`);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: c.dataDir, TEST_CLOCK_OFFSET_MS: String((minute + 5) * 1000 - Date.now()),
    NEW_RELIC_NO_CONFIG_FILE: 'true', NEW_RELIC_APP_NAME: APP_NAME, NEW_RELIC_LICENSE_KEY: licenseKey, NEW_RELIC_HOST: 'localhost',
    NEW_RELIC_PORT: String(col.port), NEW_RELIC_CERTIFICATES: col.caPem, NEW_RELIC_LOG: logFile, NEW_RELIC_LOG_LEVEL: 'info',
    ...AGENT_NO_UTILIZATION_PROBES,
  };
  const child = spawn(process.execPath, ['--require', CLOCK, APP], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`agent app not ready in 30 s: ${stderr}\n${readLog(logFile)}`)), 30_000);
    child.stdout!.on('data', (d) => {
      out += String(d);
      const m = /READY ([0-9]+)/.exec(out);
      if (m) (clearTimeout(timer), resolve(Number(m[1])));
    });
    void exited.then((code) => reject(new Error(`agent app exited with ${code}: ${stderr}\n${readLog(logFile)}`)));
  });
  for (const [route, n] of [['/error', errors], ['/fast', fast]] as const) {
    for (let i = 0; i < n; i++) await (await fetch(`http://127.0.0.1:${port}${route}`)).text();
  }
  child.stdin!.end('shutdown\n');
  expect(await exited, readLog(logFile)).toBe(0);
}

describe('alerts on an application driven by the real newrelic agent', () => {
  it('error rate above the threshold for the duration: one email, one webhook, one PagerDuty trigger; recovery: one of each to resolve', async () => {
    const made = await c.directory.createAccount({ name: 'alerting' });
    const acc = made.account.id;
    const app = await c.directory.ensureApplication(acc, APP_NAME);
    await c.directory.updateApplication(app.id, { apdexT: 10 });
    const mail = await alerts.store.createChannel(acc, { name: 'mail', type: 'email', to: 'oncall@shop.test' });
    const hook = await alerts.store.createChannel(acc, { name: 'hook', type: 'webhook', url: `${sink.url}/hook`, secret: 'e2e-secret-0123456789' });
    const pd = await alerts.store.createChannel(acc, { name: 'pd', type: 'pagerduty', routingKey: 'E2EROUTINGKEY0123456789abcdefABCD' });
    const policy = await alerts.store.createPolicy(acc, APP_NAME, { name: 'errors', metric: 'error_rate', warning: '10%', critical: '25%', duration: '2m', channels: [mail.id, hook.id, pd.id] });

    // Two minutes at 50 % errors, then two clean minutes (four agent runs, in parallel: each has its own clock).
    await Promise.all([trafficIn(made.licenseKey, B, 4, 4), trafficIn(made.licenseKey, B + 60, 3, 3), trafficIn(made.licenseKey, B + 120, 0, 6), trafficIn(made.licenseKey, B + 180, 0, 5)]);

    clock = B + 60 + 60 + 30; // B and B+60 settled: the condition held for the duration
    const opened = await alerts.runNow();
    expect(opened!.evaluation).toMatchObject({ policies: 1, policyMinutes: 2, transitions: 1 });
    expect(opened!.delivery).toEqual({ sent: 3, retried: 0, failed: 0 });
    const [inc] = await alerts.incidents.list(acc);
    expect(inc).toMatchObject({ kind: 'policy', sourceId: policy.id, level: 'critical', state: 'open', openedAt: clock });
    expect(inc!.detail.values).toEqual([[B, 50], [B + 60, 50]]);

    clock = B + 180 + 60 + 30;
    const closed = await alerts.runNow();
    expect(closed!.evaluation).toMatchObject({ policyMinutes: 2, transitions: 1 });
    expect(closed!.delivery).toEqual({ sent: 3, retried: 0, failed: 0 });
    expect(await alerts.runNow()).toMatchObject({ evaluation: { policyMinutes: 0, transitions: 0 }, delivery: { sent: 0 } });

    const [done] = await alerts.incidents.list(acc);
    expect(done).toMatchObject({ id: inc!.id, state: 'closed', closedAt: clock });
    expect(smtp.mails).toHaveLength(2);
    expect(smtp.mails[0]!.text).toContain('OPENED: errors: error rate above 25 % for 2 min');
    expect(smtp.mails[0]!.text).toContain(`${new Date((B + 60) * 1000).toISOString()}  50 %`);
    expect(smtp.mails[1]!.text).toContain('RESOLVED: errors');
    expect(sink.posts.filter((p) => p.path === '/hook').map((p) => [p.json.event, p.json.incident.id, p.json.condition.values.length])).toEqual([['open', inc!.id, 2], ['close', inc!.id, 2]]);
    expect(sink.posts.filter((p) => p.path === '/pd').map((p) => [p.json.event_action, p.json.dedup_key])).toEqual([['trigger', `apm-incident-${inc!.id}`], ['resolve', `apm-incident-${inc!.id}`]]);
  }, 150_000);
});
