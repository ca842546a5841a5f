import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdmin, type AdminHandle } from '../../admin/admin.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';
import { freePort } from '../harness/ports.js';
import { runCliCaptured } from '../harness/cli-capture.js';

let c: TestCluster;
let admin: AdminHandle;
const TOKEN = 'test-admin-token-0123456789abcdef';
let env: Record<string, string>;

async function call(method: string, route: string, body?: object) {
  const r = await fetch(`${admin.url}${route}`, { method, headers: { Authorization: `Bearer ${TOKEN}` }, ...(body ? { body: JSON.stringify(body) } : {}) });
  return { status: r.status, json: (await r.json()) as any };
}

const cli = (...argv: string[]) => runCliCaptured(argv, env);

beforeAll(async () => {
  c = await startTestCluster({ shards: 1 });
  const config = c.config.with({ APM_ADMIN_PORT: String(await freePort()), APM_ADMIN_METRICS_PORT: String(await freePort()), APM_ADMIN_TOKEN: TOKEN, APM_PINGER_ALLOWED_HOSTS: '127.0.0.1,.shop.test' });
  admin = await startAdmin(c.deps({ config }));
  env = { APM_SHARDS: c.servers.map((s) => `${s.address.host}:${s.address.port}`).join(','), APM_DATA_DIR: c.dataDir, APM_PINGER_ALLOWED_HOSTS: '127.0.0.1,.shop.test' };
});
afterAll(async () => {
  await admin?.stop();
  await c?.stop();
});

describe('apm alerts and apm monitors', () => {
  it('create channels, policies and monitors; refuse bad input naming the field; list incidents', async () => {
    const made = await c.directory.createAccount({ name: 'cli' });
    const acc = String(made.account.id);
    await c.directory.ensureApplication(made.account.id, 'shop');
    const ch = await cli('alerts', 'channels', 'add', acc, 'ops', '--type', 'email', '--to', 'ops@shop.test', '--json');
    expect(ch.code).toBe(0);
    const channel = JSON.parse(ch.out);
    expect(channel).toMatchObject({ name: 'ops', type: 'email', target: 'ops@shop.test' });
    const hook = await cli('alerts', 'channels', 'add', acc, 'hook', '--type', 'webhook', '--url', 'https://hooks.shop.test/x');
    expect(hook.out).toMatch(/^channel [0-9]+ "hook" \(webhook\) added\nwebhook secret \(HMAC-SHA256 key of the x-apm-signature header\): [A-Za-z0-9_-]{32}$/);

    const added = await cli('alerts', 'add', acc, 'shop', 'slow', '--metric', 'response_time', '--warning', '500ms', '--critical', '2s', '--for', '3m', '--channels', String(channel.id), '--json');
    expect(added.code).toBe(0);
    expect(JSON.parse(added.out)).toMatchObject({ name: 'slow', metric: 'response_time', warning: '500 ms', critical: '2000 ms', minutes: 3, channels: String(channel.id), enabled: true });
    const bad = await cli('alerts', 'add', acc, 'shop', 'bad', '--metric', 'apdex', '--critical', '85%');
    expect(bad).toMatchObject({ code: 2, err: 'apm: cannot accept policy: critical "85%" has the wrong unit for apdex (Apdex is in score; write a plain number)' });
    expect((await cli('alerts', 'add', acc, 'shop', 'bad', '--metric', 'cpu', '--critical', '1')).err).toContain('metric "cpu" is unknown');
    const list = JSON.parse((await cli('alerts', 'list', acc, '--json')).out);
    expect(list.map((p: any) => p.name)).toEqual(['slow']);
    expect((await cli('alerts', 'add', '--help')).out).toContain('usage: apm alerts add <account> <app> <name> --metric m');

    const mon = await cli('monitors', 'add', acc, 'shop', 'home', '--url', 'https://www.shop.test/health', '--interval', '15', '--json');
    expect(JSON.parse(mon.out)).toMatchObject({ name: 'home', url: 'https://www.shop.test/health', every: '15s', timeout: '10000ms', expect: 200 });
    expect((await cli('monitors', 'add', acc, 'shop', 'evil', '--url', 'http://169.254.169.254/')).err).toContain('url host 169.254.169.254 is not allowed by APM_PINGER_ALLOWED_HOSTS');
    expect((await cli('monitors', 'add', acc, 'shop', 'x', '--url', 'gopher://shop.test/')).err).toContain('url must be an http or https URL');
    expect(JSON.parse((await cli('alerts', 'incidents', acc, '--json')).out)).toEqual([]);
    expect((await cli('alerts', 'incidents', acc)).out).toBe('(none)');
  }, 60_000);

  it('the admin API: the same operations, 400 naming the field, 404 for another account', async () => {
    const made = await c.directory.createAccount({ name: 'api' });
    const acc = made.account.id;
    const app = await c.directory.ensureApplication(acc, 'web');
    const ch = await call('POST', `/admin/accounts/${acc}/alerts/channels`, { name: 'pd', type: 'pagerduty', routingKey: 'K'.repeat(32) });
    expect(ch.status).toBe(201);
    const p = await call('POST', `/admin/accounts/${acc}/alerts/policies`, { application: app.id, name: 'apdex', metric: 'apdex', warning: 0.9, critical: 0.7, duration: 5, channels: [ch.json.id] });
    expect(p).toMatchObject({ status: 201, json: { name: 'apdex', metric: 'apdex', warning: 0.9, critical: 0.7, durationMinutes: 5, channels: [ch.json.id], applicationId: app.id } });
    const bad = await call('POST', `/admin/accounts/${acc}/alerts/policies`, { application: 'web', name: 'x', metric: 'throughput', critical: '5ms' });
    expect(bad).toEqual({ status: 400, json: { error: 'cannot accept policy: critical "5ms" has the wrong unit for throughput (throughput is in rpm; write rpm or no unit)' } });
    expect((await call('GET', `/admin/accounts/${acc}/alerts/policies`)).json.policies).toHaveLength(1);
    expect((await call('GET', `/admin/accounts/${acc}/alerts/channels`)).json.channels).toEqual([{ id: ch.json.id, name: 'pd', type: 'pagerduty', routingKey: 'K'.repeat(32) }]);
    const m = await call('POST', `/admin/accounts/${acc}/monitors`, { application: 'web', name: 'api', url: 'http://127.0.0.1:9/health', interval: 10, timeout: 5000 });
    expect(m).toMatchObject({ status: 201, json: { intervalSeconds: 10, timeoutMs: 5000 } });
    expect((await call('GET', `/admin/accounts/${acc}/monitors`)).json.monitors.map((x: any) => x.name)).toEqual(['api']);
    expect((await call('DELETE', `/admin/accounts/${acc}/monitors/${m.json.id}`)).status).toBe(200);
    expect((await call('DELETE', `/admin/accounts/${acc}/alerts/policies/${p.json.id}`)).json).toEqual({ removed: p.json.id });
    expect((await call('GET', `/admin/accounts/${acc}/alerts/incidents?state=open`)).json).toEqual({ incidents: [] });
    expect((await call('GET', `/admin/accounts/${acc}/alerts/incidents?state=maybe`)).status).toBe(400);
    expect((await call('POST', `/admin/accounts/${acc}/alerts/incidents/999/ack`, { by: 'me' })).status).toBe(404);
    expect((await call('GET', '/admin/accounts/99999/alerts/policies')).status).toBe(404);
  }, 60_000);
});
