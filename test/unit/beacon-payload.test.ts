import { describe, expect, it } from 'vitest';
import { decodeBeacon, DEFAULT_APPLICATION } from '../../beacon/beacon-payload.js';
import { BeaconRejection } from '../../beacon/beacon-rejection.js';

const good = {
  v: 1,
  k: 'bk_0123456789abcdef',
  a: 'Shop',
  u: '/products/42',
  t: 'navigate',
  m: [0, 10, 222, 324, 390, 579],
  fcp: 288,
  lcp: 592,
  inp: null,
  cls: 0.1167,
};

function rejection(body: string): BeaconRejection {
  try {
    decodeBeacon(body);
  } catch (err) {
    if (err instanceof BeaconRejection) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('decodeBeacon', () => {
  it('decodes a rum.js payload', () => {
    expect(decodeBeacon(JSON.stringify(good))).toEqual({
      browserKey: 'bk_0123456789abcdef',
      application: 'Shop',
      path: '/products/42',
      marks: { activationStart: 0, requestStart: 10, responseStart: 222, responseEnd: 324, domContentLoadedEventEnd: 390, loadEventEnd: 579 },
      fcp: 288,
      lcp: 592,
      inp: null,
      cls: 0.1167,
    });
  });

  it('defaults the application and the optional vitals, and ignores unknown fields', () => {
    const { a: _a, fcp: _f, lcp: _l, inp: _i, cls: _c, ...rest } = good;
    const v = decodeBeacon(JSON.stringify({ ...rest, future: { x: 1 } }));
    expect([v.application, v.fcp, v.lcp, v.inp, v.cls]).toEqual([DEFAULT_APPLICATION, null, null, null, 0]);
  });

  it.each([
    ['not json', 'bad_payload', 'cannot accept beacon: the body is not JSON'],
    ['', 'bad_payload', 'cannot accept beacon: the body is not JSON'],
    ['[1,2]', 'bad_payload', 'cannot accept beacon: the body is not a JSON object'],
    ['null', 'bad_payload', 'cannot accept beacon: the body is not a JSON object'],
    [JSON.stringify({ ...good, v: 2 }), 'bad_payload', 'cannot accept beacon: payload version 2 is not supported (expected 1)'],
    [JSON.stringify({ ...good, k: undefined }), 'bad_payload', 'cannot accept beacon: field "k" is missing'],
    [JSON.stringify({ ...good, k: 42 }), 'bad_payload', 'cannot accept beacon: field "k" must be a string'],
    [JSON.stringify({ ...good, k: 'k'.repeat(129) }), 'bad_payload', 'cannot accept beacon: field "k" is longer than 128 characters'],
    [JSON.stringify({ ...good, a: 'Shop\u0000' }), 'bad_payload', 'cannot accept beacon: field "a" contains control characters'],
    [JSON.stringify({ ...good, u: 'products' }), 'bad_payload', 'cannot accept beacon: field "u" must be a path starting with /'],
    [JSON.stringify({ ...good, m: [0, 1, 2] }), 'bad_payload', 'cannot accept beacon: field "m" must be an array of 6 navigation marks'],
    [JSON.stringify({ ...good, m: [0, 10, '222', 324, 390, 579] }), 'bad_payload', 'cannot accept beacon: mark responseStart must be a number'],
    [JSON.stringify({ ...good, fcp: '288' }), 'bad_payload', 'cannot accept beacon: field "fcp" must be a number or null'],
    [JSON.stringify({ ...good, cls: 'x' }), 'bad_payload', 'cannot accept beacon: field "cls" must be a number'],
    [JSON.stringify({ ...good, m: [0, -10, 222, 324, 390, 579] }), 'bad_timing', 'cannot accept beacon: requestStart -10 ms is not within [0, 3600000)'],
    [JSON.stringify({ ...good, m: [0, 10, 222, 324, 390, 3_600_000] }), 'bad_timing', 'cannot accept beacon: loadEventEnd 3600000 ms is not within [0, 3600000)'],
    [JSON.stringify({ ...good, m: [0, 10, 222, 324, 390, 1e300] }), 'bad_timing', 'cannot accept beacon: loadEventEnd 1e+300 ms is not within [0, 3600000)'],
    [JSON.stringify({ ...good, m: [0, 300, 222, 324, 390, 579] }), 'bad_timing', 'cannot accept beacon: responseStart (222 ms) is before requestStart (300 ms)'],
    [JSON.stringify({ ...good, m: [0, 0, 0, 0, 0, 0] }), 'bad_timing', 'cannot accept beacon: loadEventEnd is 0: the page had not finished loading'],
    [JSON.stringify({ ...good, lcp: -5 }), 'bad_timing', 'cannot accept beacon: lcp -5 ms is not within [0, 3600000)'],
    [JSON.stringify({ ...good, inp: 7_200_000 }), 'bad_timing', 'cannot accept beacon: inp 7200000 ms is not within [0, 3600000)'],
    [JSON.stringify({ ...good, cls: -0.1 }), 'bad_timing', 'cannot accept beacon: cls -0.1 is not within [0, 100]'],
    [JSON.stringify({ ...good, cls: 101 }), 'bad_timing', 'cannot accept beacon: cls 101 is not within [0, 100]'],
  ])('rejects %s', (body, reason, message) => {
    const r = rejection(body);
    expect([r.reason, r.message, r.status]).toEqual([reason, message, 400]);
  });
});
