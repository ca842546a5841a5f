import { LRUCache } from 'lru-cache';
import type { MetricName } from './metric-dictionary.js';

/** Bounds of the memo: sources remembered, and the bytes their names take. */
export interface MetricIdMemoLimits {
  maxSources: number;
  maxBytes: number;
}

export const DEFAULT_MEMO_LIMITS: MetricIdMemoLimits = { maxSources: 100_000, maxBytes: 32 * 1024 * 1024 };

/** Bytes an entry takes besides its names' characters (arrays, slots, bookkeeping). */
const ENTRY_OVERHEAD = 128;
/** Bytes a name takes besides its characters (its id and two lengths). */
const PER_NAME_OVERHEAD = 16;

/** An answer; the account and application are in the keys it is found by. */
interface Entry {
  generation: number;
  /** Every name and scope, in order, in one string of its own (see set). */
  text: string;
  /** The length of each name and of each scope, in order. */
  lengths: Uint32Array;
  ids: number[];
}

/**
 * The ids of the names a source (an agent's run) sent last time, by position (issue #20). An agent
 * harvests the same metrics in the same order minute after minute, so the next harvest's ids are
 * usually the last ones: checked name by name against what was remembered (string comparisons, no
 * key strings built, no map look-up per name), they answer without the dictionary's per-name cache.
 * Only answers the dictionary gave in full are remembered (every name known, admitted to the
 * application, none folded into the overflow name); a dictionary generation that changed (an account
 * forgotten after a move) makes every entry stale. Bounded by sources and by the bytes of their names.
 */
export class MetricIdMemo {
  /** Each source's last answer. */
  readonly #bySource: LRUCache<string, Entry>;
  /** Each application's newest answer, so that sources sending the same names share one entry. */
  readonly #byApplication: LRUCache<string, Entry>;

  constructor(limits: MetricIdMemoLimits = DEFAULT_MEMO_LIMITS) {
    // lru-cache preallocates `max` slots up front (100,000 of them were 7 MiB of a collector's peak RSS
    // at the bench's shape): a large count bound is kept through the bytes, as the dictionary's is.
    // Every source is charged its entry's full size even when it shares the entry, so the bytes held
    // stay under the bound whatever is shared.
    const small = limits.maxSources <= 10_000;
    this.#bySource = new LRUCache<string, Entry>({
      ...(small ? { max: limits.maxSources } : {}),
      maxSize: small ? limits.maxBytes : Math.min(limits.maxBytes, limits.maxSources * ENTRY_OVERHEAD),
      sizeCalculation: sizeOf,
    });
    this.#byApplication = new LRUCache<string, Entry>({ max: 1_000, maxSize: Math.max(1, Math.floor(limits.maxBytes / 4)), sizeCalculation: sizeOf });
  }

  get size(): number {
    return this.#bySource.size;
  }

  /** The remembered ids (a copy) when `names` are exactly what `source` sent last time, else undefined. */
  get(source: string, accountId: number, applicationId: number | undefined, generation: number, names: readonly MetricName[]): number[] | undefined {
    const e = this.#bySource.get(keyOf(source, accountId, applicationId));
    return e && e.generation === generation && sameNames(e, names) ? e.ids.slice() : undefined;
  }

  set(source: string, accountId: number, applicationId: number | undefined, generation: number, names: readonly MetricName[], ids: readonly number[]): void {
    const parts = new Array<string>(2 * names.length);
    const lengths = new Uint32Array(2 * names.length);
    for (let i = 0; i < names.length; i++) {
      const { name, scope } = names[i]!;
      parts[2 * i] = name;
      parts[2 * i + 1] = scope;
      lengths[2 * i] = name.length;
      lengths[2 * i + 1] = scope.length;
    }
    // One new string holding copies of the characters, not the parsed strings (keeping those cost
    // 12 MiB of a collector's peak RSS at the bench's shape).
    const text = parts.join('');
    const appKey = keyOf('', accountId, applicationId);
    const shared = this.#byApplication.get(appKey);
    if (shared && shared.generation === generation && shared.text === text && sameItems(shared.ids, ids) && sameItems(shared.lengths, lengths)) {
      this.#bySource.set(keyOf(source, accountId, applicationId), shared);
      return;
    }
    const entry: Entry = { generation, text, lengths, ids: ids.slice() };
    this.#byApplication.set(appKey, entry);
    this.#bySource.set(keyOf(source, accountId, applicationId), entry);
  }
}

function sizeOf(e: Entry): number {
  return ENTRY_OVERHEAD + 2 * e.text.length + PER_NAME_OVERHEAD * e.ids.length;
}

/** Whether `names` are the entry's, in order: the same length and the same characters at each place. */
function sameNames(e: Entry, names: readonly MetricName[]): boolean {
  const { text, lengths } = e;
  if (e.ids.length !== names.length) return false;
  let at = 0;
  for (let i = 0; i < names.length; i++) {
    const { name, scope } = names[i]!;
    if (name.length !== lengths[2 * i] || !text.startsWith(name, at)) return false;
    at += name.length;
    if (scope.length !== lengths[2 * i + 1] || !text.startsWith(scope, at)) return false;
    at += scope.length;
  }
  return true;
}

/** Whether two lists of numbers (ids, or name lengths) are equal item by item. */
function sameItems(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A source is remembered once per account and application it reports to. */
function keyOf(source: string, accountId: number, applicationId: number | undefined): string {
  return `${source}\u0000${accountId}\u0000${applicationId ?? ''}`;
}
