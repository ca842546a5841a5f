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
  const minuteTables = () => store.kysely.selectFrom('table_registry').select('account_id').where('kind', '=', 'minute');
  const active = await minuteTables().distinct().where('period_start', 'in', [next - HOUR, next - 2 * HOUR]).execute();
  const existing = await minuteTables().where('period_start', '=', next).execute();
  const plan = planPrecreate({ now, windowMinutes: o.windowMinutes, active: active.map((r) => Number(r.account_id)), existing: new Set(existing.map((r) => Number(r.account_id))) });
  const queue = [...plan.accounts];
  const worker = async () => {
    for (let a = queue.shift(); a !== undefined; a = queue.shift()) await store.ensureTable(a, 'minute', plan.hour);
  };
  await Promise.all(Array.from({ length: Math.max(1, o.concurrency ?? 4) }, worker));
  return plan.accounts.length;
}
