import { describe, expect, it } from 'vitest';
import { createLog } from '../../lib/log/log.js';
import { RepeatLimiter } from '../../lib/log/repeat-limiter.js';

describe('RepeatLimiter', () => {
  it('writes the first line of a kind per window and counts the rest', () => {
    const r = new RepeatLimiter(10_000, 2);
    expect(r.admit('warn', 'cannot write batch of account 12', 0)).toBe(0);
    expect(r.admit('warn', 'cannot write batch of account 13', 1_000)).toBeUndefined();
    expect(r.admit('warn', 'cannot write batch of account 14', 9_999)).toBeUndefined();
    expect(r.admit('error', 'cannot write batch of account 12', 9_999)).toBe(0);
    expect(r.admit('warn', 'cannot write batch of account 15', 10_000)).toBe(2);
    expect(r.admit('warn', 'cannot write batch of account 15', 10_001)).toBeUndefined();
  });

  it('forgets the least recently seen kind past its bound', () => {
    const r = new RepeatLimiter(10_000, 2);
    r.admit('warn', 'a', 0);
    r.admit('warn', 'b', 0);
    r.admit('warn', 'c', 0);
    expect(r.admit('warn', 'a', 1)).toBe(0);
  });
});

describe('createLog', () => {
  it('writes JSON lines with the same fields for every service, and rate-limits repeated errors', () => {
    const out: any[] = [];
    let now = 0;
    const root = createLog({ format: 'json', level: 'info', nowMs: () => now, destination: { write: (s: string) => out.push(JSON.parse(s)) } });
    const log = root.child({ service: 'collector' });
    log.debug('not written at info');
    log.info('listening', { port: 8443 });
    for (let i = 0; i < 5; i++) log.error(`cannot write to shard ${i}`);
    now = 10_000;
    log.error('cannot write to shard 9');
    expect(out.map((o) => [o.level, o.service, o.msg, o.port, o.repeated])).toEqual([
      [30, 'collector', 'listening', 8443, undefined],
      [50, 'collector', 'cannot write to shard 0', undefined, undefined],
      [50, 'collector', 'cannot write to shard 9', undefined, 4],
    ]);
    expect(typeof out[0].time).toBe('string');
    expect(out[0].pid).toBe(process.pid);
  });
});
