import { loadConfig, type Config } from '../lib/config/config.js';
import { coreVariables } from '../lib/config/core-variables.js';
import type { VariableSpec } from '../lib/config/variable-spec.js';
import { collectorVariables } from '../collector/collector-config.js';
import { beaconVariables } from '../beacon/beacon-config.js';
import { rollupVariables } from '../rollup/rollup-config.js';
import { dashboardVariables } from '../dashboard/dashboard-config.js';
import { adminVariables } from '../admin/admin-config.js';
import { alertsVariables } from '../alerts/alerts-config.js';
import { pingerVariables } from '../pinger/pinger-config.js';
import { replicaVariables } from '../lib/replica/replica-variables.js';

/**
 * The composition root's list of every APM_ variable any service reads; the README's configuration
 * table lists exactly these (`npm run config-table`). A new service adds its list here.
 */
export function allVariables(): VariableSpec[] {
  return [...coreVariables, ...collectorVariables, ...beaconVariables, ...rollupVariables, ...dashboardVariables, ...adminVariables, ...alertsVariables, ...pingerVariables, ...replicaVariables];
}

/** The whole system's configuration from an environment (start-up, the CLI, the bench, tests). */
export function loadAppConfig(env: Record<string, string | undefined>): Config {
  return loadConfig(env, allVariables());
}
