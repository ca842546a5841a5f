import type { Command } from '../command.js';
import { intArg, table } from '../command.js';
import { InputError } from '../../lib/errors.js';
import { ReplicaDirectory } from '../../lib/replica/replica-directory.js';
import { replicaStatuses } from '../../lib/replica/replica-status.js';

const address = (v: string | undefined, what: string) => {
  if (!v) throw new InputError(`cannot ${what}: give the replica's address as host:port`);
  return v;
};

/** `apm shards replicas add|remove|list`: read replicas of a shard (docs/operations.md, "Read replicas"). */
export const replicaCommands: Command[] = [
  {
    path: ['shards', 'replicas', 'add'],
    usage: 'apm shards replicas add <shard> <host:port> [--json]',
    summary: "Register a read replica of a shard (a server already replicating the shard's primary); dashboard reads use it while its heartbeat lag allows.",
    async run(ctx, { positionals }) {
      const r = await new ReplicaDirectory(ctx.storage.directory).add(intArg(positionals[0], 'shard id'), address(positionals[1], 'add replica'));
      return { json: r, text: `replica ${r.address} of shard ${r.shardId}${r.existed ? ' (already registered)' : ' registered'}` };
    },
  },
  {
    path: ['shards', 'replicas', 'remove'],
    usage: 'apm shards replicas remove <shard> <host:port> [--json]',
    summary: 'Unregister a read replica (reads stop going there within seconds; replication itself is left as it is).',
    async run(ctx, { positionals }) {
      const r = await new ReplicaDirectory(ctx.storage.directory).remove(intArg(positionals[0], 'shard id'), address(positionals[1], 'remove replica'));
      return { json: r, text: `replica ${r.address} of shard ${r.shardId} removed` };
    },
  },
  {
    path: ['shards', 'replicas', 'list'],
    usage: 'apm shards replicas list [<shard>] [--json]',
    summary: 'List read replicas with their heartbeat lag, Seconds_Behind_Master (shown, not used) and state.',
    async run(ctx, { positionals }) {
      const shard = positionals[0] === undefined ? undefined : intArg(positionals[0], 'shard id');
      const all = await replicaStatuses(ctx.storage.directory, {
        credentials: { user: ctx.config.str('APM_DB_USER'), password: ctx.config.str('APM_DB_PASSWORD') },
        database: ctx.config.str('APM_SHARD_DATABASE'),
        maxLagSeconds: ctx.config.num('APM_REPLICA_MAX_LAG_SECONDS'),
      });
      const rows = [...all].filter(([id]) => shard === undefined || id === shard).flatMap(([shardId, list]) => list.map((r) => ({ shard: shardId, ...r })));
      return {
        json: rows,
        text: table(rows.map((r) => ({
          shard: r.shard,
          replica: r.address,
          state: r.state,
          'heartbeat lag': r.lagSeconds === null ? '-' : `${r.lagSeconds.toFixed(1)} s`,
          Seconds_Behind_Master: r.secondsBehindMaster ?? 'NULL',
          threads: `io ${r.ioRunning ? 'yes' : 'no'}, sql ${r.sqlRunning ? 'yes' : 'no'}`,
          error: r.error ?? '',
        }))),
      };
    },
  },
];
