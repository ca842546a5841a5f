// @ts-check
// The pages: application list, overview, transactions, browser. Every text from the server goes in
// through textContent (never as HTML).
import { api, go, state } from './app.js';
import { markIncidents, timeChart } from './charts.js';
import { count, countryName, fixed, ms, pct, ppm, rpm, scaled, score, timeZoneLabel, when } from './format.js';
import { sparkline } from './sparkline.js';

/** @param {string} tag @param {Record<string,string>} [attrs] @param {Array<Node|string>} children */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

/** @param {HTMLElement} parent @param {Array<[string|Node, string]>} items */
export function tiles(parent, items) {
  parent.append(el('div', { class: 'tiles' }, ...items.map(([label, value]) => el('div', { class: 'tile' }, el('div', { class: 'label' }, label), el('div', { class: 'value' }, value)))));
}

/** @param {HTMLElement} parent @param {string[]} head @param {Array<{cells: string[], key?: string}>} rows @param {(key: string) => void} [onPick] @param {string} [selected] */
export function table(parent, head, rows, onPick, selected) {
  const body = rows.map((r) => {
    const tr = el('tr', onPick ? { class: r.key === selected ? 'selectable selected' : 'selectable', tabindex: '0' } : {}, ...r.cells.map((c) => el('td', {}, c)));
    if (onPick && r.key) {
      const key = r.key;
      tr.addEventListener('click', () => onPick(key));
      tr.addEventListener('keydown', (e) => e.key === 'Enter' && onPick(key));
    }
    return tr;
  });
  parent.append(el('table', { class: 'data' }, el('thead', {}, el('tr', {}, ...head.map((h) => el('th', {}, h)))), el('tbody', {}, ...body)));
}

/** @param {HTMLElement} parent @param {string} title @param {string[]} lines @param {string} [code] */
export function empty(parent, title, lines, code) {
  parent.append(el('div', { class: 'empty' }, el('h2', {}, title), ...lines.map((l) => el('p', {}, l)), ...(code ? [el('pre', {}, code)] : [])));
}

/** Title, resolution and freshness of a time-series answer. @param {HTMLElement} parent @param {string} title @param {any} d */
export function heading(parent, title, d) {
  const w = d.window;
  const res = w.step === 60 ? 'per minute' : w.step === 3600 ? 'per hour' : w.step === 86400 ? 'per day' : `per ${w.step / 86400} days`;
  parent.append(el('h1', {}, title), el('p', { class: 'note' }, `${when(w.from)} – ${when(w.to)} (${timeZoneLabel()}) · ${w.points} points, ${res}`));
  const behind = d.freshness.unrolledHours.length;
  if (behind > 0) {
    parent.append(el('div', { class: 'banner' }, `The rollup is behind: ${behind} hour(s) of this window are not rolled up yet and may show incomplete values (oldest ${when(d.freshness.unrolledHours[0])}). Check that the rollup service is running.`));
  }
}

/** How to point an agent at the collector, from the dashboard's /api/info. */
function agentInstructions() {
  const u = new URL(state.info.collectorUrl || 'https://127.0.0.1:8443');
  return [
    '# New Relic Node.js agent (newrelic 13.x):',
    'NEW_RELIC_NO_CONFIG_FILE=true NEW_RELIC_APP_NAME=<your app> \\',
    `NEW_RELIC_HOST=${u.hostname} NEW_RELIC_PORT=${u.port || 443} NEW_RELIC_LICENSE_KEY=<your license key> \\`,
    'NODE_EXTRA_CA_CERTS=<the collector CA file printed by npm start> node -r newrelic app.js',
    '',
    '# OpenTelemetry SDK (OTLP/HTTP metrics, plain HTTP: no certificate needed):',
    `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=${state.info.otlpUrl || 'http://127.0.0.1:4318/v1/metrics'} \\`,
    'OTEL_EXPORTER_OTLP_METRICS_HEADERS=api-key=<your license key> OTEL_SERVICE_NAME=<your app>',
  ].join('\n');
}

/** "Apdex [T = 0.50 s]" with the unit kept lower case. @param {string} label @param {number|null|undefined} t */
function apdexLabel(label, t) {
  return t == null ? label : el('span', {}, `${label} `, el('span', { class: 'unit' }, `[T = ${fixed(t)} s]`));
}

