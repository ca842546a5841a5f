/**
 * The receiver's own view of one OTLP metrics export, after decoding (JSON or protobuf) and
 * validation: plain numbers in seconds-based units, times as bigint nanoseconds, attributes as
 * canonical strings. Everything downstream (temporality, mapping, storage) works on this only.
 */

/** Attributes as (key, canonical value) pairs sorted by key; see otlp-attributes.ts. */
export type Attributes = ReadonlyArray<readonly [string, string]>;

/**
 * What a metric's points mean once temporality is known:
 * - gauge: a level sampled at `time` (gauges, and cumulative non-monotonic sums such as up-down counters);
 * - counter: an increase (monotonic sums);
 * - change: a signed change over the interval (delta non-monotonic sums);
 * - distribution: count, sum, min, max and buckets of observations (histograms, exponential
 *   histograms, summaries).
 */
export type Shape = 'gauge' | 'counter' | 'change' | 'distribution';
export type Temporality = 'delta' | 'cumulative';

export interface PointBase {
  attributes: Attributes;
  /** 0n when the sender did not set it. */
  startNs: bigint;
  timeNs: bigint;
}

export interface NumberPoint extends PointBase {
  value: number;
}

/** One bucket of a distribution: observations in (lo, hi] (explicit) or [lo, hi) (exponential). */
export interface Bucket {
  lo: number;
  hi: number;
  count: number;
}

export interface DistributionPoint extends PointBase {
  count: number;
  sum: number;
  /** Undefined when the sender did not send it. */
  min: number | undefined;
  max: number | undefined;
  /** Every bucket the sender sent (empty ones included), in order; [] when it sent none. */
  buckets: Bucket[];
}

export interface NumberMetric {
  name: string;
  unit: string;
  shape: 'gauge' | 'counter' | 'change';
  temporality: Temporality;
  points: NumberPoint[];
}

export interface DistributionMetric {
  name: string;
  unit: string;
  shape: 'distribution';
  temporality: Temporality;
  points: DistributionPoint[];
}

export type OtlpMetric = NumberMetric | DistributionMetric;

/** Who sent a resource's metrics: service.name → application, instance → agent. */
export interface ResourceIdentity {
  serviceName: string;
  /** service.instance.id, else host.name; undefined when neither is set (application rows only). */
  instance: string | undefined;
  /** process.pid, 0 when absent. */
  pid: number;
  /** 'otlp/<telemetry.sdk.language>' or 'otlp'. */
  language: string;
}

export interface OtlpResource {
  identity: ResourceIdentity;
  metrics: OtlpMetric[];
}

/** A point the receiver refused, with the reason the answer's partialSuccess reports. */
export interface Rejection {
  metric: string;
  reason: string;
}

export interface DecodedExport {
  resources: OtlpResource[];
  /** Valid points in `resources`. */
  acceptedPoints: number;
  rejected: Rejection[];
  /** Points flagged "no recorded value" (staleness markers): neither written nor rejected. */
  skippedPoints: number;
}
