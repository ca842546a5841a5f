import type { Command } from '../command.js';
import { intArg, table } from '../command.js';
import { InputError } from '../../lib/errors.js';
import type { Application } from '../../lib/directory/directory.js';

function row(a: Application) {
  return { id: a.id, name: a.name, apdexT: a.apdexT, browserApdexT: a.browserApdexT, origins: a.allowedOrigins.join(' ') };
}

function seconds(value: string | boolean | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'string' && /^[0-9]+(\.[0-9]+)?$/.test(value.trim()) ? Number(value) : NaN;
  if (!(n > 0 && n <= 3600)) throw new InputError(`cannot read ${what}: expected seconds between 0 and 3600, got ${JSON.stringify(value)}`);
  return n;
}

function origins(value: string | boolean | undefined): string[] {
  if (typeof value !== 'string') return [];
  return value
    .split(',')
    .map((o) => o.trim().replace(/\/+$/, ''))
    .filter((o) => o.length > 0);
}

/** `apm apps …`: the applications of an account, their Apdex thresholds and beacon origins. */
export const appCommands: Command[] = [
  {
    path: ['apps', 'list'],
    usage: 'apm apps list <account> [--json]',
    summary: 'List an account\'s applications with Apdex thresholds and allowed browser origins.',
    async run(ctx, { positionals }) {
      const accountId = intArg(positionals[0], 'account id');
      await ctx.storage.directory.getAccount(accountId);
      const rows = (await ctx.storage.directory.listApplications(accountId)).map(row);
      return { json: rows, text: table(rows) };
    },
  },
  {
    path: ['apps', 'set'],
    usage: 'apm apps set <account> <app> [--origin o1,o2 | --add-origin o | --remove-origin o] [--apdex-t s] [--browser-apdex-t s] [--json]',
    summary: 'Create or change an application: origins allowed to post beacons (rum.js), Apdex thresholds in seconds.',
    options: {
      origin: { type: 'string' },
      'add-origin': { type: 'string' },
      'remove-origin': { type: 'string' },
      'apdex-t': { type: 'string' },
      'browser-apdex-t': { type: 'string' },
    },
    async run(ctx, { positionals, values }) {
      const accountId = intArg(positionals[0], 'account id');
      const name = positionals.slice(1).join(' ').trim();
      if (!name) throw new InputError('cannot set application: give the application name after the account id');
      if (values.origin !== undefined && (values['add-origin'] !== undefined || values['remove-origin'] !== undefined)) {
        throw new InputError('cannot set application: use either --origin (replaces the list) or --add-origin/--remove-origin');
      }
      const apdexT = seconds(values['apdex-t'], '--apdex-t');
      const browserApdexT = seconds(values['browser-apdex-t'], '--browser-apdex-t');
      const directory = ctx.storage.directory;
      await directory.getAccount(accountId);
      const app = await directory.ensureApplication(accountId, name);
      let allowed: string[] | undefined;
      if (values.origin !== undefined) allowed = origins(values.origin);
      if (values['add-origin'] !== undefined || values['remove-origin'] !== undefined) {
        const remove = new Set(origins(values['remove-origin']).map((o) => o.toLowerCase()));
        allowed = [...new Set([...app.allowedOrigins, ...origins(values['add-origin'])])].filter((o) => !remove.has(o.toLowerCase()));
      }
      const updated = await directory.updateApplication(app.id, {
        ...(apdexT !== undefined ? { apdexT } : {}),
        ...(browserApdexT !== undefined ? { browserApdexT } : {}),
        ...(allowed !== undefined ? { allowedOrigins: allowed } : {}),
      });
      const text = [
        `application ${updated.id} "${updated.name}" of account ${accountId}`,
        `apdex T ${updated.apdexT} s, browser apdex T ${updated.browserApdexT} s`,
        `origins allowed to post beacons: ${updated.allowedOrigins.length ? updated.allowedOrigins.join(' ') : '(none: every beacon is refused)'}`,
        'Running beacons pick the change up within APM_BEACON_DIRECTORY_TTL_SECONDS.',
      ].join('\n');
      return { json: row(updated), text };
    },
  },
];
