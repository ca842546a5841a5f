/**
 * A bounded latency histogram: log buckets 1 % wide from 1 µs to ~20 min (2,100 counters whatever
 * the number of samples), so percentiles are within 1 % of the true value. Exact count, sum, min and
 * max. Serializable (toJSON / fromJSON) to travel from the generator process.
 */
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
const BUCKETS = 2100;

export interface HistogramData {
  counts: number[];
  count: number;
  sumMs: number;
  minMs: number;
  maxMs: number;
}

export interface LatencySummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

export class LatencyHistogram {
  readonly #counts = new Array<number>(BUCKETS).fill(0);
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = 0;

  /** Records one latency in milliseconds (negative or non-finite values are a bug). */
  record(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new Error(`BUG: latency must be a finite number >= 0, got ${ms}`);
    this.#counts[bucketOf(ms)]!++;
    this.#count++;
    this.#sum += ms;
    if (ms < this.#min) this.#min = ms;
    if (ms > this.#max) this.#max = ms;
  }

  get count(): number {
    return this.#count;
  }

  /**
   * The q-quantile (0 < q ≤ 1) in ms: the upper edge of the bucket holding the ⌈q·count⌉-th sample,
   * clamped to the exact min and max; 0 when empty.
   */
  quantile(q: number): number {
    if (!(q > 0 && q <= 1)) throw new Error(`BUG: quantile must be in (0, 1], got ${q}`);
    if (this.#count === 0) return 0;
    const rank = Math.ceil(q * this.#count);
    let seen = 0;
    for (let b = 0; b < BUCKETS; b++) {
      seen += this.#counts[b]!;
      if (seen >= rank) return Math.min(this.#max, Math.max(this.#min, upperEdge(b)));
    }
    return this.#max;
  }

  merge(other: LatencyHistogram): void {
    const d = other.toJSON();
    for (let b = 0; b < BUCKETS; b++) this.#counts[b]! += d.counts[b]!;
    this.#count += d.count;
    this.#sum += d.sumMs;
    if (d.count > 0) {
      this.#min = Math.min(this.#min, d.minMs);
      this.#max = Math.max(this.#max, d.maxMs);
    }
  }

  summary(): LatencySummary {
    return {
      count: this.#count,
      meanMs: this.#count > 0 ? this.#sum / this.#count : 0,
      p50Ms: this.quantile(0.5),
      p90Ms: this.quantile(0.9),
      p99Ms: this.quantile(0.99),
      maxMs: this.#max,
    };
  }

  toJSON(): HistogramData {
    return { counts: [...this.#counts], count: this.#count, sumMs: this.#sum, minMs: this.#count > 0 ? this.#min : 0, maxMs: this.#max };
  }

  static fromJSON(d: HistogramData): LatencyHistogram {
    if (!Array.isArray(d.counts) || d.counts.length !== BUCKETS) throw new Error(`BUG: histogram data must have ${BUCKETS} buckets`);
    const h = new LatencyHistogram();
    for (let b = 0; b < BUCKETS; b++) h.#counts[b] = d.counts[b]!;
    h.#count = d.count;
    h.#sum = d.sumMs;
    h.#min = d.count > 0 ? d.minMs : Infinity;
    h.#max = d.maxMs;
    return h;
  }
}

/** Bucket b holds (1.01^(b-1), 1.01^b] microseconds; bucket 0 holds everything up to 1 µs. */
function bucketOf(ms: number): number {
  const us = ms * 1000;
  if (us <= 1) return 0;
  return Math.min(BUCKETS - 1, Math.ceil(Math.log(us) / LOG_GROWTH - 1e-9));
}

function upperEdge(bucket: number): number {
  return GROWTH ** bucket / 1000;
}
