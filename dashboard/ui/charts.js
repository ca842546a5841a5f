// @ts-check
// Time-series charts with uPlot (loaded as the global `uPlot` from /assets/uPlot.iife.min.js).
// Every chart shows its unit on the y axis, its time zone on the x axis, and in its legend the values
// under the cursor (or, when the cursor is elsewhere, each series' latest value). Dragging across a
// chart selects a time range: `onZoom` (set by the app) turns it into the window in the URL.
import { fixed, timeZoneLabel, timeZoneMode, when } from './format.js';

const COLORS = ['#1f6feb', '#e36209', '#2da44e', '#8250df', '#cf222e', '#0598bc', '#bf8700'];
/** @type {Set<any>} */
const live = new Set();
const observer = new ResizeObserver((entries) => {
  for (const e of entries) {
    const u = /** @type {any} */ (e.target).__chart;
    if (u) u.setSize({ width: Math.max(200, e.contentRect.width), height: u.height });
  }
});

/** @type {(from: number, to: number) => void} */
let zoomTo = () => undefined;
/** @param {(from: number, to: number) => void} fn */
export function onZoom(fn) {
  zoomTo = fn;
}

/** Index of the last non-null value (the legend's value when the cursor is not on the chart). @param {Array<number|null>} a */
function lastIndex(a) {
  for (let i = a.length - 1; i >= 0; i--) if (a[i] != null) return i;
  return -1;
}

/** Destroys every chart (before a view is redrawn). */
export function destroyCharts() {
  for (const u of live) {
    observer.unobserve(u.root.parentElement);
    u.destroy();
  }
  live.clear();
}

/**
 * @param {HTMLElement} parent
 * @param {{ title: string, unit: string, timestamps: number[], series: Array<{label: string, values: Array<number|null>}>,
 *           stacked?: boolean, max?: number, note?: string, band?: [number, number], unitLabel?: string }} spec
 *   values are already in the unit shown (ms, rpm, %, score). Stacked series are drawn as cumulative
 *   areas (first series at the bottom) while the legend shows each series' own value.
 */
export function timeChart(parent, spec) {
  const box = document.createElement('div');
  box.className = 'chart';
  const h = document.createElement('h3');
  h.textContent = `${spec.title} (${spec.unitLabel ?? spec.unit})`;
  box.append(h);
  parent.append(box);
  const hasData = spec.series.some((s) => s.values.some((v) => v != null));
  const plotted = spec.stacked ? stack(spec.series.map((s) => s.values)) : spec.series.map((s) => s.values);
  const raw = spec.series.map((s) => s.values);
  const fmt = (/** @type {number|null} */ v) => (v == null ? '–' : spec.unit ? `${fixed(v)} ${spec.unit}` : fixed(v));
  const utc = timeZoneMode() === 'utc';
  const uPlot = /** @type {any} */ (window).uPlot;
  // Stacked: draw the top (cumulative) series first so lower ones paint over it.
  const order = spec.series.map((_, i) => i);
  if (spec.stacked) order.reverse();
  const opts = {
    width: Math.max(200, box.clientWidth - 20),
    height: 220,
    cursor: { drag: { x: true, y: false, setScale: false } },
    select: { show: true },
    tzDate: utc ? (/** @type {number} */ ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC') : undefined,
    hooks: {
      setSelect: [
        (/** @type {any} */ u) => {
          if (u.select.width < 4) return;
          const from = Math.floor(u.posToVal(u.select.left, 'x'));
          const to = Math.ceil(u.posToVal(u.select.left + u.select.width, 'x'));
          u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
          if (to - from >= 60) zoomTo(from, to);
        },
      ],
    },
    scales: { x: { time: true }, y: { range: (/** @type {any} */ _u, /** @type {number} */ _min, /** @type {number} */ max) => [0, spec.max ?? (max > 0 ? max * 1.1 : 1)] } },
    axes: [
      { label: `Time (${timeZoneLabel()})`, labelSize: 20 },
      { label: spec.unitLabel ?? spec.unit, size: 70, values: (/** @type {any} */ _u, /** @type {number[]} */ splits) => splits.map((v) => fixed(v)) },
    ],
    series: [
      { label: 'Time', value: (/** @type {any} */ _u, /** @type {number|null} */ v) => (v == null ? 'latest' : when(v)) },
      ...order.map((i) => ({
        label: spec.series[i].label,
        stroke: COLORS[i % COLORS.length],
        fill: spec.stacked ? `${COLORS[i % COLORS.length]}55` : undefined,
        width: 1.5,
        spanGaps: false,
        value: (/** @type {any} */ _u, /** @type {number|null} */ _v, /** @type {number} */ _si, /** @type {number|null} */ idx) => {
          const at = idx ?? lastIndex(raw[i]);
          return at < 0 ? '–' : fmt(raw[i][at] ?? null);
        },
      })),
    ],
  };
  // A band (e.g. min–max around a mean) fills between two series; they keep their own lines.
  if (spec.band && !spec.stacked) /** @type {any} */ (opts).bands = [{ series: [spec.band[1] + 1, spec.band[0] + 1], fill: '#1f6feb22' }];
  const data = [spec.timestamps, ...order.map((i) => plotted[i])];
  const u = new uPlot(opts, data, box);
  /** @type {any} */ (box).__chart = u;
  observer.observe(box);
  live.add(u);
  if (!hasData || spec.note) {
    const p = document.createElement('p');
    p.className = 'note';
    p.textContent = hasData ? spec.note ?? '' : 'No data in this window.';
    box.append(p);
  }
  return u;
}

/** Cumulative sums of series (null where the series itself has no value). @param {Array<Array<number|null>>} list */
function stack(list) {
  const acc = list[0] ? list[0].map(() => 0) : [];
  return list.map((vals) =>
    vals.map((v, k) => {
      if (v == null) return null;
      acc[k] += v;
      return acc[k];
    }),
  );
}

/**
 * Shades each incident's span (open to close, or to now) on a chart: red for critical, orange for
 * warning. Returns how many incidents overlap the chart's window. @param {any} u @param {any[]} incidents
 */
export function markIncidents(u, incidents) {
  const [from, to] = [u.data[0][0], u.data[0][u.data[0].length - 1]];
  const shown = incidents.filter((i) => i.openedAt <= to && (i.closedAt ?? Infinity) >= from);
  u.hooks.draw = [...(u.hooks.draw ?? []), (/** @type {any} */ p) => {
    const { left, top, width, height } = p.bbox;
    for (const i of shown) {
      const x0 = Math.max(left, p.valToPos(i.openedAt, 'x', true));
      const x1 = Math.min(left + width, p.valToPos(i.closedAt ?? Date.now() / 1000, 'x', true));
      p.ctx.fillStyle = i.level === 'critical' ? 'rgba(198, 40, 40, 0.15)' : 'rgba(239, 108, 0, 0.15)';
      p.ctx.fillRect(x0, top, Math.max(2, x1 - x0), height);
    }
  }];
  u.redraw(false, false);
  return shown.length;
}
