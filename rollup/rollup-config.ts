import cron from 'node-cron';
import type { VariableSpec } from '../lib/config/variable-spec.js';
import { ConfigError, type Config } from '../lib/config/config.js';

/** The rollup's APM_ variables (documented in the README's configuration table). */
export const rollupVariables: VariableSpec[] = [
  { name: 'APM_ROLLUP_SCHEDULE', type: 'string', default: '* * * * *', doc: 'node-cron expression (5 fields, or 6 with seconds) of rollup runs; each run rolls every closed period, seals finished tables and purges expired ones.' },
  { name: 'APM_ROLLUP_GRACE_SECONDS', type: 'integer', default: '300', min: 0, max: 86400, doc: 'How long after an hour (day) ends before it is rolled up; data arriving later still counts (the period is marked dirty and re-rolled).' },
  { name: 'APM_SEAL_GRACE_SECONDS', type: 'integer', default: '120', min: 0, max: 3600, doc: 'How long after a minute ends before each rollup run\'s minute seal derives its application-wide rows from the agents\' rows (until then reads sum the agents); later data still counts exactly.' },
  { name: 'APM_ROLLUP_MAX_PERIODS_PER_RUN', type: 'integer', default: '2000', min: 1, max: 1000000, doc: 'Periods one run rolls per shard, oldest first; catch-up after downtime continues in the next runs.' },
  { name: 'APM_ROLLUP_LOCK_WAIT_SECONDS', type: 'integer', default: '0', min: 0, max: 3600, doc: 'How long a run waits for the per-shard rollup lock held by another worker before skipping that shard.' },
  { name: 'APM_ROLLUP_PURGE', type: 'boolean', default: 'true', doc: 'Whether scheduled runs drop tables past their plan\'s retention (apm purge works either way).' },
  { name: 'APM_ROLLUP_PRECREATE_MINUTES', type: 'integer', default: '10', min: 0, max: 59, doc: 'Scheduled runs create the next hour\'s minute tables of accounts active in the last two hours, spread over this many minutes before the hour (0 = off), so the first harvest of an hour creates no table.' },
  { name: 'APM_ROLLUP_METRICS_PORT', type: 'port', default: '9466', doc: 'Port of the rollup\'s Prometheus /metrics endpoint (0 = any free port).' },
];

/** The rollup's settings, typed. */
export interface RollupSettings {
  schedule: string;
  graceSeconds: number;
  sealGraceSeconds: number;
  maxPeriodsPerRun: number;
  lockWaitSeconds: number;
  purge: boolean;
  precreateMinutes: number;
  metricsHost: string;
  metricsPort: number;
}

/** Reads the rollup's settings; throws ConfigError when the cron expression is not valid. */
export function rollupSettings(config: Config): RollupSettings {
  const schedule = config.str('APM_ROLLUP_SCHEDULE');
  if (!cron.validate(schedule)) {
    throw new ConfigError([`APM_ROLLUP_SCHEDULE=${JSON.stringify(schedule)}: must be a cron expression such as "* * * * *"`]);
  }
  return {
    schedule,
    graceSeconds: config.num('APM_ROLLUP_GRACE_SECONDS'),
    sealGraceSeconds: config.num('APM_SEAL_GRACE_SECONDS'),
    maxPeriodsPerRun: config.num('APM_ROLLUP_MAX_PERIODS_PER_RUN'),
    lockWaitSeconds: config.num('APM_ROLLUP_LOCK_WAIT_SECONDS'),
    purge: config.bool('APM_ROLLUP_PURGE'),
    precreateMinutes: config.num('APM_ROLLUP_PRECREATE_MINUTES'),
    metricsHost: config.str('APM_BIND_HOST'),
    metricsPort: config.num('APM_ROLLUP_METRICS_PORT'),
  };
}
