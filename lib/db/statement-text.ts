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
  for (let i = 0; i < values.length; i++) out += conn.escape(values[i]) + parts[i + 1]!;
  return out;
}
