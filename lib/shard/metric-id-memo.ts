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
const PER_NAME_OVERHEAD = 16;

interface Entry {
  accountId: number;
  applicationId: number | undefined;
  generation: number;
  names: string[];
  scopes: string[];
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
  readonly #entries: LRUCache<string, Entry>;

  constructor(limits: MetricIdMemoLimits = DEFAULT_MEMO_LIMITS) {
    this.#entries = new LRUCache<string, Entry>({
      max: limits.maxSources,
      maxSize: limits.maxBytes,
      sizeCalculation: (e) => ENTRY_OVERHEAD + e.names.reduce((n, s, i) => n + 2 * (s.length + e.scopes[i]!.length) + PER_NAME_OVERHEAD, 0),
    });
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The remembered ids (a copy) when `names` are exactly what `source` sent last time, else undefined. */
  get(source: string, accountId: number, applicationId: number | undefined, generation: number, names: readonly MetricName[]): number[] | undefined {
    const e = this.#entries.get(keyOf(source, applicationId));
    if (!e || e.accountId !== accountId || e.applicationId !== applicationId || e.generation !== generation || e.names.length !== names.length) return undefined;
    for (let i = 0; i < names.length; i++) {
      const n = names[i]!;
      if (n.name !== e.names[i] || n.scope !== e.scopes[i]) return undefined;
    }
    return e.ids.slice();
  }

  set(source: string, accountId: number, applicationId: number | undefined, generation: number, names: readonly MetricName[], ids: readonly number[]): void {
    const size = names.length;
    const entry: Entry = { accountId, applicationId, generation, names: new Array<string>(size), scopes: new Array<string>(size), ids: ids.slice() };
    for (let i = 0; i < size; i++) {
      entry.names[i] = names[i]!.name;
      entry.scopes[i] = names[i]!.scope;
    }
    this.#entries.set(keyOf(source, applicationId), entry);
  }
}

/** A source reporting to several applications is remembered once per application. */
function keyOf(source: string, applicationId: number | undefined): string {
  return applicationId === undefined ? source : `${source}\u0000${applicationId}`;
}
