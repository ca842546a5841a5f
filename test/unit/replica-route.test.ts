import { describe, expect, it } from 'vitest';
import { lagFromHeartbeat } from '../../lib/replica/lag-probe.js';
import { edgeBound, primarySeconds, routeRead, type RouteInput } from '../../lib/replica/read-route.js';

const NOW = 1_800_000_000; // a minute start
const DAY = Math.floor(NOW / 86400) * 86400;
const base: RouteInput = { from: NOW - 1800, to: NOW, step: 60, now: NOW, replicas: [], maxLagSeconds: 5, marginSeconds: 90, maxEdgeSeconds: 900, moving: false };
const r = (address: string, lagSeconds: number | null) => ({ address, lagSeconds });

describe('routeRead', () => {
  it.each([
    ['no replica registered', {}, 'no_replica', [['primary', NOW - 1800, NOW]]],
    ['every replica unmeasurable', { replicas: [r('a:1', null), r('b:1', null)] }, 'replicas_down', [['primary', NOW - 1800, NOW]]],
    ['moving account, current replica', { moving: true, replicas: [r('a:1', 0.5)] }, 'moving', [['primary', NOW - 1800, NOW]]],
    ['current replica', { replicas: [r('a:1', 4.9)] }, 'current', [['replica', NOW - 1800, NOW, 'a:1']]],
    ['lagged one skipped for a current one', { replicas: [r('a:1', 30), r('b:1', 1)] }, 'current', [['replica', NOW - 1800, NOW, 'b:1']]],
    ['lag exactly the threshold is lagged', { replicas: [r('a:1', 5)], to: NOW - 95 }, 'window_old', [['replica', NOW - 1800, NOW - 95, 'a:1']]],
    ['window ends one second too late', { replicas: [r('a:1', 5)], to: NOW - 60 }, 'edge', [['replica', NOW - 1800, NOW - 120, 'a:1'], ['primary', NOW - 120, NOW - 60]]],
    ['edge split on the minute', { replicas: [r('a:1', 40)] }, 'edge', [['replica', NOW - 1800, NOW - 180, 'a:1'], ['primary', NOW - 180, NOW]]],
    ['unreachable skipped, lagged used', { replicas: [r('a:1', null), r('b:1', 40)] }, 'edge', [['replica', NOW - 1800, NOW - 180, 'b:1'], ['primary', NOW - 180, NOW]]],
    ['edge bounded', { replicas: [r('a:1', 3600)] }, 'edge_bounded', [['replica', NOW - 1800, NOW - 900, 'a:1'], ['primary', NOW - 900, NOW]]],
    ['edge bound 0: never the primary', { replicas: [r('a:1', 3600)], maxEdgeSeconds: 0 }, 'edge_bounded', [['replica', NOW - 1800, NOW, 'a:1']]],
    ['hour buckets: edge of one whole hour', { replicas: [r('a:1', 600)], from: NOW - 86400 * 2, to: NOW + 3600, step: 3600 }, 'edge_bounded', [['replica', NOW - 86400 * 2, NOW, 'a:1'], ['primary', NOW, NOW + 3600]]],
    ['hour buckets: split on the hour', { replicas: [r('a:1', 600)], from: NOW - 86400 * 2, to: NOW, step: 3600 }, 'edge', [['replica', NOW - 86400 * 2, NOW - 3600, 'a:1'], ['primary', NOW - 3600, NOW]]],
  ] as const)('%s', (_name, change, reason, parts) => {
    const route = routeRead({ ...base, ...(change as Partial<RouteInput>) });
    expect(route.reason).toBe(reason);
    expect(route.parts.map((p) => [p.target, p.from, p.to, ...(p.replica ? [p.replica] : [])])).toEqual(parts);
  });

  it('says from when an answer may be stale and how much went to the primary', () => {
    const route = routeRead({ ...base, replicas: [r('a:1', 1000)] });
    expect(route.staleFrom).toBe(NOW - 1800 + Math.floor((1800 - 1090) / 60) * 60);
    expect(primarySeconds(route)).toBe(900);
    expect(route.replicaLagSeconds).toBe(1000);
  });

  it('never sends more than the edge to the primary, whatever the lag and window', () => {
    for (const lag of [5, 6, 59, 61, 89.5, 600, 899, 901, 86400]) {
      for (const [from, to, step] of [[NOW - 1800, NOW, 60], [NOW - 7 * 86400, NOW + 3600, 3600], [DAY - 400 * 86400, DAY + 86400, 86400]] as const) {
        const route = routeRead({ ...base, replicas: [r('a:1', lag), r('b:1', lag + 1)], from, to, step });
        // At most the bound, and never more than what is newer than now - lag - margin (plus one bucket).
        expect(primarySeconds(route)).toBeLessThanOrEqual(edgeBound(900, step));
        expect(primarySeconds(route)).toBeLessThanOrEqual(Math.max(0, to - (NOW - lag - 90) + step));
        expect(route.parts[0]!.from).toBe(from);
        expect(route.parts[route.parts.length - 1]!.to).toBe(to);
        for (const p of route.parts) expect([p.from % step, p.to % step]).toEqual([from % step, to % step]);
      }
    }
  });
});

describe('lagFromHeartbeat', () => {
  it.each([
    [900, 60, 900],
    [900, 3600, 3600],
    [900, 86400, 0],
    [172800, 86400, 172800],
  ])('edge bound %d s with %d s buckets → %d s', (max, step, bound) => expect(edgeBound(max, step)).toBe(bound));

  it.each([
    [0, 5_000, null],
    [1_000, 1_000, 0],
    [1_000, 61_250, 60.25],
    [2_000, 1_990, 0],
  ])('beat %d at %d ms → %s s', (beat, now, lag) => expect(lagFromHeartbeat(beat, now)).toBe(lag));
});
