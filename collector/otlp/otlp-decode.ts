import { InputError } from '../../lib/errors.js';
import { attribute, canonicalAttributes, MAX_INSTRUMENT_CHARS } from './otlp-attributes.js';
import { canonicalMetricName, CONTROL_CHARACTER } from '../../lib/shard/metric-name.js';
import type { DecodedExport, DistributionPoint, NumberPoint, OtlpMetric, OtlpResource, RejectCode, Rejection, ResourceIdentity, Temporality } from './otlp-model.js';
import { exponentialPoint, histogramPoint, numberPoint, OUT_OF_BOUNDS, summaryPoint, type TimeWindow } from './otlp-points.js';
import { unitFactor } from './otlp-units.js';

/**
 * ExportMetricsServiceRequest (as a plain object: JSON.parse of an OTLP/JSON body, or protobufjs's
 * toObject of a protobuf body; both use lowerCamelCase names) → DecodedExport. A body that is not
 * an export request at all throws InputError (400); individual bad points are collected as
 * rejections (partialSuccess) and the rest is kept.
 */
export function normalizeExport(body: unknown, w: TimeWindow): DecodedExport {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new InputError('cannot decode metrics export: the body is not an ExportMetricsServiceRequest object');
  const list = (body as { resourceMetrics?: unknown }).resourceMetrics;
  if (list !== undefined && !Array.isArray(list)) throw new InputError('cannot decode metrics export: resourceMetrics is not a list');
  const out: DecodedExport = { resources: [], acceptedPoints: 0, rejected: [], skippedPoints: 0 };
  for (const rm of list ?? []) {
    if (rm === null || typeof rm !== 'object') throw new InputError('cannot decode metrics export: a resourceMetrics entry is not an object');
    const r = rm as { resource?: { attributes?: unknown }; scopeMetrics?: unknown };
    const identity = identityOf(canonicalAttributes(r.resource?.attributes));
    const resource: OtlpResource = { identity, metrics: [] };
    for (const sm of Array.isArray(r.scopeMetrics) ? r.scopeMetrics : []) {
      const metrics = (sm as { metrics?: unknown } | null)?.metrics;
      for (const m of Array.isArray(metrics) ? metrics : []) {
        const metric = metricOf(m, w, out);
        if (metric && metric.points.length > 0) resource.metrics.push(metric);
      }
    }
    // A service or instance name with control characters never becomes an application or agent name.
    const identityProblem = identityProblemOf(identity);
    if (identityProblem !== undefined) {
      for (const metric of resource.metrics) {
        for (let i = 0; i < metric.points.length; i++) out.rejected.push({ metric: metric.name, reason: identityProblem, code: 'bad_name' });
        out.acceptedPoints -= metric.points.length;
      }
    } else if (resource.metrics.length > 0) out.resources.push(resource);
  }
  return out;
}

const HOST_CHARS = 255;
/** applications.name holds at most 255 bytes. */
const APPLICATION_NAME_BYTES = 255;

function truncateBytes(s: string, max: number): string {
  if (Buffer.byteLength(s) <= max) return s;
  let out = '';
  for (const ch of s) {
    if (Buffer.byteLength(out + ch) > max) break;
    out += ch;
  }
  return out.trim();
}
const LANGUAGE_CHARS = 32;

/** service.name → application; service.instance.id, else host.name → agent (see docs/api.md). */
export function identityOf(attrs: ReturnType<typeof canonicalAttributes>): ResourceIdentity {
  // Canonical like metric names (no lone surrogate: the database would store U+FFFD instead).
  const serviceName = canonicalMetricName(truncateBytes((attribute(attrs, 'service.name') ?? '').trim(), APPLICATION_NAME_BYTES)) || 'unknown_service';
  const instance = (attribute(attrs, 'service.instance.id') ?? attribute(attrs, 'host.name'))?.trim() || undefined;
  const pidText = attribute(attrs, 'process.pid');
  const pid = pidText !== undefined && /^[0-9]{1,10}$/.test(pidText) && Number(pidText) <= 4_294_967_295 ? Number(pidText) : 0;
  const sdk = attribute(attrs, 'telemetry.sdk.language');
  const language = (sdk ? `otlp/${sdk}` : 'otlp').slice(0, LANGUAGE_CHARS);
  return { serviceName, instance: instance?.slice(0, HOST_CHARS), pid, language };
}

function identityProblemOf(who: ResourceIdentity): string | undefined {
  if (CONTROL_CHARACTER.test(who.serviceName)) return 'service.name contains a control character';
  if (who.instance !== undefined && CONTROL_CHARACTER.test(who.instance)) return 'service.instance.id (or host.name) contains a control character';
  if (CONTROL_CHARACTER.test(who.language)) return 'telemetry.sdk.language contains a control character';
  return undefined;
}

/** The self-metrics label of a point converter's reason (otlp-points.ts). */
function rejectCodeOf(reason: string): RejectCode {
  if (reason.startsWith(OUT_OF_BOUNDS)) return 'out_of_bounds';
  if (/^time .* is older than /.test(reason)) return 'too_old';
  if (/^time .* in the future$/.test(reason)) return 'too_new';
  return 'invalid';
}

function temporalityOf(v: unknown): Temporality | undefined {
  if (v === 1 || v === '1' || v === 'AGGREGATION_TEMPORALITY_DELTA') return 'delta';
  if (v === 2 || v === '2' || v === 'AGGREGATION_TEMPORALITY_CUMULATIVE') return 'cumulative';
  return undefined;
}

