/** A CLI command and the small formatting helpers every command uses (kept apart from the command
 * table in apm-commands.ts, which imports every command module). */
import type { CliContext } from './cli-context.js';
import { InputError } from '../lib/errors.js';

/** What a command prints: `json` for --json, `text` for people. */
export interface CommandOutput {
  json: unknown;
  text: string;
}

export interface Command {
  /** e.g. ['shards', 'list'] */
  path: string[];
  usage: string;
  summary: string;
  /** Options this command accepts (besides --json and --help), as for util.parseArgs. */
  options?: Record<string, { type: 'string' | 'boolean'; short?: string }>;
  run(ctx: CliContext, args: { positionals: string[]; values: Record<string, string | boolean | undefined> }): Promise<CommandOutput>;
}

export function table(rows: Array<Record<string, unknown>>): string {
  if (rows.length === 0) return '(none)';
  const cols = Object.keys(rows[0]!);
  const cells = rows.map((r) => cols.map((c) => String(r[c] ?? '')));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(cols), ...cells.map(line)].join('\n');
}

export function intArg(value: string | undefined, what: string): number {
  if (value === undefined || !/^[1-9][0-9]{0,9}$/.test(value)) throw new InputError(`cannot read ${what}: expected a positive integer, got ${JSON.stringify(value ?? '')}`);
  return Number(value);
}
