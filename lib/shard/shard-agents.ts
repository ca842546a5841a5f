import { LRUCache } from 'lru-cache';
import type { Kysely } from 'kysely';
import { KeyedLock } from '../concurrency/keyed-lock.js';
import { withLockRetry } from '../db/deadlock-retry.js';
import { reserveIds } from './id-allocator.js';
import type { ShardDatabase } from './shard-database.js';
import { assertId } from './table-naming.js';

export interface AgentIdentity {
  applicationId: number;
  host: string;
  pid: number;
  language: string;
}

/**
 * The agents of a shard's accounts (`agents`): per-account ids reserved from `account_counters` (so an
 * account moves with its ids), registered on first sight exactly once across racing processes. The
 * application-wide pseudo-agent (host '', pid 0, language '') holds the rows merged across agents.
 * Typed statements through kysely; the identity → id cache is LRU-bounded by count and bytes.
 */
export class ShardAgents {
  // Bounded by bytes, and so by count (every entry counts at least 64 bytes: at most 2M). No `max`:
  // lru-cache preallocates `max` slots up front, which cost the collector ~250 MB of RSS at 1M.
  readonly #ids = new LRUCache<string, number>({ maxSize: 128 * 1024 * 1024, sizeCalculation: (_v, k) => k.length * 2 + 64 });
  readonly #serial = new KeyedLock(1024);

  constructor(private readonly db: Kysely<ShardDatabase>) {}

  /** The agent's id, created on first sight. */
  async id(accountId: number, a: AgentIdentity): Promise<number> {
    assertId('account id', accountId);
    const k = `${accountId}\u0000${a.applicationId}\u0000${a.host}\u0000${a.pid}\u0000${a.language}`;
    const cached = this.#ids.get(k);
    if (cached !== undefined) return cached;
    // First sight: one registration per agent identity at a time in this process (all agents of an
    // application register its pseudo-agent at once), retried when another process deadlocks us.
    const id = await this.#serial.run(k, async () => {
      const found = this.#ids.get(k) ?? (await this.#select(accountId, a));
      if (found !== undefined) return found;
      await withLockRetry(() =>
        this.db.connection().execute(async (conn) => {
          const reserved = await reserveIds(conn, accountId, 'agent', 1);
          await conn
            .insertInto('agents')
            .ignore()
            .values({ account_id: accountId, id: reserved, application_id: a.applicationId, host: a.host, pid: a.pid, language: a.language })
            .execute();
        }),
      );
      const made = await this.#select(accountId, a);
      if (made === undefined) throw new Error('BUG: agent row missing after insert');
      return made;
    });
    this.#ids.set(k, id);
    return id;
  }

  async #select(accountId: number, a: AgentIdentity): Promise<number | undefined> {
    const row = await this.db
      .selectFrom('agents')
      .select('id')
      .where('account_id', '=', accountId)
      .where('application_id', '=', a.applicationId)
      .where('host', '=', a.host)
      .where('pid', '=', a.pid)
      .where('language', '=', a.language)
      .executeTakeFirst();
    return row ? Number(row.id) : undefined;
  }

  /** The application-wide pseudo-agent: rows merged across all agents of the application. */
  applicationAgent(accountId: number, applicationId: number): Promise<number> {
    return this.id(accountId, { applicationId, host: '', pid: 0, language: '' });
  }

  async list(accountId: number, applicationId?: number): Promise<Array<AgentIdentity & { id: number }>> {
    let q = this.db.selectFrom('agents').select(['id', 'application_id', 'host', 'pid', 'language']).where('account_id', '=', accountId);
    if (applicationId !== undefined) q = q.where('application_id', '=', applicationId);
    const rows = await q.orderBy('id').execute();
    return rows.map((r) => ({ id: Number(r.id), applicationId: Number(r.application_id), host: r.host, pid: Number(r.pid), language: r.language }));
  }
}
