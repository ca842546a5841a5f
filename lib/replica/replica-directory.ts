import type { Directory } from '../directory/directory.js';
import { formatAddress, parseAddress, type ServerAddress } from '../db/connect.js';
import { InputError, NotFoundError } from '../errors.js';

/** A read replica registered for a shard (directory table shard_replicas, schema/directory/0005). */
export interface ShardReplica {
  shardId: number;
  /** host:port, normalised. */
  address: string;
}

/**
 * The registered read replicas of every shard, in the directory. Registering says "this server
 * replicates that shard's primary"; it does not set replication up (the embedded default does, see
 * lib/mariadb/local-replicas.ts; for existing servers the operator does, docs/operations.md).
 */
export class ReplicaDirectory {
  constructor(private readonly directory: Directory) {}

  async list(shardId?: number): Promise<ShardReplica[]> {
    let q = this.directory.db.kysely.selectFrom('shard_replicas').select(['shard_id', 'address']);
    if (shardId !== undefined) q = q.where('shard_id', '=', shardId);
    const rows = await q.orderBy('shard_id').orderBy('address').execute();
    return rows.map((r) => ({ shardId: Number(r.shard_id), address: String(r.address) }));
  }

  /** Registers a replica; returns it with `existed` when it was already registered for that shard. */
  async add(shardId: number, address: string): Promise<ShardReplica & { existed: boolean }> {
    const normal = normalise(address, 'add replica');
    const shards = await this.directory.listShards();
    if (!shards.some((s) => s.id === shardId)) throw new NotFoundError(`cannot add replica: no shard ${shardId}`);
    const primary = shards.find((s) => s.address === normal);
    if (primary) throw new InputError(`cannot add replica: ${normal} is the primary of shard ${primary.id}`);
    const other = (await this.list()).find((r) => r.address === normal);
    if (other && other.shardId !== shardId) throw new InputError(`cannot add replica: ${normal} is already a replica of shard ${other.shardId}`);
    if (other) return { ...other, existed: true };
    await this.directory.db.kysely.insertInto('shard_replicas').ignore().values({ shard_id: shardId, address: normal }).execute();
    return { shardId, address: normal, existed: false };
  }

  /** Unregisters a replica (reads stop going there within the routers' list TTL); NotFound when unknown. */
  async remove(shardId: number, address: string): Promise<ShardReplica> {
    const normal = normalise(address, 'remove replica');
    const r = await this.directory.db.kysely.deleteFrom('shard_replicas').where('shard_id', '=', shardId).where('address', '=', normal).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw new NotFoundError(`cannot remove replica: ${normal} is not a replica of shard ${shardId}`);
    return { shardId, address: normal };
  }
}

function normalise(address: string, what: string): string {
  try {
    return formatAddress(parseAddress(address));
  } catch (err) {
    throw new InputError(`cannot ${what}: ${(err as Error).message}`);
  }
}

/** Registers the embedded default's replicas (primary address → replica address) with their shards. */
export async function registerReplicas(directory: Directory, pairs: ReadonlyArray<{ primary: ServerAddress; replica: ServerAddress }>): Promise<void> {
  const shards = await directory.listShards();
  const replicas = new ReplicaDirectory(directory);
  for (const p of pairs) {
    const shard = shards.find((s) => s.address === formatAddress(p.primary));
    if (shard) await replicas.add(shard.id, formatAddress(p.replica));
  }
}
