import { describe, expect, it } from 'vitest';
import { FULL_DEFAULTS, parseBenchArgs, QUICK_DEFAULTS, rowsPerMinute, type BenchOptions } from '../../bench/bench-options.js';

const parse = (...argv: string[]) => parseBenchArgs(argv) as BenchOptions;
const GIB = 1024 ** 3;

describe('bench flags', () => {
  it('defaults to the full mode shape and both pool sizes', () => {
    const o = parse();
    expect(o).toEqual(FULL_DEFAULTS);
    expect(o.bufferPools).toEqual([512 * 1024 ** 2, 4 * GIB]);
    expect(Math.min(...o.bufferPools)).toBeLessThanOrEqual(4 * GIB);
    expect(rowsPerMinute(o)).toBe(25 * (50 * 100 + 100));
    expect([o.minutes, o.generator, o.flushLogAtTrxCommit]).toEqual([60, 'child', 1]);
    expect(o.phases).toEqual(['ceiling', 'end-to-end', 'peer', 'dashboard', 'rollup', 'beacons', 'alerts']);
  });

  it('scales the shape and the run by flag', () => {
    const o = parse('--accounts', '200', '--agents', '50', '--metrics', '100', '--minutes', '60', '--pools', '4G,512M', '--flush-log', '2', '--concurrency', '64', '--beacon-seconds', '2.5', '--phases', 'rollup,ceiling', '--generator', 'inline', '--keep-data', '--out', '/tmp/o', '--data', '/tmp/d');
    expect(rowsPerMinute(o)).toBe(1_020_000);
    expect(o.bufferPools).toEqual([4 * GIB, 512 * 1024 ** 2]);
    expect(o.flushLogAtTrxCommit).toBe(2);
    expect(o.concurrency).toBe(64);
    expect(o.beaconSeconds).toBe(2.5);
    expect(o.phases).toEqual(['ceiling', 'rollup']);
    expect(o.generator).toBe('inline');
    expect([o.keepData, o.outDir, o.dataDir]).toEqual([true, '/tmp/o', '/tmp/d']);
  });

  it('starts from the quick shape with --quick and keeps probe accounts within the accounts', () => {
    expect(parse('--quick')).toEqual(QUICK_DEFAULTS);
    expect(parse('--quick', '--accounts', '1').probeAccounts).toBe(1);
    expect(parseBenchArgs(['--help'])).toBe('help');
  });

  it('names the bad flag', () => {
    expect(() => parse('--accounts', 'x')).toThrow('cannot parse bench flags: --accounts must be a whole number, got "x"');
    expect(() => parse('--minutes', '61')).toThrow('cannot parse bench flags: --minutes must be between 1 and 60, got 61');
    expect(() => parse('--metrics', '3')).toThrow('cannot parse bench flags: --metrics must be between 7 and 5000, got 3');
    expect(() => parse('--pools', '2X')).toThrow('cannot parse bench flags: --pools: "2X" is not a size like 2G or 512M');
    expect(() => parse('--pools', '16M')).toThrow('cannot parse bench flags: --pools: 16M is below the 32M MariaDB accepts for the bench');
    expect(() => parse('--flush-log', '0')).toThrow('cannot parse bench flags: --flush-log must be 1 or 2, got "0"');
    expect(() => parse('--generator', 'thread')).toThrow('cannot parse bench flags: --generator must be child or inline, got "thread"');
    expect(parse('--phases', 'peer').phases).toEqual(['end-to-end', 'peer']);
    expect(() => parse('--phases', 'ceiling,warp')).toThrow('cannot parse bench flags: --phases: "warp" is not one of ceiling, end-to-end, peer, dashboard, rollup, beacons');
    expect(() => parse('--beacon-seconds', '-1')).toThrow(/cannot parse bench flags: .*beacon-seconds/);
    expect(() => parse('--bogus')).toThrow(/cannot parse bench flags: Unknown option '--bogus'/);
  });
});
