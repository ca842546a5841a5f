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

/**
 * Why points are not stored, as a bounded label of apm_collector_otlp_points_rejected_total{reason}
 * (documented in schema/README.md, "OTLP mapping", "Points not stored"):
 * invalid (malformed or unusable point), out_of_bounds (a value, after unit scaling and conversion,
 * is not finite or beyond the value bounds), too_old / too_new (outside the accepted time window),
 * past_retention (its minute is past the account's minute retention), out_of_order (a gauge sample
 * older than the series' newest), went_down (a cumulative value went down without a new start time),
 * bad_name (an instrument name or resource that cannot be a metric or application name).
 */
export type RejectCode = 'invalid' | 'out_of_bounds' | 'too_old' | 'too_new' | 'past_retention' | 'out_of_order' | 'went_down' | 'bad_name';
export const REJECT_CODES: readonly RejectCode[] = ['invalid', 'out_of_bounds', 'too_old', 'too_new', 'past_retention', 'out_of_order', 'went_down', 'bad_name'];

/** A point the receiver refused, with the reason the answer's partialSuccess reports. */
export interface Rejection {
  metric: string;
  reason: string;
  /** The self-metrics label; 'invalid' when not given. */
  code?: RejectCode;
}

export interface DecodedExport {
  resources: OtlpResource[];
  /** Valid points in `resources`. */
  acceptedPoints: number;
  rejected: Rejection[];
  /** Points flagged "no recorded value" (staleness markers): neither written nor rejected. */
  skippedPoints: number;
}
