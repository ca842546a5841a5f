#!/usr/bin/env node
/** The `apm` operator CLI. Every command takes --help and --json; see `apm --help`. */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { commands, type Command } from './apm-commands.js';
import { openCliContext } from './cli-context.js';
import { ConfigError } from '../lib/config/config.js';
import { cliLog } from './app-log.js';
import { httpStatusOf } from '../lib/errors.js';

const SETTINGS_NOTE = [
  'The CLI manages the system whose APM_* settings it is given (environment variables, as for `npm start`):',
  'APM_SHARDS / APM_DIRECTORY and APM_DB_USER / APM_DB_PASSWORD for existing servers; for the embedded default it',
  'finds the servers a running `npm start` uses under APM_DATA_DIR (default ./data) itself, whatever their ports.',
  'It never stops a server it did not start, and never registers a shard except through `apm shards add`.',
].join('\n');

function help(list: Command[]): string {
  return ['usage:', ...list.map((c) => `  ${c.usage.padEnd(58)} ${c.summary}`), '', SETTINGS_NOTE].join('\n');
}

export async function runCli(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const words = argv.filter((a) => !a.startsWith('-'));
  const cmd = commands
    .filter((c) => c.path.every((p, i) => words[i] === p))
    .sort((a, b) => b.path.length - a.path.length)[0];
  if (!cmd) {
    const group = commands.filter((c) => c.path[0] === words[0]);
    const wanted = argv.includes('--help') || argv.includes('-h') || argv.length === 0;
    console[wanted ? 'log' : 'error'](`${wanted ? '' : `apm: unknown command ${JSON.stringify(words.join(' '))}\n`}${help(group.length ? group : commands)}`);
    return wanted ? 0 : 2;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: argv.slice(argv.indexOf(cmd.path[cmd.path.length - 1]!) + 1),
      options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' }, ...(cmd.options ?? {}) },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    console.error(`apm: ${(err as Error).message}\nusage: ${cmd.usage}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(`usage: ${cmd.usage}\n\n${cmd.summary}`);
    return 0;
  }
  let ctx;
  try {
    ctx = await openCliContext(env, cliLog());
  } catch (err) {
    console.error(err instanceof ConfigError ? err.message : `apm: cannot connect: ${(err as Error).message}`);
    return 2;
  }
  try {
    const out = await cmd.run(ctx, { positionals: parsed.positionals, values: parsed.values as Record<string, string | boolean | undefined> });
    console.log(parsed.values.json ? JSON.stringify(out.json, null, 2) : out.text);
    return 0;
  } catch (err) {
    const status = httpStatusOf(err);
    console.error(`apm: ${(err as Error).message}`);
    return status === 500 ? 1 : 2;
  } finally {
    await ctx.close();
  }
}

/** True when this module is the program run (`node dist/bin/apm.js`, `npx apm`, the installed bin
 * through its symlink), not when a test imports it. */
function isMain(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return fs.realpathSync(script) === fs.realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  runCli(process.argv.slice(2), process.env).then((code) => process.exit(code));
}
