import type { Account, Directory } from '../lib/directory/directory.js';
import { MonitorStore } from '../pinger/monitor-store.js';
import { AlertStore } from './alert-store.js';
import { IncidentStore } from './incident-store.js';
import { POLICY_METRICS } from './policy-metrics.js';

/**
 * What the dashboard's alerts page shows for the signed-in account (read-key scoped, GET /api/alerts):
 * policies (with their units), channels (name and type only: no addresses, URLs or secrets), the 100
 * newest incidents with their notifications, and the monitors with their last result. The page reads
 * availability % and response time per monitor from the metric API (`Availability/<monitor>` and
 * `Errors/Availability/<monitor>`).
 */
export function alertsReadView(directory: Directory): (account: Account) => Promise<unknown> {
  const alerts = new AlertStore(directory);
  const incidents = new IncidentStore(directory.db.promise);
  const monitors = new MonitorStore(directory, []);
  return async (account) => {
    const [policies, channels, recent, mons] = await Promise.all([alerts.listPolicies(account.id), alerts.listChannels(account.id), incidents.list(account.id, { limit: 100 }), monitors.list(account.id)]);
    return {
      policies: policies.map((p) => ({ ...p, unit: POLICY_METRICS[p.metric].unit, direction: POLICY_METRICS[p.metric].direction, label: POLICY_METRICS[p.metric].label })),
      channels: channels.map((c) => ({ id: c.id, name: c.name, type: c.config.type })),
      incidents: recent,
      monitors: mons.map((m) => ({ id: m.id, applicationId: m.applicationId, name: m.name, url: m.url, intervalSeconds: m.intervalSeconds, enabled: m.enabled, failures: m.failures, lastStatus: m.lastStatus, lastCheckedAt: m.lastCheckedAt })),
    };
  };
}
