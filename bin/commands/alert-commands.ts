import type { Command } from '../command.js';
import { intArg, table } from '../command.js';
import { InputError } from '../../lib/errors.js';
import { AlertStore, type Channel, type Policy } from '../../alerts/alert-store.js';
import { IncidentStore, type Incident } from '../../alerts/incident-store.js';
import { POLICY_METRICS } from '../../alerts/policy-metrics.js';
import type { CliContext } from '../cli-context.js';

const store = (ctx: CliContext) => new AlertStore(ctx.storage.directory);
const str = (v: string | boolean | undefined) => (typeof v === 'string' ? v : undefined);
const when = (t: number | null) => (t === null ? '' : new Date(t * 1000).toISOString().replace('.000Z', 'Z'));

function channelRow(c: Channel) {
  const target = c.config.type === 'email' ? c.config.to.join(' ') : c.config.type === 'webhook' ? `${c.config.url} (${c.config.format})` : 'PagerDuty Events v2';
  return { id: c.id, name: c.name, type: c.config.type, target };
}
function policyRow(p: Policy) {
  const unit = POLICY_METRICS[p.metric].unit;
  return { id: p.id, app: p.applicationId, name: p.name, metric: p.metric, warning: p.warning === null ? '' : `${p.warning} ${unit}`, critical: p.critical === null ? '' : `${p.critical} ${unit}`, minutes: p.durationMinutes, channels: p.channels.join(','), enabled: p.enabled };
}
function incidentRow(i: Incident) {
  const notes = i.notifications ?? [];
  const count = (s: string) => notes.filter((n) => n.state === s).length;
  return { id: i.id, app: i.applicationId, kind: i.kind, level: i.level, state: i.state, opened: when(i.openedAt), closed: when(i.closedAt), acked: i.acknowledgedBy ?? '', notified: `${count('sent')} sent, ${count('pending')} pending, ${count('failed')} failed`, title: i.title };
}

