import type { Command, CommandOutput } from '../command.js';
import { intArg, table } from '../command.js';
import type { CliContext } from '../cli-context.js';
import { InputError } from '../../lib/errors.js';
import { AccountMover, type MoveStatus } from '../../lib/ops/account-mover.js';
import type { MoveProgress } from '../../lib/ops/move-context.js';
import { progressPrinter } from './move-progress.js';
import type { Move } from '../../lib/ops/move-journal.js';

function summary(m: Move): string {
  const how = m.state === 'done' ? `moved from shard ${m.fromShard} to shard ${m.toShard}` : `${m.state} (shard ${m.fromShard} → ${m.toShard})`;
  const verified = m.verified ? `, verified ${m.verified.tables} tables / ${m.verified.rows.toLocaleString('en-US')} rows equal on both sides` : '';
  const fenced = m.fencedMs !== null ? `, writes fenced ${m.fencedMs} ms` : '';
  return `move ${m.id}: account ${m.accountId} ${how}: ${m.rowsCopied.toLocaleString('en-US')} rows copied${verified}${fenced}`;
}

function moverOf(ctx: CliContext, onProgress?: (p: MoveProgress) => void): AccountMover {
  return new AccountMover({ directory: ctx.storage.directory, shards: ctx.storage.shards.jobs, now: ctx.now, ...(onProgress ? { onProgress } : {}) });
}

/**
 * Runs a move (or its resume) in this process with a progress bar. Ctrl-C stops it at the next safe
 * point (never inside the switch), leaving it resumable; a second Ctrl-C exits at once.
 */
async function runWithProgress(ctx: CliContext, accountId: number, start: (m: AccountMover, signal: AbortSignal) => Promise<Move>): Promise<CommandOutput> {
  const printer = progressPrinter();
  const mover = moverOf(ctx, (p) => printer.update(p));
  const ctl = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    if (++interrupts > 1) process.exit(130);
    process.stderr.write('\n[apm] stopping the move at the next safe point (Ctrl-C again to exit now)\n');
    ctl.abort(new Error('interrupted by Ctrl-C'));
  };
  process.on('SIGINT', onSigint);
  try {
    const m = await start(mover, ctl.signal);
    printer.end();
    return { json: m, text: summary(m) };
  } catch (err) {
    printer.end();
    const [status] = await mover.status({ accountId, limit: 1 }).catch(() => [] as MoveStatus[]);
    if (status?.active && err instanceof Error) err.message = `${err.message}\n${status.recovery.message}`;
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

function statusRow(m: MoveStatus) {
  return {
    id: m.id,
    account: m.accountId,
    from: m.fromShard,
    to: m.toShard,
    state: m.state,
    tables: `${m.tablesDone}/${m.tablesTotal}`,
    rows: m.rowsCopied,
    'fenced ms': m.fencedMs ?? '-',
    started: m.createdAt,
    next: m.active ? (m.recovery.running ? 'running' : [m.recovery.canResume ? 'resume' : '', m.recovery.canRollback ? 'rollback' : ''].filter(Boolean).join(' or ')) : '-',
  };
}

export const moveCommands: Command[] = [
  {
    path: ['accounts', 'move'],
    usage: 'apm accounts move <account> (--to <shard> [--force] | --resume | --rollback) [--json]',
    summary: 'Move an account to another shard while its agents keep posting (progress bar on stderr); resume or roll back an interrupted move.',
    options: { to: { type: 'string' }, resume: { type: 'boolean' }, rollback: { type: 'boolean' }, force: { type: 'boolean' } },
    async run(ctx, { positionals, values }) {
      const accountId = intArg(positionals[0], 'account id');
      const modes = [values.to !== undefined, values.resume === true, values.rollback === true].filter(Boolean).length;
      if (modes !== 1) throw new InputError('cannot move account: give exactly one of --to <shard>, --resume, --rollback');
      if (values.rollback) {
        const m = await moverOf(ctx).rollback(accountId);
        return { json: m, text: `move ${m.id}: rolled back; account ${accountId} stays on shard ${m.fromShard} and shard ${m.toShard} keeps nothing of it` };
      }
      if (values.resume) return runWithProgress(ctx, accountId, (mover, signal) => mover.resume(accountId, signal));
      const to = intArg(String(values.to), 'shard id');
      return runWithProgress(ctx, accountId, (mover, signal) => mover.move(accountId, to, signal, { force: values.force === true }));
    },
  },
  {
    path: ['accounts', 'moves'],
    usage: 'apm accounts moves [--account <id>] [--json]',
    summary: 'List account moves (unfinished first) and, for an interrupted one, whether it can be resumed or rolled back.',
    options: { account: { type: 'string' } },
    async run(ctx, { values }) {
      const accountId = values.account === undefined ? undefined : intArg(String(values.account), 'account id');
      const moves = await moverOf(ctx).status(accountId === undefined ? {} : { accountId });
      const notes = moves.filter((m) => m.active).map((m) => m.recovery.message);
      return { json: moves, text: [table(moves.map(statusRow)), ...notes].join('\n') };
    },
  },
];
