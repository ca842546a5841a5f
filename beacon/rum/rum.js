/*! apm rum.js: real-user monitoring. No dependencies, no cookies, never throws into the page. */
// Source of the script the beacon serves (`npm run build` minifies it with esbuild into
// dist/beacon/rum/rum.min.js: beacon/rum-build.ts). Plain ES5 so that every browser parses it; every
// callback is wrapped so nothing reaches the page. Contract with beacon/beacon-payload.ts (payload v1):
//   {v:1, k:<browser key>, a:<application name>, u:<location.pathname>, t:<navigation type>,
//    m:[activationStart, requestStart, responseStart, responseEnd, domContentLoadedEventEnd, loadEventEnd],
//    fcp, lcp, inp:<ms or null>, cls:<score>}
// Marks are whole milliseconds of the PerformanceNavigationTiming entry (startTime = 0). The server
// computes the phases from them (beacon/page-phases.ts), so they add up to loadEventEnd exactly.
// One beacon per page view: about a second after load (a late LCP paint is caught), sooner when the
// page is hidden; sendBeacon with a JSON string (text/plain: no CORS preflight), image GET if that fails.
(function (w, d) {
  try {
    var s = d.currentScript, p = w.performance, n = w.navigator, J = w.JSON;
    var key = s && s.getAttribute('data-key');
    if (!key || !p || !p.getEntriesByType || !J || w.__apmRum) return;
    w.__apmRum = 1;
    var app = s.getAttribute('data-app') || '';
    // The endpoint sits beside the script: https://host/x/rum.js -> https://host/x/beacon
    var url = s.getAttribute('data-endpoint') || s.src.replace(/[^\/]*$/, 'beacon');
    var delay = +s.getAttribute('data-delay') || 1000;
    var hidden = d.visibilityState == 'hidden', sent = 0;
    var fcp = null, lcp = null, inp = null, cls = 0, win = 0, first = 0, last = 0;
    var safe = function (f) {
      return function (x) { try { f(x); } catch (e) { /* never into the page */ } };
    };
    var watch = function (type, f, o) {
      try {
        o = o || {};
        o.type = type;
        o.buffered = true;
        new PerformanceObserver(safe(function (l) { l.getEntries().forEach(f); })).observe(o);
      } catch (e) { /* entry type not supported */ }
    };
    watch('paint', function (e) {
      if (e.name == 'first-contentful-paint' && !hidden) fcp = e.startTime;
    });
    watch('largest-contentful-paint', function (e) {
      if (!hidden) lcp = e.startTime;
    });
    // CLS = largest session window of shifts without recent input (gap < 1 s, window < 5 s).
    watch('layout-shift', function (e) {
      if (e.hadRecentInput) return;
      if (win && e.startTime - last < 1000 && e.startTime - first < 5000) win += e.value;
      else { win = e.value; first = e.startTime; }
      last = e.startTime;
      if (win > cls) cls = win;
    });
    // INP so far: the longest interaction seen before the beacon leaves (null: no interaction yet).
    watch('event', function (e) {
      if (e.interactionId && (inp == null || e.duration > inp)) inp = e.duration;
    }, { durationThreshold: 16 });
    var r = Math.round;
    var rel = function (x, a) { return x == null ? null : r(x > a ? x - a : 0); };
    var send = safe(function () {
      var e = p.getEntriesByType('navigation')[0];
      // Not loaded yet (hidden early): the timer after load sends.
      if (sent || !e || !e.loadEventEnd) return;
      sent = 1;
      // activationStart > 0 only for prerendered pages; the vitals count from activation.
      var a = e.activationStart || 0;
      var body = J.stringify({
        v: 1, k: key, a: app, u: w.location.pathname, t: e.type,
        m: [r(a), r(e.requestStart), r(e.responseStart), r(e.responseEnd), r(e.domContentLoadedEventEnd), r(e.loadEventEnd)],
        fcp: rel(fcp, a), lcp: rel(lcp, a), inp: inp == null ? null : r(inp), cls: r(cls * 1e4) / 1e4
      });
      var ok = 0;
      try { ok = n.sendBeacon && n.sendBeacon(url, body); } catch (x) { /* e.g. blocked by a policy */ }
      if (!ok) new Image().src = url + '?d=' + encodeURIComponent(body);
    });
    var later = safe(function () { setTimeout(send, delay); });
    if (d.readyState == 'complete') later();
    else w.addEventListener('load', later);
    d.addEventListener('visibilitychange', safe(function () {
      if (d.visibilityState == 'hidden') { hidden = true; send(); }
    }), true);
    w.addEventListener('pagehide', send);
  } catch (e) { /* never into the page */ }
})(window, document);
