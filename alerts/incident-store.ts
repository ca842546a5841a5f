import type { Pool as PromisePool, PoolConnection } from 'mysql2/promise';
import { InputError, NotFoundError } from '../lib/errors.js';
import type { Level } from './condition-state.js';

export type IncidentKind = 'policy' | 'down';
export type TransitionKind = 'open' | 'level' | 'close' | 'ack';

export interface Incident {
  id: number;
  accountId: number;
  applicationId: number;
  kind: IncidentKind;
  sourceId: number;
  title: string;
  level: Level;
  state: 'open' | 'closed';
  openedAt: number;
  updatedAt: number;
  closedAt: number | null;
  acknowledgedAt: number | null;
  acknowledgedBy: string | null;
  detail: Record<string, unknown>;
  notifications?: NotificationSummary[];
}

export interface NotificationSummary {
  seq: number;
  transition: TransitionKind;
  channelId: number;
  state: 'pending' | 'sent' | 'failed';
  attempts: number;
  lastError: string | null;
  sentAt: number | null;
}

/** What a transition changes: the incident's source, its level, what breached, and who to tell. */
export interface TransitionInput {
  accountId: number;
  applicationId: number;
  kind: IncidentKind;
  sourceId: number;
  title: string;
  transition: TransitionKind;
  level: Level;
  detail: Record<string, unknown>;
  channels: readonly number[];
  /** Unix seconds. */
  at: number;
}

export function incidentOfRow(r: any): Incident {
  const n = (x: unknown) => (x === null || x === undefined ? null : Number(x));
  return {
    id: Number(r.id),
    accountId: Number(r.account_id),
    applicationId: Number(r.application_id),
    kind: r.kind,
    sourceId: Number(r.source_id),
    title: String(r.title),
    level: r.level,
    state: r.state,
    openedAt: Number(r.opened_at),
    updatedAt: Number(r.updated_at),
    closedAt: n(r.closed_at),
    acknowledgedAt: n(r.acknowledged_at),
    acknowledgedBy: r.acknowledged_by ?? null,
    detail: JSON.parse(String(r.detail)) as Record<string, unknown>,
  };
}

/**
 * Applies one incident transition on `conn` (inside the caller's transaction): opens (or finds the
 * open incident of the source), changes its level, or closes it, and inserts one outbox row per
 * channel under the incident's next transition number, so the notification is recorded exactly when
 * the transition is. Returns the incident id, or undefined for a close with nothing open.
 */
export async function applyTransition(conn: PoolConnection, t: TransitionInput): Promise<number | undefined> {
  const detail = JSON.stringify(t.detail);
  let id: number | undefined;
  let seq = 1;
  if (t.transition === 'open') {
    // Insert first: a SELECT … FOR UPDATE of a missing row takes gap locks that deadlock concurrent openings.
    try {
      const [r] = await conn.query<any>(
        'INSERT INTO alert_incidents (account_id, application_id, kind, source_id, title, level, opened_at, updated_at, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        [t.accountId, t.applicationId, t.kind, t.sourceId, t.title.slice(0, 255), t.level, t.at, t.at, detail],
      );
      id = Number(r.insertId);
    } catch (err) {
      // Already open (a state lost after a crash): the opening becomes a level update of that incident.
      if ((err as { errno?: number }).errno !== 1062) throw err;
    }
  }
  if (id === undefined) {
    const [open] = await conn.query<any[]>('SELECT id, transitions FROM alert_incidents WHERE kind = ? AND source_id = ? AND active = 1 FOR UPDATE', [t.kind, t.sourceId]);
    if (!open[0]) return undefined;
    id = Number(open[0].id);
    seq = Number(open[0].transitions) + 1;
    if (t.transition === 'close') {
      await conn.query("UPDATE alert_incidents SET state = 'closed', active = NULL, closed_at = ?, updated_at = ?, transitions = ? WHERE id = ?", [t.at, t.at, seq, id]);
    } else {
      await conn.query('UPDATE alert_incidents SET level = ?, updated_at = ?, transitions = ?, detail = ? WHERE id = ?', [t.level, t.at, seq, detail, id]);
    }
  }
  if (t.channels.length > 0) {
    const values = t.channels.map(() => '(?, ?, ?, ?, ?)').join(', ');
    await conn.query(
      `INSERT IGNORE INTO alert_notifications (incident_id, seq, transition, channel_id, next_attempt_at) VALUES ${values}`,
      t.channels.flatMap((c) => [id, seq, t.transition, c, Math.floor(t.at)]),
    );
  }
  return id;
}

/** Reads and acknowledges incidents; purges closed ones past their plan's retention. */
export class IncidentStore {
  constructor(readonly pool: PromisePool) {}

  async list(accountId: number, f: { state?: 'open' | 'closed'; applicationId?: number; limit?: number } = {}): Promise<Incident[]> {
    const where = ['account_id = ?'];
    const params: unknown[] = [accountId];
    if (f.state) (where.push('state = ?'), params.push(f.state));
    if (f.applicationId !== undefined) (where.push('application_id = ?'), params.push(f.applicationId));
    const limit = Math.max(1, Math.min(f.limit ?? 100, 1000));
    const [rows] = await this.pool.query<any[]>(`SELECT * FROM alert_incidents WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT ${limit}`, params);
    const out = rows.map(incidentOfRow);
    if (out.length === 0) return out;
    const [notes] = await this.pool.query<any[]>(
      `SELECT incident_id, seq, transition, channel_id, state, attempts, last_error, sent_at FROM alert_notifications WHERE incident_id IN (${out.map(() => '?').join(',')}) ORDER BY incident_id, seq, channel_id`,
      out.map((i) => i.id),
    );
    const byId = new Map(out.map((i) => [i.id, i]));
    for (const n of notes) {
      const inc = byId.get(Number(n.incident_id))!;
      (inc.notifications ??= []).push({
        seq: Number(n.seq), transition: n.transition, channelId: Number(n.channel_id), state: n.state, attempts: Number(n.attempts),
        lastError: n.last_error ?? null, sentAt: n.sent_at === null ? null : Number(n.sent_at),
      });
    }
    return out;
  }

