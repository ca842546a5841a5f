import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runTenants } from '../../bench/tenants-phase.js';
import { tenantTables } from '../../bench/tenants-seed.js';
import { freePort } from '../harness/ports.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'apm-tenants-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('npm run bench -- --phases tenants (tiny shape)', () => {
  it('seeds every tenant\'s tables, times each job at that size, and does exactly the work asked', async () => {
    const currentHour = Math.floor(Date.now() / 3_600_000) * 3600;
    const perTenant = tenantTables(1, { currentHour, minuteDays: 1 }).length;
    const r = await runTenants({ accounts: 5, minuteDays: 1, parallel: 4, repeats: 2, harvestConcurrency: 4, bufferPoolBytes: 64 * 1024 ** 2, dir: path.join(tmp, 'data'), ports: [await freePort(), await freePort()], keepData: false, log: () => {} });
    expect(r.errors).toEqual([]);
    expect(r.seed!.tables).toBe(5 * perTenant);
    expect(r.diskBytesPerTable).toBeGreaterThan(0);
    expect(r.stats).toMatchObject({ downOrLate: 0 });
    expect(r.stats!.adminPass.n).toBe(2);
    // The first run seals the seeded hour's minute table of each of the 5 tenants; the runs after it have nothing to do.
    expect(r.rollupCatchUp!.sealedTables).toBe(5);
    expect(r.rollupIdle).toMatchObject({ n: 2, work: 0 });
    // The ten runs of minutes 50–59 make the next hour's table of each of the 5 active tenants once.
    expect(r.rollupPrecreate).toMatchObject({ n: 10, tables: 5 });
    for (const t of Object.values(r.harvests!)) expect(t.n).toBe(5);
    // One hour of each tenant is past its 1-day retention.
    expect(r.purge!.tables).toBe(5);
    // The moved tenant: its seeded tables − the purged hour + next hour's and the hour after's.
    expect(r.move!.tables).toBe(perTenant - 1 + 2);
    // The pre-#19 size query opens the tables the statistics passes never open (some are cached by the jobs before it).
    expect(r.stats!.openedTables).toBeLessThan(perTenant);
    expect(r.before!.informationSchemaOpenedTables).toBeGreaterThanOrEqual(3 * perTenant);
    expect(r.startup!.serverSeconds).toBeGreaterThan(0);
    expect(fs.existsSync(path.join(tmp, 'data'))).toBe(false);
  }, 300_000);
});
