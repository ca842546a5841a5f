// @ts-check
// The metric explorer: every metric an application stores (New Relic, OTLP, Custom/…), searched by
// name prefix, charted as calls per minute, mean with its min–max band and, where the metric has a
// distribution, its percentiles; or one statistic compared across the application's agents (hosts).
// The route keeps the choice: #/apps/<id>/explorer?metric=…&scope=…&stat=…&by=agents.
import { api, go } from './app.js';
import { timeChart } from './charts.js';
import { el, empty, heading } from './views.js';

const MAX_COMPARED = 8;
/** @type {Record<string, string>} */
const STATS = { callsPerMinute: 'Calls per minute', mean: 'Mean', max: 'Max', min: 'Min', total: 'Total', stdDev: 'Standard deviation', p50: 'p50', p75: 'p75', p95: 'p95', p99: 'p99' };

/** Times are stored in seconds (shown in ms), except OTLP instruments whose unit is not a time: their values are shown as stored. @param {string} name */
const isTime = (name) => !name.startsWith('OTLP/');

/** @param {HTMLElement} view @param {any} app @param {any} r */
export async function renderExplorer(view, app, r) {
  view.append(el('h1', {}, `${app.name} · metrics`));
  const form = el('form', { class: 'explorer-form', role: 'search' });
  const search = /** @type {HTMLInputElement} */ (el('input', { type: 'search', id: 'metric-search', placeholder: 'Metric name prefix, e.g. OTLP/ or Custom/ or WebTransaction/', 'aria-label': 'Metric name prefix' }));
  search.value = r.metric ? r.metric.split('/').slice(0, -1).join('/') : '';
  form.append(search);
  view.append(form);
  const list = el('div', { class: 'metric-list', id: 'metric-list' });
  view.append(list);
  const fill = async () => {
    const d = await api(`applications/${app.id}/metrics`, { prefix: search.value, limit: '300' });
    if (!list.isConnected) return;
    list.replaceChildren(...d.metrics.map((/** @type {any} */ m) => {
      const a = el('a', { href: '#', class: m.name === r.metric && m.scope === r.scope ? 'active' : '' }, m.name, ...(m.scope ? [el('span', { class: 'badge' }, `in ${m.scope}`)] : []));
      a.addEventListener('click', (e) => {
        e.preventDefault();
        go({ metric: m.name, scope: m.scope });
      });
      return a;
    }));
    if (d.metrics.length === 0) list.replaceChildren(el('p', { class: 'note' }, 'No metric name starts with that.'));
  };
  let timer = 0;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = window.setTimeout(() => void fill(), 200);
  });
  form.addEventListener('submit', (e) => e.preventDefault());
  await fill();
  if (!r.metric) {
    empty(view, 'Pick a metric', ['Type the start of a name to narrow the list, then pick a metric to chart it.']);
    return;
  }
  if (r.by === 'agents') await compareAgents(view, app, r);
  else await oneMetric(view, app, r);
}

/** Statistic and grouping pickers. @param {HTMLElement} view @param {any} r @param {boolean} withStat */
function pickers(view, r, withStat) {
  const bar = el('div', { class: 'explorer-form' });
  const by = /** @type {HTMLSelectElement} */ (el('select', { id: 'explorer-by', 'aria-label': 'Group by' }));
  by.append(new Option('Whole application', 'app'), new Option('Compare agents (hosts)', 'agents'));
  by.value = r.by === 'agents' ? 'agents' : 'app';
  by.addEventListener('change', () => go({ by: by.value === 'agents' ? 'agents' : '' }));
  bar.append(by);
  if (withStat) {
    const stat = /** @type {HTMLSelectElement} */ (el('select', { id: 'explorer-stat', 'aria-label': 'Statistic' }));
    for (const [k, label] of Object.entries(STATS)) stat.append(new Option(label, k));
    stat.value = r.stat || 'mean';
    stat.addEventListener('change', () => go({ stat: stat.value }));
    bar.append(stat);
  }
  view.append(bar);
}

