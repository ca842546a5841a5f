import { describe, expect, it } from 'vitest';
import { MAX_GROUP_LENGTH, OVERFLOW_GROUP, PageGroupLimiter, pageGroupOf } from '../../beacon/page-group.js';

describe('pageGroupOf', () => {
  it.each([
    ['/', '/'],
    ['', '/'],
    ['/products/42', '/products/{id}'],
    ['/products/42/', '/products/{id}'],
    ['//products///42', '/products/{id}'],
    ['/products/42?color=red#reviews', '/products/{id}'],
    ['/search?q=/a/1', '/search'],
    ['/about#team', '/about'],
    ['/orders/123e4567-E89B-12d3-a456-426614174000/items/7', '/orders/{uuid}/items/{id}'],
    ['/assets/5f2b9c0e8d1a4b7c9e3f2a1d', '/assets/{hash}'],
    ['/commit/9fceb02d0ae598e95dc970b74767f19372d61af8', '/commit/{hash}'],
    ['/reset/aZ3kQ9xY7pL2mN8w', '/reset/{token}'],
    ['/blog/best-laptops-2024-under-1000', '/blog/best-laptops-2024-under-1000'],
    ['/blog/deadbeef', '/blog/deadbeef'],
    ['/docs/v2/api', '/docs/v2/api'],
    ['/users/Alice', '/users/Alice'],
    ['/' + 'x'.repeat(65), '/{long}'],
    ['/a/b/c/d/e/f/g/h/i/j/k/l/m/n', '/a/b/c/d/e/f/g/h/i/j/k/l/{more}'],
  ])('%s → %s', (path, group) => {
    expect(pageGroupOf(path)).toBe(group);
  });

  it('keeps groups within the dictionary scope column', () => {
    const path = '/' + Array.from({ length: 11 }, (_, i) => `${'s'.repeat(60)}${String.fromCharCode(97 + i)}`).join('/');
    const group = pageGroupOf(path);
    expect(group.length).toBeLessThanOrEqual(MAX_GROUP_LENGTH + '/{more}'.length);
    expect(group).toBe('/' + ['a', 'b', 'c'].map((c) => 's'.repeat(60) + c).join('/') + '/{more}');
  });
});

describe('PageGroupLimiter', () => {
  it('keeps the first N groups per application and folds the rest into the overflow group', () => {
    const limiter = new PageGroupLimiter(2);
    expect(limiter.limit('1:1', '/a')).toBe('/a');
    expect(limiter.limit('1:1', '/b')).toBe('/b');
    expect(limiter.limit('1:1', '/c')).toBe(OVERFLOW_GROUP);
    expect(limiter.limit('1:1', '/a')).toBe('/a');
    expect(limiter.limit('1:2', '/c')).toBe('/c');
    expect(limiter.limit('1:1', '/d')).toBe(OVERFLOW_GROUP);
    expect(limiter.overflowed).toBe(2);
  });
  it('refuses a bound that is not a positive integer', () => {
    expect(() => new PageGroupLimiter(0)).toThrow('BUG: maxPerApplication must be a positive integer, got 0');
  });
});
