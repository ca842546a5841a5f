import { inTransaction } from '../db/query-builder.js';
import type { Directory } from './directory.js';
import { hashKey, newBrowserKey, newLicenseKey, newReadKey } from './keys.js';
import { InputError } from '../errors.js';

/**
 * Key rotation and how every process notices it. `key_epoch` (one row in the directory) is bumped in
 * the same transaction as every key change; caches of key → account remember the epoch they were
 * filled at and trust an entry only while the epoch is unchanged. The epoch itself is re-read at most
 * every KEY_EPOCH_MAX_AGE_MS per process (one tiny query, shared by concurrent callers), so a rotated
 * key is refused everywhere within that time plus one request. When the directory cannot be read,
 * the last known epoch is used (caches keep serving, as they would without this check).
 */
export const KEY_EPOCH_MAX_AGE_MS = 2000;

interface EpochState {
  value: number | undefined;
  at: number;
  pending: Promise<number> | undefined;
}

const states = new WeakMap<Directory, EpochState>();

/** The epoch when this process read it less than KEY_EPOCH_MAX_AGE_MS ago (no query, no promise); else undefined. */
export function knownKeyEpoch(directory: Directory, now: () => number = Date.now): number | undefined {
  const s = states.get(directory);
  return s && s.value !== undefined && now() - s.at < KEY_EPOCH_MAX_AGE_MS ? s.value : undefined;
}

export async function keyEpoch(directory: Directory, now: () => number = Date.now): Promise<number> {
  let s = states.get(directory);
  if (!s) states.set(directory, (s = { value: undefined, at: 0, pending: undefined }));
  const state = s;
  if (state.value !== undefined && now() - state.at < KEY_EPOCH_MAX_AGE_MS) return state.value;
  state.pending ??= (async () => {
    try {
      const r = await directory.db.kysely.selectFrom('key_epoch').select('version').where('id', '=', 1).executeTakeFirst();
      state.value = Number(r?.version ?? 0);
      state.at = now();
      return state.value;
    } catch (err) {
      if (state.value !== undefined) return state.value;
      throw err;
    } finally {
      state.pending = undefined;
    }
  })();
  return state.pending;
}

export type KeyKind = 'license' | 'read' | 'browser';

/** Gives the account a new key of that kind (the old one is refused from now on); returns the new key, shown once. */
export async function rotateKey(directory: Directory, accountId: number, kind: KeyKind): Promise<string> {
  if (kind !== 'license' && kind !== 'read' && kind !== 'browser') throw new InputError(`cannot rotate key: kind must be license, read or browser, got ${JSON.stringify(kind)}`);
  await directory.getAccount(accountId);
  const key = kind === 'license' ? newLicenseKey() : kind === 'read' ? newReadKey() : newBrowserKey();
  const set = kind === 'license' ? { license_key_hash: hashKey(key) } : kind === 'read' ? { read_key_hash: hashKey(key) } : { browser_key: key };
  await inTransaction(directory.db.kysely, async (trx) => {
    await trx.updateTable('accounts').set(set).where('id', '=', accountId).execute();
    await trx.updateTable('key_epoch').set((eb) => ({ version: eb('version', '+', 1) })).where('id', '=', 1).execute();
  });
  const s = states.get(directory);
  if (s) s.at = 0; // this process sees its own rotation at once
  return key;
}
