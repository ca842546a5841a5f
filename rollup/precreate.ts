import type { ShardStore } from '../lib/shard/shard-store.js';
import { nextHourStart, planPrecreate } from './precreate-plan.js';
import { HOUR } from './table-state.js';

/**
 * Creates the next hour's minute tables of the shard's active accounts ahead of time, the share that
 * planPrecreate gives this minute, `concurrency` CREATE TABLEs at a time through ShardStore.ensureTable
 * (so this process's table cache knows them too). Two index probes of the registry
 * (table_registry_period: kind, period_start, account_id) and nothing else when nothing is due.
 * Returns how many tables it created.
 */
export async function precreateNextHour(store: ShardStore, now: number, o: { windowMinutes: number; concurrency?: number }): Promise<number> {
  const next = nextHourStart(now);
  if (o.windowMinutes <= 0 || now < next - o.windowMinutes * 60) return 0;
  const [active] = await store.pool.query<any[]>("SELECT DISTINCT account_id AS a FROM table_registry WHERE kind = 'minute' AND period_start IN (?, ?)", [next - HOUR, next - 2 * HOUR]);
  const [existing] = await store.pool.query<any[]>("SELECT account_id AS a FROM table_registry WHERE kind = 'minute' AND period_start = ?", [next]);
  const plan = planPrecreate({ now, windowMinutes: o.windowMinutes, active: active.map((r) => Number(r.a)), existing: new Set(existing.map((r) => Number(r.a))) });
  const queue = [...plan.accounts];
  const worker = async () => {
    for (let a = queue.shift(); a !== undefined; a = queue.shift()) await store.ensureTable(a, 'minute', plan.hour);
  };
  await Promise.all(Array.from({ length: Math.max(1, o.concurrency ?? 4) }, worker));
  return plan.accounts.length;
}
