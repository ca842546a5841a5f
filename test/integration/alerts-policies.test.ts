import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAlerts, type AlertsHandle } from '../../alerts/alerts.js';
import { openStorage, type Storage } from '../../lib/storage.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';
import { startHttpSink, startSmtpSink, type HttpSink, type SmtpSink } from './alerts-sinks.js';

const T0 = Math.floor(Date.now() / 60_000) * 60 - 3600;
let clock = T0;
let c: TestCluster;
let second: Storage;
let smtp: SmtpSink;
let sink: HttpSink;
let a: AlertsHandle;
let b: AlertsHandle;

beforeAll(async () => {
  c = await startTestCluster({ shards: 1, now: () => clock });
  [smtp, sink] = await Promise.all([startSmtpSink('u', 'p'), startHttpSink()]);
  const config = c.config.with({
    APM_ALERTS_SMTP_HOST: '127.0.0.1', APM_ALERTS_SMTP_PORT: String(smtp.port), APM_ALERTS_SMTP_TLS: 'none', APM_ALERTS_SMTP_USER: 'u', APM_ALERTS_SMTP_PASSWORD: 'p',
    APM_ALERTS_PAGERDUTY_URL: `${sink.url}/pd`, APM_ALERTS_METRICS_PORT: '0', APM_ALERTS_SETTLE_SECONDS: '30',
  });
  // Two alert "processes": each with its own directory and shard pools (its own connections and locks).
  second = await openStorage(config, { shardAddresses: c.servers.map((s) => s.address), registry: new Registry(), now: () => clock });
  a = await startAlerts(c.deps({ config, now: () => clock }), { schedule: false });
  b = await startAlerts({ ...c.deps({ config, now: () => clock }), directory: second.directory, shards: second.shards, writer: second.writer }, { schedule: false });
});
afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await second?.close();
  await smtp?.stop();
  await sink?.stop();
  await c?.stop();
});

/** Writes one minute of an application's server metrics (requests, errors) for its pseudo-agent. */
async function writeMinute(accountId: number, applicationId: number, minute: number, requests: number, errors: number): Promise<void> {
  const { account, store } = await c.registry.storeForAccount(accountId);
  const names = [{ name: 'HttpDispatcher', scope: '' }, { name: 'WebTransaction', scope: '' }, { name: 'Errors/all', scope: '' }];
  const ids = await store.metricIds(accountId, names, { applicationId });
  const agentId = await store.applicationAgentId(accountId, applicationId);
  const slice = (n: number, seconds: number) => ({ callCount: n, totalTime: n * seconds, exclusiveTime: n * seconds, minTime: seconds, maxTime: seconds, sumOfSquares: n * seconds * seconds });
  const rows = [slice(requests, 0.1), slice(requests, 0.1), { ...slice(errors, 0), minTime: 0, maxTime: 0 }]
    .map((s, i) => ({ kind: 'minute' as const, t: minute, row: { ...s, metricId: ids[i]!, agentId, period: minute } }))
    .filter((r) => r.row.callCount > 0);
  await c.writer.write({ accountId, shardId: account.shardId, rows });
}

