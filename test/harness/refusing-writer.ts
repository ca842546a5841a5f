import type { ShardWriter, WriteRequest } from '../../lib/shard/shard-writer.js';

/**
 * A sink in front of the real shard writer that refuses the next N writes with a chosen error (a full
 * queue, a busy shard), then passes writes through again: for tests of 429/503 answers and retries.
 */
export interface RefusingWriter {
  writer: ShardWriter;
  refuse(count: number, error: (req: WriteRequest) => Error): void;
  /** Refusals not used yet. */
  readonly remaining: number;
}

export function refusingWriter(real: ShardWriter): RefusingWriter {
  let remaining = 0;
  let makeError: (req: WriteRequest) => Error = () => new Error('refused');
  const writer = new Proxy(real, {
    get(target, prop) {
      if (prop === 'write') {
        return (req: WriteRequest) => {
          if (remaining > 0) {
            remaining--;
            return Promise.reject(makeError(req));
          }
          return target.write(req);
        };
      }
      const v = Reflect.get(target, prop) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return {
    writer,
    refuse(count, error) {
      remaining = count;
      makeError = error;
    },
    get remaining() {
      return remaining;
    },
  };
}
