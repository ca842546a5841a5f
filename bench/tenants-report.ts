import type { SeedResult } from './tenants-seed.js';
import type { Timing } from './tenants-measure.js';

export interface TenantsOptions {
  accounts: number;
  minuteDays: number;
  /** Connections creating tables at once. */
  parallel: number;
  /** Runs of each periodic job measured. */
  repeats: number;
  harvestConcurrency: number;
  bufferPoolBytes: number;
  dir: string;
  /** The big shard's port, the move target's port. */
  ports: [number, number];
  keepData: boolean;
  /** Register the tables without creating them; time only the registry-bound jobs. */
  registryOnly?: boolean;
  log: (line: string) => void;
}

export interface TenantsReport {
  accounts: number;
  registryOnly?: boolean;
  minuteDays: number;
  tableCache: number;
  expectedOverheadBytes: number;
  accountsSeconds?: number;
  seed?: SeedResult;
  diskBytesPerTable?: number;
  stats?: { adminPass: Timing; shardsList: Timing; downOrLate: number; openedTables: number };
  /** The rollup's first run: it seals the seeded hour's minute tables (ms, tables sealed). */
  rollupCatchUp?: { ms: number; sealedTables: number };
  rollupIdle?: Timing & { work: number };
  rollupPrecreate?: Timing & { tables: number };
  harvests?: { firstOfHourPrecreated: Timing; otherMinute: Timing; firstOfHourNotPrecreated: Timing };
  purge?: { tables: number; seconds: number };
  move?: { tables: number; seconds: number };
  server?: { rssBytes: number | null; openFiles: number | null; openTables: number; openTableDefinitions: number; diskBytes: number };
  startup?: { serverSeconds: number; storageSeconds: number };
  /** What the code before #19 did, measured on the same server. */
  before?: { informationSchemaSizeMs: number; informationSchemaOpenedTables: number; wholeRegistryReadMs: Timing };
  errors: string[];
}

const ms = (t: Timing | undefined) => (t ? `${t.p50} / ${t.p99} / ${t.max} ms (n = ${t.n})` : '—');
const mib = (b: number | null | undefined) => (b === null || b === undefined ? '—' : `${(b / 1024 ** 2).toFixed(0)} MiB`);

/** The phase's section of the Markdown report. */
export function tenantsMarkdown(r: TenantsReport): string[] {
  const out = [
    `## Tenants: ${r.accounts.toLocaleString('en-US')} accounts × ${r.minuteDays} days of minute tables on one shard`,
    '',
    `table_open_cache = table_definition_cache = ${r.tableCache} (tableCacheFor), innodb_file_per_table=OFF.${r.registryOnly ? ' Registry only: the tables are registered, not created (registry-bound jobs only).' : ''}`,
    '',
    '| measure | value |',
    '|---|---|',
    `| tables created | ${r.seed ? `${r.seed.tables.toLocaleString('en-US')} in ${r.seed.seconds.toFixed(0)} s (${Math.round(r.seed.tablesPerSecond)}/s)` : '—'} |`,
    `| disk per empty table | ${r.diskBytesPerTable !== undefined ? `${(r.diskBytesPerTable / 1024).toFixed(1)} KiB` : '—'} |`,
    `| admin stats pass p50 / p99 / max | ${ms(r.stats?.adminPass)} |`,
    `| \`apm shards list\` (1 s write sample) p50 / p99 / max | ${ms(r.stats?.shardsList)} |`,
    `| passes showing the shard DOWN or stats late | ${r.stats?.downOrLate ?? '—'} |`,
    `| tables opened by all those passes | ${r.stats?.openedTables ?? '—'} |`,
    `| rollup's first run (seals the seeded hour's minute tables) | ${r.rollupCatchUp ? `${r.rollupCatchUp.ms} ms (${r.rollupCatchUp.sealedTables} tables)` : '—'} |`,
    `| rollup run, nothing due | ${ms(r.rollupIdle)} (work done: ${r.rollupIdle?.work ?? '—'}) |`,
    `| rollup runs of minutes 50–59 with pre-creation | ${ms(r.rollupPrecreate)} (${r.rollupPrecreate?.tables ?? '—'} tables) |`,
    `| harvest, first of the hour (pre-created) | ${ms(r.harvests?.firstOfHourPrecreated)} |`,
    `| harvest, any other minute | ${ms(r.harvests?.otherMinute)} |`,
    `| harvest, first of the hour without pre-creation | ${ms(r.harvests?.firstOfHourNotPrecreated)} |`,
    `| purge of one hour of every tenant | ${r.purge ? `${r.purge.tables} tables in ${r.purge.seconds.toFixed(1)} s` : '—'} |`,
    `| move of one tenant | ${r.move ? `${r.move.tables} tables in ${r.move.seconds.toFixed(1)} s` : '—'} |`,
    `| mariadbd RSS / open files | ${mib(r.server?.rssBytes)} / ${r.server?.openFiles ?? '—'} (estimate besides the pool: ${mib(r.expectedOverheadBytes)}) |`,
    `| open tables / table definitions | ${r.server ? `${r.server.openTables} / ${r.server.openTableDefinitions}` : '—'} |`,
    `| data directory | ${mib(r.server?.diskBytes)} |`,
    `| start-up: server ready / shard store open | ${r.startup ? `${r.startup.serverSeconds.toFixed(1)} s / ${r.startup.storageSeconds.toFixed(1)} s` : '—'} |`,
    `| before #19: size from information_schema.TABLES (one pass) | ${r.before ? `${r.before.informationSchemaSizeMs} ms, ${r.before.informationSchemaOpenedTables} tables opened` : '—'} |`,
    `| before #19: one whole-registry read (up to 4 per rollup run) | ${ms(r.before?.wholeRegistryReadMs)} |`,
    '',
  ];
  for (const e of r.errors) out.push(`- error: ${e}`);
  return out;
}
