import type { ShardStore } from '../lib/shard/shard-store.js';
import { tableName } from '../lib/shard/table-naming.js';
import { sealMinuteTable } from '../rollup/minute-seal.js';

/**
 * The minute seal (rollup/minute-seal.ts) of a bench hour, as the rollup service runs it beside the
 * pipeline: once a simulated minute is done, its application rows are derived from the agents' rows of
 * every account's minute table, in the background on its own connection (one table per transaction,
 * one minute after the other), while the next minute is written. Both the ceiling and the end-to-end
 * phase run it, so both store the same rows and do the same work; the phase's CPU counts it.
 */
export class BenchSealer {
  #chain: Promise<void> = Promise.resolve();
  #failure: Error | undefined;
  rows = 0;

  constructor(
    private readonly store: ShardStore,
    private readonly accountIds: readonly number[],
    private readonly hourStart: number,
  ) {}

  /** Minute `k` of the hour is done: seal through its end (queued behind the previous seals). */
  minuteDone(k: number): void {
    const to = this.hourStart + (k + 1) * 60;
    this.#chain = this.#chain.then(() => this.#sealAll(to)).catch((err: Error) => {
      this.#failure ??= err;
    });
  }

  /** Waits for the queued seals and seals through the last minute done; throws the first failure. */
  async finish(minutesDone: number): Promise<void> {
    if (minutesDone > 0) this.minuteDone(minutesDone - 1);
    await this.#chain;
    if (this.#failure) throw new Error(`cannot seal the bench hour's minutes: ${this.#failure.message}`);
  }

  async #sealAll(to: number): Promise<void> {
    const conn = await this.store.pool.getConnection();
    try {
      for (const id of this.accountIds) {
        const name = tableName('minute', id, this.hourStart);
        const r = await sealMinuteTable(conn, { name, accountId: id, start: this.hourStart, end: this.hourStart + 3600 }, to);
        this.rows += r.rows;
      }
    } finally {
      conn.release();
    }
  }
}
