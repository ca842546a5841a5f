/**
 * The one canonical form of a metric name or scope, identical in TypeScript and in the database
 * (documented in schema/README.md, "Dictionary and agents"). `metric_names` is `utf8mb4_bin`:
 * - text is stored as UTF-8, so a lone UTF-16 surrogate cannot be stored: the driver writes U+FFFD;
 * - the collation is PAD SPACE: 'a' and 'a ' are the same key, so trailing spaces cannot be told apart.
 * Every writer (New Relic, OTLP, beacon) goes through MetricDictionary, which maps names to this
 * form first, so a name always reads back exactly as it was looked up:
 * - lone surrogates become U+FFFD (what String.prototype.toWellFormed and the driver do);
 * - trailing spaces (U+0020) are removed (`Custom/pad ` and `Custom/pad` are one metric);
 * Names that cannot be stored at all (empty, longer than the column, control characters) are
 * refused by metricNameProblem: the edges answer 400 for them, and the dictionary never stores them.
 */

/** metric_names.name and .scope are VARCHAR(255): characters (code points), not bytes. */
export const MAX_METRIC_NAME_CHARS = 255;

// C0 controls, DEL and C1 controls: never part of a metric name, often a sign of a broken encoder.
// eslint-disable-next-line no-control-regex
export const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;

const TRAILING_SPACES = / +$/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
/** Any surrogate at all: most names have none, and then only trailing spaces can change (one cheap scan). */
const ANY_SURROGATE = /[\ud800-\udfff]/;

const ONE_LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Whether `text` holds an unpaired UTF-16 surrogate (one cheap scan when it holds no surrogate at all). */
export function hasLoneSurrogate(text: string): boolean {
  return ANY_SURROGATE.test(text) && ONE_LONE_SURROGATE.test(text);
}

/** The canonical form of a name or scope (String.prototype.toWellFormed is ES2024; same result). */
export function canonicalMetricName(text: string): string {
  const wellFormed = ANY_SURROGATE.test(text) ? text.replace(LONE_SURROGATE, '\ufffd') : text;
  return wellFormed.endsWith(' ') ? wellFormed.replace(TRAILING_SPACES, '') : wellFormed;
}

/** Code points of a string (what VARCHAR counts). */
function codePoints(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/**
 * Why a canonical name (or scope, `allowEmpty`) cannot be stored, or undefined when it can.
 * Call it on canonicalMetricName's result.
 */
export function metricNameProblem(canonical: string, allowEmpty: boolean): string | undefined {
  if (canonical.length === 0) return allowEmpty ? undefined : 'is empty (after removing trailing spaces)';
  if (canonical.length > MAX_METRIC_NAME_CHARS && codePoints(canonical) > MAX_METRIC_NAME_CHARS) {
    return `is longer than ${MAX_METRIC_NAME_CHARS} characters`;
  }
  if (CONTROL_CHARACTER.test(canonical)) return 'contains a control character';
  return undefined;
}