/** @param {HTMLElement} view @param {string} missing */
export function renderApps(view, missing) {
  if (missing) view.append(el('div', { class: 'banner error' }, `Application ${missing} is not in this account. Pick one below.`));
  view.append(el('h1', {}, 'Applications'));
  if (state.apps.length === 0) {
    empty(view, 'No application has reported yet', [
      'Applications appear here when their first agent connects to the collector. Point an agent at it with your account\'s license key:',
    ], agentInstructions());
    return;
  }
  const list = el('div', { class: 'apps' }, ...state.apps.map((a) => el('a', { href: `#/apps/${a.id}/overview` }, a.name)));
  view.append(list);
  void appsHealth(view, list);
}

/** The health table (last 30 minutes) replaces the plain list once it is read. @param {HTMLElement} view @param {HTMLElement} list */
async function appsHealth(view, list) {
  const d = await api('applications/health').catch(() => null);
  if (!d || !view.isConnected) return;
  const head = ['Application', 'Apdex', 'Response time', 'Throughput', 'Error rate', 'Last 30 minutes'];
  // Open incidents: shown once the alerts service feeds them (openIncidents is false without it).
  if (d.openIncidents) head.splice(1, 0, 'Open incidents');
  const rows = d.applications.map((/** @type {any} */ a) => {
    const cells = [
      el('td', {}, el('a', { href: `#/apps/${a.id}/overview` }, a.name), ...(a.source === 'otlp' ? [el('span', { class: 'badge' }, 'OTLP')] : a.source === 'custom' ? [el('span', { class: 'badge' }, 'custom metrics')] : [])),
      el('td', {}, score(a.apdex)), el('td', {}, ms(a.responseTime)), el('td', {}, rpm(a.throughput)), el('td', {}, pct(a.errorRate)),
      el('td', {}, sparkline(a.spark)),
    ];
    if (d.openIncidents) cells.splice(1, 0, el('td', {}, String(a.openIncidents ?? 0)));
    return el('tr', {}, ...cells);
  });
  list.replaceWith(el('table', { class: 'data apps-health' }, el('thead', {}, el('tr', {}, ...head.map((h) => el('th', {}, h)))), el('tbody', {}, ...rows)));
}

/** p50–p99 of a percentiles answer as a chart (ms). @param {HTMLElement} charts @param {string} title @param {any} p @param {number[]} t */
export function percentileChart(charts, title, p, t) {
  if (!p) return undefined;
  return timeChart(charts, {
    title: p.estimate ? `${title} (estimated)` : title, unit: 'ms', timestamps: t,
    note: `${count(p.count)} ${p.estimate ? 'sampled transactions' : 'values'}; each within ${p.relativeError * 100} % of the exact percentile of those.${p.estimate ? ` ${p.estimateNote}` : ''}`,
    series: ['p50', 'p75', 'p95', 'p99'].map((q) => ({ label: q, values: scaled(p[q], 1000) })),
  });
}

/** @param {any[]} series */
const noData = (series) => series.every((s) => s.every((/** @type {any} */ v) => v == null));

