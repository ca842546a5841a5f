import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseTransactionEvents } from '../../collector/newrelic/transaction-events.js';
import { bucketOf } from '../../lib/distribution/log-buckets.js';
import { InputError } from '../../lib/errors.js';

const capture = JSON.parse(fs.readFileSync('test/fixtures/newrelic-capture/08-analytic_event_data.json', 'utf8'));
const opts = { now: 1795393500, maxAgeSeconds: 3600, maxFutureSeconds: 600 };

describe('New Relic transaction events → duration distributions', () => {
  it('counts every captured transaction event under its name and the roll-up name, per minute', () => {
    const body = capture.body;
    const events = (body[2] as any[]).map((e) => e[0]);
    const p = parseTransactionEvents(body, opts);
    expect([p.kept, p.skipped, p.seen, p.sent]).toEqual([events.length, 0, 18, events.length]);
    expect(p.lastMinute).toBe(Math.floor(Math.max(...events.map((e) => e.timestamp)) / 60000) * 60);
    const all = [...p.byMinute.values()];
    const total = (name: string) => all.reduce((s, m) => s + [...(m.get(name)?.values() ?? [])].reduce((a, b) => a + b, 0), 0);
    expect(total('WebTransaction')).toBe(events.filter((e) => e.name.startsWith('WebTransaction/')).length);
    const first = events[0];
    const minute = Math.floor(first.timestamp / 60000) * 60;
    expect(p.byMinute.get(minute)!.get(first.name)!.get(bucketOf(first.duration))).toBeGreaterThanOrEqual(1);
  });

  it('skips other types, malformed and out-of-range events, and refuses a malformed body', () => {
    const ok = { type: 'Transaction', name: 'OtherTransaction/Job/x', duration: 0.5, timestamp: opts.now * 1000 };
    const body = ['run', { events_seen: 9 }, [
      [ok, {}, {}],
      [{ ...ok, type: 'TransactionError' }],
      [{ ...ok, name: 'Custom/x' }],
      [{ ...ok, duration: -1 }],
      [{ ...ok, duration: 'slow' }],
      [{ ...ok, timestamp: (opts.now - 7200) * 1000 }],
      [{ ...ok, timestamp: (opts.now + 3600) * 1000 }],
      null,
      'x',
    ]];
    const p = parseTransactionEvents(body, opts);
    expect([p.kept, p.skipped]).toEqual([1, 8]);
    expect([...p.byMinute.get(Math.floor(opts.now / 60) * 60)!.keys()]).toEqual(['OtherTransaction/Job/x', 'OtherTransaction/all']);
    expect(() => parseTransactionEvents({}, opts)).toThrow(InputError);
    expect(() => parseTransactionEvents(['run', {}, new Array(20_001).fill(null)], opts)).toThrow('more than 20000');
  });
});
