import { sql, type Kysely } from 'kysely';
import type { Pool as PromisePool } from 'mysql2/promise';
import { typedDb } from '../lib/db/connect.js';
import type { Directory } from '../lib/directory/directory.js';
import type { DirectoryDatabase } from '../lib/directory/directory-database.js';
import { channelOfRow } from './alert-store.js';
import type { AlertsMetrics } from './alerts-metrics.js';
import type { ChannelSender } from './channels/channel-sender.js';
import { incidentOfRow } from './incident-store.js';
import { eventOf } from './notification-message.js';
import { type Log } from '../lib/log/log.js';

export interface NotifierOptions {
  pool: PromisePool;
  directory: Directory;
  sender: ChannelSender;
  metrics: AlertsMetrics;
  log: Log;
  owner: string;
  dashboardUrl: string;
  sendTimeoutMs: number;
  maxAttempts: number;
  /** Rows claimed per pass. */
  batch?: number;
}

/** Seconds before attempt n+1 after n failed attempts: 30 s doubling, at most an hour. */
export function backoffSeconds(attempts: number): number {
  return Math.min(3600, 30 * 2 ** Math.max(0, attempts - 1));
}

export interface DeliveryReport {
  sent: number;
  retried: number;
  failed: number;
}

/** The pending rows claimed by `token`, each with its incident and channel (null: the channel was deleted). */
function claimedRows(db: Kysely<DirectoryDatabase>, token: string) {
  return db
    .selectFrom('alert_notifications as n')
    .innerJoin('alert_incidents as i', 'i.id', 'n.incident_id')
    .leftJoin('alert_channels as c', 'c.id', 'n.channel_id')
    .select(['n.id as n_id', 'n.transition', 'n.attempts', 'n.channel_id'])
    .selectAll('i')
    .select(['c.id as c_id', 'c.account_id as c_account', 'c.name as c_name', 'c.type as c_type', 'c.config as c_config'])
    .where('n.claimed_by', '=', token)
    .where('n.state', '=', 'pending')
    .orderBy('n.id')
    .execute();
}

type ClaimedRow = Awaited<ReturnType<typeof claimedRows>>[number];

/**
 * Delivers the outbox (alert_notifications). A pass claims due rows with one UPDATE (claimed_by, a
 * lease of claimed_until), so two alert processes never send the same row; each claimed row is sent on
 * its own (a slow or failing channel does not hold up the others) and marked sent, or rescheduled
 * with backoff, or failed after the last attempt. A process dying mid-send leaves the lease to expire
 * and the row is sent again by the next pass (at-least-once across crashes; the webhook's deliveryId
 * and PagerDuty's dedup_key let receivers fold such a repeat).
 */
export class Notifier {
  #seq = 0;
  readonly #db: Kysely<DirectoryDatabase>;
  constructor(private readonly o: NotifierOptions) {
    this.#db = typedDb<DirectoryDatabase>(o.pool);
  }

  async deliver(now: number): Promise<DeliveryReport> {
    const report: DeliveryReport = { sent: 0, retried: 0, failed: 0 };
    const t = Math.floor(now);
    const token = `${this.o.owner}:${++this.#seq}`;
    const lease = t + Math.ceil(this.o.sendTimeoutMs / 1000) * 2 + 5;
    await this.#db
      .updateTable('alert_notifications')
      .set({ claimed_by: token, claimed_until: lease })
      .where('state', '=', 'pending')
      .where('next_attempt_at', '<=', t)
      .where('claimed_until', '<=', t)
      .orderBy('id')
      .limit(this.o.batch ?? 200)
      .execute();
    const rows = await claimedRows(this.#db, token);
    const apps = new Map<number, string>();
    for (const r of rows) {
      const appId = Number(r.application_id);
      if (!apps.has(appId)) apps.set(appId, await this.o.directory.getApplication(appId).then((a) => a.name, () => `application ${appId}`));
    }
    await Promise.all(rows.map((r) => this.#one(r, apps.get(Number(r.application_id))!, now, token, report)));
    const pending = await this.#db.selectFrom('alert_notifications').select(sql<number>`COUNT(*)`.as('n')).where('state', '=', 'pending').executeTakeFirstOrThrow();
    this.o.metrics.pendingNotifications.set(Number(pending.n));
    return report;
  }

  async #one(r: ClaimedRow, appName: string, now: number, token: string, report: DeliveryReport): Promise<void> {
    const id = Number(r.n_id);
    const attempts = Number(r.attempts) + 1;
    const type = r.c_type ?? 'deleted';
    try {
      if (r.c_id === null || r.c_account === null || r.c_name === null || r.c_type === null || r.c_config === null) throw new Error('the channel was deleted');
      const channel = channelOfRow({ id: r.c_id, account_id: r.c_account, name: r.c_name, type: r.c_type, config: r.c_config });
      await this.o.sender.send(channel.config, eventOf(id, r.transition, incidentOfRow(r), appName, this.o.dashboardUrl, now));
      await this.#db
        .updateTable('alert_notifications')
        .set({ state: 'sent', attempts, sent_at: Math.floor(now), last_error: null })
        .where('id', '=', id)
        .where('claimed_by', '=', token)
        .execute();
      this.o.metrics.notifications.inc({ channel: type, outcome: 'sent' });
      report.sent++;
    } catch (err) {
      const message = (err as Error).message.slice(0, 500);
      const last = attempts >= this.o.maxAttempts || r.c_id === null;
      await this.#db
        .updateTable('alert_notifications')
        .set({ state: last ? 'failed' : 'pending', attempts, next_attempt_at: Math.floor(now) + backoffSeconds(attempts), claimed_until: 0, last_error: message })
        .where('id', '=', id)
        .where('claimed_by', '=', token)
        .execute();
      this.o.metrics.notifications.inc({ channel: type, outcome: last ? 'failed' : 'retry' });
      if (last) report.failed++;
      else report.retried++;
      this.o.log.warn(`cannot notify channel ${String(r.c_id)} of incident ${String(r.id)} (attempt ${attempts}): ${message}`);
    }
  }
}