/** @param {HTMLElement} view @param {any} app @param {any} r */
export async function renderOverview(view, app, r) {
  // The account's incidents (the Alerts tab's data, GET /api/alerts), shaded on the charts; a dashboard
  // without the alerts service answers 404 and the charts are drawn without them.
  const [d, alerts] = await Promise.all([api(`applications/${app.id}/overview`, r.window), api('alerts').catch(() => null)]);
  if (!view.isConnected) return;
  const incidents = (alerts?.incidents ?? []).filter((/** @type {any} */ i) => i.applicationId === app.id);
  heading(view, `${app.name} · overview`, d);
  const s = d.series;
  if (d.source === 'custom') {
    const link = el('a', { href: `#/apps/${app.id}/explorer?${new URLSearchParams(r.window)}` }, 'metric explorer');
    view.append(el('div', { class: 'empty' }, el('h2', {}, 'This application reports only custom metrics'),
      el('p', {}, 'It sends no web-transaction metrics (New Relic agent) and no OpenTelemetry HTTP server metrics (http.server.request.duration), so there is no throughput, response time or Apdex to show. Chart its metrics in the ', link, '.'),
      el('p', {}, `Some of them: ${d.customMetrics.join(', ')}`)));
    return;
  }
  if (noData(Object.values(s))) {
    empty(view, 'No data from this application in this window', [
      'Agents report once a minute: if the application just started, wait a minute and reload; otherwise pick a longer time window.',
      'If it never reported, check that its agent points at the collector:',
    ], agentInstructions());
    return;
  }
  const m = d.summary;
  const otlp = d.source === 'otlp';
  if (otlp) view.append(el('p', { class: 'note' }, 'From OpenTelemetry HTTP server metrics (http.server.request.duration): throughput and mean response time of every request; errors are responses with status ≥ 500. No Apdex: OpenTelemetry sends no threshold.'));
  tiles(view, [
    ['Throughput', rpm(m.throughput)],
    ['Response time', ms(m.responseTime)],
    ['Error rate', pct(m.errorRate)],
    ...(otlp ? [] : [/** @type {[Node|string, string]} */ ([apdexLabel('Apdex', m.apdexT), score(m.apdex)])]),
  ]);
  const charts = el('div', { class: 'charts', id: 'overview-charts' });
  view.append(charts);
  const t = d.timestamps;
  if (otlp) {
    markAll(charts, incidents, [
      timeChart(charts, { title: 'Response time', unit: 'ms', timestamps: t, series: [{ label: 'Mean', values: scaled(s.responseTime, 1000) }] }),
      timeChart(charts, { title: 'Throughput', unit: 'rpm', timestamps: t, series: [{ label: 'Requests per minute', values: s.throughput }] }),
      timeChart(charts, { title: 'Error rate', unit: '%', timestamps: t, series: [{ label: 'Status ≥ 500', values: scaled(s.errorRate, 100) }] }),
      percentileChart(charts, 'Response time percentiles', d.percentiles, t),
    ]);
    return;
  }
  markAll(charts, incidents, [
    timeChart(charts, {
      title: 'Web response time by component', unit: 'ms', timestamps: t, stacked: true,
      series: [{ label: 'Database', values: scaled(s.database, 1000) }, { label: 'External', values: scaled(s.external, 1000) }, { label: 'Code', values: scaled(s.code, 1000) }],
    }),
    timeChart(charts, { title: 'Throughput', unit: 'rpm', timestamps: t, series: [{ label: 'Requests per minute', values: s.throughput }] }),
    timeChart(charts, { title: 'Error rate', unit: '%', timestamps: t, series: [{ label: 'Errors', values: scaled(s.errorRate, 100) }] }),
    timeChart(charts, { title: 'Apdex score', unit: 'score', timestamps: t, max: 1, series: [{ label: 'Apdex', values: s.apdex }] }),
    percentileChart(charts, 'Web response time percentiles', d.percentiles, t),
  ]);
}

/**
 * Shades the application's incidents on every chart drawn (markIncidents: red critical, orange
 * warning); the container's data-incidents says how many overlap the window.
 * @param {HTMLElement} box @param {any[]} incidents @param {any[]} charts
 */
function markAll(box, incidents, charts) {
  let marked = 0;
  for (const u of charts) if (u) marked = markIncidents(u, incidents);
  box.dataset.incidents = String(marked);
}

