import { randomBytes } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';
import type { Pool as PromisePool } from 'mysql2/promise';
import type { Directory } from '../lib/directory/directory.js';
import type { DirectoryDatabase } from '../lib/directory/directory-database.js';
import { InputError, NotFoundError } from '../lib/errors.js';
import { validateChannel, type ChannelConfig } from './channel-input.js';
import { closeAndRemove } from './incident-store.js';
import { validatePolicy, type PolicyDraft, type PolicyInput } from './policy-input.js';

export interface Channel {
  id: number;
  accountId: number;
  name: string;
  config: ChannelConfig;
}

export interface Policy extends PolicyDraft {
  id: number;
  accountId: number;
  applicationId: number;
}

/** Partitions of the policy evaluation (a named lock each); policy id mod this. */
export const POLICY_PARTITIONS = 64;
/** Policies and channels per account. */
export const MAX_POLICIES_PER_ACCOUNT = 10_000;
export const MAX_CHANNELS_PER_ACCOUNT = 100;

type ChannelRow = Pick<Selectable<DirectoryDatabase['alert_channels']>, 'id' | 'account_id' | 'name' | 'type' | 'config'>;
type PolicyRow = Omit<Selectable<DirectoryDatabase['alert_policies']>, 'created_at'>;

export function channelOfRow(r: ChannelRow): Channel {
  return { id: Number(r.id), accountId: Number(r.account_id), name: String(r.name), config: { type: r.type, ...JSON.parse(String(r.config)) } as ChannelConfig };
}

export function policyOfRow(r: PolicyRow): Policy {
  return {
    id: Number(r.id),
    accountId: Number(r.account_id),
    applicationId: Number(r.application_id),
    name: String(r.name),
    metric: r.metric as Policy['metric'],
    warning: r.warning === null ? null : Number(r.warning),
    critical: r.critical === null ? null : Number(r.critical),
    durationMinutes: Number(r.duration_minutes),
    channels: JSON.parse(String(r.channels)) as number[],
    enabled: Number(r.enabled) === 1,
  };
}

function duplicate(err: unknown, what: string): never {
  if ((err as { errno?: number }).errno === 1062) throw new InputError(`cannot create ${what}: name is already used in this account`);
  throw err;
}

/** Channels and policies in the directory database (schema/directory/0003-alerts.sql). */
export class AlertStore {
  readonly pool: PromisePool;
  readonly db: Kysely<DirectoryDatabase>;
  constructor(readonly directory: Directory) {
    this.pool = directory.db.promise;
    this.db = directory.db.kysely;
  }

  async createChannel(accountId: number, input: Record<string, unknown>): Promise<Channel> {
    await this.directory.getAccount(accountId);
    const draft = validateChannel(input, () => randomBytes(24).toString('base64url'));
    const count = await this.db.selectFrom('alert_channels').select(sql<number>`COUNT(*)`.as('n')).where('account_id', '=', accountId).executeTakeFirstOrThrow();
    if (Number(count.n) >= MAX_CHANNELS_PER_ACCOUNT) throw new InputError(`cannot create channel: the account already has ${MAX_CHANNELS_PER_ACCOUNT} channels`);
    const { type, ...config } = draft.config;
    const r = await this.db
      .insertInto('alert_channels')
      .values({ account_id: accountId, name: draft.name, type, config: JSON.stringify(config) })
      .executeTakeFirstOrThrow()
      .catch((e) => duplicate(e, 'channel'));
    return { id: Number(r.insertId), accountId, name: draft.name, config: draft.config };
  }

  async listChannels(accountId: number): Promise<Channel[]> {
    const rows = await this.db.selectFrom('alert_channels').selectAll().where('account_id', '=', accountId).orderBy('id').execute();
    return rows.map(channelOfRow);
  }

  async channelsByIds(ids: readonly number[]): Promise<Map<number, Channel>> {
    if (ids.length === 0) return new Map();
    const rows = await this.db.selectFrom('alert_channels').selectAll().where('id', 'in', [...ids]).execute();
    return new Map(rows.map((r) => [Number(r.id), channelOfRow(r)]));
  }

  async deleteChannel(accountId: number, id: number): Promise<void> {
    const r = await this.db.deleteFrom('alert_channels').where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw new NotFoundError(`cannot delete channel ${id}: no such channel in account ${accountId}`);
  }

