import { LRUCache } from 'lru-cache';
import type { DistributionState } from './otlp-distribution.js';

/**
 * What the receiver remembers per series between exports (in memory, per collector process):
 * - cumulative counters and distributions: the last cumulative value, to turn the next one into a
 *   delta. The key includes the series' start time, so a reset (new start time) is a new series.
 * - gauges: the minute and value of the last sample written, to keep the row's "last" slot exact.
 *
 * Bounded: at most `maxSeries` entries and `maxBytes` (keys hold the whole attribute text), least
 * recently updated evicted first (lru-cache), and entries idle for `idleSeconds` dropped. Changes
 * are made in a SeriesTxn and applied only once the rows they produced are committed, so a refused
 * (retried) export leaves the state as it was.
 */
export type SeriesEntry =
  | { kind: 'counter'; timeNs: bigint; value: number }
  | { kind: 'distribution'; timeNs: bigint; state: DistributionState }
  /** recent: times of the newest samples (≤ GAUGE_RECENT_TIMES), to tell a resend from an out-of-order sample. */
  | { kind: 'gauge'; minute: number; timeNs: bigint; last: number; recent: readonly bigint[] };

/** Sample times remembered per gauge series (a resent export of up to this many samples is recognised). */
export const GAUGE_RECENT_TIMES = 8;

interface Stored {
  entry: SeriesEntry;
  accountId: number;
  /** Start time of a cumulative series (0n for gauges). */
  startNs: bigint;
  touchedAt: number;
}

export interface SeriesStateOptions {
  maxSeries: number;
  /** Bytes the remembered series may take (keys hold the full attribute text); default 256 MiB. */
  maxBytes?: number;
  idleSeconds: number;
  /** When this receiver started (Unix ns): cumulative series that started earlier are baselined. */
  startedAtNs: bigint;
  onEvict?: () => void;
}

export const DEFAULT_SERIES_BYTES = 256 * 1024 * 1024;

/** Estimated bytes of one remembered series: its key (UTF-16) and its entry. */
function sizeOf(s: Stored, key: string): number {
  const e = s.entry;
  const entry = e.kind === 'gauge' ? 96 + e.recent.length * 24 : e.kind === 'counter' ? 80 : 120 + e.state.buckets.length * 56;
  return key.length * 2 + 64 + entry;
}

export class SeriesStateStore {
  /** Least recently UPDATED first: reads peek (no reordering), apply() re-sets. Bounded by count and bytes. */
  readonly #map: LRUCache<string, Stored>;
  /** Per account: the latest start time of any evicted cumulative series. */
  readonly #evictedStart = new Map<number, bigint>();
  evicted = 0;

  constructor(readonly o: SeriesStateOptions) {
    this.#map = new LRUCache<string, Stored>({
      max: o.maxSeries,
      maxSize: o.maxBytes ?? DEFAULT_SERIES_BYTES,
      sizeCalculation: sizeOf,
      dispose: (s, _key, reason) => {
        if (reason === 'evict') this.#forgot(s);
      },
    });
  }

  get size(): number {
    return this.#map.size;
  }

  /** Bytes held, as estimated for the bound. */
  get bytes(): number {
    return this.#map.calculatedSize;
  }

  get(key: string): SeriesEntry | undefined {
    return this.#map.peek(key)?.entry;
  }

  /**
   * A cumulative series never seen before counts from its start only if it started after this
   * receiver started and after every evicted series of the account started: otherwise this
   * receiver may have forgotten it (restart, eviction) and its first point becomes the baseline.
   */
  countsFromStart(accountId: number, startNs: bigint): boolean {
    if (startNs <= 0n || startNs < this.o.startedAtNs) return false;
    const evicted = this.#evictedStart.get(accountId);
    return evicted === undefined || startNs > evicted;
  }

  begin(): SeriesTxn {
    return new SeriesTxn(this);
  }

  /** Applies a committed transaction's changes, then enforces the bounds. */
  apply(changes: ReadonlyMap<string, Omit<Stored, 'touchedAt'>>, nowSeconds: number): void {
    for (const [key, c] of changes) {
      this.#map.delete(key); // re-insert as the most recently updated (a delete is not an eviction)
      this.#map.set(key, { ...c, touchedAt: nowSeconds });
    }
    this.sweep(nowSeconds);
  }

  /** Drops entries idle for idleSeconds (count and bytes are enforced by the cache on every set). */
  sweep(nowSeconds: number): void {
    const idle: Array<[string, Stored]> = [];
    for (const key of this.#map.rkeys()) {
      const s = this.#map.peek(key);
      if (s === undefined) continue;
      if (s.touchedAt > nowSeconds - this.o.idleSeconds) break;
      idle.push([key, s]);
    }
    for (const [key, s] of idle) {
      this.#map.delete(key);
      this.#forgot(s);
    }
  }

  #forgot(s: Stored): void {
    this.evicted++;
    this.o.onEvict?.();
    if (s.startNs > (this.#evictedStart.get(s.accountId) ?? 0n)) this.#evictedStart.set(s.accountId, s.startNs);
  }
}

/** Pending changes over the store: reads see them first; commit() applies them. */
export class SeriesTxn {
  readonly #changes = new Map<string, Omit<Stored, 'touchedAt'>>();

  constructor(readonly store: SeriesStateStore) {}

  get(key: string): SeriesEntry | undefined {
    return this.#changes.get(key)?.entry ?? this.store.get(key);
  }

  set(key: string, entry: SeriesEntry, accountId: number, startNs: bigint): void {
    this.#changes.set(key, { entry, accountId, startNs });
  }

  get changes(): number {
    return this.#changes.size;
  }

  commit(nowSeconds: number): void {
    this.store.apply(this.#changes, nowSeconds);
    this.#changes.clear();
  }
}
