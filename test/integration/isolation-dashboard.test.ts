import { lineLog } from '../../lib/log/log.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard, type DashboardHandle } from '../../dashboard/dashboard.js';
import { freePort } from '../harness/ports.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';

/** Issue #18 parts 9 and 10: the dashboard answers 503 + Retry-After when a shard is down, naming the problem, not SQL. */
let c: TestCluster;
let dashboard: DashboardHandle;
const logs: string[] = [];

beforeAll(async () => {
  c = await startTestCluster({ shards: 1 });
  dashboard = await startDashboard(c.deps({ log: lineLog((l) => logs.push(l)), config: c.config.with({ APM_DASHBOARD_PORT: '0', APM_DASHBOARD_METRICS_PORT: '0' }) }));
});
afterAll(async () => {
  await dashboard?.stop();
  await c?.stop();
});

describe('dashboard with a shard down', () => {
  it('answers 503 with Retry-After and a message naming the problem; the driver details only reach the log', async () => {
    const made = await c.directory.createAccount({ name: 'down' });
    const app = await c.directory.ensureApplication(made.account.id, 'web');
    const dead = await c.directory.addShard(`127.0.0.1:${await freePort()}`, 'closed');
    await c.directory.setAccountShard(made.account.id, dead.id);
    c.registry.forgetAccount(made.account.id);
    const res = await fetch(`${dashboard.url}/api/applications/${app.id}/overview?last=30m`, { headers: { 'X-Api-Key': made.readKey } });
    const body = await res.json();
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('10');
    expect(body).toEqual({ error: "cannot answer overview: the account's storage is unavailable" });
    expect(logs.some((l) => l.startsWith('overview answered 503: '))).toBe(true);
  });
});
