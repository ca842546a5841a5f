import type { Command } from '../apm-commands.js';
import { intArg, table } from '../apm-commands.js';
import { InputError } from '../../lib/errors.js';

export const shardCommands: Command[] = [
  {
    path: ['shards', 'list'],
    usage: 'apm shards list [--json]',
    summary: 'List shard servers with their state and number of accounts.',
    async run(ctx) {
      const shards = await ctx.storage.directory.listShards();
      const counts = await ctx.storage.directory.accountCounts();
      const rows = shards.map((s) => ({ id: s.id, address: s.address, state: s.state, accounts: counts.get(s.id) ?? 0 }));
      return { json: rows, text: table(rows) };
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
      const shard = await ctx.storage.directory.addShard(address, values.closed ? 'closed' : 'open');
      const store = await ctx.storage.shards.storeFor(shard.id);
      const info = { ...shard, templates: { minute: store.newestTemplateVersion('minute'), hour: store.newestTemplateVersion('hour'), day: store.newestTemplateVersion('day') } };
      return { json: info, text: `shard ${shard.id} at ${shard.address} is ${shard.state} (templates v${info.templates.minute})` };
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
