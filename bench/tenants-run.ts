import os from 'node:os';
import path from 'node:path';
import type { BenchEnv } from './bench-run.js';
import type { BenchOptions } from './bench-options.js';
import type { TenantsReport } from './tenants-report.js';
import { runTenants } from './tenants-phase.js';

const GIB = 1024 ** 3;

/** The tenants phase within `npm run bench`: its own two servers, sized from --tenant-accounts. */
export async function tenantsRun(o: BenchOptions, env: BenchEnv, deadline: number): Promise<TenantsReport> {
  if (Date.now() >= deadline) return { accounts: o.tenantAccounts, minuteDays: o.tenantDays, tableCache: 0, expectedOverheadBytes: 0, errors: ['tenants phase skipped: the deadline had passed'] };
  env.log(`tenants: ${o.tenantAccounts} accounts × ${o.tenantDays} days of minute tables on one shard`);
  return runTenants({
    accounts: o.tenantAccounts,
    minuteDays: o.tenantDays,
    parallel: Math.max(4, Math.min(16, os.cpus().length * 4)),
    repeats: o.mode === 'quick' ? 3 : 10,
    harvestConcurrency: o.concurrency,
    bufferPoolBytes: o.mode === 'quick' ? 64 * 1024 ** 2 : GIB,
    dir: path.resolve(o.dataDir, 'tenants'),
    ports: [await env.freePort(), await env.freePort()],
    keepData: o.keepData,
    registryOnly: o.tenantRegistryOnly,
    log: env.log,
  });
}
