import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runInNewContext } from 'node:vm';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { buildRumFile, minifyScript } from '../../beacon/rum-build.js';
import { loadRumScript, RUM_BUILT_PATH, RUM_SOURCE_PATH, rumScriptOf } from '../../beacon/rum-script.js';

// The built file, as the beacon serves it (the test setup builds it with buildRumFile; the first test
// checks it is the current source's build).
const script = loadRumScript();

interface Sent {
  url: string;
  body: string;
}

/** A minimal browser for rum.js: fake timers, observers, events and transports. */
function fakeBrowser(opts: { attrs?: Record<string, string>; readyState?: string; nav?: Record<string, number | string> | null; sendBeacon?: ((url: string, body: string) => boolean) | null; noPerformance?: boolean } = {}) {
  const attrs: Record<string, string> = opts.attrs ?? { 'data-key': 'bk_test', 'data-app': 'Shop' };
  const beacons: Sent[] = [];
  const images: string[] = [];
  const timers: Array<{ at: number; fn: () => void }> = [];
  const listeners: Record<string, Array<(e?: unknown) => void>> = {};
  const observers: Record<string, (list: { getEntries(): unknown[] }) => void> = {};
  const observeOptions: Record<string, unknown> = {};
  const nav = opts.nav === undefined
    ? { type: 'navigate', activationStart: 0, requestStart: 9.6, responseStart: 222.3, responseEnd: 323.6, domContentLoadedEventEnd: 390.4, loadEventEnd: 0 }
    : opts.nav;
  const document = {
    currentScript: { src: 'http://beacon.test:8081/rum-abc.js', getAttribute: (n: string) => attrs[n] ?? null },
    readyState: opts.readyState ?? 'loading',
    visibilityState: 'visible',
    addEventListener: (t: string, f: () => void) => (listeners[`d:${t}`] ??= []).push(f),
  };
  const ctx: Record<string, unknown> = {
    document,
    location: { pathname: '/products/42' },
    navigator: {
      sendBeacon: opts.sendBeacon === null ? undefined : (url: string, body: string) => {
        beacons.push({ url, body });
        return opts.sendBeacon ? opts.sendBeacon(url, body) : true;
      },
    },
    performance: opts.noPerformance ? undefined : { getEntriesByType: (t: string) => (t === 'navigation' && nav ? [nav] : []) },
    PerformanceObserver: class {
      constructor(private readonly cb: (l: { getEntries(): unknown[] }) => void) {}
      observe(o: { type: string }) {
        observers[o.type] = this.cb;
        observeOptions[o.type] = o;
      }
    },
    Image: class {
      set src(v: string) {
        images.push(v);
      }
    },
    setTimeout: (fn: () => void, ms: number) => timers.push({ at: ms, fn }),
    addEventListener: (t: string, f: () => void) => (listeners[`w:${t}`] ??= []).push(f),
    encodeURIComponent,
    JSON,
    Math,
  };
  ctx.window = ctx;
  return {
    run: () => runInNewContext(script.text.toString('utf8'), ctx),
    fire: (name: string, e?: unknown) => (listeners[name] ?? []).forEach((f) => f(e)),
    emit: (type: string, entries: unknown[]) => observers[type]?.({ getEntries: () => entries }),
    runTimers: () => timers.splice(0).forEach((t) => t.fn()),
    timers,
    nav,
    document,
    beacons,
    images,
    observeOptions,
    ctx,
  };
}

