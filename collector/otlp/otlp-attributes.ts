import type { Attributes } from './otlp-model.js';

/**
 * OTLP attributes → canonical strings → metric names. The scheme (documented in schema/README.md,
 * "OTLP mapping"):
 *
 *   OTLP/<instrument>                         every point of the instrument, attributes merged
 *   OTLP/<instrument>/<k1>=<v1>,<k2>=<v2>     one attribute set, keys sorted
 *   OTLP/<instrument>/~long-attributes        attribute sets whose name would pass 255 characters
 *
 * Keys escape `%`, `,`, `=` and `/`; values escape `%` and `,` (percent-encoding), so a name parses
 * back: the attribute part starts after the last `/` before the first `=`. Both escape control
 * characters (percent-encoded UTF-8), so no control character becomes part of a name.
 */

export const NAME_PREFIX = 'OTLP/';
/** metric_names.name is VARCHAR(255). */
export const MAX_NAME_CHARS = 255;
/** Instrument names longer than this are rejected (OpenTelemetry allows 255; the prefix and suffix need room). */
export const MAX_INSTRUMENT_CHARS = 200;
export const LONG_ATTRIBUTES = '~long-attributes';

/** One AnyValue as the JSON or protobuf decoder gives it (lowerCamelCase fields). */
export interface AnyValueObject {
  stringValue?: unknown;
  boolValue?: unknown;
  intValue?: unknown;
  doubleValue?: unknown;
  arrayValue?: { values?: unknown };
  kvlistValue?: { values?: unknown };
  bytesValue?: unknown;
}

/** Canonical text of an AnyValue; undefined for an empty value (such attributes are dropped). */
export function anyValueText(v: unknown, depth = 0): string | undefined {
  if (v === null || typeof v !== 'object') return undefined;
  const a = v as AnyValueObject;
  if (a.stringValue !== undefined) return String(a.stringValue);
  if (a.boolValue !== undefined) return a.boolValue === true || a.boolValue === 'true' ? 'true' : 'false';
  if (a.intValue !== undefined) return intText(a.intValue);
  if (a.doubleValue !== undefined) return String(Number(a.doubleValue));
  if (a.bytesValue !== undefined) return typeof a.bytesValue === 'string' ? a.bytesValue : Buffer.from(a.bytesValue as Uint8Array).toString('base64');
  if (depth > 4) return '…';
  if (a.arrayValue !== undefined) {
    const values = Array.isArray(a.arrayValue.values) ? a.arrayValue.values : [];
    return `[${values.map((x) => anyValueText(x, depth + 1) ?? '').join(';')}]`;
  }
  if (a.kvlistValue !== undefined) {
    const values = Array.isArray(a.kvlistValue.values) ? a.kvlistValue.values : [];
    return `{${canonicalAttributes(values, depth + 1).map(([k, x]) => `${k}:${x}`).join(';')}}`;
  }
  return undefined;
}

function intText(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  const s = String(v);
  return /^-?[0-9]+$/.test(s) ? String(BigInt(s)) : s;
}

/** [{key, value}] → sorted (key, text) pairs; empty values dropped; a repeated key keeps its last value. */
export function canonicalAttributes(list: unknown, depth = 0): Attributes {
  if (!Array.isArray(list)) return [];
  const byKey = new Map<string, string>();
  for (const kv of list) {
    if (kv === null || typeof kv !== 'object') continue;
    const key = (kv as { key?: unknown }).key;
    if (typeof key !== 'string' || key === '') continue;
    const text = anyValueText((kv as { value?: unknown }).value, depth);
    if (text !== undefined) byKey.set(key, text);
  }
  return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Looks up one attribute's text. */
export function attribute(attrs: Attributes, key: string): string | undefined {
  for (const [k, v] of attrs) if (k === key) return v;
  return undefined;
}

// Control characters (C0, DEL, C1) are escaped too, as the percent-encoding of their UTF-8 bytes
// (`%0A`, `%C2%85`): they never reach a metric name, and the name still parses back.
// eslint-disable-next-line no-control-regex
const escapeKey = (s: string) => s.replace(/[%,=/\u0000-\u001f\u007f-\u009f]/g, encodeURIComponent);
// eslint-disable-next-line no-control-regex
const escapeValue = (s: string) => s.replace(/[%,\u0000-\u001f\u007f-\u009f]/g, encodeURIComponent);

/** `k1=v1,k2=v2` with escaping; '' for no attributes. */
export function attributesText(attrs: Attributes): string {
  return attrs.map(([k, v]) => `${escapeKey(k)}=${escapeValue(v)}`).join(',');
}

/** The instrument's merged name: OTLP/<instrument>. */
export function instrumentMetricName(instrument: string): string {
  return NAME_PREFIX + instrument;
}

/** The attribute set's name, or undefined when the point has no attributes (the merged name covers it). */
export function attributedMetricName(instrument: string, attrs: Attributes): string | undefined {
  if (attrs.length === 0) return undefined;
  const name = `${NAME_PREFIX}${instrument}/${attributesText(attrs)}`;
  return name.length <= MAX_NAME_CHARS ? name : `${NAME_PREFIX}${instrument}/${LONG_ATTRIBUTES}`;
}

/** Inverse of the naming scheme, for readers (the dashboard). Undefined for names not made here. */
export function parseOtlpMetricName(name: string): { instrument: string; attributes: Record<string, string> | undefined } | undefined {
  if (!name.startsWith(NAME_PREFIX)) return undefined;
  const rest = name.slice(NAME_PREFIX.length);
  if (rest.endsWith(`/${LONG_ATTRIBUTES}`)) return { instrument: rest.slice(0, -LONG_ATTRIBUTES.length - 1), attributes: undefined };
  const eq = rest.indexOf('=');
  if (eq < 0) return { instrument: rest, attributes: {} };
  const slash = rest.lastIndexOf('/', eq);
  if (slash < 0) return undefined;
  const attributes: Record<string, string> = {};
  for (const pair of rest.slice(slash + 1).split(',')) {
    const i = pair.indexOf('=');
    if (i < 0) return undefined;
    attributes[decodeURIComponent(pair.slice(0, i))] = decodeURIComponent(pair.slice(i + 1));
  }
  return { instrument: rest.slice(0, slash), attributes };
}
