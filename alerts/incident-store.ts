import { sql, type Kysely, type Selectable } from 'kysely';
import type { Pool as PromisePool } from 'mysql2/promise';
import { typedDb } from '../lib/db/connect.js';
import { inTransaction } from '../lib/db/query-builder.js';
import type { DirectoryDatabase } from '../lib/directory/directory-database.js';
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

export type IncidentRow = Selectable<DirectoryDatabase['alert_incidents']>;

export function incidentOfRow(r: IncidentRow): Incident {
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
    closedAt: r.closed_at === null ? null : Number(r.closed_at),
    acknowledgedAt: r.acknowledged_at === null ? null : Number(r.acknowledged_at),
    acknowledgedBy: r.acknowledged_by ?? null,
    detail: JSON.parse(String(r.detail)) as Record<string, unknown>,
  };
}

/**
 * Applies one incident transition on `trx` (the caller's transaction): opens (or finds the open
 * incident of the source), changes its level, or closes it, and inserts one outbox row per channel
 * under the incident's next transition number, so the notification is recorded exactly when the
 * transition is. Returns the incident id, or undefined for a close with nothing open.
 */
export async function applyTransition(trx: Kysely<DirectoryDatabase>, t: TransitionInput): Promise<number | undefined> {
  const detail = JSON.stringify(t.detail);
  let id: number | undefined;
  let seq = 1;
  if (t.transition === 'open') {
    // Insert first: a SELECT … FOR UPDATE of a missing row takes gap locks that deadlock concurrent openings.
    try {
      const r = await trx
        .insertInto('alert_incidents')
        .values({ account_id: t.accountId, application_id: t.applicationId, kind: t.kind, source_id: t.sourceId, title: t.title.slice(0, 255), level: t.level, opened_at: t.at, updated_at: t.at, detail })
        .executeTakeFirstOrThrow();
      id = Number(r.insertId);
    } catch (err) {
      // Already open (a state lost after a crash): the opening becomes a level update of that incident.
      if ((err as { errno?: number }).errno !== 1062) throw err;
    }
  }
  if (id === undefined) {
    const open = await trx
      .selectFrom('alert_incidents')
      .select(['id', 'transitions'])
      .where('kind', '=', t.kind)
      .where('source_id', '=', t.sourceId)
      .where('active', '=', 1)
      .forUpdate()
      .executeTakeFirst();
    if (!open) return undefined;
    id = Number(open.id);
    seq = Number(open.transitions) + 1;
    if (t.transition === 'close') {
      await trx.updateTable('alert_incidents').set({ state: 'closed', active: null, closed_at: t.at, updated_at: t.at, transitions: seq }).where('id', '=', id).execute();
    } else {
      await trx.updateTable('alert_incidents').set({ level: t.level, updated_at: t.at, transitions: seq, detail }).where('id', '=', id).execute();
    }
  }
  if (t.channels.length > 0) {
    const incidentId = id;
    await trx
      .insertInto('alert_notifications')
      .ignore()
      .values(t.channels.map((c) => ({ incident_id: incidentId, seq, transition: t.transition, channel_id: c, next_attempt_at: Math.floor(t.at) })))
      .execute();
  }
  return id;
}

/** Reads and acknowledges incidents; purges closed ones past their plan's retention. */
export class IncidentStore {
  readonly db: Kysely<DirectoryDatabase>;
  constructor(readonly pool: PromisePool) {
    this.db = typedDb<DirectoryDatabase>(pool);
  }

