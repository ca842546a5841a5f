import { AlertStore } from '../alerts/alert-store.js';
import { IncidentStore } from '../alerts/incident-store.js';
import type { Directory } from '../lib/directory/directory.js';
import { InputError } from '../lib/errors.js';
import type { HttpResponse } from '../lib/http/uws.js';
import { MonitorStore } from '../pinger/monitor-store.js';
import type { Answer } from './admin-api.js';
import { positiveInt } from './admin-api.js';

type Route = (
  method: 'get' | 'post' | 'del',
  pattern: string,
  name: string,
  fn: (i: { params: string[]; query: URLSearchParams }, res: HttpResponse) => Promise<Answer>,
) => void;
type Body = (res: HttpResponse, what: string) => Promise<Record<string, unknown>>;

/** The application of a request body: an id (number) or a name (string). */
function application(v: unknown): number | string {
  if (typeof v === 'number') return positiveInt(v, 'application');
  if (typeof v === 'string' && v.trim()) return /^[0-9]+$/.test(v) ? Number(v) : v.trim();
  throw new InputError('cannot read application: give its id or name');
}

/**
 * Alert and monitor routes of the admin API (documented in docs/api.md and docs/alerts.md): channels,
 * policies, incidents (list, acknowledge) and availability monitors of an account.
 */
export function registerAlertRoutes(route: Route, body: Body, directory: Directory, allowedHosts: readonly string[], now: () => number): void {
  const alerts = new AlertStore(directory);
  const incidents = new IncidentStore(directory.db.promise);
  const monitors = new MonitorStore(directory, allowedHosts);
  const acc = (i: { params: string[] }) => positiveInt(i.params[0], 'account id');
  const ok = (b: unknown, status = 200): Answer => ({ status, body: b });
  const base = '/admin/accounts/:id';

  route('get', `${base}/alerts/channels`, 'alert_channels', async (i) => {
    await directory.getAccount(acc(i));
    return ok({ channels: (await alerts.listChannels(acc(i))).map((c) => ({ id: c.id, name: c.name, ...c.config, ...(c.config.type === 'webhook' ? { secret: undefined } : {}) })) });
  });
  route('post', `${base}/alerts/channels`, 'create_alert_channel', async (i, res) => ok(await alerts.createChannel(acc(i), await body(res, 'create channel')), 201));
  route('get', `${base}/alerts/policies`, 'alert_policies', async (i) => {
    await directory.getAccount(acc(i));
    return ok({ policies: await alerts.listPolicies(acc(i)) });
  });
  route('post', `${base}/alerts/policies`, 'create_alert_policy', async (i, res) => {
    const b = await body(res, 'create policy');
    return ok(await alerts.createPolicy(acc(i), application(b.application), b), 201);
  });
  route('del', `${base}/alerts/policies/:policy`, 'delete_alert_policy', async (i) => {
    await alerts.deletePolicy(acc(i), positiveInt(i.params[1], 'policy id'), now());
    return ok({ removed: Number(i.params[1]) });
  });
  route('get', `${base}/alerts/incidents`, 'alert_incidents', async (i) => {
    await directory.getAccount(acc(i));
    const state = i.query.get('state');
    if (state !== null && state !== 'open' && state !== 'closed') throw new InputError('cannot list incidents: state must be open or closed');
    const app = i.query.get('application');
    return ok({ incidents: await incidents.list(acc(i), { ...(state ? { state } : {}), ...(app ? { applicationId: positiveInt(app, 'application') } : {}), limit: 200 }) });
  });
  route('post', `${base}/alerts/incidents/:incident/ack`, 'ack_alert_incident', async (i, res) => {
    const b = await body(res, 'acknowledge incident');
    return ok(await incidents.acknowledge(acc(i), positiveInt(i.params[1], 'incident id'), typeof b.by === 'string' ? b.by : '', now()));
  });
  route('get', `${base}/monitors`, 'monitors', async (i) => {
    await directory.getAccount(acc(i));
    return ok({ monitors: await monitors.list(acc(i)) });
  });
  route('post', `${base}/monitors`, 'create_monitor', async (i, res) => {
    const b = await body(res, 'create monitor');
    return ok(await monitors.create(acc(i), application(b.application), b), 201);
  });
  route('del', `${base}/monitors/:monitor`, 'delete_monitor', async (i) => {
    await monitors.remove(acc(i), positiveInt(i.params[1], 'monitor id'), now());
    return ok({ removed: Number(i.params[1]) });
  });
}