function dataPointsOf(d: unknown): Record<string, unknown>[] {
  const pts = (d as { dataPoints?: unknown } | null | undefined)?.dataPoints;
  return Array.isArray(pts) ? pts.filter((p): p is Record<string, unknown> => p !== null && typeof p === 'object') : [];
}

type Convert = (p: Record<string, unknown>) => NumberPoint | DistributionPoint | 'skip' | string;

function metricOf(m: unknown, w: TimeWindow, out: DecodedExport): OtlpMetric | undefined {
  if (m === null || typeof m !== 'object') return undefined;
  const o = m as Record<string, unknown>;
  const name = typeof o.name === 'string' ? o.name : '';
  const data = o.gauge ?? o.sum ?? o.histogram ?? o.exponentialHistogram ?? o.summary;
  if (data === undefined || data === null) return undefined; // a metric with no data has no points
  const points = dataPointsOf(data);
  const badName = name === '' || name.length > MAX_INSTRUMENT_CHARS || CONTROL_CHARACTER.test(name);
  const kind = badName ? `metric name must be 1 to ${MAX_INSTRUMENT_CHARS} printable characters` : kindOf(o, name, w);
  if (typeof kind === 'string') {
    for (let i = 0; i < points.length; i++) out.rejected.push({ metric: name, reason: kind, code: badName ? 'bad_name' : 'invalid' });
    return undefined;
  }
  const { metric, convert } = kind;
  for (const p of points) {
    const r = convert(p);
    if (r === 'skip') out.skippedPoints++;
    else if (typeof r === 'string') out.rejected.push({ metric: name, reason: r, code: rejectCodeOf(r) });
    else {
      (metric.points as Array<NumberPoint | DistributionPoint>).push(r);
      out.acceptedPoints++;
    }
  }
  if (metric.shape === 'counter') rejectNegativeDeltas(metric, out);
  return metric;
}

/** The metric's shape and temporality, and the converter of its points; a reason when unusable. */
function kindOf(o: Record<string, unknown>, name: string, w: TimeWindow): { metric: OtlpMetric; convert: Convert } | string {
  const unit = typeof o.unit === 'string' ? o.unit : '';
  const factor = unitFactor(unit);
  if (o.gauge !== undefined && o.gauge !== null) {
    return { metric: { name, unit, shape: 'gauge', temporality: 'delta', points: [] }, convert: (p) => numberPoint(p, factor, w, true) };
  }
  if (o.sum !== undefined && o.sum !== null) {
    const s = o.sum as { aggregationTemporality?: unknown; isMonotonic?: unknown };
    const temporality = temporalityOf(s.aggregationTemporality);
    if (!temporality) return 'sum has no aggregation_temporality';
    const monotonic = s.isMonotonic === true || s.isMonotonic === 'true';
    // A cumulative non-monotonic sum (an up-down counter) is a level: it is stored like a gauge.
    const shape = monotonic ? 'counter' : temporality === 'cumulative' ? 'gauge' : 'change';
    return { metric: { name, unit, shape, temporality, points: [] }, convert: (p) => numberPoint(p, factor, w, shape === 'gauge') };
  }
  if (o.summary !== undefined && o.summary !== null) {
    return { metric: { name, unit, shape: 'distribution', temporality: 'cumulative', points: [] }, convert: (p) => summaryPoint(p, factor, w) };
  }
  const exponential = o.histogram === undefined || o.histogram === null;
  const h = (exponential ? o.exponentialHistogram : o.histogram) as { aggregationTemporality?: unknown };
  const temporality = temporalityOf(h.aggregationTemporality);
  if (!temporality) return 'histogram has no aggregation_temporality';
  const convert: Convert = (p) => (exponential ? exponentialPoint(p, factor, w) : histogramPoint(p, factor, w));
  return { metric: { name, unit, shape: 'distribution', temporality, points: [] }, convert };
}

/** A monotonic sum never decreases: a negative delta point is refused. */
function rejectNegativeDeltas(metric: OtlpMetric, out: DecodedExport): void {
  if (metric.temporality !== 'delta') return;
  const pts = metric.points as NumberPoint[];
  const kept = pts.filter((p) => p.value >= 0);
  for (let i = kept.length; i < pts.length; i++) out.rejected.push({ metric: metric.name, reason: 'a monotonic delta sum point is negative', code: 'invalid' });
  out.acceptedPoints -= pts.length - kept.length;
  metric.points = kept;
}

/** First rejection reasons, summarised for partialSuccess.errorMessage (bounded). */
export function rejectionMessage(rejected: readonly Rejection[]): string {
  if (rejected.length === 0) return '';
  const byReason = new Map<string, { metric: string; n: number }>();
  for (const r of rejected) {
    const k = `${r.metric}\u0000${r.reason}`;
    const e = byReason.get(k);
    if (e) e.n++;
    else if (byReason.size < 5) byReason.set(k, { metric: r.metric, n: 1 });
  }
  const parts = [...byReason.entries()].map(([k, e]) => `${e.metric || '(unnamed)'}: ${k.split('\u0000')[1]} (${e.n})`);
  return `cannot accept ${rejected.length} data point(s): ${parts.join('; ')}`.slice(0, 1000);
}
