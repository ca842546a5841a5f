import type { Pool as PromisePool } from 'mysql2/promise';
import type { Directory } from '../lib/directory/directory.js';
import { InputError, NotFoundError } from '../lib/errors.js';
import { closeAndRemove } from '../alerts/incident-store.js';
import { validateMonitor, type MonitorDraft } from './monitor-input.js';

export interface Monitor extends MonitorDraft {
  id: number;
  accountId: number;
  applicationId: number;
}

/** Monitors per account. */
export const MAX_MONITORS_PER_ACCOUNT = 1000;

export function monitorOfRow(r: any): Monitor {
  return {
    id: Number(r.id),
    accountId: Number(r.account_id),
    applicationId: Number(r.application_id),
    name: String(r.name),
    url: String(r.url),
    intervalSeconds: Number(r.interval_seconds),
    timeoutMs: Number(r.timeout_ms),
    expectedStatus: Number(r.expected_status),
    bodyContains: r.body_contains ?? null,
    channels: JSON.parse(String(r.channels)) as number[],
    enabled: Number(r.enabled) === 1,
  };
}

/** Monitors in the directory database (schema/directory/0003-alerts.sql). */
export class MonitorStore {
  readonly pool: PromisePool;
  constructor(readonly directory: Directory, private readonly allowedHosts: readonly string[]) {
    this.pool = directory.db.promise;
  }

  async create(accountId: number, application: number | string, input: Record<string, unknown>): Promise<Monitor & { status?: string }> {
    await this.directory.getAccount(accountId);
    const app = typeof application === 'number'
      ? await this.directory.getApplication(application).then((a) => (a.accountId === accountId ? a : undefined), () => undefined)
      : await this.directory.findApplication(accountId, application);
    if (!app) throw new InputError(`cannot accept monitor: application ${JSON.stringify(application)} is not an application of account ${accountId}`);
    const [channels] = await this.pool.query<any[]>('SELECT id FROM alert_channels WHERE account_id = ?', [accountId]);
    const d = validateMonitor(input, new Set(channels.map((c) => Number(c.id))), this.allowedHosts);
    const [[count]] = await this.pool.query<any[]>('SELECT COUNT(*) AS n FROM monitors WHERE account_id = ?', [accountId]);
    if (Number(count.n) >= MAX_MONITORS_PER_ACCOUNT) throw new InputError(`cannot accept monitor: the account already has ${MAX_MONITORS_PER_ACCOUNT} monitors`);
    const [r] = await this.pool
      .query<any>(
        'INSERT INTO monitors (account_id, application_id, name, url, interval_seconds, timeout_ms, expected_status, body_contains, channels, enabled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        [accountId, app.id, d.name, d.url, d.intervalSeconds, d.timeoutMs, d.expectedStatus, d.bodyContains, JSON.stringify(d.channels), d.enabled ? 1 : 0],
      )
      .catch((e: { errno?: number }) => {
        if (e.errno === 1062) throw new InputError(`cannot accept monitor: name ${JSON.stringify(d.name)} is already used by this application`);
        throw e;
      });
    const id = Number(r.insertId);
    await this.pool.query('INSERT IGNORE INTO monitor_state (monitor_id) VALUES (?)', [id]);
    return { ...d, id, accountId, applicationId: app.id };
  }

  async list(accountId: number): Promise<Array<Monitor & { failures: number; lastStatus: string | null; lastCheckedAt: number | null }>> {
    const [rows] = await this.pool.query<any[]>('SELECT m.*, s.failures, s.last_status, s.last_checked_at FROM monitors m LEFT JOIN monitor_state s ON s.monitor_id = m.id WHERE m.account_id = ? ORDER BY m.id', [accountId]);
    return rows.map((r) => ({ ...monitorOfRow(r), failures: Number(r.failures ?? 0), lastStatus: r.last_status ?? null, lastCheckedAt: r.last_checked_at === null ? null : Number(r.last_checked_at) }));
  }

  /** Stops checking a monitor; its open "down" incident is resolved (notified); results and history stay. */
  async remove(accountId: number, id: number, now: number): Promise<void> {
    const [rows] = await this.pool.query<any[]>('SELECT * FROM monitors WHERE account_id = ? AND id = ?', [accountId, id]);
    const m = rows[0] ? monitorOfRow(rows[0]) : undefined;
    const removed = m
      ? await closeAndRemove(this.pool, 'down', m, now, async (conn) => {
        const [r] = await conn.query<any>('DELETE FROM monitors WHERE account_id = ? AND id = ?', [accountId, id]);
        await conn.query('DELETE FROM monitor_state WHERE monitor_id = ?', [id]);
        return Number(r.affectedRows);
      })
      : 0;
    if (removed === 0) throw new NotFoundError(`cannot delete monitor ${id}: no such monitor in account ${accountId}`);
  }

  async setEnabled(accountId: number, id: number, enabled: boolean): Promise<void> {
    const [r] = await this.pool.query<any>('UPDATE monitors SET enabled = ? WHERE account_id = ? AND id = ?', [enabled ? 1 : 0, accountId, id]);
    if (Number(r.affectedRows) === 0) throw new NotFoundError(`cannot change monitor ${id}: no such monitor in account ${accountId}`);
  }

  /**
   * Claims up to `limit` due checks for `token` (a lease until `leaseUntil`): one UPDATE, so two pinger
   * processes never check the same monitor for the same turn. Returns the claimed monitors.
   */
  async claimDue(now: number, token: string, leaseUntil: number, limit: number): Promise<Array<Monitor & { failures: number }>> {
    const t = Math.floor(now);
    await this.pool.query(`UPDATE monitor_state SET claimed_by = ?, claimed_until = ? WHERE next_check_at <= ? AND claimed_until <= ? ORDER BY next_check_at LIMIT ${Math.floor(limit)}`, [token, leaseUntil, t, t]);
    const [rows] = await this.pool.query<any[]>('SELECT m.*, s.failures FROM monitor_state s JOIN monitors m ON m.id = s.monitor_id WHERE s.claimed_by = ? AND s.claimed_until = ?', [token, leaseUntil]);
    return rows.map((r) => ({ ...monitorOfRow(r), failures: Number(r.failures) }));
  }
}
