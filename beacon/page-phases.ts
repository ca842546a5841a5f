/**
 * Page-load phases from the marks rum.js sends (whole milliseconds of the PerformanceNavigationTiming
 * entry, startTime = 0). The four phases are disjoint and add up to loadEventEnd exactly (in ms):
 *
 * | phase          | formula                                                    | what it holds                          |
 * |----------------|------------------------------------------------------------|----------------------------------------|
 * | network        | requestStart + (responseEnd - responseStart)               | redirects, cache, DNS, TCP/TLS, download |
 * | backend        | responseStart - requestStart                               | request sent to first byte             |
 * | domProcessing  | domContentLoadedEventEnd - responseEnd                     | parsing, sync scripts, DCL handlers    |
 * | rendering      | loadEventEnd - domContentLoadedEventEnd                    | remaining subresources, load handlers  |
 * | ttfb           | max(responseStart - activationStart, 0)                    | web-vitals' TTFB (prerender-aware)     |
 *
 * Impossible orderings and absurd values (negative, not finite, an hour or more) are rejected, not
 * clamped: a beacon with them writes nothing (Boomerang's nt_bad and Elastic's mark checks do the same).
 */

/** Every timing must be below this (ms): one hour, as the research recommends. */
export const MAX_TIMING_MS = 3_600_000;

export interface NavigationMarks {
  activationStart: number;
  requestStart: number;
  responseStart: number;
  responseEnd: number;
  domContentLoadedEventEnd: number;
  loadEventEnd: number;
}

/** Seconds, as every timeslice holds them. */
export interface PagePhases {
  pageLoad: number;
  network: number;
  backend: number;
  domProcessing: number;
  rendering: number;
  ttfb: number;
}

/** The order the marks travel in the payload's `m` array. */
export const MARK_ORDER: readonly (keyof NavigationMarks)[] = [
  'activationStart',
  'requestStart',
  'responseStart',
  'responseEnd',
  'domContentLoadedEventEnd',
  'loadEventEnd',
];

/** True for a timing in milliseconds that may be stored: finite, >= 0 and below MAX_TIMING_MS. */
export function isSaneTiming(ms: number): boolean {
  return Number.isFinite(ms) && ms >= 0 && ms < MAX_TIMING_MS;
}

/** Why the marks cannot describe a finished page load, or undefined when they can. */
export function marksProblem(m: NavigationMarks): string | undefined {
  for (const k of MARK_ORDER) {
    if (!isSaneTiming(m[k])) return `${k} ${m[k]} ms is not within [0, ${MAX_TIMING_MS})`;
  }
  const chain = MARK_ORDER.slice(1);
  for (let i = 1; i < chain.length; i++) {
    const before = chain[i - 1]!;
    const after = chain[i]!;
    if (m[after] < m[before]) return `${after} (${m[after]} ms) is before ${before} (${m[before]} ms)`;
  }
  if (m.loadEventEnd <= 0) return 'loadEventEnd is 0: the page had not finished loading';
  return undefined;
}

/** The phases of checked marks (see marksProblem), in seconds. */
export function computePhases(m: NavigationMarks): PagePhases {
  const networkMs = m.requestStart + (m.responseEnd - m.responseStart);
  return {
    pageLoad: m.loadEventEnd / 1000,
    network: networkMs / 1000,
    backend: (m.responseStart - m.requestStart) / 1000,
    domProcessing: (m.domContentLoadedEventEnd - m.responseEnd) / 1000,
    rendering: (m.loadEventEnd - m.domContentLoadedEventEnd) / 1000,
    ttfb: Math.max(m.responseStart - m.activationStart, 0) / 1000,
  };
}
