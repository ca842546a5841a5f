import { formatAddress, parseAddress } from '../db/connect.js';
import type { Directory, Shard, ShardState } from '../directory/directory.js';
import { InputError, RetryableError } from '../errors.js';
import type { ShardRegistry } from '../shard/shard-registry.js';

export interface AddedShard extends Shard {
  /** Newest template version per kind on the prepared server. */
  templates: { minute: number; hour: number; day: number };
  /** True when the address was already registered. */
  existed: boolean;
}

/**
 * Registers a shard server and prepares it (database, migrations: templates, registry, dictionary,
 * fences). It is registered closed first and joins the assignment queue (`state`, default open) only
 * once it is prepared, so a server that cannot be reached never receives new accounts; when it cannot
 * be prepared its registration is removed again.
 */
export async function addShard(directory: Directory, shards: ShardRegistry, address: string, state: ShardState = 'open'): Promise<AddedShard> {
  let normal: string;
  try {
    normal = formatAddress(parseAddress(address));
  } catch (err) {
    throw new InputError(`cannot add shard: ${(err as Error).message}`);
  }
  const existed = (await directory.listShards()).some((s) => s.address === normal);
  const shard = await directory.addShard(normal, 'closed');
  let store;
  try {
    store = await shards.storeFor(shard.id);
  } catch (err) {
    // A server that cannot be prepared is not registered (one registered before stays as it was).
    if (!existed) await directory.removeShard(shard.id).catch(() => undefined);
    throw new RetryableError(`cannot add shard at ${normal}: ${(err as Error).message} (${existed ? 'it stays registered as before' : 'nothing was registered'}; run the command again once the server is up)`, 10);
  }
  const final = await directory.setShardState(shard.id, state);
  return {
    ...final,
    existed,
    templates: { minute: store.newestTemplateVersion('minute'), hour: store.newestTemplateVersion('hour'), day: store.newestTemplateVersion('day') },
  };
}

/** Unregisters a shard holding no account and no unfinished move (Directory.removeShard) and closes its pool. */
export async function removeShard(directory: Directory, shards: ShardRegistry, id: number): Promise<Shard> {
  const removed = await directory.removeShard(id);
  await shards.drop(id);
  return removed;
}