/** @param {HTMLElement} view @param {any} app @param {any} r */
async function oneMetric(view, app, r) {
  const d = await api(`applications/${app.id}/metric`, { ...r.window, name: r.metric, scope: r.scope });
  if (!view.isConnected) return;
  heading(view, r.metric + (r.scope ? ` (in ${r.scope})` : ''), d);
  pickers(view, r, false);
  const charts = el('div', { class: 'charts' });
  view.append(charts);
  const t = d.timestamps;
  const s = d.series;
  const k = isTime(r.metric) ? 1000 : 1;
  const unit = isTime(r.metric) ? 'ms' : '';
  const sc = (/** @type {Array<number|null>} */ a) => a.map((v) => (v == null ? null : v * k));
  timeChart(charts, { title: 'Calls per minute', unit: 'cpm', timestamps: t, series: [{ label: 'Calls per minute', values: s.callsPerMinute }] });
  timeChart(charts, {
    title: 'Mean with min–max band', unit, unitLabel: unit || 'value', timestamps: t, band: [1, 2],
    series: [{ label: 'Mean', values: sc(s.mean) }, { label: 'Min', values: sc(s.min) }, { label: 'Max', values: sc(s.max) }],
  });
  const p = d.percentiles;
  if (p) {
    timeChart(charts, {
      title: `Percentiles${p.estimate ? ' (estimated from sampled events)' : ''}`, unit, unitLabel: unit || 'value', timestamps: t,
      note: `${p.count.toLocaleString()} values; each percentile within ${p.relativeError * 100} % of the exact one of the values counted.` +
        (r.metric.startsWith('OTLP/') ? " OTLP histograms are counted at their buckets' middles: as precise as the sender's buckets." : '') +
        (p.estimate ? ` ${p.estimateNote}` : ''),
      series: ['p50', 'p75', 'p95', 'p99'].map((q) => ({ label: q, values: sc(p[q]) })),
    });
  }
}

/** @param {HTMLElement} view @param {any} app @param {any} r */
async function compareAgents(view, app, r) {
  const { agents } = await api(`applications/${app.id}/agents`);
  if (!view.isConnected) return;
  const stat = r.stat || 'mean';
  if (agents.length === 0) {
    pickers(view, r, true);
    empty(view, 'No agents to compare', ['This application has no agent of its own (its data is application-wide only, e.g. from the beacon).']);
    return;
  }
  const shown = agents.slice(-MAX_COMPARED);
  const answers = await Promise.all(shown.map((/** @type {any} */ a) => api(`applications/${app.id}/metric`, { ...r.window, name: r.metric, scope: r.scope, agent: String(a.id) })));
  if (!view.isConnected) return;
  heading(view, `${r.metric}${r.scope ? ` (in ${r.scope})` : ''} · by agent`, answers[0]);
  pickers(view, r, true);
  const pct = stat.startsWith('p');
  const k = stat !== 'callsPerMinute' && isTime(r.metric) ? 1000 : 1;
  const unit = stat === 'callsPerMinute' ? 'cpm' : isTime(r.metric) ? 'ms' : '';
  const charts = el('div', { class: 'charts' });
  view.append(charts);
  timeChart(charts, {
    title: STATS[stat] ?? stat, unit, unitLabel: unit || 'value', timestamps: answers[0].timestamps,
    note: agents.length > MAX_COMPARED ? `The ${MAX_COMPARED} newest of ${agents.length} agents.` : undefined,
    series: shown.map((/** @type {any} */ a, /** @type {number} */ i) => {
      const src = pct ? answers[i].percentiles?.[stat] : answers[i].series[stat];
      return { label: a.host ? `${a.host}${a.pid ? `:${a.pid}` : ''}` : `agent ${a.id}`, values: (src ?? answers[i].timestamps.map(() => null)).map((/** @type {number|null} */ v) => (v == null ? null : v * k)) };
    }),
  });
}
