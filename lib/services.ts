import type { Config } from './config/config.js';
import type { Directory } from './directory/directory.js';
import type { ShardRegistry } from './shard/shard-registry.js';
import type { ShardWriter } from './shard/shard-writer.js';
import { type Log } from './log/log.js';

/** What every service gets from whoever starts it (bin/start.ts, a test, the benchmark). */
export interface ServiceDeps {
  config: Config;
  directory: Directory;
  shards: ShardRegistry;
  writer: ShardWriter;
  /** The clock, in Unix seconds (fractional); injectable for tests. */
  now: () => number;
  /** Where the embedded default keeps state (certificates, secrets). */
  dataDir: string;
  log: Log;
}

/** A running service. stop() is idempotent and flushes what is in memory. */
export interface ServiceHandle {
  name: string;
  /** Human-readable addresses to print at start-up, e.g. "https://127.0.0.1:8443 (agents)". */
  addresses: string[];
  stop(): Promise<void>;
}
