import type { Command } from '../command.js';
import { intArg, table } from '../command.js';
import { InputError } from '../../lib/errors.js';
import { addShard, removeShard } from '../../lib/ops/shard-admin.js';
import { ShardStatsCollector } from '../../lib/ops/shard-stats.js';
import { shardRow } from './shard-view.js';
import { withReplicaStatuses } from '../../lib/replica/replica-status.js';

export const shardCommands: Command[] = [
  {
    path: ['shards', 'list'],
    usage: 'apm shards list [--sample <ms>] [--json]',
    summary: 'List shard servers: state, accounts, moves, tables, data size, rows written per minute (sampled), health and replication lag, read replicas with their heartbeat lag and state.',
    options: { sample: { type: 'string' } },
    async run(ctx, { values }) {
      const sample = values.sample === undefined ? '1000' : String(values.sample);
      if (!/^[0-9]{1,6}$/.test(sample)) throw new InputError(`cannot list shards: --sample must be milliseconds (0 to 999999), got ${JSON.stringify(sample)}`);
      const sampleMs = Number(sample);
      const stats = await new ShardStatsCollector({
        directory: ctx.storage.directory,
        shards: ctx.storage.shards,
        credentials: { user: ctx.config.str('APM_DB_USER'), password: ctx.config.str('APM_DB_PASSWORD') },
      }).collect({ sampleMs });
      const rows = await withReplicaStatuses(ctx.storage.directory, ctx.config, stats);
      return { json: rows, text: table(rows.map(shardRow)) };
    },
  },
  {
    path: ['shards', 'add'],
    usage: 'apm shards add <host:port> [--closed] [--json]',
    summary: 'Register a shard server and prepare it (database, templates, registry); it joins the assignment queue unless --closed.',
    options: { closed: { type: 'boolean' } },
    async run(ctx, { positionals, values }) {
      const address = positionals[0];
      if (!address) throw new InputError('cannot add shard: give its address as host:port');
      const s = await addShard(ctx.storage.directory, ctx.storage.shards, address, values.closed ? 'closed' : 'open');
      return { json: s, text: `shard ${s.id} at ${s.address} is ${s.state}${s.existed ? ' (already registered)' : ''} (templates v${s.templates.minute})` };
    },
  },
  {
    path: ['shards', 'remove'],
    usage: 'apm shards remove <id> [--json]',
    summary: 'Unregister a shard server that holds no account and no unfinished move (its data stays on the server).',
    async run(ctx, { positionals }) {
      const s = await removeShard(ctx.storage.directory, ctx.storage.shards, intArg(positionals[0], 'shard id'));
      return { json: s, text: `shard ${s.id} at ${s.address} is no longer registered` };
    },
  },
  ...(['close', 'open'] as const).map(
    (verb): Command => ({
      path: ['shards', verb],
      usage: `apm shards ${verb} <id> [--json]`,
      summary: verb === 'close' ? 'Take a shard out of the assignment queue (its accounts stay).' : 'Put a shard back into the assignment queue.',
      async run(ctx, { positionals }) {
        const shard = await ctx.storage.directory.setShardState(intArg(positionals[0], 'shard id'), verb === 'close' ? 'closed' : 'open');
        return { json: shard, text: `shard ${shard.id} at ${shard.address} is ${shard.state}` };
      },
    }),
  ),
];
