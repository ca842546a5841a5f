// @ts-check
// The dashboard's single page: sign-in, routing (#/apps/<id>/<page>?last=…), the time picker, and the
// API client. The read key is sent once to POST /api/session; afterwards the browser holds only the
// HttpOnly session cookie. The views live in views.js.
import { destroyCharts, onZoom } from './charts.js';
import { renderExplorer } from './explorer.js';
import { setTimeZoneMode, timeZoneMode } from './format.js';
import { renderApps, renderBrowser, renderOverview, renderTransactions } from './views.js';
import { renderAlerts } from './alerts.js';

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

export class ApiError extends Error {
  /** @param {number} status @param {string} message */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * GET an API path; 401 sends the user back to the sign-in form ("session ended" only when they had
 * been signed in: a first visit just shows the form).
 * @param {string} path @param {Record<string,string>} [params]
 */
export async function api(path, params = {}) {
  const qs = new URLSearchParams(params).toString();
  const res = await fetch(`/api/${path}${qs ? `?${qs}` : ''}`, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  const body = await res.json().catch(() => ({}));
  if (res.status === 401) {
    showSignIn(signedIn ? 'Your session has ended: sign in again.' : undefined);
    throw new ApiError(401, body.error ?? 'not signed in');
  }
  if (!res.ok) throw new ApiError(res.status, body.error ?? `the server answered ${res.status}`);
  return body;
}

/** @type {{ apps: any[], account: any, browserKey: string, info: any }} */
export const state = { apps: [], account: null, browserKey: '', info: { collectorUrl: '', otlpUrl: '', beaconUrl: '' } };
/** Whether this page has been signed in (a 401 then means the session ended). */
let signedIn = false;

/** The current route from the hash. */
export function currentRoute() {
  const [path, query = ''] = location.hash.replace(/^#/, '').split('?');
  const parts = (path ?? '').split('/').filter(Boolean);
  const q = new URLSearchParams(query);
  /** @type {Record<string,string>} */
  const window = {};
  if (q.get('from') && q.get('to')) {
    window.from = /** @type {string} */ (q.get('from'));
    window.to = /** @type {string} */ (q.get('to'));
  } else window.last = q.get('last') || '30m';
  const appId = parts[0] === 'apps' && parts[1] ? parts[1] : '';
  return { appId, page: parts[2] || 'overview', window, txn: q.get('txn') || '', metric: q.get('metric') || '', scope: q.get('scope') || '', stat: q.get('stat') || '', by: q.get('by') || '' };
}

/** @param {{appId?: string, page?: string, window?: Record<string,string>, txn?: string, metric?: string, scope?: string, stat?: string, by?: string}} change */
export function go(change) {
  const r = { ...currentRoute(), ...change };
  const q = new URLSearchParams(r.window);
  for (const k of /** @type {const} */ (['txn', 'metric', 'scope', 'stat', 'by'])) if (r[k]) q.set(k, r[k]);
  location.hash = r.appId ? `#/apps/${r.appId}/${r.page}?${q}` : `#/apps?${q}`;
}

/** @param {string} [message] */
function showSignIn(message) {
  destroyCharts();
  $('top').hidden = true;
  $('view').replaceChildren();
  $('banner').hidden = true;
  $('sign-in').hidden = false;
  const err = $('sign-in-error');
  err.hidden = !message;
  err.textContent = message ?? '';
  /** @type {HTMLInputElement} */ ($('key')).focus();
}

async function signIn(/** @type {SubmitEvent} */ e) {
  e.preventDefault();
  const input = /** @type {HTMLInputElement} */ ($('key'));
  const res = await fetch('/api/session', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ key: input.value }),
  });
  const body = await res.json().catch(() => ({}));
  input.value = '';
  if (!res.ok) {
    showSignIn(res.status === 401 ? 'That key is not a read API key of any account. Check it and try again.' : body.error ?? `Sign-in failed (${res.status}).`);
    return;
  }
  await start();
}

async function signOut() {
  await fetch('/api/session', { method: 'DELETE', credentials: 'same-origin' });
  showSignIn('Signed out.');
}

/** After sign-in: the account, its applications, then the current route. */
async function start() {
  try {
    const [session, apps, info] = await Promise.all([api('session'), api('applications'), api('info')]);
    state.account = apps.account;
    state.apps = apps.applications;
    state.browserKey = apps.account.browserKey;
    state.info = info;
    $('account-name').textContent = session.account.name;
    $('sign-in').hidden = true;
    $('top').hidden = false;
    signedIn = true;
    fillAppPicker();
    await render();
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) showBanner(err, true);
  }
}

function fillAppPicker() {
  const picker = /** @type {HTMLSelectElement} */ ($('app-picker'));
  picker.replaceChildren(new Option('All applications', ''), ...state.apps.map((a) => new Option(a.name, String(a.id))));
  picker.hidden = state.apps.length === 0;
}