  async get(id: number): Promise<Incident> {
    const [rows] = await this.pool.query<any[]>('SELECT * FROM alert_incidents WHERE id = ?', [id]);
    if (!rows[0]) throw new NotFoundError(`cannot find incident ${id}: no such incident`);
    return incidentOfRow(rows[0]);
  }

  /**
   * Marks an open incident acknowledged (by whom, when; acknowledging twice keeps the first) and, in the
   * same transaction, queues an `ack` notification to the source's PagerDuty channels (acknowledge event).
   */
  async acknowledge(accountId: number, id: number, by: string, at: number): Promise<Incident> {
    const who = by.trim().slice(0, 128);
    if (!who) throw new InputError('cannot acknowledge incident: by (who acknowledges) is required');
    const inc = await this.get(id);
    if (inc.accountId !== accountId) throw new NotFoundError(`cannot find incident ${id}: no such incident in account ${accountId}`);
    if (inc.state === 'closed') throw new InputError(`cannot acknowledge incident ${id}: it is resolved`);
    const conn = await this.pool.getConnection();
    try {
      await conn.beginTransaction();
      const [r] = await conn.query<any>("UPDATE alert_incidents SET acknowledged_at = ?, acknowledged_by = ?, transitions = transitions + 1 WHERE id = ? AND acknowledged_at IS NULL AND state = 'open'", [Math.floor(at), who, id]);
      if (Number(r.affectedRows) === 1) {
        const [[row]] = await conn.query<any[]>('SELECT transitions FROM alert_incidents WHERE id = ?', [id]);
        const [src] = await conn.query<any[]>(`SELECT channels FROM ${inc.kind === 'policy' ? 'alert_policies' : 'monitors'} WHERE id = ?`, [inc.sourceId]);
        const ids = src[0] ? (JSON.parse(String(src[0].channels)) as number[]) : [];
        if (ids.length > 0) {
          await conn.query(
            `INSERT IGNORE INTO alert_notifications (incident_id, seq, transition, channel_id, next_attempt_at)
             SELECT ?, ?, 'ack', id, ? FROM alert_channels WHERE type = 'pagerduty' AND id IN (${ids.map(() => '?').join(',')})`,
            [id, Number(row.transitions), Math.floor(at), ...ids],
          );
        }
      }
      await conn.commit();
    } catch (err) {
      await conn.rollback().catch(() => undefined);
      throw err;
    } finally {
      conn.release();
    }
    return this.get(id);
  }

  /**
   * Open incidents per application of an account: applicationId → the open incidents (worst level
   * first). For the dashboard's application list and chart marks.
   */
  async openIncidentsByApplication(accountId: number): Promise<Map<number, Incident[]>> {
    const [rows] = await this.pool.query<any[]>("SELECT * FROM alert_incidents WHERE account_id = ? AND state = 'open' ORDER BY level = 'critical' DESC, id LIMIT 1000", [accountId]);
    const out = new Map<number, Incident[]>();
    for (const r of rows) {
      const i = incidentOfRow(r);
      const list = out.get(i.applicationId) ?? [];
      list.push(i);
      out.set(i.applicationId, list);
    }
    return out;
  }

  /**
   * Deletes closed incidents (and their outbox rows) older than their account's plan keeps daily data
   * (plans.day_days; NULL keeps them for ever), at most `limit` per call. Returns how many went.
   */
  async purge(now: number, limit = 1000): Promise<number> {
    const [rows] = await this.pool.query<any[]>(
      `SELECT i.id FROM alert_incidents i JOIN accounts a ON a.id = i.account_id JOIN plans p ON p.name = a.plan
       WHERE i.state = 'closed' AND p.day_days IS NOT NULL AND i.closed_at < ? - p.day_days * 86400 LIMIT ${Math.floor(limit)}`,
      [Math.floor(now)],
    );
    if (rows.length === 0) return 0;
    const ids = rows.map((r) => Number(r.id));
    const marks = ids.map(() => '?').join(',');
    await this.pool.query(`DELETE FROM alert_notifications WHERE incident_id IN (${marks})`, ids);
    await this.pool.query(`DELETE FROM alert_incidents WHERE id IN (${marks})`, ids);
    return ids.length;
  }
}

/**
 * Closes the open incident of a policy or monitor that is being removed (resolve notifications to
 * `channels`, so PagerDuty and the others do not keep it open for ever), then runs `remove` in the
 * same transaction.
 */
export async function closeAndRemove(pool: PromisePool, kind: IncidentKind, source: { id: number; accountId: number; applicationId: number; channels: readonly number[] }, at: number, remove: (conn: PoolConnection) => Promise<number>): Promise<number> {
  const conn = await pool.getConnection();
  try {
    await conn.beginTransaction();
    const removed = await remove(conn);
    if (removed > 0) {
      await applyTransition(conn, { accountId: source.accountId, applicationId: source.applicationId, kind, sourceId: source.id, title: '', transition: 'close', level: 'critical', detail: {}, channels: source.channels, at });
    }
    await conn.commit();
    return removed;
  } catch (err) {
    await conn.rollback().catch(() => undefined);
    throw err;
  } finally {
    conn.release();
  }
}
