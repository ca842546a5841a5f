import { RetryableError } from '../../lib/errors.js';

/**
 * Serialises work per key (here: per OTLP sender), so two exports of one sender never compute
 * deltas from the same remembered state. Several keys are taken in sorted order (no deadlock).
 * Bounded: past `maxWaiting` queued holders of one key, acquire fails with 429.
 */
export class KeyedLock {
  readonly #tails = new Map<string, { tail: Promise<void>; waiting: number }>();

  constructor(private readonly maxWaiting = 32) {}

  async acquire(keys: readonly string[]): Promise<() => void> {
    const sorted = [...new Set(keys)].sort();
    for (const k of sorted) {
      if ((this.#tails.get(k)?.waiting ?? 0) >= this.maxWaiting) {
        throw new RetryableError(`cannot accept metrics export: ${this.maxWaiting} exports of the same sender are already waiting`, 1, 429);
      }
    }
    const releases: Array<() => void> = [];
    for (const k of sorted) releases.push(await this.#one(k));
    let done = false;
    return () => {
      if (done) return;
      done = true;
      for (const r of releases.reverse()) r();
    };
  }

  async #one(key: string): Promise<() => void> {
    const slot = this.#tails.get(key) ?? { tail: Promise.resolve(), waiting: 0 };
    const prev = slot.tail;
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    slot.tail = prev.then(() => mine);
    slot.waiting++;
    this.#tails.set(key, slot);
    await prev;
    return () => {
      release();
      slot.waiting--;
      if (slot.waiting === 0 && this.#tails.get(key) === slot) this.#tails.delete(key);
    };
  }

  /** Keys with holders or waiters (for tests). */
  get size(): number {
    return this.#tails.size;
  }
}