/** @param {HTMLElement} view @param {any} app @param {any} r */
export async function renderTransactions(view, app, r) {
  const d = await api(`applications/${app.id}/transactions`, { ...r.window, limit: '50' });
  if (!view.isConnected) return;
  heading(view, `${app.name} · transactions`, d);
  if (d.transactions.length === 0) {
    empty(view, 'No web transactions in this window', ['Web transactions come from the New Relic agent (WebTransaction/… metrics). Pick a longer window, or check the agent on the overview page.']);
    return;
  }
  view.append(el('h2', {}, 'Most time-consuming web transactions'));
  const pick = (/** @type {string} */ name) => go({ txn: name });
  table(view, ['Transaction', 'Throughput', 'Mean', 'Max', 'Time share', 'Apdex'], d.transactions.map((/** @type {any} */ x) => ({
    key: x.name,
    cells: [x.name.replace(/^WebTransaction\//, ''), rpm(x.throughput), ms(x.meanTime), ms(x.maxTime), pct(x.share), score(x.apdex)],
  })), pick, r.txn);
  const name = r.txn || d.transactions[0].name;
  const t = await api(`applications/${app.id}/transaction`, { ...r.window, name });
  if (!view.isConnected) return;
  view.append(el('h2', {}, name.replace(/^WebTransaction\//, '')));
  const charts = el('div', { class: 'charts' });
  view.append(charts);
  timeChart(charts, { title: 'Response time', unit: 'ms', timestamps: t.timestamps, series: [{ label: 'Mean', values: scaled(t.series.responseTime, 1000) }] });
  timeChart(charts, { title: 'Throughput', unit: 'rpm', timestamps: t.timestamps, series: [{ label: 'Requests per minute', values: t.series.throughput }] });
  percentileChart(charts, 'Response time percentiles', t.percentiles, t.timestamps);
  if (t.breakdown.length > 0) {
    view.append(el('h2', {}, 'Breakdown (time spent in each segment)'));
    table(view, ['Segment', 'Calls', 'Time per request', 'Share'], t.breakdown.map((/** @type {any} */ b) => ({ cells: [b.name, count(b.calls), ms(b.perTransaction), pct(b.share)] })));
  }
}

/** @param {HTMLElement} view @param {any} app @param {any} r */
export async function renderBrowser(view, app, r) {
  const d = await api(`applications/${app.id}/browser`, r.window);
  if (!view.isConnected) return;
  heading(view, `${app.name} · browser`, d);
  const s = d.series;
  if (noData([s.pageViews])) {
    empty(view, 'No page views in this window', [
      'Browser data comes from the beacon\'s script. Add it to your pages, and allow your site\'s origin for this application (npx apm apps set <account> <app> --add-origin https://your.site):',
    ], `<script src="${state.info.beaconUrl}/rum.js" data-key="${state.browserKey}" data-app="${app.name}"></script>`);
    return;
  }
  const m = d.summary;
  const p75 = (/** @type {string} */ k) => d.percentiles?.[k]?.summary.p75;
  tiles(view, [['Page views', ppm(m.pageViews)], ['Page load', ms(m.pageLoad)], p75('lcp') == null ? ['Largest contentful paint (mean)', ms(m.lcp)] : ['LCP (75th percentile)', ms(p75('lcp'))], [apdexLabel('Browser Apdex', m.apdexT), score(m.apdex)]]);
  const charts = el('div', { class: 'charts' });
  view.append(charts);
  const t = d.timestamps;
  timeChart(charts, {
    title: 'Page load time by phase', unit: 'ms', timestamps: t, stacked: true,
    series: [['Network', s.network], ['Back end', s.backend], ['DOM processing', s.domProcessing], ['Rendering', s.rendering]].map(([label, v]) => ({ label, values: scaled(v, 1000) })),
  });
  timeChart(charts, { title: 'Page views', unit: 'ppm', timestamps: t, series: [{ label: 'Page views per minute', values: s.pageViews }] });
  timeChart(charts, {
    title: 'Web vitals (means)', unit: 'ms', timestamps: t,
    series: [['TTFB', s.ttfb], ['FCP', s.fcp], ['LCP', s.lcp], ['INP', s.inp]].map(([label, v]) => ({ label, values: scaled(v, 1000) })),
  });
  timeChart(charts, { title: 'Cumulative layout shift (mean)', unit: 'score', timestamps: t, series: [{ label: 'CLS', values: s.cls }] });
  // Percentiles from the stored distributions (within 1 %, exact through every rollup).
  const pc = d.percentiles ?? {};
  if (pc.pageLoad) {
    timeChart(charts, {
      title: 'Page load percentiles', unit: 'ms', timestamps: t, note: `${count(pc.pageLoad.count)} page loads; each value within 1 % of the exact percentile.`,
      series: ['p50', 'p75', 'p95', 'p99'].map((q) => ({ label: q, values: scaled(pc.pageLoad[q], 1000) })),
    });
  }
  const vitals = /** @type {Array<[string, string]>} */ ([['TTFB', 'ttfb'], ['FCP', 'fcp'], ['LCP', 'lcp'], ['INP', 'inp']]).filter(([, k]) => pc[k]);
  if (vitals.length > 0) {
    timeChart(charts, {
      title: 'Web vitals (75th percentile, as Core Web Vitals are judged)', unit: 'ms', timestamps: t,
      series: vitals.map(([label, k]) => ({ label, values: scaled(pc[k].p75, 1000) })),
    });
  }
  if (pc.cls) timeChart(charts, { title: 'Cumulative layout shift (75th percentile)', unit: 'score', timestamps: t, series: [{ label: 'CLS p75', values: pc.cls.p75 }] });
  const breakdown = (/** @type {string} */ title, /** @type {string} */ col, /** @type {any[]} */ rows, label = (/** @type {string} */ n) => n) => {
    if (rows.length === 0) return;
    view.append(el('h2', {}, title));
    table(view, [col, 'Page views', 'Mean page load'], rows.map((x) => ({ cells: [label(x.name), count(x.views), ms(x.meanLoad)] })));
  };
  breakdown('By page', 'Page group', d.byPage);
  breakdown('By browser', 'Browser', d.byBrowser);
  breakdown('By country', 'Country', d.byCountry, countryName);
}
