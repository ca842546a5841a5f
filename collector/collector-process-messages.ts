import os from 'node:os';
import type { Config } from '../lib/config/config.js';
import type { ServerAddress } from '../lib/db/connect.js';
import type { PartialSuccess } from './otlp/otlp-codec.js';
import type { OwnedPart, WireError } from './otlp/otlp-owner.js';

/** What the supervisor (collector-processes.ts) hands one collector process (bin/collector-process.ts) as argv[2]. */
export interface CollectorProcessSpec {
  index: number;
  count: number;
  /** Embedded default: the shard servers (openStorage's shardAddresses); else APM_SHARDS / APM_DIRECTORY. */
  shardAddresses?: ServerAddress[];
  /** Print the demo account's agent settings (process 0 of the embedded default). */
  demoAccount: boolean;
  /** The bench's simulated clock, fixed for the phase (Unix seconds); unset: the real clock. */
  fixedNow?: number;
}

/** A collector process's messages to the supervisor. */
export type FromCollector =
  | { t: 'ready'; addresses: string[]; port: number; otlpPort: number; metricsPort: number }
  | { t: 'failed'; message: string }
  /** Store `part` at process `owner` (OTLP ownership); answered with an 'answer' of the same id. */
  | { t: 'forward'; id: number; owner: number; part: OwnedPart }
  /** The answer to a 'store' from process `to`. */
  | { t: 'stored'; id: number; to: number; partial: PartialSuccess | undefined; error: WireError | undefined };

/** The supervisor's messages to a collector process. */
export type ToCollector =
  | { t: 'store'; id: number; from: number; part: OwnedPart }
  | { t: 'answer'; id: number; partial: PartialSuccess | undefined; error: WireError | undefined };

/**
 * APM_COLLECTOR_PROCESSES, or its default: the number of cores, less one when the embedded MariaDB
 * runs on the same cores (it needs one), at least 1.
 */
export function collectorProcessCount(config: Config, embeddedMariadb: boolean, cores = os.availableParallelism()): number {
  if (config.has('APM_COLLECTOR_PROCESSES')) return config.num('APM_COLLECTOR_PROCESSES');
  return Math.max(1, embeddedMariadb ? cores - 1 : cores);
}