  /** Validates and stores a policy for an application of the account (by id or name). */
  async createPolicy(accountId: number, application: number | string, input: PolicyInput): Promise<Policy> {
    await this.directory.getAccount(accountId);
    const app = typeof application === 'number'
      ? await this.directory.getApplication(application).then((a) => (a.accountId === accountId ? a : undefined), () => undefined)
      : await this.directory.findApplication(accountId, application);
    if (!app) throw new InputError(`cannot accept policy: application ${JSON.stringify(application)} is not an application of account ${accountId}`);
    const known = new Set((await this.listChannels(accountId)).map((c) => c.id));
    const d = validatePolicy(input, known);
    const count = await this.db.selectFrom('alert_policies').select(sql<number>`COUNT(*)`.as('n')).where('account_id', '=', accountId).executeTakeFirstOrThrow();
    if (Number(count.n) >= MAX_POLICIES_PER_ACCOUNT) throw new InputError(`cannot accept policy: the account already has ${MAX_POLICIES_PER_ACCOUNT} policies`);
    const r = await this.db
      .insertInto('alert_policies')
      .values({
        account_id: accountId, application_id: app.id, name: d.name, metric: d.metric, warning: d.warning, critical: d.critical,
        duration_minutes: d.durationMinutes, channels: JSON.stringify(d.channels), enabled: d.enabled ? 1 : 0,
      })
      .executeTakeFirstOrThrow()
      .catch((e) => duplicate(e, 'policy'));
    return { ...d, id: Number(r.insertId), accountId, applicationId: app.id };
  }

  async listPolicies(accountId: number): Promise<Policy[]> {
    const rows = await this.db.selectFrom('alert_policies').selectAll().where('account_id', '=', accountId).orderBy('id').execute();
    return rows.map(policyOfRow);
  }

  async getPolicy(id: number): Promise<Policy> {
    const row = await this.db.selectFrom('alert_policies').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new NotFoundError(`cannot find policy ${id}: no such policy`);
    return policyOfRow(row);
  }

  async setPolicyEnabled(accountId: number, id: number, enabled: boolean): Promise<Policy> {
    const r = await this.db.updateTable('alert_policies').set({ enabled: enabled ? 1 : 0 }).where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) throw new NotFoundError(`cannot change policy ${id}: no such policy in account ${accountId}`);
    return this.getPolicy(id);
  }

  /** Deletes a policy and its evaluation state; its open incident is resolved (notified); its history stays. */
  async deletePolicy(accountId: number, id: number, now: number): Promise<void> {
    const p = await this.getPolicy(id).catch(() => undefined);
    const removed = p && p.accountId === accountId
      ? await closeAndRemove(this.db, 'policy', p, now, async (trx) => {
        const r = await trx.deleteFrom('alert_policies').where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
        await trx.deleteFrom('alert_policy_state').where('policy_id', '=', id).execute();
        return Number(r.numDeletedRows);
      })
      : 0;
    if (removed === 0) throw new NotFoundError(`cannot delete policy ${id}: no such policy in account ${accountId}`);
  }

  /** Enabled policies of one evaluation partition, with their state rows. */
  async partitionPolicies(partition: number): Promise<Array<Policy & { lastMinute: number; state: string | null }>> {
    const rows = await this.db
      .selectFrom('alert_policies as p')
      .leftJoin('alert_policy_state as s', 's.policy_id', 'p.id')
      .selectAll('p')
      .select(['s.last_minute', 's.state'])
      .where('p.enabled', '=', 1)
      .where(sql<number>`MOD(p.id, ${POLICY_PARTITIONS})`, '=', partition)
      .orderBy('p.account_id')
      .orderBy('p.application_id')
      .orderBy('p.id')
      .execute();
    return rows.map((r) => ({ ...policyOfRow(r), lastMinute: r.last_minute === null ? 0 : Number(r.last_minute), state: r.state ?? null }));
  }
}

/**
 * Records where each policy's evaluation stands (its last evaluated minute and condition state), by
 * `owner`; on `db`, or on the caller's transaction with a transition.
 */
export async function savePolicyStates(db: Kysely<DirectoryDatabase>, states: ReadonlyArray<{ policyId: number; lastMinute: number; state: string }>, owner: string): Promise<void> {
  for (let i = 0; i < states.length; i += 1000) {
    await db
      .insertInto('alert_policy_state')
      .values(states.slice(i, i + 1000).map((s) => ({ policy_id: s.policyId, last_minute: s.lastMinute, state: s.state, evaluated_by: owner })))
      .onDuplicateKeyUpdate({ last_minute: sql`VALUES(last_minute)`, state: sql`VALUES(state)`, evaluated_by: sql`VALUES(evaluated_by)` })
      .execute();
  }
}