/** `apm alerts …`: notification channels, policies, incidents. */
export const alertCommands: Command[] = [
  {
    path: ['alerts', 'channels', 'add'],
    usage: 'apm alerts channels add <account> <name> --type email|webhook|pagerduty [--to a@x,b@y] [--url u] [--secret s] [--format json|slack] [--routing-key k] [--json]',
    summary: 'Add a notification channel: email addresses, a signed JSON webhook (or Slack incoming webhook), or a PagerDuty service.',
    options: { type: { type: 'string' }, to: { type: 'string' }, url: { type: 'string' }, secret: { type: 'string' }, format: { type: 'string' }, 'routing-key': { type: 'string' } },
    async run(ctx, { positionals, values }) {
      const accountId = intArg(positionals[0], 'account id');
      const c = await store(ctx).createChannel(accountId, {
        name: positionals.slice(1).join(' '), type: values.type, to: str(values.to), url: str(values.url), secret: str(values.secret), format: str(values.format), routingKey: str(values['routing-key']),
      });
      const secret = c.config.type === 'webhook' ? `\nwebhook secret (HMAC-SHA256 key of the x-apm-signature header): ${c.config.secret}` : '';
      return { json: { ...channelRow(c), ...(c.config.type === 'webhook' ? { secret: c.config.secret } : {}) }, text: `channel ${c.id} "${c.name}" (${c.config.type}) added${secret}` };
    },
  },
  {
    path: ['alerts', 'channels', 'list'],
    usage: 'apm alerts channels list <account> [--json]',
    summary: 'List an account\'s notification channels.',
    async run(ctx, { positionals }) {
      const rows = (await store(ctx).listChannels(intArg(positionals[0], 'account id'))).map(channelRow);
      return { json: rows, text: table(rows) };
    },
  },
  {
    path: ['alerts', 'channels', 'remove'],
    usage: 'apm alerts channels remove <account> <channel> [--json]',
    summary: 'Remove a channel (policies naming it skip it; pending notifications to it fail).',
    async run(ctx, { positionals }) {
      const accountId = intArg(positionals[0], 'account id');
      const id = intArg(positionals[1], 'channel id');
      await store(ctx).deleteChannel(accountId, id);
      return { json: { removed: id }, text: `channel ${id} removed` };
    },
  },
  {
    path: ['alerts', 'add'],
    usage: 'apm alerts add <account> <app> <name> --metric m [--warning v] --critical v [--for 3m] [--channels 1,2] [--json]',
    summary: `Add a policy on an application: metric ${Object.keys(POLICY_METRICS).join('|')}; thresholds like 0.85, 5%, 500ms, 2s, 10rpm.`,
    options: { metric: { type: 'string' }, warning: { type: 'string' }, critical: { type: 'string' }, for: { type: 'string' }, channels: { type: 'string' } },
    async run(ctx, { positionals, values }) {
      const accountId = intArg(positionals[0], 'account id');
      const app = positionals[1];
      const name = positionals.slice(2).join(' ');
      if (!app) throw new InputError('cannot accept policy: give the application (id or name) after the account id');
      const p = await store(ctx).createPolicy(accountId, /^[0-9]+$/.test(app) ? Number(app) : app, {
        name, metric: values.metric, warning: str(values.warning), critical: str(values.critical), duration: str(values.for), channels: str(values.channels),
      });
      return { json: policyRow(p), text: table([policyRow(p)]) };
    },
  },
  {
    path: ['alerts', 'list'],
    usage: 'apm alerts list <account> [--json]',
    summary: 'List an account\'s alert policies.',
    async run(ctx, { positionals }) {
      const rows = (await store(ctx).listPolicies(intArg(positionals[0], 'account id'))).map(policyRow);
      return { json: rows, text: table(rows) };
    },
  },
  ...(['enable', 'disable'] as const).map((verb): Command => ({
    path: ['alerts', verb],
    usage: `apm alerts ${verb} <account> <policy> [--json]`,
    summary: verb === 'enable' ? 'Evaluate a policy again.' : 'Stop evaluating a policy (its open incident stays open until it is enabled and clears).',
    async run(ctx, { positionals }) {
      const p = await store(ctx).setPolicyEnabled(intArg(positionals[0], 'account id'), intArg(positionals[1], 'policy id'), verb === 'enable');
      return { json: policyRow(p), text: table([policyRow(p)]) };
    },
  })),
  {
    path: ['alerts', 'remove'],
    usage: 'apm alerts remove <account> <policy> [--json]',
    summary: 'Remove a policy (its open incident is resolved and notified; its incidents stay in the history).',
    async run(ctx, { positionals }) {
      const id = intArg(positionals[1], 'policy id');
      await store(ctx).deletePolicy(intArg(positionals[0], 'account id'), id, ctx.now());
      return { json: { removed: id }, text: `policy ${id} removed` };
    },
  },
  {
    path: ['alerts', 'incidents'],
    usage: 'apm alerts incidents <account> [--open] [--app id] [--limit n] [--json]',
    summary: 'List incidents (newest first) with their notifications: policies and availability monitors.',
    options: { open: { type: 'boolean' }, app: { type: 'string' }, limit: { type: 'string' } },
    async run(ctx, { positionals, values }) {
      const accountId = intArg(positionals[0], 'account id');
      await ctx.storage.directory.getAccount(accountId);
      const list = await new IncidentStore(ctx.storage.directory.db.promise).list(accountId, {
        ...(values.open ? { state: 'open' as const } : {}),
        ...(values.app !== undefined ? { applicationId: intArg(str(values.app), '--app') } : {}),
        limit: values.limit === undefined ? 50 : intArg(str(values.limit), '--limit'),
      });
      return { json: list, text: table(list.map(incidentRow)) };
    },
  },
  {
    path: ['alerts', 'ack'],
    usage: 'apm alerts ack <account> <incident> --by <who> [--json]',
    summary: 'Acknowledge an open incident (who and when; its PagerDuty channels get an acknowledge event).',
    options: { by: { type: 'string' } },
    async run(ctx, { positionals, values }) {
      const i = await new IncidentStore(ctx.storage.directory.db.promise).acknowledge(intArg(positionals[0], 'account id'), intArg(positionals[1], 'incident id'), str(values.by) ?? '', ctx.now());
      return { json: i, text: table([incidentRow(i)]) };
    },
  },
];
