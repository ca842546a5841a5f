import { describe, expect, it } from 'vitest';
import { InputError } from '../../lib/errors.js';
import { bucketStarts, chooseResolution } from '../../dashboard/resolution.js';
import { parseTimeWindow } from '../../dashboard/time-window.js';

const NOW = 1_795_393_522; // 2026-11-23T...:22Z, not aligned to anything

describe('parseTimeWindow', () => {
  it.each([
    [{}, 1800],
    [{ last: '30m' }, 1800],
    [{ last: '3h' }, 10800],
    [{ last: '24h' }, 86400],
    [{ last: '7d' }, 604800],
    [{ last: '30d' }, 2592000],
    [{ last: '1y' }, 31536000],
  ])('preset %j ends now and lasts %i s', (q, seconds) => {
    expect(parseTimeWindow(q, NOW + 0.75)).toEqual({ from: NOW - seconds, to: NOW });
  });

  it('reads explicit Unix seconds and ISO 8601 times', () => {
    expect(parseTimeWindow({ from: '1795300000', to: '1795303600' }, NOW)).toEqual({ from: 1795300000, to: 1795303600 });
    expect(parseTimeWindow({ from: '2026-11-22T10:00:00Z', to: '2026-11-22T11:30:00+01:00' }, NOW)).toEqual({
      from: Date.UTC(2026, 10, 22, 10) / 1000,
      to: Date.UTC(2026, 10, 22, 10, 30) / 1000,
    });
  });

  it.each([
    [{ last: '2h' }, 'last="2h" is not one of 30m, 3h, 24h, 7d, 30d, 1y'],
    [{ last: '3h', from: '1' }, 'give either last or from/to, not both'],
    [{ from: '100' }, 'from and to must be given together'],
    [{ from: 'yesterday', to: '100' }, 'from="yesterday" is neither Unix seconds nor an ISO 8601 time with a zone'],
    [{ from: '2026-11-22T10:00:00', to: '1795303600' }, 'is neither Unix seconds nor an ISO 8601 time with a zone'],
    [{ from: '200', to: '200' }, 'to (200) must be after from (200)'],
    [{ from: '0', to: String(NOW) }, 'is longer than the limit'],
    [{ from: String(NOW), to: String(NOW + 2 * 86400) }, 'is more than a day in the future'],
  ])('rejects %j', (q, message) => {
    expect(() => parseTimeWindow(q, NOW)).toThrow(InputError);
    expect(() => parseTimeWindow(q, NOW)).toThrow(message);
  });
});

describe('chooseResolution', () => {
  const opts = { maxPoints: 500, now: NOW };
  it.each([
    ['30m', 'minute', 60, 31],
    ['3h', 'minute', 60, 181],
    ['24h', 'hour', 3600, 25],
    ['7d', 'hour', 3600, 169],
    ['30d', 'day', 86400, 31],
    ['1y', 'day', 86400, 366],
  ])('last %s → %s, step %i, %i points (partial buckets at both ends)', (last, kind, step, points) => {
    const r = chooseResolution(parseTimeWindow({ last }, NOW), opts);
    expect(r).toMatchObject({ kind, step, points });
    expect(r.from % step).toBe(0);
    expect(r.to % step).toBe(0);
    expect(r.from).toBeLessThanOrEqual(NOW - { '30m': 1800, '3h': 10800, '24h': 86400, '7d': 604800, '30d': 2592000, '1y': 31536000 }[last]!);
    expect(r.to).toBeGreaterThan(NOW);
    expect(bucketStarts(r)).toHaveLength(points);
  });

  it('uses minutes up to exactly maxPoints, hours above', () => {
    expect(chooseResolution({ from: 0, to: 500 * 60 }, opts)).toEqual({ kind: 'minute', step: 60, from: 0, to: 30000, points: 500 });
    expect(chooseResolution({ from: 0, to: 500 * 60 + 1 }, opts)).toEqual({ kind: 'hour', step: 3600, from: 0, to: 32400, points: 9 });
  });

  it('groups days when even days are too many', () => {
    const r = chooseResolution({ from: 0, to: 1200 * 86400 }, opts);
    expect(r).toEqual({ kind: 'day', step: 3 * 86400, from: 0, to: 1200 * 86400, points: 400 });
  });

  it('skips a kind whose rows are no longer kept at the window start', () => {
    const retention = { minute: 2, hour: 30, day: null };
    const threeHoursAgo = { from: NOW - 3 * 86400, to: NOW - 3 * 86400 + 10800 };
    expect(chooseResolution(threeHoursAgo, { ...opts, retention }).kind).toBe('hour');
    expect(chooseResolution({ from: NOW - 40 * 86400, to: NOW - 39 * 86400 }, { ...opts, retention }).kind).toBe('day');
    expect(chooseResolution({ from: NOW - 86400, to: NOW - 86400 + 10800 }, { ...opts, retention }).kind).toBe('minute');
  });
});
