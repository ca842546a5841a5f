import { RetryableError } from '../lib/errors.js';

/**
 * Bytes held by requests in progress (bodies as sent plus decoded), bounded: a request that would
 * pass the bound is refused with 503 before its body is read, so memory stays bounded however many
 * agents post at once. Owners release exactly what they took.
 */
export class InflightBudget {
  #used = 0;

  constructor(
    readonly limit: number,
    private readonly onChange: (used: number) => void = () => {},
  ) {}

  get used(): number {
    return this.#used;
  }

  /** Takes `bytes` or throws RetryableError; a single request may always take the whole budget. */
  take(bytes: number): void {
    if (bytes < 0 || !Number.isFinite(bytes)) throw new Error(`BUG: cannot take ${bytes} bytes`);
    if (this.#used > 0 && this.#used + bytes > this.limit) {
      throw new RetryableError(`cannot accept request: ${this.#used} bytes are already in progress (limit ${this.limit})`, 2);
    }
    this.#used += bytes;
    this.onChange(this.#used);
  }

  release(bytes: number): void {
    this.#used -= bytes;
    if (this.#used < 0) throw new Error('BUG: in-flight budget released more than taken');
    this.onChange(this.#used);
  }
}
