import type { ShardStore } from './shard-store.js';
import type { WriteLedger } from './shard-writer-ledger.js';

const SWEEP_EVERY_MS = 3_600_000;

/** At most once an hour per shard, drops ledger tables older than a few days, in the background. */
export class LedgerSweeper {
  readonly #last = new Map<number, number>();

  constructor(private readonly ledger: WriteLedger, private readonly now: () => number) {}

  maybeSweep(store: ShardStore): void {
    const last = this.#last.get(store.shardId) ?? 0;
    if (Date.now() - last < SWEEP_EVERY_MS) return;
    this.#last.set(store.shardId, Date.now());
    store.dropOldLedgers(this.now()).then(
      (dropped) => this.ledger.forget(store.shardId, dropped),
      () => undefined,
    );
  }
}
