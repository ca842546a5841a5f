import v8 from 'node:v8';

/**
 * The V8 heap setting of a process that hosts the collector (issue #20: peak RSS ≤ 256 MiB per
 * collector process at the bench's default shape).
 *
 * Why: a collector allocates fast and almost everything it allocates dies within a request (bodies,
 * parsed JSON, rows, SQL text), but requests wait for their commit long enough to be promoted to the
 * old generation. On a machine with several GiB of memory V8 lets the old generation grow to 4× the
 * live heap before the next full collection: measured, 127–148 MiB of old space around a live heap of
 * 45–55 MiB, and a peak RSS of 271–280 MiB. A growing factor of 2 (100 %) keeps the peak RSS at
 * 191–195 MiB (180–183 MiB each with two processes) for 0.4–1.5 µs more collector CPU per row
 * (2–6 %); 1.4–1.6 gave 167–175 MiB for 2.5–3.5 µs more (figures in docs/benchmark.md). It is not a
 * hard limit (unlike --max-old-space-size, which crashes a process whose live heap passes it): a
 * larger live heap still grows, it is only collected sooner.
 */
export const COLLECTOR_HEAP_GROWING_PERCENT = 100;

/**
 * Young generation: each semi-space may grow to 32 MiB (V8's default is 16). Request data lives for
 * a request and its commit; with twice the room, fewer of it is still alive at a scavenge, so less
 * is copied and promoted (and later marked). Measured (docs/benchmark.md): collector CPU per row
 * 0.5–0.6 µs lower (4 %), peak RSS 30 MiB higher (231–233 MiB at the default shape); 64 MiB saved
 * more CPU but passed 256 MiB (288–290). V8 reads it only at start: forked collector processes get it
 * as a flag, and the npm scripts start Node with it (`npm start`, `npm run bench`).
 */
export const COLLECTOR_SEMI_SPACE_MIB = 32;

const FLAG = '--heap-growing-percent';
const SEMI_SPACE_FLAG = '--max-semi-space-size';

/** The flags a forked collector process starts with: each one left out when the operator passed their own. */
export function collectorHeapFlags(execArgv: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  if (!execArgv.some((a) => a.startsWith(FLAG))) out.push(`${FLAG}=${COLLECTOR_HEAP_GROWING_PERCENT}`);
  if (!execArgv.some((a) => a.startsWith(SEMI_SPACE_FLAG))) out.push(`${SEMI_SPACE_FLAG}=${COLLECTOR_SEMI_SPACE_MIB}`);
  return out;
}

/**
 * Applies the setting to this already running process (the start process or the bench when the
 * collector runs inside it). V8 reads the growing factor at every full collection, so it takes
 * effect from the next one. Returns a function that restores V8's default; a no-op when the operator
 * started Node with their own value.
 */
export function applyCollectorHeapFlags(execArgv: readonly string[] = process.execArgv): () => void {
  const flags = collectorHeapFlags(execArgv).filter((f) => f.startsWith(FLAG));
  if (flags.length === 0) return () => undefined;
  for (const f of flags) v8.setFlagsFromString(f);
  return () => v8.setFlagsFromString(`${FLAG}=0`);
}
