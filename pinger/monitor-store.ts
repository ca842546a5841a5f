import { sql, type Kysely, type Selectable } from 'kysely';
import type { Pool as PromisePool } from 'mysql2/promise';
import type { Directory } from '../lib/directory/directory.js';
import type { DirectoryDatabase } from '../lib/directory/directory-database.js';
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

export function monitorOfRow(r: Selectable<DirectoryDatabase['monitors']>): Monitor {
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
  readonly db: Kysely<DirectoryDatabase>;
  constructor(readonly directory: Directory, private readonly allowedHosts: readonly string[]) {
    this.pool = directory.db.promise;
    this.db = directory.db.kysely;
  }

  async create(accountId: number, application: number | string, input: Record<string, unknown>): Promise<Monitor & { status?: string }> {
    await this.directory.getAccount(accountId);
    const app = typeof application === 'number'
      ? await this.directory.getApplication(application).then((a) => (a.accountId === accountId ? a : undefined), () => undefined)
      : await this.directory.findApplication(accountId, application);
    if (!app) throw new InputError(`cannot accept monitor: application ${JSON.stringify(application)} is not an application of account ${accountId}`);
    const channels = await this.db.selectFrom('alert_channels').select('id').where('account_id', '=', accountId).execute();
    const d = validateMonitor(input, new Set(channels.map((c) => Number(c.id))), this.allowedHosts);
    const count = await this.db.selectFrom('monitors').select(sql<number>`COUNT(*)`.as('n')).where('account_id', '=', accountId).executeTakeFirstOrThrow();
    if (Number(count.n) >= MAX_MONITORS_PER_ACCOUNT) throw new InputError(`cannot accept monitor: the account already has ${MAX_MONITORS_PER_ACCOUNT} monitors`);
    const r = await this.db
      .insertInto('monitors')
      .values({
        account_id: accountId, application_id: app.id, name: d.name, url: d.url, interval_seconds: d.intervalSeconds, timeout_ms: d.timeoutMs,
        expected_status: d.expectedStatus, body_contains: d.bodyContains, channels: JSON.stringify(d.channels), enabled: d.enabled ? 1 : 0,
      })
      .executeTakeFirstOrThrow()
      .catch((e: { errno?: number }) => {
        if (e.errno === 1062) throw new InputError(`cannot accept monitor: name ${JSON.stringify(d.name)} is already used by this application`);
        throw e;
      });
    const id = Number(r.insertId);
    await this.db.insertInto('monitor_state').ignore().values({ monitor_id: id }).execute();
    return { ...d, id, accountId, applicationId: app.id };
  }

  async list(accountId: number): Promise<Array<Monitor & { failures: number; lastStatus: string | null; lastCheckedAt: number | null }>> {
    const rows = await this.db
      .selectFrom('monitors as m')
      .leftJoin('monitor_state as s', 's.monitor_id', 'm.id')
      .selectAll('m')
      .select(['s.failures', 's.last_status', 's.last_checked_at'])
      .where('m.account_id', '=', accountId)
      .orderBy('m.id')
      .execute();
    return rows.map((r) => ({ ...monitorOfRow(r), failures: Number(r.failures ?? 0), lastStatus: r.last_status ?? null, lastCheckedAt: r.last_checked_at === null ? null : Number(r.last_checked_at) }));
  }

  /** Stops checking a monitor; its open "down" incident is resolved (notified); results and history stay. */
  async remove(accountId: number, id: number, now: number): Promise<void> {
    const row = await this.db.selectFrom('monitors').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
    const m = row ? monitorOfRow(row) : undefined;
    const removed = m
      ? await closeAndRemove(this.db, 'down', m, now, async (trx) => {
        const r = await trx.deleteFrom('monitors').where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
        await trx.deleteFrom('monitor_state').where('monitor_id', '=', id).execute();
        return Number(r.numDeletedRows);
      })
      : 0;
    if (removed === 0) throw new NotFoundError(`cannot delete monitor ${id}: no such monitor in account ${accountId}`);
  }

  async setEnabled(accountId: number, id: number, enabled: boolean): Promise<void> {
    const r = await this.db.updateTable('monitors').set({ enabled: enabled ? 1 : 0 }).where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) throw new NotFoundError(`cannot change monitor ${id}: no such monitor in account ${accountId}`);
  }

  /**
   * Claims up to `limit` due checks for `token` (a lease until `leaseUntil`): one UPDATE, so two pinger
   * processes never check the same monitor for the same turn. Returns the claimed monitors.
   */
  async claimDue(now: number, token: string, leaseUntil: number, limit: number): Promise<Array<Monitor & { failures: number }>> {
    const t = Math.floor(now);
    await this.db
      .updateTable('monitor_state')
      .set({ claimed_by: token, claimed_until: leaseUntil })
      .where('next_check_at', '<=', t)
      .where('claimed_until', '<=', t)
      .orderBy('next_check_at')
      .limit(Math.floor(limit))
      .execute();
    const rows = await this.db
      .selectFrom('monitor_state as s')
      .innerJoin('monitors as m', 'm.id', 's.monitor_id')
      .selectAll('m')
      .select('s.failures')
      .where('s.claimed_by', '=', token)
      .where('s.claimed_until', '=', leaseUntil)
      .execute();
    return rows.map((r) => ({ ...monitorOfRow(r), failures: Number(r.failures) }));
  }

  /**
   * Ends a claimed check (only while `token` still holds the lease): the next check time, the failure
   * streak and, after a check, its outcome. Runs on `trx`, the caller's transaction with the incident
   * transition. Returns false when the lease was taken over by another pinger.
   */
  async release(trx: Kysely<DirectoryDatabase>, id: number, token: string, s: { nextAt: number; failures: number; status?: { text: string; at: number } }): Promise<boolean> {
    const r = await trx
      .updateTable('monitor_state')
      .set({
        next_check_at: Math.floor(s.nextAt), failures: s.failures, claimed_until: 0, claimed_by: null,
        ...(s.status ? { last_status: s.status.text, last_checked_at: Math.floor(s.status.at) } : {}),
      })
      .where('monitor_id', '=', id)
      .where('claimed_by', '=', token)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }
}