/** @param {unknown} err @param {boolean} [isError] */
export function showBanner(err, isError = false) {
  const b = $('banner');
  b.hidden = err == null;
  b.className = isError ? 'banner error' : 'banner';
  if (err instanceof ApiError) {
    const hint = err.status >= 500 ? ' The storage may be busy or a shard down: retry in a moment.' : '';
    b.textContent = `The server answered ${err.status}: ${err.message}.${hint}`;
  } else b.textContent = err instanceof Error ? err.message : String(err ?? '');
}

async function render() {
  if ($('top').hidden) return;
  destroyCharts();
  showBanner(null);
  const r = currentRoute();
  syncHeader(r);
  // Each render draws into its own container: a render overtaken by a newer one (the hash changed
  // while it awaited the API) finds its container detached and stops.
  const view = document.createElement('div');
  $('view').replaceChildren(view);
  if (!r.appId && state.apps.length === 1) return go({ appId: String(state.apps[0].id), page: 'overview' });
  const app = state.apps.find((a) => String(a.id) === r.appId);
  try {
    if (!app) return renderApps(view, r.appId);
    if (r.page === 'transactions') await renderTransactions(view, app, r);
    else if (r.page === 'browser') await renderBrowser(view, app, r);
    else if (r.page === 'alerts') await renderAlerts(view, app, r);
    else if (r.page === 'explorer') await renderExplorer(view, app, r);
    else await renderOverview(view, app, r);
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) showBanner(err, true);
  }
}

/** @param {ReturnType<typeof currentRoute>} r */
function syncHeader(r) {
  /** @type {HTMLSelectElement} */ ($('app-picker')).value = r.appId;
  for (const a of /** @type {NodeListOf<HTMLAnchorElement>} */ (document.querySelectorAll('#tabs a'))) {
    a.classList.toggle('active', a.dataset.page === r.page && !!r.appId);
    a.href = r.appId ? `#/apps/${r.appId}/${a.dataset.page}?${new URLSearchParams(r.window)}` : '#/apps';
  }
  const preset = /** @type {HTMLSelectElement} */ ($('preset'));
  const custom = !r.window.last;
  preset.value = custom ? 'custom' : r.window.last;
  $('custom-range').hidden = !custom;
  if (custom) {
    /** @type {HTMLInputElement} */ ($('from')).value = localInput(Number(r.window.from));
    /** @type {HTMLInputElement} */ ($('to')).value = localInput(Number(r.window.to));
  }
}

/** Unix seconds → the value of a datetime-local input, in the chosen time zone. @param {number} t */
function localInput(t) {
  const d = new Date(t * 1000);
  const offset = timeZoneMode() === 'utc' ? 0 : d.getTimezoneOffset();
  return new Date(d.getTime() - offset * 60000).toISOString().slice(0, 16);
}

/** A datetime-local input's value → Unix seconds, in the chosen time zone. @param {string} v */
function inputTime(v) {
  return (timeZoneMode() === 'utc' ? Date.parse(`${v}Z`) : Date.parse(v)) / 1000;
}

function wire() {
  $('sign-in-form').addEventListener('submit', (e) => void signIn(/** @type {SubmitEvent} */ (e)));
  $('sign-out').addEventListener('click', () => void signOut());
  $('app-picker').addEventListener('change', (e) => go({ appId: /** @type {HTMLSelectElement} */ (e.target).value, txn: '', metric: '', scope: '', by: '' }));
  $('preset').addEventListener('change', (e) => {
    const v = /** @type {HTMLSelectElement} */ (e.target).value;
    if (v === 'custom') {
      const now = Math.floor(Date.now() / 1000);
      go({ window: { from: String(now - 3 * 3600), to: String(now) } });
    } else go({ window: { last: v } });
  });
  $('time-picker').addEventListener('submit', (e) => {
    e.preventDefault();
    const from = inputTime(/** @type {HTMLInputElement} */ ($('from')).value);
    const to = inputTime(/** @type {HTMLInputElement} */ ($('to')).value);
    if (!(from < to)) return showBanner(new Error('Pick a "from" time before the "to" time.'), true);
    go({ window: { from: String(Math.floor(from)), to: String(Math.floor(to)) } });
  });
  const tz = /** @type {HTMLSelectElement} */ ($('tz'));
  tz.value = timeZoneMode();
  tz.addEventListener('change', () => {
    setTimeZoneMode(tz.value === 'utc' ? 'utc' : 'local');
    void render();
  });
  // Dragging across a chart zooms: the selected range becomes the window (in the URL, so a link or the
  // back button shows the same view).
  onZoom((from, to) => go({ window: { from: String(from), to: String(to) } }));
  window.addEventListener('hashchange', () => void render());
}

wire();
api('session').then(start, (err) => {
  if (!(err instanceof ApiError && err.status === 401)) showSignIn(`Cannot reach the dashboard API: ${err.message}`);
});