  async list(accountId: number, f: { state?: 'open' | 'closed'; applicationId?: number; limit?: number } = {}): Promise<Incident[]> {
    let q = this.db.selectFrom('alert_incidents').selectAll().where('account_id', '=', accountId);
    if (f.state) q = q.where('state', '=', f.state);
    if (f.applicationId !== undefined) q = q.where('application_id', '=', f.applicationId);
    const limit = Math.max(1, Math.min(f.limit ?? 100, 1000));
    const out = (await q.orderBy('id', 'desc').limit(limit).execute()).map(incidentOfRow);
    if (out.length === 0) return out;
    const notes = await this.db
      .selectFrom('alert_notifications')
      .select(['incident_id', 'seq', 'transition', 'channel_id', 'state', 'attempts', 'last_error', 'sent_at'])
      .where('incident_id', 'in', out.map((i) => i.id))
      .orderBy('incident_id')
      .orderBy('seq')
      .orderBy('channel_id')
      .execute();
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
    const row = await this.db.selectFrom('alert_incidents').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new NotFoundError(`cannot find incident ${id}: no such incident`);
    return incidentOfRow(row);
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
    const when = Math.floor(at);
    await inTransaction(this.db, async (trx) => {
      const r = await trx
        .updateTable('alert_incidents')
        .set((eb) => ({ acknowledged_at: when, acknowledged_by: who, transitions: eb('transitions', '+', 1) }))
        .where('id', '=', id)
        .where('acknowledged_at', 'is', null)
        .where('state', '=', 'open')
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) !== 1) return;
      const row = await trx.selectFrom('alert_incidents').select('transitions').where('id', '=', id).executeTakeFirstOrThrow();
      const src = inc.kind === 'policy'
        ? await trx.selectFrom('alert_policies').select('channels').where('id', '=', inc.sourceId).executeTakeFirst()
        : await trx.selectFrom('monitors').select('channels').where('id', '=', inc.sourceId).executeTakeFirst();
      const ids = src ? (JSON.parse(String(src.channels)) as number[]) : [];
      if (ids.length === 0) return;
      await trx
        .insertInto('alert_notifications')
        .ignore()
        .columns(['incident_id', 'seq', 'transition', 'channel_id', 'next_attempt_at'])
        .expression(
          trx
            .selectFrom('alert_channels')
            .select((eb) => [eb.val(id).as('incident_id'), eb.val(Number(row.transitions)).as('seq'), sql.lit('ack').as('transition'), 'id', eb.val(when).as('next_attempt_at')])
            .where('type', '=', 'pagerduty')
            .where('id', 'in', ids),
        )
        .execute();
    });
    return this.get(id);
  }

  /**
   * Open incidents per application of an account: applicationId → the open incidents (worst level
   * first). For the dashboard's application list and chart marks.
   */
  async openIncidentsByApplication(accountId: number): Promise<Map<number, Incident[]>> {
    const rows = await this.db
      .selectFrom('alert_incidents')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('state', '=', 'open')
      .orderBy(sql`level = 'critical'`, 'desc')
      .orderBy('id')
      .limit(1000)
      .execute();
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
    const rows = await this.db
      .selectFrom('alert_incidents as i')
      .innerJoin('accounts as a', 'a.id', 'i.account_id')
      .innerJoin('plans as p', 'p.name', 'a.plan')
      .select('i.id')
      .where('i.state', '=', 'closed')
      .where('p.day_days', 'is not', null)
      .where(sql<boolean>`i.closed_at < ${Math.floor(now)} - p.day_days * 86400`)
      .limit(Math.floor(limit))
      .execute();
    if (rows.length === 0) return 0;
    const ids = rows.map((r) => Number(r.id));
    await this.db.deleteFrom('alert_notifications').where('incident_id', 'in', ids).execute();
    await this.db.deleteFrom('alert_incidents').where('id', 'in', ids).execute();
    return ids.length;
  }
}

/**
 * Closes the open incident of a policy or monitor that is being removed (resolve notifications to
 * `channels`, so PagerDuty and the others do not keep it open for ever), then runs `remove` in the
 * same transaction.
 */
export async function closeAndRemove(db: Kysely<DirectoryDatabase>, kind: IncidentKind, source: { id: number; accountId: number; applicationId: number; channels: readonly number[] }, at: number, remove: (trx: Kysely<DirectoryDatabase>) => Promise<number>): Promise<number> {
  return inTransaction(db, async (trx) => {
    const removed = await remove(trx);
    if (removed > 0) {
      await applyTransition(trx, { accountId: source.accountId, applicationId: source.applicationId, kind, sourceId: source.id, title: '', transition: 'close', level: 'critical', detail: {}, channels: source.channels, at });
    }
    return removed;
  });
}