describe('rum.js as served', () => {
  it('stays under 2.5 KB gzipped and is the minified source', () => {
    expect(script.gzip.length).toBeLessThan(2500);
    expect(gunzipSync(script.gzip).equals(script.text)).toBe(true);
    expect(script.text.toString()).toBe(minifyScript(readFileSync(RUM_SOURCE_PATH, 'utf8')));
    expect(script.version).toMatch(/^[0-9a-f]{12}$/);
    expect(rumScriptOf(minifyScript(readFileSync(RUM_SOURCE_PATH, 'utf8'))).version).toBe(script.version);
    expect(script.text.toString()).not.toMatch(/\.cookie|localStorage|sessionStorage|indexedDB/i);
    expect(script.text.toString()).not.toMatch(/\brequire\(|\bimport\b/);
  });

  it('is built by `npm run build` into dist/, and the beacon refuses to start without it', () => {
    const pkg = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../package.json'), 'utf8')) as { scripts: Record<string, string>; dependencies: Record<string, string> };
    expect(pkg.scripts.build).toBe('tsc -p tsconfig.build.json && node dist/bin/build-rum.js');
    expect(pkg.dependencies.esbuild).toBeUndefined(); // build time only
    expect(RUM_BUILT_PATH).toBe(path.resolve(import.meta.dirname, '../../dist/beacon/rum/rum.min.js'));
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rum-build-'));
    try {
      const out = path.join(dir, 'nested', 'rum.min.js');
      expect(buildRumFile(RUM_SOURCE_PATH, out)).toEqual({ file: out, bytes: script.text.length });
      expect(readFileSync(out).equals(script.text)).toBe(true);
      const missing = path.join(dir, 'missing.js');
      expect(() => loadRumScript(missing)).toThrow(`the browser script is not built: ${missing} is missing (run \`npm run build\`, which builds it with esbuild)`);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('sends one beacon a second after load with the rounded marks and vitals', () => {
    const b = fakeBrowser();
    b.run();
    expect(b.observeOptions.event).toEqual({ type: 'event', buffered: true, durationThreshold: 16 });
    b.emit('paint', [{ name: 'first-paint', startTime: 100 }, { name: 'first-contentful-paint', startTime: 287.6 }]);
    b.emit('largest-contentful-paint', [{ startTime: 300 }, { startTime: 591.8 }]);
    // CLS: window 1 = 0.1 + 0.05 (gap < 1 s); input-driven shift ignored; window 2 = 0.2 alone.
    b.emit('layout-shift', [
      { startTime: 100, value: 0.1, hadRecentInput: false },
      { startTime: 500, value: 0.05, hadRecentInput: false },
      { startTime: 900, value: 0.5, hadRecentInput: true },
      { startTime: 2000, value: 0.2, hadRecentInput: false },
    ]);
    b.emit('event', [{ interactionId: 0, duration: 300 }, { interactionId: 5, duration: 48 }, { interactionId: 6, duration: 96 }]);
    expect(b.timers.length).toBe(0);
    (b.nav as Record<string, number>).loadEventEnd = 578.7;
    b.fire('w:load');
    expect(b.timers.map((t) => t.at)).toEqual([1000]);
    expect(b.beacons.length).toBe(0);
    b.runTimers();
    expect(b.beacons.length).toBe(1);
    expect(b.beacons[0]!.url).toBe('http://beacon.test:8081/beacon');
    expect(JSON.parse(b.beacons[0]!.body)).toEqual({
      v: 1, k: 'bk_test', a: 'Shop', u: '/products/42', t: 'navigate',
      m: [0, 10, 222, 324, 390, 579], fcp: 288, lcp: 592, inp: 96, cls: 0.2,
    });
    b.fire('d:visibilitychange');
    b.fire('w:pagehide');
    expect(b.beacons.length).toBe(1);
    expect(b.images).toEqual([]);
  });

  it('sends at once when the loaded page is hidden, and only once', () => {
    const b = fakeBrowser({ readyState: 'complete', attrs: { 'data-key': 'bk_test' } });
    (b.nav as Record<string, number>).loadEventEnd = 578.7;
    b.run();
    expect(b.timers.length).toBe(1);
    b.document.visibilityState = 'hidden';
    b.fire('d:visibilitychange');
    expect(b.beacons.length).toBe(1);
    expect(JSON.parse(b.beacons[0]!.body)).toMatchObject({ a: '', fcp: null, lcp: null, inp: null, cls: 0 });
    b.runTimers();
    b.fire('w:pagehide');
    expect(b.beacons.length).toBe(1);
  });

  it('waits for load when hidden before it, and drops FCP/LCP painted after hiding', () => {
    const b = fakeBrowser();
    b.run();
    b.document.visibilityState = 'hidden';
    b.fire('d:visibilitychange');
    b.fire('w:pagehide');
    expect(b.beacons.length).toBe(0);
    b.emit('paint', [{ name: 'first-contentful-paint', startTime: 287.6 }]);
    (b.nav as Record<string, number>).loadEventEnd = 578.7;
    b.fire('w:load');
    b.runTimers();
    expect(b.beacons.length).toBe(1);
    expect(JSON.parse(b.beacons[0]!.body)).toMatchObject({ fcp: null, m: [0, 10, 222, 324, 390, 579] });
  });

  it('falls back to an image GET when sendBeacon refuses, throws or is missing', () => {
    for (const sendBeacon of [() => false, () => { throw new Error('blocked'); }, null]) {
      const b = fakeBrowser({ readyState: 'complete', attrs: { 'data-key': 'bk_test', 'data-endpoint': 'https://rum.test/b' }, sendBeacon });
      (b.nav as Record<string, number>).loadEventEnd = 578.7;
      b.run();
      b.runTimers();
      expect(b.images.length).toBe(1);
      const u = new URL(b.images[0]!);
      expect(u.origin + u.pathname).toBe('https://rum.test/b');
      expect(JSON.parse(u.searchParams.get('d')!)).toMatchObject({ k: 'bk_test', m: [0, 10, 222, 324, 390, 579] });
    }
  });

  it('counts prerendered pages from activation', () => {
    const nav = { type: 'prerender', activationStart: 400.4, requestStart: 5, responseStart: 50, responseEnd: 60, domContentLoadedEventEnd: 70, loadEventEnd: 80 };
    const b = fakeBrowser({ readyState: 'complete', nav });
    b.run();
    b.emit('paint', [{ name: 'first-contentful-paint', startTime: 120 }]);
    b.emit('largest-contentful-paint', [{ startTime: 450 }]);
    b.runTimers();
    expect(JSON.parse(b.beacons[0]!.body)).toMatchObject({ t: 'prerender', m: [400, 5, 50, 60, 70, 80], fcp: 0, lcp: 50 });
  });

  it('does nothing, and throws nothing, without a key, a performance API or a navigation entry', () => {
    const noKey = fakeBrowser({ attrs: {} });
    expect(() => noKey.run()).not.toThrow();
    expect(noKey.timers.length).toBe(0);
    const noPerf = fakeBrowser({ noPerformance: true });
    expect(() => noPerf.run()).not.toThrow();
    expect(noPerf.timers.length).toBe(0);
    const noNav = fakeBrowser({ nav: null, readyState: 'complete' });
    noNav.run();
    expect(() => noNav.runTimers()).not.toThrow();
    expect(noNav.beacons.length + noNav.images.length).toBe(0);
  });

  it('swallows errors from broken browser APIs', () => {
    const b = fakeBrowser({ readyState: 'complete' });
    b.ctx.PerformanceObserver = class {
      constructor() {
        throw new Error('unsupported');
      }
    };
    (b.ctx.performance as { getEntriesByType: () => unknown }).getEntriesByType = () => {
      throw new Error('broken');
    };
    expect(() => b.run()).not.toThrow();
    expect(() => b.runTimers()).not.toThrow();
    expect(b.beacons.length).toBe(0);
  });

  it('runs once per page even when included twice', () => {
    const b = fakeBrowser({ readyState: 'complete' });
    (b.nav as Record<string, number>).loadEventEnd = 578.7;
    b.run();
    b.run();
    b.runTimers();
    expect(b.beacons.length).toBe(1);
  });
});
