import { RetryableError } from '../errors.js';

/**
 * Serialises work per key, in this process: OTLP exports of one sender (two exports never compute
 * deltas from the same remembered state), first-sight registration of one account's metric names or
 * agents (concurrent requests would otherwise insert the same unique keys at once and deadlock each
 * other). Several keys are taken in sorted order (no deadlock). Bounded: past `maxWaiting` queued
 * holders of one key, acquire fails with a RetryableError (429) saying `what` could not start.
 */
export class KeyedLock {
  readonly #tails = new Map<string, { tail: Promise<void>; waiting: number }>();

  constructor(
    private readonly maxWaiting = 32,
    private readonly what: { action: string; holders: string } = { action: 'start work', holders: 'tasks of the same key' },
  ) {}

  /** Runs task while holding `key`; tasks of one key run one at a time, in order. */
  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const release = await this.acquire([key]);
    try {
      return await task();
    } finally {
      release();
    }
  }

  async acquire(keys: readonly string[]): Promise<() => void> {
    const sorted = [...new Set(keys)].sort();
    for (const k of sorted) {
      if ((this.#tails.get(k)?.waiting ?? 0) >= this.maxWaiting) {
        throw new RetryableError(`cannot ${this.what.action}: ${this.maxWaiting} ${this.what.holders} are already waiting`, 1, 429);
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
