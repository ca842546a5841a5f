// @ts-check
// A tiny inline SVG line of a series (the application list's throughput over the last 30 minutes).
// Gaps (null) break the line; an all-empty series draws a flat grey baseline.

const NS = 'http://www.w3.org/2000/svg';

/** @param {Array<number|null>} values @param {number} [width] @param {number} [height] */
export function sparkline(values, width = 120, height = 24) {
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('role', 'img');
  const nums = values.filter((v) => v != null).map(Number);
  svg.setAttribute('aria-label', nums.length ? `from ${nums[0]?.toFixed(1)} to ${nums[nums.length - 1]?.toFixed(1)} per minute` : 'no data');
  const max = Math.max(1e-9, ...nums);
  const step = values.length > 1 ? width / (values.length - 1) : width;
  /** @type {string[]} */
  const paths = [];
  /** @type {Array<[string, string]>} */
  const dots = [];
  /** @type {Array<[string, string]>} */
  let run = [];
  const end = () => {
    if (run.length === 1) dots.push(/** @type {[string, string]} */ (run[0]));
    else if (run.length > 1) paths.push(run.map(([x, y], k) => `${k ? 'L' : 'M'}${x},${y}`).join(''));
    run = [];
  };
  values.forEach((v, i) => {
    if (v == null) return end();
    run.push([(i * step).toFixed(1), (height - 2 - (v / max) * (height - 4)).toFixed(1)]);
  });
  end();
  if (paths.length === 0 && dots.length === 0) paths.push(`M0,${height - 2}L${width},${height - 2}`);
  // A lone point (a minute with data between gaps) is a dot.
  for (const [x, y] of dots) {
    const c = document.createElementNS(NS, 'circle');
    c.setAttribute('cx', x);
    c.setAttribute('cy', y);
    c.setAttribute('r', '2');
    c.setAttribute('fill', '#1f6feb');
    svg.append(c);
  }
  for (const p of paths) {
    const path = document.createElementNS(NS, 'path');
    path.setAttribute('d', p);
    path.setAttribute('fill', 'none');
    path.setAttribute('stroke', nums.length ? '#1f6feb' : '#c3cad6');
    path.setAttribute('stroke-width', '1.5');
    svg.append(path);
  }
  return svg;
}
