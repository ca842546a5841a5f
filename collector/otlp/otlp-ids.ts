import { LRUCache } from 'lru-cache';
import type { Directory } from '../../lib/directory/directory.js';
import type { ShardStore } from '../../lib/shard/shard-store.js';
import type { DecodedExport } from './otlp-model.js';
import type { PlannedRow } from './otlp-plan.js';
import { namesInOrder, type ResolvedResource } from './otlp-rows.js';

const MAX_CACHED_APPLICATIONS = 100_000;

/**
 * Resource identities and metric names → database ids: service.name → application (created on
 * first sight), instance → agent, plus the application pseudo-agent; names through the shard's
 * dictionary with the per-application bound (past it they fold into Overflow/MetricNames).
 */
export class OtlpIds {
  // Bytes bound the count too (≥ 64 bytes an entry); no `max`, which lru-cache would preallocate.
  readonly #apps = new LRUCache<string, number>({ maxSize: Math.min(64 * 1024 * 1024, MAX_CACHED_APPLICATIONS * 64), sizeCalculation: (_v, k) => k.length * 2 + 64 });

  constructor(private readonly directory: Directory) {}

  async resolve(store: ShardStore, accountId: number, exp: DecodedExport, rows: readonly PlannedRow[], onOverflow: (n: number) => void): Promise<ResolvedResource[]> {
    const used = new Set(rows.map((r) => r.resource));
    const out: ResolvedResource[] = [];
    for (let i = 0; i < exp.resources.length; i++) {
      if (!used.has(i)) {
        out.push({ agentIds: [], metricIds: new Map() });
        continue;
      }
      const who = exp.resources[i]!.identity;
      const applicationId = await this.#application(accountId, who.serviceName);
      const agentIds: number[] = [];
      if (who.instance !== undefined) {
        agentIds.push(await store.agentId(accountId, { applicationId, host: who.instance, pid: who.pid, language: who.language }));
      }
      agentIds.push(await store.applicationAgentId(accountId, applicationId));
      const names = namesInOrder(rows, i);
      const ids = await store.metricIds(accountId, names.map((name) => ({ name, scope: '' })), { applicationId, onOverflow });
      out.push({ agentIds, metricIds: new Map(names.map((n, j) => [n, ids[j]!])) });
    }
    return out;
  }

  async #application(accountId: number, name: string): Promise<number> {
    const key = `${accountId}\u0000${name}`;
    const hit = this.#apps.get(key);
    if (hit !== undefined) return hit;
    const app = await this.directory.ensureApplication(accountId, name);
    this.#apps.set(key, app.id);
    return app.id;
  }
}
