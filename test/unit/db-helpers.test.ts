import { describe, expect, it } from 'vitest';
import { withLockRetry } from '../../lib/db/deadlock-retry.js';
import { KeyedLock } from '../../lib/concurrency/keyed-lock.js';

describe('lock-conflict retry', () => {
  it('runs again after a deadlock, and gives up after the last attempt', async () => {
    let calls = 0;
    const deadlock = Object.assign(new Error('Deadlock found'), { errno: 1213 });
    expect(await withLockRetry(async () => (++calls < 3 ? Promise.reject(deadlock) : 'ok'))).toBe('ok');
    expect(calls).toBe(3);
    calls = 0;
    await expect(withLockRetry(async () => (calls++, Promise.reject(deadlock)), 2)).rejects.toBe(deadlock);
    expect(calls).toBe(2);
    calls = 0;
    await expect(withLockRetry(async () => (calls++, Promise.reject(new Error('no table'))))).rejects.toThrow('no table');
    expect(calls).toBe(1);
  });
});

describe('keyed lock run()', () => {
  it('runs tasks of one key one at a time, in order, and other keys alongside', async () => {
    const s = new KeyedLock();
    const log: string[] = [];
    const task = (name: string, ms: number) => async () => {
      log.push(`start ${name}`);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`end ${name}`);
      return name;
    };
    const results = await Promise.all([s.run('a', task('a1', 20)), s.run('a', task('a2', 1)), s.run('b', task('b1', 5))]);
    expect(results).toEqual(['a1', 'a2', 'b1']);
    expect(log).toEqual(['start a1', 'start b1', 'end b1', 'end a1', 'start a2', 'end a2']);
    await expect(s.run('a', async () => Promise.reject(new Error('x')))).rejects.toThrow('x');
    expect(await s.run('a', async () => 'after a failure')).toBe('after a failure');
  });
});
