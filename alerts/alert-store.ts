import { randomBytes } from 'node:crypto';
import type { Pool as PromisePool } from 'mysql2/promise';
import type { Directory } from '../lib/directory/directory.js';
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

export function channelOfRow(r: any): Channel {
  return { id: Number(r.id), accountId: Number(r.account_id), name: String(r.name), config: { type: r.type, ...JSON.parse(String(r.config)) } as ChannelConfig };
}

export function policyOfRow(r: any): Policy {
  return {
    id: Number(r.id),
    accountId: Number(r.account_id),
    applicationId: Number(r.application_id),
    name: String(r.name),
    metric: r.metric,
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
  constructor(readonly directory: Directory) {
    this.pool = directory.db.promise;
  }

  async createChannel(accountId: number, input: Record<string, unknown>): Promise<Channel> {
    await this.directory.getAccount(accountId);
    const draft = validateChannel(input, () => randomBytes(24).toString('base64url'));
    const [[count]] = await this.pool.query<any[]>('SELECT COUNT(*) AS n FROM alert_channels WHERE account_id = ?', [accountId]);
    if (Number(count.n) >= MAX_CHANNELS_PER_ACCOUNT) throw new InputError(`cannot create channel: the account already has ${MAX_CHANNELS_PER_ACCOUNT} channels`);
    const { type, ...config } = draft.config;
    const [r] = await this.pool.query<any>('INSERT INTO alert_channels (account_id, name, type, config) VALUES (?, ?, ?, ?)', [accountId, draft.name, type, JSON.stringify(config)]).catch((e) => duplicate(e, 'channel'));
    return { id: Number(r.insertId), accountId, name: draft.name, config: draft.config };
  }

  async listChannels(accountId: number): Promise<Channel[]> {
    const [rows] = await this.pool.query<any[]>('SELECT * FROM alert_channels WHERE account_id = ? ORDER BY id', [accountId]);
    return rows.map(channelOfRow);
  }

  async channelsByIds(ids: readonly number[]): Promise<Map<number, Channel>> {
    if (ids.length === 0) return new Map();
    const [rows] = await this.pool.query<any[]>(`SELECT * FROM alert_channels WHERE id IN (${ids.map(() => '?').join(',')})`, [...ids]);
    return new Map(rows.map((r) => [Number(r.id), channelOfRow(r)]));
  }

  async deleteChannel(accountId: number, id: number): Promise<void> {
    const [r] = await this.pool.query<any>('DELETE FROM alert_channels WHERE account_id = ? AND id = ?', [accountId, id]);
    if (Number(r.affectedRows) === 0) throw new NotFoundError(`cannot delete channel ${id}: no such channel in account ${accountId}`);
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
    const [[count]] = await this.pool.query<any[]>('SELECT COUNT(*) AS n FROM alert_policies WHERE account_id = ?', [accountId]);
    if (Number(count.n) >= MAX_POLICIES_PER_ACCOUNT) throw new InputError(`cannot accept policy: the account already has ${MAX_POLICIES_PER_ACCOUNT} policies`);
    const [r] = await this.pool
      .query<any>(
        'INSERT INTO alert_policies (account_id, application_id, name, metric, warning, critical, duration_minutes, channels, enabled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        [accountId, app.id, d.name, d.metric, d.warning, d.critical, d.durationMinutes, JSON.stringify(d.channels), d.enabled ? 1 : 0],
      )
      .catch((e) => duplicate(e, 'policy'));
    return { ...d, id: Number(r.insertId), accountId, applicationId: app.id };
  }

  async listPolicies(accountId: number): Promise<Policy[]> {
    const [rows] = await this.pool.query<any[]>('SELECT * FROM alert_policies WHERE account_id = ? ORDER BY id', [accountId]);
    return rows.map(policyOfRow);
  }

  async getPolicy(id: number): Promise<Policy> {
    const [rows] = await this.pool.query<any[]>('SELECT * FROM alert_policies WHERE id = ?', [id]);
    if (!rows[0]) throw new NotFoundError(`cannot find policy ${id}: no such policy`);
    return policyOfRow(rows[0]);
  }

  async setPolicyEnabled(accountId: number, id: number, enabled: boolean): Promise<Policy> {
    const [r] = await this.pool.query<any>('UPDATE alert_policies SET enabled = ? WHERE account_id = ? AND id = ?', [enabled ? 1 : 0, accountId, id]);
    if (Number(r.affectedRows) === 0) throw new NotFoundError(`cannot change policy ${id}: no such policy in account ${accountId}`);
    return this.getPolicy(id);
  }

  /** Deletes a policy and its evaluation state; its open incident is resolved (notified); its history stays. */
  async deletePolicy(accountId: number, id: number, now: number): Promise<void> {
    const p = await this.getPolicy(id).catch(() => undefined);
    const removed = p && p.accountId === accountId
      ? await closeAndRemove(this.pool, 'policy', p, now, async (conn) => {
        const [r] = await conn.query<any>('DELETE FROM alert_policies WHERE account_id = ? AND id = ?', [accountId, id]);
        await conn.query('DELETE FROM alert_policy_state WHERE policy_id = ?', [id]);
        return Number(r.affectedRows);
      })
      : 0;
    if (removed === 0) throw new NotFoundError(`cannot delete policy ${id}: no such policy in account ${accountId}`);
  }

  /** Enabled policies of one evaluation partition, with their state rows. */
  async partitionPolicies(partition: number): Promise<Array<Policy & { lastMinute: number; state: string | null }>> {
    const [rows] = await this.pool.query<any[]>(
      `SELECT p.*, s.last_minute, s.state FROM alert_policies p LEFT JOIN alert_policy_state s ON s.policy_id = p.id
       WHERE p.enabled = 1 AND MOD(p.id, ?) = ? ORDER BY p.account_id, p.application_id, p.id`,
      [POLICY_PARTITIONS, partition],
    );
    return rows.map((r) => ({ ...policyOfRow(r), lastMinute: r.last_minute === null ? 0 : Number(r.last_minute), state: r.state ?? null }));
  }
}
