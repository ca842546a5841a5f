import type { Pool as PromisePool } from 'mysql2/promise';
import type { Directory } from '../lib/directory/directory.js';
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
  constructor(private readonly o: NotifierOptions) {}

  async deliver(now: number): Promise<DeliveryReport> {
    const report: DeliveryReport = { sent: 0, retried: 0, failed: 0 };
    const t = Math.floor(now);
    const token = `${this.o.owner}:${++this.#seq}`;
    const lease = t + Math.ceil(this.o.sendTimeoutMs / 1000) * 2 + 5;
    await this.o.pool.query(
      `UPDATE alert_notifications SET claimed_by = ?, claimed_until = ? WHERE state = 'pending' AND next_attempt_at <= ? AND claimed_until <= ? ORDER BY id LIMIT ${this.o.batch ?? 200}`,
      [token, lease, t, t],
    );
    const [rows] = await this.o.pool.query<any[]>(
      `SELECT n.id AS n_id, n.transition, n.attempts, n.channel_id, i.*, c.id AS c_id, c.account_id AS c_account, c.name AS c_name, c.type AS c_type, c.config AS c_config
       FROM alert_notifications n JOIN alert_incidents i ON i.id = n.incident_id LEFT JOIN alert_channels c ON c.id = n.channel_id
       WHERE n.claimed_by = ? AND n.state = 'pending' ORDER BY n.id`,
      [token],
    );
    const apps = new Map<number, string>();
    for (const r of rows) {
      const appId = Number(r.application_id);
      if (!apps.has(appId)) apps.set(appId, await this.o.directory.getApplication(appId).then((a) => a.name, () => `application ${appId}`));
    }
    await Promise.all(rows.map((r) => this.#one(r, apps.get(Number(r.application_id))!, now, token, report)));
    const [[pending]] = await this.o.pool.query<any[]>("SELECT COUNT(*) AS n FROM alert_notifications WHERE state = 'pending'");
    this.o.metrics.pendingNotifications.set(Number(pending.n));
    return report;
  }

  async #one(r: any, appName: string, now: number, token: string, report: DeliveryReport): Promise<void> {
    const id = Number(r.n_id);
    const attempts = Number(r.attempts) + 1;
    const type = r.c_type ?? 'deleted';
    try {
      if (r.c_id === null) throw new Error('the channel was deleted');
      const channel = channelOfRow({ id: r.c_id, account_id: r.c_account, name: r.c_name, type: r.c_type, config: r.c_config });
      await this.o.sender.send(channel.config, eventOf(id, r.transition, incidentOfRow(r), appName, this.o.dashboardUrl, now));
      await this.o.pool.query("UPDATE alert_notifications SET state = 'sent', attempts = ?, sent_at = ?, last_error = NULL WHERE id = ? AND claimed_by = ?", [attempts, Math.floor(now), id, token]);
      this.o.metrics.notifications.inc({ channel: type, outcome: 'sent' });
      report.sent++;
    } catch (err) {
      const message = (err as Error).message.slice(0, 500);
      const last = attempts >= this.o.maxAttempts || r.c_id === null;
      await this.o.pool.query(
        'UPDATE alert_notifications SET state = ?, attempts = ?, next_attempt_at = ?, claimed_until = 0, last_error = ? WHERE id = ? AND claimed_by = ?',
        [last ? 'failed' : 'pending', attempts, Math.floor(now) + backoffSeconds(attempts), message, id, token],
      );
      this.o.metrics.notifications.inc({ channel: type, outcome: last ? 'failed' : 'retry' });
      if (last) report.failed++;
      else report.retried++;
      this.o.log.warn(`cannot notify channel ${String(r.c_id)} of incident ${String(r.id)} (attempt ${attempts}): ${message}`);
    }
  }
}
