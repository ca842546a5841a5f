import { describe, expect, it } from 'vitest';
import { apiKeyOf } from '../../dashboard/read-auth.js';
import { parseCookies, SessionStore } from '../../dashboard/session-store.js';

describe('SessionStore', () => {
  it('ends sessions idle too long and keeps used ones alive', () => {
    let now = 1000;
    const store = new SessionStore({ maxSessions: 10, idleSeconds: 60, now: () => now });
    const a = store.create(1, 'key-a');
    const b = store.create(2, 'key-b');
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.id).not.toBe(b.id);
    now += 50;
    expect(store.get(a.id)?.accountId).toBe(1);
    now += 50; // a was used 50 s ago, b 100 s ago
    expect(store.get(a.id)?.readKey).toBe('key-a');
    expect(store.get(b.id)).toBeUndefined();
    expect(store.size).toBe(1);
  });

  it('is bounded: past maxSessions the least recently used session goes', () => {
    const store = new SessionStore({ maxSessions: 2, idleSeconds: 3600, now: () => 0 });
    const a = store.create(1, 'k');
    const b = store.create(1, 'k');
    store.get(a.id); // b is now the least recently used
    const c = store.create(1, 'k');
    expect([store.get(a.id)?.id, store.get(b.id), store.get(c.id)?.id]).toEqual([a.id, undefined, c.id]);
    expect(store.size).toBe(2);
    store.delete(a.id);
    expect(store.get(a.id)).toBeUndefined();
  });
});

describe('credentials', () => {
  it('parses cookies, first value of a name winning', () => {
    expect([...parseCookies('a=1; apm_session=xyz; b; apm_session=other;c=')]).toEqual([['a', '1'], ['apm_session', 'xyz'], ['c', '']]);
    expect(parseCookies('').size).toBe(0);
  });
  it('takes the key from X-Api-Key or a Bearer authorization', () => {
    expect(apiKeyOf('k1', 'Bearer k2')).toBe('k1');
    expect(apiKeyOf('', 'Bearer  k2 ')).toBe('k2');
    expect(apiKeyOf('', 'Basic abc')).toBe('');
    expect(apiKeyOf('', '')).toBe('');
  });
});
