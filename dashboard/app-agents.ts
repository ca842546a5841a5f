import { sql } from 'kysely';
import { InputError, NotFoundError } from '../lib/errors.js';
import type { ShardStore } from '../lib/shard/shard-store.js';

/** One agent (instance) of an application, as the explorer compares them. */
export interface AppAgent {
  id: number;
  host: string;
  pid: number;
  language: string;
}

/** Not the application-wide pseudo-agent (host '', pid 0, language ''). */
const notPseudoAgent = sql<boolean>`NOT (host = '' AND pid = 0 AND language = '')`;

/** Agents listed per application (the newest first past it are left out). */
export const MAX_AGENTS = 200;

/**
 * The application's agents (hosts/instances), without its application-wide pseudo-agent (host '',
 * pid 0, language ''): every agent that ever wrote rows of its own. OTLP resources naming an instance
 * and every New Relic agent run's (host, pid) are agents.
 */
export async function agentsOf(store: ShardStore, accountId: number, applicationId: number): Promise<AppAgent[]> {
  const rows = await store.kysely
    .selectFrom('agents')
    .select(['id', 'host', 'pid', 'language'])
    .where('account_id', '=', accountId)
    .where('application_id', '=', applicationId)
    .where(notPseudoAgent)
    .orderBy('id', 'desc')
    .limit(MAX_AGENTS)
    .execute();
  return rows.map((r) => ({ id: Number(r.id), host: String(r.host), pid: Number(r.pid), language: String(r.language) })).reverse();
}

/** The `agent` query parameter: undefined (application-wide) or an agent id of this application. */
export async function agentParam(store: ShardStore, accountId: number, applicationId: number, raw: string | null): Promise<number | undefined> {
  if (raw === null || raw === '') return undefined;
  if (!/^[1-9][0-9]{0,9}$/.test(raw)) throw new InputError(`cannot read metric: agent=${JSON.stringify(raw.slice(0, 20))} is not an agent id`);
  const rows = await store.kysely
    .selectFrom('agents')
    .select('id')
    .where('account_id', '=', accountId)
    .where('id', '=', Number(raw))
    .where('application_id', '=', applicationId)
    .where(notPseudoAgent)
    .execute();
  if (rows.length === 0) throw new NotFoundError(`cannot read metric: agent ${raw} is not an agent of this application`);
  return Number(raw);
}
