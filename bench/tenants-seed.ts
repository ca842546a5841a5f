import mysql from 'mysql2/promise';
import type { ServerAddress } from '../lib/db/connect.js';
import type { ShardStore } from '../lib/shard/shard-store.js';
import { tableName, tableSpanStart, templateName, type TableKind } from '../lib/shard/table-naming.js';

const H = 3600;

/** The tables one tenant keeps with `minuteDays` of minute tables ending with the current hour. */
export interface TenantSpan {
  /** Start of the current hour (its minute table is 'open'; every older one is rolled, 'done'). */
  currentHour: number;
  minuteDays: number;
}

export interface SeedTable {
  name: string;
  kind: TableKind;
  start: number;
  state: 'open' | 'done';
}

/** Pure: the minute tables of the span, the hour tables of the months and the day tables of the years they touch. */
export function tenantTables(accountId: number, s: TenantSpan): SeedTable[] {
  const out: SeedTable[] = [];
  const first = s.currentHour - (s.minuteDays * 24 - 1) * H;
  const months = new Set<number>();
  const years = new Set<number>();
  for (let t = first; t <= s.currentHour; t += H) {
    out.push({ name: tableName('minute', accountId, t), kind: 'minute', start: t, state: t < s.currentHour ? 'done' : 'open' });
    months.add(tableSpanStart('hour', t));
    years.add(tableSpanStart('day', t));
  }
  const thisMonth = tableSpanStart('hour', s.currentHour);
  for (const m of months) out.push({ name: tableName('hour', accountId, m), kind: 'hour', start: m, state: m < thisMonth ? 'done' : 'open' });
  for (const y of years) out.push({ name: tableName('day', accountId, y), kind: 'day', start: y, state: 'open' });
  return out;
}

export interface SeedResult {
  tables: number;
  seconds: number;
  tablesPerSecond: number;
}

/**
 * Registers and creates every tenant's tables as fast as the server takes them: `parallel`
 * connections, each taking one account at a time: one multi-row INSERT into the registry, then its
 * CREATE TABLE … LIKE statements `perStatement` at a time in one multi-statement round trip. The
 * registry rows and the tables are exactly what ShardStore.ensureTable makes (same names, template
 * versions and spans); only the rollup state is set as if the past had been rolled. `registryOnly`
 * registers them without creating them: enough to time the jobs that read only the registry (the
 * rollup's planning, the table counts) at any scale in seconds and a few MB.
 */
export async function seedTenants(address: ServerAddress, store: ShardStore, accounts: readonly number[], span: TenantSpan, o: { parallel: number; perStatement?: number; registryOnly?: boolean; log: (l: string) => void }): Promise<SeedResult> {
  const pool = mysql.createPool({ ...address, user: 'root', password: '', database: 'apm_shard', connectionLimit: o.parallel, multipleStatements: true });
  const versions = { minute: store.newestTemplateVersion('minute'), hour: store.newestTemplateVersion('hour'), day: store.newestTemplateVersion('day') };
  const per = o.perStatement ?? 25;
  const t0 = Date.now();
  let tables = 0;
  let lastLog = t0;
  const queue = [...accounts];
  const worker = async () => {
    for (let a = queue.shift(); a !== undefined; a = queue.shift()) {
      const list = tenantTables(a, span);
      await pool.query(
        `INSERT IGNORE INTO table_registry (name, account_id, kind, period_start, template_version, rollup_state, rolled_at) VALUES ${list.map(() => '(?, ?, ?, ?, ?, ?, IF(? = \'done\', CURRENT_TIMESTAMP(3), NULL))').join(', ')}`,
        list.flatMap((t) => [t.name, a, t.kind, t.start, versions[t.kind], t.state, t.state]),
      );
      for (let i = 0; i < (o.registryOnly ? 0 : list.length); i += per) {
        await pool.query(list.slice(i, i + per).map((t) => `CREATE TABLE IF NOT EXISTS ${t.name} LIKE ${templateName(t.kind, versions[t.kind])}`).join('; '));
      }
      tables += list.length;
      if (Date.now() - lastLog > 15_000) {
        lastLog = Date.now();
        o.log(`tenants: ${tables.toLocaleString('en-US')} tables created, ${Math.round(tables / ((Date.now() - t0) / 1000))}/s`);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: o.parallel }, worker));
  } finally {
    await pool.end();
  }
  const seconds = (Date.now() - t0) / 1000;
  return { tables, seconds, tablesPerSecond: tables / seconds };
}
