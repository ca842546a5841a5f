import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/config/config.js';
import { loadAppConfig } from '../../bin/app-variables.js';
import { rollupSettings } from '../../rollup/rollup-config.js';
import { timeArg } from '../../rollup/time-arg.js';

describe('rollup settings', () => {
  it('has working defaults', () => {
    expect(rollupSettings(loadAppConfig({}))).toEqual({
      schedule: '* * * * *',
      graceSeconds: 300,
      sealGraceSeconds: 120,
      maxPeriodsPerRun: 2000,
      lockWaitSeconds: 0,
      purge: true,
      precreateMinutes: 10,
      metricsHost: '127.0.0.1',
      metricsPort: 9466,
    });
  });

  it('names every bad variable, and refuses a schedule node-cron cannot run', () => {
    expect(() => loadAppConfig({ APM_ROLLUP_GRACE_SECONDS: '-1', APM_ROLLUP_PURGE: 'maybe' })).toThrow(
      /APM_ROLLUP_GRACE_SECONDS="-1": must be at least 0\n {2}APM_ROLLUP_PURGE="maybe": must be true or false/,
    );
    const bad = loadAppConfig({ APM_ROLLUP_SCHEDULE: 'every minute' });
    expect(() => rollupSettings(bad)).toThrow(ConfigError);
    expect(() => rollupSettings(bad)).toThrow(/APM_ROLLUP_SCHEDULE="every minute": must be a cron expression/);
    expect(rollupSettings(loadAppConfig({ APM_ROLLUP_SCHEDULE: '*/5 * * * * *' })).schedule).toBe('*/5 * * * * *');
  });
});

describe('timeArg (--until)', () => {
  it('reads Unix seconds and ISO 8601 times, UTC unless an offset is given', () => {
    expect(timeArg(undefined, '--until')).toBeUndefined();
    expect(timeArg('1709251200', '--until')).toBe(1709251200);
    expect(timeArg('2024-03-01', '--until')).toBe(1709251200);
    expect(timeArg('2024-03-01T12:00', '--until')).toBe(1709251200 + 12 * 3600);
    expect(timeArg('2024-03-01T12:00:30Z', '--until')).toBe(1709251200 + 12 * 3600 + 30);
    expect(timeArg('2024-03-01T12:00+02:00', '--until')).toBe(1709251200 + 10 * 3600);
  });

  it('refuses anything else with a message naming the option', () => {
    for (const bad of ['yesterday', '2024-02-30', '2024-3-1', '-5', '', true]) {
      expect(() => timeArg(bad, '--until')).toThrow(/^cannot read --until: expected Unix seconds or an ISO 8601 time/);
    }
  });
});
