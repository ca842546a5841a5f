import type { Command } from '../command.js';
import { intArg, table } from '../command.js';
import { InputError } from '../../lib/errors.js';
import type { Account } from '../../lib/directory/directory.js';
import { KEY_EPOCH_MAX_AGE_MS, rotateKey } from '../../lib/directory/key-epoch.js';

function row(a: Account) {
  return {
    id: a.id,
    name: a.name,
    plan: a.plan,
    shard: a.shardId,
    retention: `${a.retention.minuteDays}d/${a.retention.hourDays}d/${a.retention.dayDays === null ? 'forever' : `${a.retention.dayDays}d`}`,
    created: a.createdAt,
  };
}

export const accountCommands: Command[] = [
  {
    path: ['accounts', 'create'],
    usage: 'apm accounts create <name> [--plan free|paid] [--json]',
    summary: 'Create an account on the next open shard (round-robin) and print its keys, once.',
    options: { plan: { type: 'string' } },
    async run(ctx, { positionals, values }) {
      const name = positionals.join(' ');
      if (!name) throw new InputError('cannot create account: give it a name');
      const r = await ctx.storage.directory.createAccount({ name, ...(typeof values.plan === 'string' ? { plan: values.plan } : {}) });
      const json = { account: row(r.account), licenseKey: r.licenseKey, browserKey: r.browserKey, readKey: r.readKey };
      const text = [
        `account ${r.account.id} "${r.account.name}" (plan ${r.account.plan}) on shard ${r.account.shardId}`,
        `license key (agents):    ${r.licenseKey}`,
        `browser key (rum.js):    ${r.browserKey}`,
        `read API key (dashboard): ${r.readKey}`,
        'These keys are shown only now: the license and read keys are stored hashed.',
      ].join('\n');
      return { json, text };
    },
  },
  {
    path: ['accounts', 'rotate-key'],
    usage: 'apm accounts rotate-key <account> license|read|browser [--json]',
    summary: 'Give an account a new key of that kind and print it, once; the old key is refused everywhere within seconds.',
    async run(ctx, { positionals }) {
      const id = intArg(positionals[0], 'account id');
      const kind = positionals[1];
      if (kind !== 'license' && kind !== 'read' && kind !== 'browser') throw new InputError(`cannot rotate key: say which key, license, read or browser (got ${JSON.stringify(kind ?? '')})`);
      const key = await rotateKey(ctx.storage.directory, id, kind);
      const what = { license: 'license key (agents)', read: 'read API key (dashboard)', browser: 'browser key (rum.js)' }[kind];
      return {
        json: { accountId: id, kind, key },
        text: `account ${id}: new ${what}: ${key}\nShown only now${kind === 'browser' ? '' : ' (stored hashed)'}; the old key is refused from now on (by every running process within ${KEY_EPOCH_MAX_AGE_MS / 1000} s).`,
      };
    },
  },
  {
    path: ['accounts', 'list'],
    usage: 'apm accounts list [--json]',
    summary: 'List accounts with their plan and shard.',
    async run(ctx) {
      const rows = (await ctx.storage.directory.listAccounts()).map(row);
      return { json: rows, text: table(rows) };
    },
  },
  {
    path: ['accounts', 'show'],
    usage: 'apm accounts show <id> [--json]',
    summary: 'Show one account, its applications and agents.',
    async run(ctx, { positionals }) {
      const id = intArg(positionals[0], 'account id');
      const account = await ctx.storage.directory.getAccount(id);
      const apps = await ctx.storage.directory.listApplications(id);
      const { store } = await ctx.storage.shards.storeForAccount(id);
      const agents = (await store.listAgents(id)).filter((a) => a.host !== '');
      const tables = await store.listTables({ accountId: id });
      const json = { account: row(account), applications: apps, agents, tables: tables.length };
      const text = [
        table([row(account)]),
        '',
        'applications:',
        table(apps.map((a) => ({ id: a.id, name: a.name, apdexT: a.apdexT, browserApdexT: a.browserApdexT, origins: a.allowedOrigins.join(' ') }))),
        '',
        'agents:',
        table(agents.map((a) => ({ id: a.id, application: a.applicationId, host: a.host, pid: a.pid, language: a.language }))),
        '',
        `tables: ${tables.length}`,
      ].join('\n');
      return { json, text };
    },
  },
];
