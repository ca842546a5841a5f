// @ts-check
// The alerts page of an application (#/apps/<id>/alerts): its open and recent incidents with the
// notifications sent, its policies, and its availability monitors with availability % and mean
// response time over the chosen window. Data: GET /api/alerts (the account's alerting state) and the
// metric API for Availability/<monitor>. Every server text goes in through textContent.
import { api, state } from './app.js';
import { markIncidents, timeChart } from './charts.js';
import { fixed, ms, scaled, when } from './format.js';

/** @param {string} tag @param {Record<string,string>} [attrs] @param {Array<Node|string>} children */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

/** @param {string[]} head @param {string[][]} rows @param {string} [id] */
function table(head, rows, id) {
  return el('table', { class: 'data', ...(id ? { id } : {}) }, el('thead', {}, el('tr', {}, ...head.map((h) => el('th', {}, h)))), el('tbody', {}, ...rows.map((r) => el('tr', {}, ...r.map((c) => el('td', {}, c))))));
}

/** @param {any} p */
function condition(p) {
  const lvl = (/** @type {string} */ name, /** @type {number|null} */ v) => (v == null ? '' : `${name} ${p.direction} ${Number(v.toPrecision(6))} ${p.unit}`);
  return `${p.label}: ${[lvl('critical', p.critical), lvl('warning', p.warning)].filter(Boolean).join(', ')} for ${p.durationMinutes} min`;
}

/** @param {any} i */
function notified(i) {
  const n = i.notifications ?? [];
  const by = (/** @type {string} */ s) => n.filter((x) => x.state === s).length;
  return `${by('sent')} sent${by('pending') ? `, ${by('pending')} pending` : ''}${by('failed') ? `, ${by('failed')} failed` : ''}`;
}

/** Availability % and mean response time of a monitor over the window, from its timeslices. @param {any} app @param {any} m @param {Record<string,string>} window */
async function availability(app, m, window) {
  const [all, errors] = await Promise.all([
    api(`applications/${app.id}/metric`, { name: `Availability/${m.name}`, ...window }),
    api(`applications/${app.id}/metric`, { name: `Errors/Availability/${m.name}`, ...window }),
  ]);
  const checks = all.summary?.callCount ?? 0;
  const failed = errors.summary?.callCount ?? 0;
  return { checks, failed, pct: checks > 0 ? `${fixed(100 * (1 - failed / checks))} %` : '–', mean: checks > 0 ? ms(all.summary.totalTime / checks) : '–' };
}

/** @param {HTMLElement} view @param {any} app @param {{window: Record<string,string>}} r */
export async function renderAlerts(view, app, r) {
  const data = await api('alerts');
  if (!view.isConnected) return;
  const incidents = data.incidents.filter((/** @type {any} */ i) => i.applicationId === app.id);
  const open = incidents.filter((/** @type {any} */ i) => i.state === 'open');
  const policies = data.policies.filter((/** @type {any} */ p) => p.applicationId === app.id);
  const monitors = data.monitors.filter((/** @type {any} */ m) => m.applicationId === app.id);
  const channels = new Map(data.channels.map((/** @type {any} */ c) => [c.id, `${c.name} (${c.type})`]));
  view.append(el('h1', {}, `Alerts · ${app.name}`));
  view.append(el('div', { class: 'tiles' },
    el('div', { class: `tile${open.length ? ' alerting' : ''}`, id: 'open-incidents' }, el('div', { class: 'label' }, 'Open incidents'), el('div', { class: 'value' }, String(open.length))),
    el('div', { class: 'tile' }, el('div', { class: 'label' }, 'Policies'), el('div', { class: 'value' }, String(policies.length))),
    el('div', { class: 'tile' }, el('div', { class: 'label' }, 'Monitors'), el('div', { class: 'value' }, String(monitors.length)))));

  view.append(el('h2', {}, 'Incidents'));
  if (incidents.length === 0) view.append(el('p', { class: 'note' }, 'No incidents.'));
  else view.append(table(['#', 'level', 'state', 'what', 'opened', 'closed', 'acknowledged', 'notifications'], incidents.map((/** @type {any} */ i) => [
    String(i.id), i.level, i.state, i.title, when(i.openedAt), i.closedAt ? when(i.closedAt) : '', i.acknowledgedBy ? `${i.acknowledgedBy}, ${when(i.acknowledgedAt)}` : '', notified(i),
  ]), 'incidents'));

  await incidentCharts(view, app, r, incidents);
  if (!view.isConnected) return;

  view.append(el('h2', {}, 'Policies'));
  if (policies.length === 0) view.append(el('p', { class: 'note' }, `No policies. Add one: npm run apm -- alerts add ${state.account?.id ?? '<account>'} ${app.id} "error rate" --metric error_rate --warning 2% --critical 5% --for 3m`));
  else view.append(table(['name', 'condition', 'channels', 'enabled'], policies.map((/** @type {any} */ p) => [
    p.name, condition(p), p.channels.map((/** @type {number} */ c) => channels.get(c) ?? `#${c}`).join(', ') || '(none)', p.enabled ? 'yes' : 'no',
  ]), 'policies'));

  view.append(el('h2', {}, 'Availability monitors'));
  if (monitors.length === 0) {
    view.append(el('p', { class: 'note' }, 'No monitors. The pinger checks URLs you add with: npm run apm -- monitors add <account> <app> <name> --url https://… --interval 30'));
    return;
  }
  const figures = await Promise.all(monitors.map((/** @type {any} */ m) => availability(app, m, r.window)));
  if (!view.isConnected) return;
  view.append(table(['name', 'URL', 'every', 'availability', 'mean response', 'checks (failed)', 'last result'], monitors.map((/** @type {any} */ m, /** @type {number} */ k) => [
    m.name, m.url, `${m.intervalSeconds} s`, figures[k].pct, figures[k].mean, `${figures[k].checks} (${figures[k].failed})`, m.lastStatus ? `${m.lastStatus}${m.lastCheckedAt ? ` · ${when(m.lastCheckedAt)}` : ''}` : 'not checked yet',
  ]), 'monitors'));
}

/** The application's main charts over the window, with its incidents shaded. @param {HTMLElement} view @param {any} app @param {{window: Record<string,string>}} r @param {any[]} incidents */
async function incidentCharts(view, app, r, incidents) {
  const d = await api(`applications/${app.id}/overview`, r.window);
  if (!view.isConnected) return;
  view.append(el('h2', {}, 'Incidents on the charts'));
  const box = el('div', { class: 'charts', id: 'incident-charts' });
  view.append(box);
  const specs = [
    { title: 'Error rate', unit: '%', values: scaled(d.series.errorRate, 100) },
    { title: 'Apdex', unit: 'score', values: d.series.apdex, max: 1 },
    { title: 'Response time', unit: 'ms', values: scaled(d.series.responseTime, 1000) },
    { title: 'Throughput', unit: 'rpm', values: d.series.throughput },
  ];
  let marked = 0;
  for (const s of specs) {
    const u = timeChart(box, { title: s.title, unit: s.unit, timestamps: d.timestamps, series: [{ label: s.title, values: s.values }], ...(s.max ? { max: s.max } : {}) });
    marked = markIncidents(u, incidents);
  }
  box.dataset.incidents = String(marked);
}