describe('alert policies', () => {
  it('refuses a bad policy with the field named, and writes nothing', async () => {
    const made = await c.directory.createAccount({ name: 'bad input' });
    const app = await c.directory.ensureApplication(made.account.id, 'api');
    await expect(a.store.createPolicy(made.account.id, app.id, { name: 'p', metric: 'cpu', critical: 1 })).rejects.toThrow('metric "cpu" is unknown');
    await expect(a.store.createPolicy(made.account.id, app.id, { name: 'p', metric: 'response_time', critical: '5%' })).rejects.toThrow('critical "5%" has the wrong unit for response_time');
    await expect(a.store.createPolicy(made.account.id, app.id, { name: 'p', metric: 'error_rate', critical: 5, channels: [999] })).rejects.toThrow('channels names unknown channel 999');
    await expect(a.store.createPolicy(made.account.id, 'nope', { name: 'p', metric: 'error_rate', critical: 5 })).rejects.toThrow('application "nope" is not an application of account');
    expect(await a.store.listPolicies(made.account.id)).toEqual([]);
  });

  it('two alert processes racing evaluate each policy once per minute and send each notification once', async () => {
    const made = await c.directory.createAccount({ name: 'race' });
    const acc = made.account.id;
    const hook = await a.store.createChannel(acc, { name: 'hook', type: 'webhook', url: `${sink.url}/race`, secret: 'race-secret-0123456789' });
    const apps = await Promise.all([1, 2, 3, 4, 5].map((i) => c.directory.ensureApplication(acc, `svc-${i}`)));
    const policies = [];
    for (const app of apps) {
      for (const k of [1, 2, 3, 4]) {
        policies.push(await a.store.createPolicy(acc, app.id, { name: `${app.name} errors ${k}`, metric: 'error_rate', warning: `${k}%`, critical: `${k + 10}%`, duration: 2, channels: [hook.id] }));
      }
    }
    const m = T0;
    for (const app of apps) for (const minute of [m, m + 60]) await writeMinute(acc, app.id, minute, 100, 50);
    clock = m + 120 + 30; // both minutes settled
    const [ra, rb] = await Promise.all([a.runNow(), b.runNow()]);
    expect(ra!.evaluation.policies + rb!.evaluation.policies).toBe(20);
    expect(ra!.evaluation.policyMinutes + rb!.evaluation.policyMinutes).toBe(40);
    expect(ra!.evaluation.transitions + rb!.evaluation.transitions).toBe(20);
    await Promise.all([a.deliverNow(), b.deliverNow()]);
    const raced = () => sink.posts.filter((p) => p.path === '/race').map((p) => p.json);
    expect(raced()).toHaveLength(20);
    expect(new Set(raced().map((e) => e.incident.id)).size).toBe(20);
    expect(raced().every((e) => e.event === 'open' && e.incident.level === 'critical')).toBe(true);
    // Running again in the same minute does nothing.
    const [again1, again2] = await Promise.all([a.runNow(), b.runNow()]);
    expect(again1!.evaluation.policyMinutes + again2!.evaluation.policyMinutes).toBe(0);

    // Recovery: two clean minutes close every incident once.
    for (const app of apps) for (const minute of [m + 120, m + 180]) await writeMinute(acc, app.id, minute, 100, 0);
    clock = m + 240 + 30;
    const [rc, rd] = await Promise.all([a.runNow(), b.runNow()]);
    expect(rc!.evaluation.transitions + rd!.evaluation.transitions).toBe(20);
    await Promise.all([a.deliverNow(), b.deliverNow()]);
    expect(raced()).toHaveLength(40);
    expect(raced().filter((e) => e.event === 'close')).toHaveLength(20);
    const incidents = await a.incidents.list(acc, { limit: 100 });
    expect(incidents.map((i) => i.state)).toEqual(Array(20).fill('closed'));
    expect((await a.incidents.openIncidentsByApplication(acc)).size).toBe(0);
  }, 60_000);

  it('no data neither opens nor closes; a failing channel is retried with backoff without holding up the others', async () => {
    const made = await c.directory.createAccount({ name: 'retry' });
    const acc = made.account.id;
    const app = await c.directory.ensureApplication(acc, 'web');
    const mail = await a.store.createChannel(acc, { name: 'mail', type: 'email', to: 'ops@web.test' });
    const hook = await a.store.createChannel(acc, { name: 'hook', type: 'webhook', url: `${sink.url}/flaky`, secret: 'flaky-secret-0123456789' });
    const policy = await a.store.createPolicy(acc, app.id, { name: 'errors', metric: 'error_rate', critical: '10%', duration: 1, channels: [mail.id, hook.id] });
    const m = T0 + 600;
    clock = m + 60 + 30;
    // A minute without any data: "no data", nothing opens.
    expect((await a.runNow())!.evaluation.transitions).toBe(0);
    await writeMinute(acc, app.id, m + 60, 10, 5);
    sink.failures.set('/flaky', 2);
    const mailsBefore = smtp.mails.length;
    clock = m + 120 + 30;
    const r = await a.runNow();
    expect(r!.evaluation.transitions).toBe(1);
    expect(r!.delivery).toEqual({ sent: 1, retried: 1, failed: 0 });
    expect(smtp.mails.length - mailsBefore).toBe(1);
    const open = (await a.incidents.openIncidentsByApplication(acc)).get(app.id)!;
    expect(open.map((i) => [i.sourceId, i.level, i.state])).toEqual([[policy.id, 'critical', 'open']]);
    // Minutes without data later neither close the incident nor count as clear.
    // The run's delivery pass retries the webhook (due 30 s after the first attempt): it fails again.
    clock = m + 300 + 30;
    expect(await a.runNow()).toMatchObject({ evaluation: { transitions: 0 }, delivery: { sent: 0, retried: 1, failed: 0 } });
    // The next attempt waits 60 s.
    clock += 59;
    expect(await a.deliverNow()).toEqual({ sent: 0, retried: 0, failed: 0 });
    clock += 1;
    expect(await a.deliverNow()).toEqual({ sent: 1, retried: 0, failed: 0 });
    const [inc] = await a.incidents.list(acc);
    expect(inc!.notifications!.map((n) => [n.channelId, n.state, n.attempts])).toEqual([[mail.id, 'sent', 1], [hook.id, 'sent', 3]]);
    expect(sink.posts.filter((p) => p.path === '/flaky')).toHaveLength(1);
    const acked = await a.incidents.acknowledge(acc, inc!.id, 'alice', clock);
    expect([acked.acknowledgedBy, acked.acknowledgedAt]).toEqual(['alice', clock]);
    // Removing the policy resolves its open incident and notifies both channels once.
    await a.store.deletePolicy(acc, policy.id, clock);
    expect(await a.incidents.get(inc!.id)).toMatchObject({ state: 'closed', closedAt: clock });
    expect(await a.deliverNow()).toEqual({ sent: 2, retried: 0, failed: 0 });
    expect(sink.posts.filter((p) => p.path === '/flaky').map((p) => p.json.event)).toEqual(['open', 'close']);
    await expect(a.store.deletePolicy(acc, policy.id, clock)).rejects.toThrow(`cannot delete policy ${policy.id}: no such policy`);
  }, 60_000);
  it('keeps closed incidents as long as the plan keeps daily data (free: 365 days, paid: for ever)', async () => {
    const free = await c.directory.createAccount({ name: 'history free', plan: 'free' });
    const paid = await c.directory.createAccount({ name: 'history paid', plan: 'paid' });
    const pool = c.directory.db.promise;
    const now = Math.floor(Date.now() / 1000);
    const insert = async (accountId: number, sourceId: number, closedAt: number | null) => {
      const [r] = await pool.query<any>(
        "INSERT INTO alert_incidents (account_id, application_id, kind, source_id, title, level, state, active, opened_at, updated_at, closed_at, detail) VALUES (?, 1, 'policy', ?, 't', 'warning', ?, ?, ?, ?, ?, '{}')",
        [accountId, sourceId, closedAt === null ? 'open' : 'closed', closedAt === null ? 1 : null, (closedAt ?? now) - 60, closedAt ?? now, closedAt],
      );
      await pool.query("INSERT INTO alert_notifications (incident_id, seq, transition, channel_id, state, next_attempt_at) VALUES (?, 1, 'open', 1, 'sent', 0)", [r.insertId]);
      return Number(r.insertId);
    };
    const old = await insert(free.account.id, 900001, now - 366 * 86400);
    const recent = await insert(free.account.id, 900002, now - 364 * 86400);
    const ancientOpen = await insert(free.account.id, 900003, null);
    const paidOld = await insert(paid.account.id, 900004, now - 3000 * 86400);
    expect(await a.incidents.purge(now)).toBe(1);
    const [left] = await pool.query<any[]>('SELECT id FROM alert_incidents WHERE id IN (?, ?, ?, ?) ORDER BY id', [old, recent, ancientOpen, paidOld]);
    expect(left.map((r) => Number(r.id))).toEqual([recent, ancientOpen, paidOld]);
    const [notes] = await pool.query<any[]>('SELECT COUNT(*) AS n FROM alert_notifications WHERE incident_id = ?', [old]);
    expect(Number(notes[0].n)).toBe(0);
  });
});
