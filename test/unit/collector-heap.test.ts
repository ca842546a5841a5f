import v8 from 'node:v8';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { applyCollectorHeapFlags, COLLECTOR_HEAP_GROWING_PERCENT, COLLECTOR_SEMI_SPACE_MIB, collectorHeapFlags } from '../../collector/collector-heap.js';

describe('collector heap setting (issue #20: peak RSS per collector process)', () => {
  afterEach(() => vi.restoreAllMocks());

  it('gives forked collector processes a heap growing factor of 2 and 32 MiB semi-spaces, each unless the operator set their own', () => {
    expect(COLLECTOR_HEAP_GROWING_PERCENT).toBe(100);
    expect(COLLECTOR_SEMI_SPACE_MIB).toBe(32);
    expect(collectorHeapFlags([])).toEqual(['--heap-growing-percent=100', '--max-semi-space-size=32']);
    expect(collectorHeapFlags(['--enable-source-maps'])).toEqual(['--heap-growing-percent=100', '--max-semi-space-size=32']);
    expect(collectorHeapFlags(['--heap-growing-percent=30'])).toEqual(['--max-semi-space-size=32']);
    expect(collectorHeapFlags(['--max-semi-space-size=8'])).toEqual(['--heap-growing-percent=100']);
    expect(collectorHeapFlags(['--inspect', '--heap-growing-percent=0', '--max-semi-space-size=64'])).toEqual([]);
  });

  it('the npm scripts that host a collector start Node with the semi-space size (V8 reads it only at start)', () => {
    const scripts = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts.start).toBe('node --max-semi-space-size=32 dist/bin/start.js');
    expect(scripts.bench).toBe('npm run build && node --max-semi-space-size=32 dist/bench/run.js');
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
