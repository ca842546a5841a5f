#!/usr/bin/env node
/** The `apm` operator CLI. Every command takes --help and --json; see `apm --help`. */
import { parseArgs } from 'node:util';
import { commands, type Command } from './apm-commands.js';
import { openCliContext } from './cli-context.js';
import { ConfigError } from '../lib/config/config.js';
import { cliLog } from './app-log.js';
import { httpStatusOf } from '../lib/errors.js';

function help(list: Command[]): string {
  return ['usage:', ...list.map((c) => `  ${c.usage.padEnd(58)} ${c.summary}`)].join('\n');
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

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/apm.js')) {
  runCli(process.argv.slice(2), process.env).then((code) => process.exit(code));
}
