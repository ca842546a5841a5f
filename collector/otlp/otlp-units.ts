/**
 * Timeslices keep times in seconds (as New Relic agents send them), so OTLP values whose unit is a
 * UCUM time unit are converted to seconds; every other unit ("By", "{request}", "1", "") is stored as
 * sent. The factor multiplies values, sums, minima, maxima and bucket bounds.
 */
const SECONDS_PER_UNIT: Readonly<Record<string, number>> = {
  ns: 1e-9,
  us: 1e-6,
  'μs': 1e-6,
  ms: 1e-3,
  s: 1,
  min: 60,
  h: 3600,
  d: 86400,
};

/** Factor that turns a value in `unit` into the stored value (seconds for time units, else 1). */
export function unitFactor(unit: string): number {
  return SECONDS_PER_UNIT[unit.trim()] ?? 1;
}

/** Applies a unit factor; keeps exact integers exact when the factor is 1. */
export function scaled(value: number, factor: number): number {
  return factor === 1 ? value : value * factor;
}
