import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LoadGenerator, type BeaconJob, type BeaconResult, type ConnectJob, type ConnectResult, type HarvestJob, type HarvestResult } from './load-generator.js';

/** The bench's handle on the load generator, wherever it runs. */
export interface LoadDriver {
  /** pid of the generator's process (the bench's own pid when inline). */
  readonly pid: number;
  readonly inline: boolean;
  connect(job: ConnectJob): Promise<ConnectResult>;
  harvestHour(job: HarvestJob, onMinute: (minute: number, at: number) => void): Promise<HarvestResult>;
  beacons(job: BeaconJob): Promise<BeaconResult>;
  close(): Promise<void>;
}

/** Messages between the bench and a generator process (load-child.ts). */
export type ToChild = { id: number; kind: 'connect'; job: ConnectJob } | { id: number; kind: 'harvestHour'; job: HarvestJob } | { id: number; kind: 'beacons'; job: BeaconJob };
export type FromChild =
  | { id: number; kind: 'minute'; minute: number; at: number }
  | { id: number; kind: 'done'; result: unknown }
  | { id: number; kind: 'failed'; message: string };

/** The generator in the bench's own process (the quick mode inside the test suite). */
export function inlineLoad(): LoadDriver {
  const g = new LoadGenerator();
  return {
    pid: process.pid,
    inline: true,
    connect: (job) => g.connect(job),
    harvestHour: (job, onMinute) => g.harvestHour(job, onMinute),
    beacons: (job) => g.beacons(job),
    close: async () => g.close(),
  };
}

/**
 * The generator in its own Node process (compiled dist/bench/load-child.js), so the collector's CPU
 * and memory are measured without it. One job at a time; the child exits when the bench closes it
 * or dies.
 */
export async function childLoad(): Promise<LoadDriver> {
  // Compiled: beside this file. From source (the test suite): the build the suite's setup made.
  const candidates = [new URL('./load-child.js', import.meta.url), new URL('../dist/bench/load-child.js', import.meta.url)].map((u) => fileURLToPath(u));
  const file = candidates.find((f) => fs.existsSync(f));
  if (!file) throw new Error(`cannot start the load generator process: ${candidates.join(' and ')} are missing (run npm run build, or use --generator inline)`);
  const child: ChildProcess = fork(file, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', reject);
  });
  let next = 1;
  const waiting = new Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void; onMinute?: (m: number, at: number) => void }>();
  child.on('message', (msg: FromChild) => {
    const w = waiting.get(msg.id);
    if (!w) return;
    if (msg.kind === 'minute') w.onMinute?.(msg.minute, msg.at);
    else {
      waiting.delete(msg.id);
      if (msg.kind === 'done') w.resolve(msg.result);
      else w.reject(new Error(msg.message));
    }
  });
  child.on('exit', (code, signal) => {
    for (const w of waiting.values()) w.reject(new Error(`cannot finish load job: the generator process exited with ${code ?? signal}`));
    waiting.clear();
  });
  const call = <R>(msg: Omit<ToChild, 'id'>, onMinute?: (m: number, at: number) => void): Promise<R> =>
    new Promise<R>((resolve, reject) => {
      const id = next++;
      waiting.set(id, { resolve: resolve as (r: unknown) => void, reject, ...(onMinute ? { onMinute } : {}) });
      child.send({ ...msg, id } as ToChild);
    });
  return {
    pid: child.pid!,
    inline: false,
    connect: (job) => call<ConnectResult>({ kind: 'connect', job }),
    harvestHour: (job, onMinute) => call<HarvestResult>({ kind: 'harvestHour', job }, onMinute),
    beacons: (job) => call<BeaconResult>({ kind: 'beacons', job }),
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
