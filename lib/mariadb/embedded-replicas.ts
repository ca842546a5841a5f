import path from 'node:path';
import type { Config } from '../config/config.js';
import type { ServerAddress } from '../db/connect.js';
import type { LocalMariadb } from './local-mariadb.js';
import { copyPrimaryForReplica, primaryReplicationArgs, startLocalReplicas } from './local-replicas.js';
import { type Log } from '../log/log.js';

/**
 * APM_EMBEDDED_REPLICAS=1: one read replica per embedded shard server, under
 * APM_DATA_DIR/mariadb/replicas/shard-<n>, on the ports after the primaries'. Before the primaries
 * start, a missing replica is copied from its primary's data directory; after, replication is set up.
 */
export function embeddedReplicas(config: Config): { before(): void; primaryArgs: (index: number) => string[]; start(primaries: LocalMariadb, opts: { bufferPoolBytes: number; logFileBytes: number; flushLogAtTrxCommit: 1 | 2; tableCache: number; log: Log }): Promise<void> } | undefined {
  if (!config.bool('APM_EMBEDDED_REPLICAS')) return undefined;
  const count = config.num('APM_EMBEDDED_SHARDS');
  const base = path.resolve(config.str('APM_DATA_DIR'), 'mariadb');
  const durable = config.str('APM_MARIADB_FLUSH_LOG_AT_TRX_COMMIT') !== '2';
  return {
    before() {
      for (let i = 1; i <= count; i++) copyPrimaryForReplica(path.join(base, `shard-${i}`, 'data'), path.join(base, 'replicas', `shard-${i}`, 'data'));
    },
    primaryArgs: (i) => primaryReplicationArgs(i, durable),
    async start(primaries, opts) {
      const port0 = config.num('APM_EMBEDDED_BASE_PORT') + count;
      const replicas = await startLocalReplicas(primaries.servers.map((s) => s.address), {
        ...opts,
        baseDir: path.join(base, 'replicas'),
        ports: Array.from({ length: count }, (_, i) => port0 + i),
        credentials: { user: 'root', password: '' },
        log: opts.log.child({ role: 'read replica' }),
      });
      primaries.companions.push(replicas);
    },
  };
}

/** (primary, replica) address pairs of embedded servers started with replicas. */
export function replicaPairs(primaries: LocalMariadb): Array<{ primary: ServerAddress; replica: ServerAddress }> {
  const replicas = primaries.companions[0]?.servers ?? [];
  return primaries.servers.flatMap((s, i) => (replicas[i] ? [{ primary: s.address, replica: replicas[i]!.address }] : []));
}
