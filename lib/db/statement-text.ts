/**
 * A statement with `?` placeholders and its values as one text, for statements sent together in one
 * multi-statement query (lib/shard/shard-writer-one-trip.ts). The driver's `format` scans the whole
 * text for quotes and comments on every call; our statements have none, so their text is split at its
 * placeholders once and each value escaped by the driver (`escape`: the connection's own rules).
 * A text with a quote, a comment or a placeholder between backticks goes to `format` as before.
 */
export interface Escaper {
  escape(value: unknown): string;
  format(sql: string, values: unknown[]): string;
}

/** Split texts by statement text, or null when the text must go to `format`. Bounded: cleared past MAX_TEXTS. */
const split = new Map<string, readonly string[] | null>();
const MAX_TEXTS = 256;
const NOT_PLAIN = /['"#]|--|\/\*/;

function partsOf(sql: string): readonly string[] | null {
  let parts = split.get(sql);
  if (parts !== undefined) return parts;
  parts = null;
  if (!NOT_PLAIN.test(sql)) {
    const pieces = sql.split('?');
    // A placeholder is outside backticks when an even number of backticks come before it.
    let ticks = 0;
    let plain = true;
    for (let i = 0; i < pieces.length - 1; i++) {
      for (const ch of pieces[i]!) if (ch === '`') ticks++;
      if (ticks % 2 === 1) plain = false;
    }
    if (plain) parts = pieces;
  }
  if (split.size >= MAX_TEXTS) split.clear();
  split.set(sql, parts);
  return parts;
}

export function statementText(conn: Escaper, sql: string, values: readonly unknown[]): string {
  const parts = partsOf(sql);
  if (parts === null || parts.length !== values.length + 1) return conn.format(sql, values as unknown[]);
  let out = parts[0]!;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    // A Buffer as the driver writes it (X'…'), without its escape scan of the hex digits (a harvest
    // record's is ~10 KB a harvest).
    out += (Buffer.isBuffer(v) ? `X'${v.toString('hex')}'` : conn.escape(v)) + parts[i + 1]!;
  }
  return out;
}

/** Texts of compiled statements by shape (what a statement's text depends on). Bounded: cleared past MAX_TEXTS. */
const compiled = new Map<string, string>();

/**
 * The text of a typed statement whose parameters are exactly `values`, in order, compiled once per
 * `shape` (its kind and parameter count: the text depends on nothing else), for statements built per
 * write transaction (lib/shard/shard-writer-one-trip.ts).
 */
export function compiledText(shape: string, values: readonly unknown[], compile: () => { sql: string; parameters: readonly unknown[] }): string {
  let sql = compiled.get(shape);
  if (sql === undefined) {
    const c = compile();
    if (c.parameters.length !== values.length || c.parameters.some((p, i) => p !== values[i])) throw new Error(`BUG: the statement of shape ${shape} has other parameters than its values`);
    if (compiled.size >= MAX_TEXTS) compiled.clear();
    compiled.set(shape, (sql = c.sql));
  }
  return sql;
}
