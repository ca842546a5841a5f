import type { DistributionState } from './otlp-distribution.js';

/**
 * What the receiver remembers per series between exports (in memory, per collector process):
 * - cumulative counters and distributions: the last cumulative value, to turn the next one into a
 *   delta. The key includes the series' start time, so a reset (new start time) is a new series.
 * - gauges: the minute and value of the last sample written, to keep the row's "last" slot exact.
 *
 * Bounded: at most `maxSeries` entries, least recently updated evicted first, and entries idle for
 * `idleSeconds` dropped. Changes are made in a SeriesTxn and applied only once the rows they
 * produced are committed, so a refused (retried) export leaves the state as it was.
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
  idleSeconds: number;
  /** When this receiver started (Unix ns): cumulative series that started earlier are baselined. */
  startedAtNs: bigint;
  onEvict?: () => void;
}

export class SeriesStateStore {
  readonly #map = new Map<string, Stored>();
  /** Per account: the latest start time of any evicted cumulative series. */
  readonly #evictedStart = new Map<number, bigint>();
  evicted = 0;

  constructor(readonly o: SeriesStateOptions) {}

  get size(): number {
    return this.#map.size;
  }

  get(key: string): SeriesEntry | undefined {
    return this.#map.get(key)?.entry;
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
      this.#map.delete(key); // re-insert: Map order is least recently updated first
      this.#map.set(key, { ...c, touchedAt: nowSeconds });
    }
    this.sweep(nowSeconds);
  }

  /** Drops idle entries and, past maxSeries, the least recently updated ones. */
  sweep(nowSeconds: number): void {
    for (const [key, s] of this.#map) {
      if (this.#map.size <= this.o.maxSeries && s.touchedAt > nowSeconds - this.o.idleSeconds) break;
      this.#map.delete(key);
      this.evicted++;
      this.o.onEvict?.();
      if (s.startNs > (this.#evictedStart.get(s.accountId) ?? 0n)) this.#evictedStart.set(s.accountId, s.startNs);
    }
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
