import type { Command } from '../command.js';
import { intArg, table } from '../command.js';
import { InputError } from '../../lib/errors.js';
import { MonitorStore, type Monitor } from '../../pinger/monitor-store.js';
import { pingerSettings } from '../../pinger/pinger-config.js';
import type { CliContext } from '../cli-context.js';

const store = (ctx: CliContext) => new MonitorStore(ctx.storage.directory, pingerSettings(ctx.config).allowedHosts);
const str = (v: string | boolean | undefined) => (typeof v === 'string' ? v : undefined);

function row(m: Monitor & { lastStatus?: string | null; failures?: number }) {
  return { id: m.id, app: m.applicationId, name: m.name, url: m.url, every: `${m.intervalSeconds}s`, timeout: `${m.timeoutMs}ms`, expect: m.expectedStatus, contains: m.bodyContains ?? '', channels: m.channels.join(','), enabled: m.enabled, last: m.lastStatus ?? '', failures: m.failures ?? 0 };
}

/** `apm monitors …`: availability monitors checked by the pinger service. */
export const monitorCommands: Command[] = [
  {
    path: ['monitors', 'add'],
    usage: 'apm monitors add <account> <app> <name> --url https://… [--interval 30] [--timeout 10000] [--status 200] [--contains text] [--channels 1,2] [--json]',
    summary: 'Check a URL of an application every interval seconds (10 or more); two failures in a row open a "down" incident.',
    options: { url: { type: 'string' }, interval: { type: 'string' }, timeout: { type: 'string' }, status: { type: 'string' }, contains: { type: 'string' }, channels: { type: 'string' } },
    async run(ctx, { positionals, values }) {
      const accountId = intArg(positionals[0], 'account id');
      const app = positionals[1];
      if (!app) throw new InputError('cannot accept monitor: give the application (id or name) after the account id');
      const m = await store(ctx).create(accountId, /^[0-9]+$/.test(app) ? Number(app) : app, {
        name: positionals.slice(2).join(' '), url: str(values.url), interval: str(values.interval), timeout: str(values.timeout), expectedStatus: str(values.status), bodyContains: str(values.contains), channels: str(values.channels),
      });
      return { json: row(m), text: `${table([row(m)])}\nThe pinger requests this URL from the collector's side of the network (restrict hosts with APM_PINGER_ALLOWED_HOSTS).` };
    },
  },
  {
    path: ['monitors', 'list'],
    usage: 'apm monitors list <account> [--json]',
    summary: 'List an account\'s monitors with their last result.',
    async run(ctx, { positionals }) {
      const rows = (await store(ctx).list(intArg(positionals[0], 'account id'))).map(row);
      return { json: rows, text: table(rows) };
    },
  },
  {
    path: ['monitors', 'remove'],
    usage: 'apm monitors remove <account> <monitor> [--json]',
    summary: 'Stop checking a URL (its open down incident is resolved and notified; its results stay in the metrics).',
    async run(ctx, { positionals }) {
      const id = intArg(positionals[1], 'monitor id');
      await store(ctx).remove(intArg(positionals[0], 'account id'), id, ctx.now());
      return { json: { removed: id }, text: `monitor ${id} removed` };
    },
  },
];
