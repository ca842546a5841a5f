import type { QueryData } from './promql-engine.js';

/**
 * The Prometheus HTTP API's encoding of values: sample values as strings in Go's shortest 'f' form
 * (`"0.5"`, `"1500000000000000000000"`, `"NaN"`, `"+Inf"`), times as Unix seconds numbers
 * (`1700000000.5`).
 */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Object.is(v, -0)) return '-0';
  const s = String(v);
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  if (!m) return s;
  const [, sign, lead, frac = '', expRaw] = m;
  const exp = Number(expRaw);
  const digits = lead! + frac;
  if (exp >= 0) return sign + (digits.length <= exp + 1 ? digits + '0'.repeat(exp + 1 - digits.length) : `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`);
  return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
}

const seconds = (ms: number) => ms / 1000;

/** An answer with Prometheus's `warnings` (shown by Grafana under the panel) beside its data. */
export class PromAnswer {
  constructor(
    readonly data: unknown,
    readonly warnings: string[],
  ) {}
}

export function encodeData(d: QueryData): unknown {
  switch (d.resultType) {
    case 'scalar':
      return { resultType: 'scalar', result: [seconds(d.result[0]), formatValue(d.result[1])] };
    case 'string':
      return { resultType: 'string', result: [seconds(d.result[0]), d.result[1]] };
    case 'vector':
      return { resultType: 'vector', result: d.result.map((s) => ({ metric: s.metric, value: [seconds(s.value[0]), formatValue(s.value[1])] })) };
    case 'matrix':
      return { resultType: 'matrix', result: d.result.map((s) => ({ metric: s.metric, values: s.values.map(([t, v]) => [seconds(t), formatValue(v)]) })) };
  }
}
