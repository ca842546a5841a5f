import v8 from 'node:v8';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { applyCollectorHeapFlags, COLLECTOR_HEAP_GROWING_PERCENT, collectorHeapFlags } from '../../collector/collector-heap.js';

describe('collector heap setting (issue #20: peak RSS per collector process)', () => {
  afterEach(() => vi.restoreAllMocks());

  it('gives forked collector processes a heap growing factor of 2, unless the operator set their own', () => {
    expect(COLLECTOR_HEAP_GROWING_PERCENT).toBe(100);
    expect(collectorHeapFlags([])).toEqual(['--heap-growing-percent=100']);
    expect(collectorHeapFlags(['--enable-source-maps'])).toEqual(['--heap-growing-percent=100']);
    expect(collectorHeapFlags(['--heap-growing-percent=30'])).toEqual([]);
    expect(collectorHeapFlags(['--inspect', '--heap-growing-percent=0'])).toEqual([]);
  });

  it('applies it to a running process hosting the collector, and restores V8 default after', () => {
    const set = vi.spyOn(v8, 'setFlagsFromString');
    const restore = applyCollectorHeapFlags([]);
    expect(set.mock.calls).toEqual([['--heap-growing-percent=100']]);
    restore();
    expect(set.mock.calls).toEqual([['--heap-growing-percent=100'], ['--heap-growing-percent=0']]);
  });

  it("leaves the operator's own value alone", () => {
    const set = vi.spyOn(v8, 'setFlagsFromString');
    applyCollectorHeapFlags(['--heap-growing-percent=50'])();
    expect(set).not.toHaveBeenCalled();
  });
});
