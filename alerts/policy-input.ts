import { InputError } from '../lib/errors.js';
import { isPolicyMetric, POLICY_METRICS, type PolicyMetric, type PolicyUnit } from './policy-metrics.js';

/** A policy as stored (thresholds in the metric's unit; null = that level is not used). */
export interface PolicyDraft {
  name: string;
  metric: PolicyMetric;
  warning: number | null;
  critical: number | null;
  durationMinutes: number;
  channels: number[];
  enabled: boolean;
}

/** Longest duration: a day. */
export const MAX_DURATION_MINUTES = 1440;
/** Channels per policy. */
export const MAX_POLICY_CHANNELS = 20;

/** Unit suffixes a threshold may carry, and their factor into the metric's unit. */
const SUFFIXES: Readonly<Record<PolicyUnit, Readonly<Record<string, number>>>> = {
  score: { '': 1 },
  '%': { '': 1, '%': 1 },
  ms: { '': 1, ms: 1, s: 1000 },
  rpm: { '': 1, rpm: 1 },
};

/**
 * Reads a threshold such as `0.85`, `5%`, `500ms`, `2s` or `10rpm` into the metric's unit. Throws
 * InputError naming the field when the number or the unit is wrong for the metric, or out of range.
 */
export function parseThreshold(field: string, raw: unknown, metric: PolicyMetric): number | null {
  if (raw === undefined || raw === null || raw === '') return null;
  const spec = POLICY_METRICS[metric];
  const text = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
  const m = /^(-?[0-9]+(?:\.[0-9]+)?)\s*([a-z%]*)$/i.exec(text);
  if (!m) throw new InputError(`cannot accept policy: ${field} ${JSON.stringify(raw)} is not a number (with an optional unit)`);
  const unit = m[2]!.toLowerCase();
  const factor = SUFFIXES[spec.unit][unit];
  if (factor === undefined) {
    const allowed = Object.keys(SUFFIXES[spec.unit]).filter(Boolean);
    throw new InputError(`cannot accept policy: ${field} ${JSON.stringify(raw)} has the wrong unit for ${metric} (${spec.label} is in ${spec.unit}${allowed.length ? `; write ${allowed.join(' or ')} or no unit` : '; write a plain number'})`);
  }
  const v = Number(m[1]) * factor;
  if (!(v >= spec.min && v <= spec.max)) {
    throw new InputError(`cannot accept policy: ${field} ${JSON.stringify(raw)} is out of range for ${metric} (${spec.min} to ${spec.max} ${spec.unit})`);
  }
  return v;
}

export interface PolicyInput {
  name?: unknown;
  metric?: unknown;
  warning?: unknown;
  critical?: unknown;
  /** Minutes (number) or a string like `3`, `3m`, `1h`. */
  duration?: unknown;
  channels?: unknown;
  enabled?: unknown;
}

/**
 * Validates a policy. Every message names the field: name, metric (unknown), warning / critical (unit,
 * range, order), duration, channels (unknown ids are checked against `knownChannels`).
 */
export function validatePolicy(input: PolicyInput, knownChannels: ReadonlySet<number>): PolicyDraft {
  const name = typeof input.name === 'string' ? input.name.trim() : '';
  if (name.length === 0 || name.length > 128) throw new InputError('cannot accept policy: name must be 1 to 128 characters');
  const metric = typeof input.metric === 'string' ? input.metric.trim().toLowerCase().replace(/-/g, '_') : '';
  if (!isPolicyMetric(metric)) {
    throw new InputError(`cannot accept policy: metric ${JSON.stringify(input.metric ?? '')} is unknown (known: ${Object.keys(POLICY_METRICS).join(', ')})`);
  }
  const warning = parseThreshold('warning', input.warning, metric);
  const critical = parseThreshold('critical', input.critical, metric);
  if (warning === null && critical === null) throw new InputError('cannot accept policy: critical (or warning) threshold is required');
  if (warning !== null && critical !== null) {
    const above = POLICY_METRICS[metric].direction === 'above';
    if (above ? !(critical > warning) : !(critical < warning)) {
      throw new InputError(`cannot accept policy: critical ${critical} must be ${above ? 'above' : 'below'} warning ${warning} for ${metric}`);
    }
  }
  const durationMinutes = parseDuration(input.duration);
  const channels = parseChannels(input.channels, knownChannels);
  const enabled = input.enabled === undefined ? true : input.enabled === true || input.enabled === 'true';
  return { name, metric, warning, critical, durationMinutes, channels, enabled };
}

function parseDuration(raw: unknown): number {
  const text = raw === undefined ? '5' : typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
  const m = /^([0-9]{1,5})\s*(m|min|h)?$/i.exec(text);
  const n = m ? Number(m[1]) * (m[2]?.toLowerCase() === 'h' ? 60 : 1) : NaN;
  if (!(Number.isInteger(n) && n >= 1 && n <= MAX_DURATION_MINUTES)) {
    throw new InputError(`cannot accept policy: duration ${JSON.stringify(raw)} must be whole minutes from 1 to ${MAX_DURATION_MINUTES} (e.g. 3 or 3m or 1h)`);
  }
  return n;
}

/** Channel ids from an array or a comma-separated string; every id must be one of the account's. */
export function parseChannels(raw: unknown, known: ReadonlySet<number>, what = 'policy'): number[] {
  if (raw === undefined || raw === null || raw === '') return [];
  const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',').map((s) => s.trim()) : [raw];
  if (list.length > MAX_POLICY_CHANNELS) throw new InputError(`cannot accept ${what}: channels lists more than ${MAX_POLICY_CHANNELS} channels`);
  const out: number[] = [];
  for (const c of list) {
    const id = typeof c === 'number' ? c : typeof c === 'string' && /^[0-9]{1,10}$/.test(c) ? Number(c) : NaN;
    if (!known.has(id)) throw new InputError(`cannot accept ${what}: channels names unknown channel ${JSON.stringify(c)} (this account's channels: ${[...known].join(', ') || 'none'})`);
    if (!out.includes(id)) out.push(id);
  }
  return out;
}
