import { Registry } from 'prom-client';
import type { Command } from '../command.js';
import { intArg, table } from '../command.js';
import type { CliContext } from '../cli-context.js';
import { cliLog } from '../app-log.js';
import { InputError } from '../../lib/errors.js';
import { rollupSettings } from '../../rollup/rollup-config.js';
import { RollupMetrics } from '../../rollup/rollup-metrics.js';
import { RollupRunner } from '../../rollup/rollup-runner.js';
import { timeArg } from '../../rollup/time-arg.js';

function lockWait(value: string | boolean | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^[0-9]{1,4}$/.test(value) || Number(value) > 3600) {
    throw new InputError(`cannot read --wait: expected seconds from 0 to 3600, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

function runnerFor(ctx: CliContext, waitSeconds: number): RollupRunner {
  const settings = rollupSettings(ctx.config);
  return new RollupRunner({
    directory: ctx.storage.directory,
    shards: ctx.storage.shards.jobs,
    metrics: new RollupMetrics(new Registry()),
    log: cliLog(),
    graceSeconds: settings.graceSeconds,
    sealGraceSeconds: settings.sealGraceSeconds,
    maxPeriodsPerRun: settings.maxPeriodsPerRun,
    lockWaitSeconds: waitSeconds,
  });
}

const iso = (t: number | undefined) => (t === undefined ? '' : new Date(t * 1000).toISOString().replace(':00.000Z', 'Z'));

/** `apm rollup run|status`, `apm purge`. */
export const rollupCommands: Command[] = [
  {
    path: ['rollup', 'run'],
    usage: 'apm rollup run [--account N] [--until T] [--wait S] [--json]',
    summary: 'Roll every closed hour and day now (oldest first, at most APM_ROLLUP_MAX_PERIODS_PER_RUN per shard), optionally only one account or periods ending by T (Unix seconds or ISO 8601); waits up to S seconds (default 60) for a running worker.',
    options: { account: { type: 'string' }, until: { type: 'string' }, wait: { type: 'string' } },
    async run(ctx, { values }) {
      const accountId = values.account === undefined ? undefined : intArg(String(values.account), '--account');
      if (accountId !== undefined) await ctx.storage.directory.getAccount(accountId);
      const until = timeArg(values.until, '--until');
      const reports = await runnerFor(ctx, lockWait(values.wait, 60)).run({ now: ctx.now(), accountId, until, purge: false });
      const rows = reports.map((r) => ({
        shard: r.shardId,
        hours: r.hours,
        rerolledHours: r.rerolledHours,
        days: r.days,
        rerolledDays: r.rerolledDays,
        rowsRead: r.rowsRead,
        rowsWritten: r.rowsWritten,
        sealed: r.sealed.length,
        failures: r.failures,
        note: r.skipped === 'locked' ? 'skipped: another worker holds the shard lock' : r.skipped === 'failed' ? `failed: ${r.error}` : '',
      }));
      return { json: reports, text: table(rows) };
    },
  },
  {
    path: ['rollup', 'status'],
    usage: 'apm rollup status [--json]',
    summary: 'Rollup lag per shard and account: how far behind the oldest due, never rolled period is, and the hours and days waiting (pending, or dirty after late data).',
    async run(ctx) {
      const status = await runnerFor(ctx, 0).status(ctx.now());
      const rows = status.flatMap((s) =>
        s.lag.map((l) => ({
          shard: s.shardId,
          account: l.accountId,
          lagSeconds: l.lagSeconds,
          oldestDue: iso(l.oldestDue),
          pendingHours: l.pendingHours,
          dirtyHours: l.dirtyHours,
          pendingDays: l.pendingDays,
          dirtyDays: l.dirtyDays,
        })),
      );
      const tables = status.map((s) => `shard ${s.shardId}: ${Object.entries(s.tables).map(([k, n]) => `${n} ${k}`).join(', ') || 'no tables'}`);
      return { json: status, text: `${table(rows)}\n\n${tables.join('\n')}` };
    },
  },
  {
    path: ['purge'],
    usage: 'apm purge [--dry-run] [--account N] [--json]',
    summary: 'Drop whole tables past their plan\'s retention (only rolled-up, sealed, ended ones); --dry-run lists what would go.',
    options: { 'dry-run': { type: 'boolean' }, account: { type: 'string' } },
    async run(ctx, { values }) {
      const accountId = values.account === undefined ? undefined : intArg(String(values.account), '--account');
      const dryRun = values['dry-run'] === true;
      const result = await runnerFor(ctx, 60).purge({ now: ctx.now(), dryRun, ...(accountId !== undefined ? { accountId } : {}) });
      const rows = result.flatMap((s) =>
        s.tables.map((t) => ({ shard: s.shardId, account: t.accountId, table: t.name, kind: t.kind, from: iso(t.start), to: iso(t.end), retentionDays: t.retentionDays })),
      );
      const skipped = result.filter((s) => s.skipped).map((s) => `shard ${s.shardId} skipped: ${s.skipped}`);
      const head = `${dryRun ? 'would drop' : 'dropped'} ${rows.length} table(s)`;
      return { json: { dryRun, shards: result }, text: [head, table(rows), ...skipped].join('\n') };
    },
  },
];
