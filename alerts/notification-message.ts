import type { Incident, TransitionKind } from './incident-store.js';

/**
 * What a notification says, purely: one JSON document (the webhook schema, docs/alerts.md), and the
 * texts of the email, Slack and PagerDuty forms derived from it.
 */
export interface NotificationEvent {
  /** Schema version of the webhook body. */
  version: 1;
  /** Outbox row id: the same for every retry of one notification (receivers may deduplicate on it). */
  deliveryId: number;
  event: TransitionKind;
  incident: {
    id: number;
    kind: Incident['kind'];
    title: string;
    level: Incident['level'];
    state: Incident['state'];
    openedAt: number;
    closedAt: number | null;
    acknowledgedAt: number | null;
    url: string;
  };
  account: { id: number };
  application: { id: number; name: string };
  condition: Record<string, unknown>;
  /** Unix seconds. */
  sentAt: number;
}

export function chartUrl(dashboardUrl: string, inc: Pick<Incident, 'applicationId' | 'kind' | 'openedAt' | 'closedAt' | 'detail'>): string {
  const browser = inc.detail.metric === 'browser_apdex' || inc.detail.metric === 'page_load';
  const from = Math.floor(inc.openedAt / 60) * 60 - 3600;
  const to = Math.max(from + 7200, Math.ceil((inc.closedAt ?? inc.openedAt) / 60) * 60 + 1800);
  return `${dashboardUrl}/#/apps/${inc.applicationId}/${browser ? 'browser' : 'overview'}?from=${from}&to=${to}`;
}

export function eventOf(deliveryId: number, transition: TransitionKind, inc: Incident, appName: string, dashboardUrl: string, now: number): NotificationEvent {
  return {
    version: 1,
    deliveryId,
    event: transition,
    incident: {
      id: inc.id, kind: inc.kind, title: inc.title, level: inc.level, state: inc.state,
      openedAt: inc.openedAt, closedAt: inc.closedAt, acknowledgedAt: inc.acknowledgedAt, url: chartUrl(dashboardUrl, inc),
    },
    account: { id: inc.accountId },
    application: { id: inc.applicationId, name: appName },
    condition: inc.detail,
    sentAt: Math.floor(now),
  };
}

const VERB: Record<TransitionKind, string> = { open: 'OPENED', level: 'LEVEL CHANGED', close: 'RESOLVED', ack: 'ACKNOWLEDGED' };

export function subjectOf(e: NotificationEvent): string {
  const level = e.event === 'close' ? 'resolved' : e.incident.level;
  return `[APM ${level}] ${e.application.name}: ${e.incident.title} (incident #${e.incident.id})`;
}

function iso(t: number | null): string {
  return t === null ? '-' : new Date(t * 1000).toISOString();
}

/** "value unit" lines of what breached, newest last. */
function valueLines(e: NotificationEvent): string[] {
  const c = e.condition;
  const unit = typeof c.unit === 'string' ? c.unit : '';
  const values = Array.isArray(c.values) ? (c.values as Array<[number, number]>) : [];
  return values.map(([m, v]) => `${iso(m)}  ${Number(v.toFixed(4))} ${unit}`);
}

export function textOf(e: NotificationEvent): string {
  const c = e.condition;
  const lines = [
    `${VERB[e.event]}: ${e.incident.title}`,
    '',
    `Application:  ${e.application.name} (id ${e.application.id}, account ${e.account.id})`,
    `Incident:     #${e.incident.id} (${e.incident.kind}), level ${e.incident.level}, ${e.incident.state}`,
    `Opened:       ${iso(e.incident.openedAt)}`,
    ...(e.incident.closedAt !== null ? [`Resolved:     ${iso(e.incident.closedAt)}`] : []),
    ...(c.threshold !== undefined ? [`Threshold:    ${String(c.direction ?? '')} ${String(c.threshold)} ${String(c.unit ?? '')} for ${String(c.durationMinutes ?? '?')} min (warning ${String(c.warning ?? '-')}, critical ${String(c.critical ?? '-')})`] : []),
    ...(typeof c.lastError === 'string' ? [`Last check:   ${c.lastError}`] : []),
    '',
    'Latest values (minute, value):',
    ...valueLines(e).map((l) => `  ${l}`),
    '',
    `Chart: ${e.incident.url}`,
  ];
  return lines.join('\n');
}

const esc = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

export function htmlOf(e: NotificationEvent): string {
  const rows = valueLines(e).map((l) => `<tr><td style="font-family:monospace">${esc(l)}</td></tr>`).join('');
  const color = e.event === 'close' ? '#2e7d32' : e.incident.level === 'critical' ? '#c62828' : '#ef6c00';
  return [
    '<!doctype html><html><body style="font-family:sans-serif">',
    `<h2 style="color:${color}">${esc(VERB[e.event])}: ${esc(e.incident.title)}</h2>`,
    `<p>Application <b>${esc(e.application.name)}</b> (id ${e.application.id}), incident <b>#${e.incident.id}</b>, level ${esc(e.incident.level)}, ${esc(e.incident.state)}.</p>`,
    `<p>Opened ${esc(iso(e.incident.openedAt))}${e.incident.closedAt !== null ? `, resolved ${esc(iso(e.incident.closedAt))}` : ''}.</p>`,
    `<table>${rows}</table>`,
    `<p><a href="${esc(e.incident.url)}">Open the chart</a></p>`,
    '</body></html>',
  ].join('\n');
}

/** Slack incoming-webhook body. */
export function slackOf(e: NotificationEvent): { text: string } {
  const icon = e.event === 'close' ? ':white_check_mark:' : e.incident.level === 'critical' ? ':red_circle:' : ':warning:';
  return { text: `${icon} *${VERB[e.event]}* ${e.application.name}: ${e.incident.title} (incident #${e.incident.id}) <${e.incident.url}|chart>` };
}

/** PagerDuty Events API v2 body: trigger on open and level change, acknowledge on ack, resolve on close; one dedup_key per incident. */
export function pagerDutyOf(e: NotificationEvent, routingKey: string): Record<string, unknown> {
  const dedup_key = `apm-incident-${e.incident.id}`;
  if (e.event === 'close') return { routing_key: routingKey, event_action: 'resolve', dedup_key };
  if (e.event === 'ack') return { routing_key: routingKey, event_action: 'acknowledge', dedup_key };
  return {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key,
    payload: {
      summary: `${e.application.name}: ${e.incident.title}`.slice(0, 1024),
      source: e.application.name,
      severity: e.incident.level,
      timestamp: iso(e.incident.openedAt),
      component: e.application.name,
      class: String(e.condition.metric ?? e.incident.kind),
      custom_details: { incident: e.incident.id, ...e.condition },
    },
    links: [{ href: e.incident.url, text: 'Chart' }],
    client: 'APM alerts',
    client_url: e.incident.url,
  };
}
