import { parseVariable, type VariableSpec, type VariableValue } from './variable-spec.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`cannot load configuration: ${problems.length} problem(s)\n  ${problems.join('\n  ')}`);
  }
}

/** Typed, frozen configuration. Getters throw BUG for names no spec declares. */
export class Config {
  readonly #values: ReadonlyMap<string, VariableValue>;
  readonly #specs: readonly VariableSpec[];

  constructor(values: Map<string, VariableValue>, specs: readonly VariableSpec[]) {
    this.#values = values;
    this.#specs = specs;
    Object.freeze(this);
  }

  #get(name: string): VariableValue {
    if (!this.#values.has(name)) throw new Error(`BUG: configuration variable ${name} is not declared`);
    return this.#values.get(name);
  }

  has(name: string): boolean {
    return this.#get(name) !== undefined;
  }
  str(name: string): string {
    const v = this.#get(name);
    if (typeof v !== 'string') throw new Error(`BUG: ${name} is not a set string`);
    return v;
  }
  optStr(name: string): string | undefined {
    const v = this.#get(name);
    return typeof v === 'string' ? v : undefined;
  }
  num(name: string): number {
    const v = this.#get(name);
    if (typeof v !== 'number') throw new Error(`BUG: ${name} is not a set number`);
    return v;
  }
  bool(name: string): boolean {
    const v = this.#get(name);
    if (typeof v !== 'boolean') throw new Error(`BUG: ${name} is not a set boolean`);
    return v;
  }
  list(name: string): readonly string[] {
    const v = this.#get(name);
    if (v === undefined) return [];
    if (!Array.isArray(v)) throw new Error(`BUG: ${name} is not a list`);
    return v;
  }
  /** A copy with some values replaced (tests, the benchmark); values are given as the user would write them. */
  with(overrides: Record<string, string>): Config {
    return loadConfig({ ...this.toEnv(), ...overrides }, this.#specs);
  }
  /** The set values as environment variables (what a child process loads to get the same Config). */
  toEnv(): Record<string, string> {
    const env: Record<string, string> = {};
    for (const [k, v] of this.#values) if (v !== undefined) env[k] = Array.isArray(v) ? v.join(',') : String(v);
    return env;
  }
}

/**
 * Reads the APM_ variables that `specs` declare from env, validates all of them and reports every
 * problem at once: bad values each by name, and unknown APM_ variables (likely typos) as errors. The
 * list of specs is assembled by the composition root (bin/app-variables.ts): the shared core does not
 * know which services exist.
 */
export function loadConfig(env: Record<string, string | undefined>, specs: readonly VariableSpec[]): Config {
  const problems: string[] = [];
  const known = new Set<string>();
  const values = new Map<string, VariableValue>();
  for (const spec of specs) {
    if (known.has(spec.name)) throw new Error(`BUG: ${spec.name} is declared twice`);
    known.add(spec.name);
    const r = parseVariable(spec, env[spec.name]);
    if ('problem' in r) problems.push(r.problem);
    else values.set(spec.name, r.value);
  }
  for (const name of Object.keys(env).sort()) {
    if (name.startsWith('APM_') && !known.has(name)) problems.push(`${name} is not a known variable (see the README's configuration table)`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return new Config(values, specs);
}
