import { LRUCache } from 'lru-cache';

/**
 * Keeps a burst of the same warning or error from flooding the log: the first line of a kind in each
 * window is written, the rest are counted and the count rides on the next line of that kind written
 * (`repeated: N`). A line's kind is its level and its text with every number replaced, so "cannot
 * write batch of account 12" and "… account 13" are one kind. Pure (the clock is passed in); kinds are
 * bounded by count (least recently seen forgotten first).
 */
export class RepeatLimiter {
  readonly #kinds: LRUCache<string, { windowStart: number; suppressed: number }>;

  constructor(private readonly windowMs = 10_000, maxKinds = 1000) {
    this.#kinds = new LRUCache({ max: maxKinds });
  }

  /** undefined: drop the line; a number: write it, with that many lines suppressed since the last one. */
  admit(level: string, msg: string, nowMs: number): number | undefined {
    const kind = `${level}\u0000${msg.slice(0, 200).replace(/\d+(\.\d+)?/g, '#')}`;
    const k = this.#kinds.get(kind);
    if (k && nowMs - k.windowStart < this.windowMs) {
      k.suppressed++;
      return undefined;
    }
    const suppressed = k?.suppressed ?? 0;
    this.#kinds.set(kind, { windowStart: nowMs, suppressed: 0 });
    return suppressed;
  }
}
