import type { ServiceDeps } from '../lib/services.js';
import type { ShardStore } from '../lib/shard/shard-store.js';
import type { Storage } from '../lib/storage.js';
import type { AccountIds, BenchAccount } from './bench-fleet.js';
import type { BenchMetric } from './bench-metrics.js';
import type { BenchOptions } from './bench-options.js';
import type { PoolRunReport } from './bench-report.js';
import type { LoadDriver } from './load-driver.js';
import type { ShardServer } from './shard-server.js';

/** Everything one pool run needs from the bench. */
export interface PoolRunContext {
  o: BenchOptions;
  bufferPoolBytes: number;
  /** Fresh directory for this run's MariaDB data, certificates and secrets. */
  dir: string;
  mariadbPort: number;
  /** Start of the simulated hour the agents report (the ceiling writes the hour before it). */
  hourStart: number;
  /** Date.now() after which no new phase starts. */
  runDeadline: number;
  load: LoadDriver;
  log: (line: string) => void;
  /** A free loopback port (the peer phase's VictoriaMetrics). */
  freePort?: () => Promise<number>;
}

/** What the phases of one pool run share. */
export interface PoolState {
  ctx: PoolRunContext;
  server: ShardServer;
  storage: Storage;
  store: ShardStore;
  /** The same shard for the bench's own long statements (seals, seeding, censuses, DROP TABLE): the job statement bound. */
  jobStore: ShardStore;
  accounts: BenchAccount[];
  ids: AccountIds[];
  metrics: BenchMetric[];
  /** The simulated clock every service reads (Unix seconds); phases move it. */
  clock: { now: number };
  deps: ServiceDeps;
  report: PoolRunReport;
}

/** One log line per finished minute (tiny shapes excepted), with the phase's rate so far. */
export function progress(st: PoolState, name: string, minute: number, startedAt: number): void {
  const per = st.accounts.length * (st.ctx.o.agents * st.ctx.o.metrics + st.ctx.o.metrics);
  const seconds = (Date.now() - startedAt) / 1000;
  st.ctx.log(`pool ${gib(st.ctx.bufferPoolBytes)}: ${name} minute ${minute + 1}/${st.ctx.o.minutes}, ${Math.round((per * (minute + 1)) / Math.max(seconds, 1e-3)).toLocaleString('en-US')} rows/s so far`);
}

export function gib(bytes: number): string {
  const g = bytes / 1024 ** 3;
  return g >= 1 ? `${Number.isInteger(g) ? g : g.toFixed(1)}G` : `${Math.round(bytes / 1024 ** 2)}M`;
}
