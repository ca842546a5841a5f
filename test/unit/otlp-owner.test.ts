import { describe, expect, it } from 'vitest';
import { errorFromWire, errorToWire, mergePartials, ownerOf, splitByOwner, storeByOwner, type OtlpOwners, type OwnedPart } from '../../collector/otlp/otlp-owner.js';
import type { DecodedExport, OtlpResource } from '../../collector/otlp/otlp-model.js';
import { collectorProcessCount } from '../../collector/collector-process-messages.js';
import { loadAppConfig } from '../../bin/app-variables.js';
import { httpStatusOf, InputError, RetryableError } from '../../lib/errors.js';

const identity = (serviceName: string, instance?: string) => ({ serviceName, instance, pid: 0, language: 'otlp' });
const resource = (svc: string, points: number): OtlpResource => ({
  identity: identity(svc, 'i'),
  metrics: [{ name: 'm', unit: '1', shape: 'counter', temporality: 'cumulative', points: Array.from({ length: points }, (_, i) => ({ attributes: [], startNs: 1n, timeNs: BigInt(i + 2), value: i })) }],
});
/** Service names owned by process 0 and 1 of 2 for account 7. */
const names = Array.from({ length: 50 }, (_, i) => `s${i}`);
const ownedBy = (o: number): string => names.find((n) => ownerOf(7, identity(n, 'i'), 2) === o)!;
const [s0, s1] = [ownedBy(0), ownedBy(1)];
const exportOf = (...rs: OtlpResource[]): DecodedExport => ({ resources: rs, acceptedPoints: rs.reduce((n, r) => n + r.metrics[0]!.points.length, 0), rejected: [{ metric: 'x', reason: 'bad' }], skippedPoints: 1 });

describe('OTLP owner processes', () => {
  it('ownerOf: FNV-1a of account, service and instance modulo the count; 0 when alone', () => {
    expect(ownerOf(7, identity('a', 'i'), 1)).toBe(0);
    // FNV-1a (32 bits) of "7\0a\0i", computed here independently.
    let h = 0x811c9dc5;
    for (const ch of '7\u0000a\u0000i') h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
    expect(ownerOf(7, identity('a', 'i'), 3)).toBe(h % 3);
    // pid and language do not move a sender; the instance does count.
    expect(ownerOf(7, { ...identity('a', 'i'), pid: 9, language: 'otlp/go' }, 5)).toBe(ownerOf(7, identity('a', 'i'), 5));
    const spread = new Set(names.map((n) => ownerOf(7, identity(n), 4)));
    expect(spread).toEqual(new Set([0, 1, 2, 3]));
  });

  it('splitByOwner: one owner keeps the export and digest; two owners get parts with stable derived digests', () => {
    const whole = exportOf(resource(s0, 2), resource(s0, 1));
    expect([...splitByOwner(7, whole, 'd', 2)]).toEqual([[0, { accountId: 7, decoded: whole, digest: 'd' }]]);
    const mixed = exportOf(resource(s1, 2), resource(s0, 3), resource(s1, 1));
    const parts = splitByOwner(7, mixed, 'd', 2);
    expect([...parts.keys()]).toEqual([1, 0]);
    const p1 = parts.get(1)!;
    const p0 = parts.get(0)!;
    expect(p1.decoded.resources.map((r) => r.identity.serviceName)).toEqual([s1, s1]);
    expect([p1.decoded.acceptedPoints, p1.decoded.rejected.length, p1.decoded.skippedPoints]).toEqual([3, 1, 1]);
    expect([p0.decoded.acceptedPoints, p0.decoded.rejected.length, p0.decoded.skippedPoints]).toEqual([3, 0, 0]);
    expect(p1.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(p0.digest).not.toBe(p1.digest);
    expect(splitByOwner(7, mixed, 'd', 2).get(0)!.digest).toBe(p0.digest);
    expect(splitByOwner(7, mixed, 'e', 2).get(0)!.digest).not.toBe(p0.digest);
  });

  it('storeByOwner: local part here, the other forwarded; 2xx only when both committed; the retryable failure wins', async () => {
    const stored: string[] = [];
    const owners = (fail?: Error, failLocal?: Error): OtlpOwners => ({
      index: 0,
      count: 2,
      forward: async (owner, part) => {
        stored.push(`forward ${owner} ${part.decoded.resources.length}`);
        if (fail) throw fail;
        return { rejectedDataPoints: 2, errorMessage: 'remote' };
      },
    });
    const local = (failLocal?: Error) => async (p: OwnedPart) => {
      stored.push(`local ${p.decoded.resources.length}`);
      if (failLocal) throw failLocal;
      return { rejectedDataPoints: 1, errorMessage: 'here' };
    };
    const part = { accountId: 7, decoded: exportOf(resource(s1, 2), resource(s0, 3)), digest: 'd' };
    expect(await storeByOwner(owners(), part, local())).toEqual({ rejectedDataPoints: 3, errorMessage: 'remote; here' });
    expect(stored.sort()).toEqual(['forward 1 1', 'local 1']);
    await expect(storeByOwner(owners(new InputError('bad part')), part, local(new RetryableError('busy', 2)))).rejects.toThrow('busy');
    await expect(storeByOwner(owners(new InputError('bad part')), part, local())).rejects.toThrow('bad part');
    // Alone, or no owners: stored here whole.
    stored.length = 0;
    await storeByOwner(undefined, part, local());
    expect(stored).toEqual(['local 2']);
  });

  it('errors keep their status and Retry-After across processes; partials merge', () => {
    for (const e of [new RetryableError('busy', 3, 429), new InputError('bad'), new Error('secret details')]) {
      const back = errorFromWire(errorToWire(e));
      expect(httpStatusOf(back)).toBe(httpStatusOf(e));
    }
    expect(errorToWire(new RetryableError('busy', 3))).toEqual({ status: 503, message: 'busy', retryAfter: 3 });
    expect(errorToWire(new Error('secret details')).message).toBe('internal error');
    expect(mergePartials([undefined, undefined])).toBeUndefined();
  });

  it('APM_COLLECTOR_PROCESSES: set, or cores less one beside the embedded MariaDB, at least 1', () => {
    const unset = loadAppConfig({});
    expect(collectorProcessCount(unset, true, 2)).toBe(1);
    expect(collectorProcessCount(unset, false, 2)).toBe(2);
    expect(collectorProcessCount(unset, true, 1)).toBe(1);
    expect(collectorProcessCount(loadAppConfig({ APM_COLLECTOR_PROCESSES: '3' }), true, 2)).toBe(3);
    expect(() => loadAppConfig({ APM_COLLECTOR_PROCESSES: '0' })).toThrow(/APM_COLLECTOR_PROCESSES/);
  });
});
