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
/** Bytes a string of the entry takes besides its characters (V8's header, rounded up, and its array slot). */
const PER_STRING_OVERHEAD = 20;
/** Bytes an id takes. */
const PER_ID = 8;
/** A character beyond Latin-1 makes V8 keep the whole string two bytes a character. */
const TWO_BYTE = /[^\u0000-\u00ff]/;

/** An answer; the account and application are in the keys it is found by. */
interface Entry {
  generation: number;
  /** Every name and scope, in order (name, scope, name, …), as strings of their own (see set). */
  names: string[];
  ids: number[];
  /** What the entry holds, in bytes (sizeOf). */
  bytes: number;
}

/** Bytes a source's place takes besides its key's characters (its slot and the number of its answer). */
const SOURCE_OVERHEAD = 64;

/**
 * The ids of the names a source (an agent's run) sent last time, by position (issue #20). An agent
 * harvests the same metrics in the same order minute after minute, so the next harvest's ids are
 * usually the last ones: checked name by name against what was remembered (string comparisons, no
 * key strings built, no map look-up per name), they answer without the dictionary's per-name cache.
 * Only answers the dictionary gave in full are remembered (every name known, admitted to the
 * application, none folded into the overflow name); a dictionary generation that changed (an account
 * forgotten after a move) makes every entry stale.
 *
 * Bounded by sources and by bytes: a quarter of the bytes for the sources (each charged its key), the
 * rest for the answers (each charged its names once, however many sources share it). A source points
 * to its answer by number, so an answer evicted from its cache is gone for every source that shared it
 * (their next harvest asks the dictionary). Before, each source held its answer and was charged its full
 * size: 10,000 agents of 100 metrics (issue #20's 200 accounts) were charged 90 MB against 32 MiB, and
 * the LRU evicted every run before its next harvest, although they shared a few hundred answers.
 */
export class MetricIdMemo {
  /** Each source's last answer, by its number in #entries. */
  readonly #bySource: LRUCache<string, number>;
  /** The answers, by number. */
  readonly #entries: LRUCache<number, Entry>;
  /** Each application's newest answer's number, so that sources sending the same names share it. */
  readonly #byApplication: LRUCache<string, number>;
  readonly #maxEntryBytes: number;
  #numbered = 0;

  constructor(limits: MetricIdMemoLimits = DEFAULT_MEMO_LIMITS) {
    const sourceBytes = Math.max(1, Math.floor(limits.maxBytes / 4));
    this.#maxEntryBytes = Math.max(1, limits.maxBytes - sourceBytes);
    // lru-cache preallocates `max` slots up front (100,000 of them were 7 MiB of a collector's peak RSS
    // at the bench's shape): a large count bound is kept through the bytes instead, every source charged
    // at least its share of them.
    const small = limits.maxSources <= 10_000;
    const least = small ? 0 : Math.ceil(sourceBytes / limits.maxSources);
    this.#bySource = new LRUCache<string, number>({
      ...(small ? { max: limits.maxSources } : {}),
      maxSize: sourceBytes,
      sizeCalculation: (_id, key) => Math.max(least, SOURCE_OVERHEAD + 2 * key.length),
    });
    // Every answer is at least ENTRY_OVERHEAD bytes, so the bytes bound their count too.
    this.#entries = new LRUCache<number, Entry>({ maxSize: this.#maxEntryBytes, sizeCalculation: sizeOf });
    this.#byApplication = new LRUCache<string, number>({ max: 1_000 });
  }

  /** Sources remembered (an answer of theirs may have been evicted since). */
  get size(): number {
    return this.#bySource.size;
  }

  /** The remembered ids (a copy) when `names` are exactly what `source` sent last time, else undefined. */
  get(source: string, accountId: number, applicationId: number | undefined, generation: number, names: readonly MetricName[]): number[] | undefined {
    const n = this.#bySource.get(keyOf(source, accountId, applicationId));
    const e = n === undefined ? undefined : this.#entries.get(n);
    return e && e.generation === generation && sameNames(e, names) ? e.ids.slice() : undefined;
  }

  set(source: string, accountId: number, applicationId: number | undefined, generation: number, names: readonly MetricName[], ids: readonly number[]): void {
    const key = keyOf(source, accountId, applicationId);
    const appKey = keyOf('', accountId, applicationId);
    const sharedNumber = this.#byApplication.get(appKey);
    const shared = sharedNumber === undefined ? undefined : this.#entries.get(sharedNumber);
    if (shared && shared.generation === generation && sameNames(shared, names) && sameItems(shared.ids, ids)) {
      this.#bySource.set(key, sharedNumber!);
      return;
    }
    const parts = new Array<string>(2 * names.length);
    for (let i = 0; i < names.length; i++) {
      parts[2 * i] = names[i]!.name;
      parts[2 * i + 1] = names[i]!.scope;
    }
    const bytes = bytesOf(parts, ids.length);
    if (bytes > this.#maxEntryBytes) {
      // Larger than the answers' whole bound: never kept, so not copied either (the source's last answer goes).
      this.#bySource.delete(key);
      return;
    }
    // Flat copies made by one JSON round trip (exact for any string), not the caller's strings: those
    // may be slices of, or concatenations over, larger strings that the entry would keep alive. Kept
    // as strings of their own, since comparing whole strings (===) is what V8 does fastest: checking
    // 100 names against one string of all their characters (startsWith at each offset) took 34–56 µs,
    // against strings of their own 1.5–1.9 µs (node 20, this machine).
    const copies = JSON.parse(JSON.stringify(parts)) as string[];
    const number = ++this.#numbered;
    this.#entries.set(number, { generation, names: copies, ids: ids.slice(), bytes });
    this.#byApplication.set(appKey, number);
    this.#bySource.set(key, number);
  }
}

function sizeOf(e: Entry): number {
  return e.bytes;
}

function bytesOf(strings: readonly string[], ids: number): number {
  let bytes = ENTRY_OVERHEAD + PER_ID * ids;
  for (const s of strings) bytes += PER_STRING_OVERHEAD + (TWO_BYTE.test(s) ? 2 : 1) * s.length;
  return bytes;
}

/** Whether `names` are the entry's, in order. */
function sameNames(e: Entry, names: readonly MetricName[]): boolean {
  const own = e.names;
  if (own.length !== 2 * names.length) return false;
  for (let i = 0; i < names.length; i++) {
    const { name, scope } = names[i]!;
    if (name !== own[2 * i] || scope !== own[2 * i + 1]) return false;
  }
  return true;
}

/** Whether two lists of numbers are equal item by item. */
function sameItems(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A source is remembered once per account and application it reports to. */
function keyOf(source: string, accountId: number, applicationId: number | undefined): string {
  return `${source}\u0000${accountId}\u0000${applicationId ?? ''}`;
}
