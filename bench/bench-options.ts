import { parseArgs } from 'node:util';
import { parseByteSize } from '../lib/mariadb/mariadb-settings.js';

/**
 * What one benchmark run does. Every phase is bounded in count (the shape) and in time (the phase
 * timeout and the overall deadline); everything listens on and talks to 127.0.0.1 only.
 */
export const PHASES = ['ceiling', 'end-to-end', 'peer', 'dashboard', 'rollup', 'beacons', 'alerts', 'tenants'] as const;
/** Phases run when --phases is not given: `tenants` (hundreds of thousands of tables, GBs of disk) only when asked. */
export const DEFAULT_PHASES: BenchPhase[] = PHASES.filter((p) => p !== 'tenants');
export type BenchPhase = (typeof PHASES)[number];

export interface BenchOptions {
  mode: 'full' | 'quick';
  /** Phases of each pool run, always in the order of PHASES. */
  phases: BenchPhase[];
  /** Load shape: accounts × agents per account × metrics per agent, for `minutes` simulated minutes. */
  accounts: number;
  agents: number;
  metrics: number;
  /** Simulated minutes of the hour (60 = the full hour the issue asks for). */
  minutes: number;
  /** One pool run per entry: a fresh MariaDB server with this InnoDB buffer pool (bytes). */
  bufferPools: number[];
  /** innodb_log_file_size of the bench servers: the same at every pool size, so only the pool differs. */
  redoLogBytes: number;
  /** innodb_flush_log_at_trx_commit of the bench servers (1 is what `npm start` ships). */
  flushLogAtTrxCommit: 1 | 2;
  /** Harvest posts in flight at once (keep-alive HTTPS connections of the generator). */
  concurrency: number;
  /** Connections of the ceiling's straight INSERTs (the writer uses APM_WRITER_CONNECTIONS, default 4). */
  ceilingConnections: number;
  /** Rows per INSERT statement of the ceiling (the writer's APM_WRITER_BATCH_ROWS default). */
  ceilingBatchRows: number;
  /** Seconds of beacon load against the beacon, and again against the bare endpoint. */
  beaconSeconds: number;
  beaconConcurrency: number;
  /** Dashboard requests per (endpoint, window), one at a time. */
  dashboardRequests: number;
  /** Accounts whose history (hourly and daily rows) is seeded and read by the dashboard probe. */
  probeAccounts: number;
  /** Alert policies evaluated by the alerts phase (five per application). */
  alertPolicies: number;
  /** A phase of one simulated hour stops after this many seconds (reported as incomplete). */
  phaseTimeoutSeconds: number;
  /** The whole run stops starting new phases after this many seconds. */
  deadlineSeconds: number;
  /** --collector-processes N: the end-to-end collector as N forked processes sharing its port (unset: inside the bench process). */
  collectorProcesses?: number;
  /** 'child': the load generator runs in its own process (needs the compiled dist/bench/load-child.js). */
  generator: 'child' | 'inline';
  /** Where reports go (bench/results by default, git-ignored). */
  outDir: string;
  /** Where the bench's MariaDB data directories go (removed after each pool run unless keepData). */
  dataDir: string;
  keepData: boolean;
  /** The tenants phase: accounts on its one shard, days of minute tables each (docs/benchmark.md). */
  tenantAccounts: number;
  tenantDays: number;
  /** The tenants phase registers its tables without creating them (registry-bound jobs only). */
  tenantRegistryOnly: boolean;
  /** --replicas: only the read-replica comparison (bench/replica-bench.ts) instead of the pool runs. */
  replicas?: boolean;
}

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

/**
 * Default full shape, chosen to finish well under an hour on a 2-core machine even when it is shared
 * (see docs/benchmark.md): 25 accounts × 50 agents × 100 metrics = 125,000 agent rows (+ 2,500
 * application rows) per minute, a full hour per phase (7.65 M rows, about 1.1 GB of InnoDB pages), at two
 * pool sizes: 512 MiB (the hour does not fit: the seed's case) and 4 GiB (it fits three times over).
 * The 200 × 50 × 100 shape (1 M rows a minute) is `--accounts 200 --pools 4G,16G` on a larger machine.
 */
export const FULL_DEFAULTS: BenchOptions = {
  mode: 'full',
  phases: [...DEFAULT_PHASES],
  accounts: 25,
  agents: 50,
  metrics: 100,
  minutes: 60,
  bufferPools: [512 * MIB, 4 * GIB],
  // As the embedded default (lib/mariadb/embedded-shards.ts).
  redoLogBytes: GIB,
  flushLogAtTrxCommit: 1,
  concurrency: 32,
  ceilingConnections: 4,
  ceilingBatchRows: 2000,
  beaconSeconds: 20,
  beaconConcurrency: 32,
  dashboardRequests: 30,
  probeAccounts: 3,
  alertPolicies: 10_000,
  phaseTimeoutSeconds: 1200,
  deadlineSeconds: 3000,
  generator: 'child',
  outDir: 'bench/results',
  dataDir: 'data/bench',
  keepData: false,
  tenantAccounts: 1500,
  tenantDays: 8,
  tenantRegistryOnly: false,
};

/** The quick mode run inside `npm test`: the same phases on a tiny shape, in seconds. */
export const QUICK_DEFAULTS: BenchOptions = {
  ...FULL_DEFAULTS,
  mode: 'quick',
  accounts: 2,
  agents: 3,
  metrics: 12,
  minutes: 3,
  bufferPools: [64 * MIB, 128 * MIB],
  redoLogBytes: 64 * MIB,
  flushLogAtTrxCommit: 2,
  concurrency: 4,
  beaconSeconds: 0.5,
  beaconConcurrency: 4,
  dashboardRequests: 3,
  probeAccounts: 1,
  tenantAccounts: 5,
  tenantDays: 1,
  alertPolicies: 100,
  phaseTimeoutSeconds: 60,
  deadlineSeconds: 300,
};

export const USAGE = `usage: npm run bench -- [flags]
  --quick                  the tiny shape of the test suite (seconds)
  --accounts N             accounts (default ${FULL_DEFAULTS.accounts}; the issue's shape is 200)
  --agents N               agents per account (default ${FULL_DEFAULTS.agents})
  --metrics N              metrics per agent harvest (default ${FULL_DEFAULTS.metrics})
  --minutes N              simulated minutes per hour phase, 1..60 (default ${FULL_DEFAULTS.minutes})
  --phases LIST            some of ${PHASES.join(',')} (default all but tenants; peer = VictoriaMetrics
                           fed the end-to-end hour's agent rows, and implies end-to-end)
  --tenant-accounts N      tenants phase: accounts on its one shard (default ${FULL_DEFAULTS.tenantAccounts})
  --tenant-days N          tenants phase: days of minute tables per account (default ${FULL_DEFAULTS.tenantDays})
  --tenant-registry-only   tenants phase: register the tables without creating them (times the registry-bound jobs only)
  --pools 512M,4G          InnoDB buffer pool of each pool run (default 512M,4G)
  --flush-log 1|2          innodb_flush_log_at_trx_commit (default 1, as npm start)
  --concurrency N          harvest posts in flight (default ${FULL_DEFAULTS.concurrency})
  --ceiling-connections N  connections of the straight INSERTs (default ${FULL_DEFAULTS.ceilingConnections})
  --beacon-seconds S       seconds of beacons per target (default ${FULL_DEFAULTS.beaconSeconds})
  --dashboard-requests N   requests per dashboard endpoint and window (default ${FULL_DEFAULTS.dashboardRequests})
  --alert-policies N       policies the alerts phase evaluates (default ${FULL_DEFAULTS.alertPolicies})
  --phase-timeout S        stop an hour phase after S seconds (default ${FULL_DEFAULTS.phaseTimeoutSeconds})
  --deadline S             start no new phase after S seconds (default ${FULL_DEFAULTS.deadlineSeconds})
  --collector-processes N  end to end: the collector as N supervised processes sharing its port, each
                           measured apart (CPU, peak RSS); unset: inside the bench process
  --generator child|inline load generator in its own process (default child) or in the bench process
  --out DIR                report directory (default bench/results)
  --data DIR               MariaDB data directories (default data/bench; one bench at a time)
  --keep-data              keep the data directories after the run
  --replicas               only the read-replica comparison: dashboard latency and primary CPU with and
                           without a replica while ingest runs at full rate (first --pools size)`;

export class BenchUsageError extends Error {
  override readonly name = 'BenchUsageError';
}

const fail = (why: string) => new BenchUsageError(`cannot parse bench flags: ${why}`);

function whole(flag: string, raw: string | undefined, min: number, max: number, fallback: number): number {
  if (raw === undefined) return fallback;
  if (!/^[0-9]+$/.test(raw)) throw fail(`--${flag} must be a whole number, got ${JSON.stringify(raw)}`);
  const n = Number(raw);
  if (n < min || n > max) throw fail(`--${flag} must be between ${min} and ${max}, got ${n}`);
  return n;
}

function seconds(flag: string, raw: string | undefined, min: number, max: number, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^[0-9]+(\.[0-9]+)?$/.test(raw) || !Number.isFinite(n)) throw fail(`--${flag} must be a number of seconds, got ${JSON.stringify(raw)}`);
  if (n < min || n > max) throw fail(`--${flag} must be between ${min} and ${max} seconds, got ${n}`);
  return n;
}

function pools(raw: string | undefined, fallback: number[]): number[] {
  if (raw === undefined) return fallback;
  const sizes = raw.split(',').map((s) => s.trim());
  if (sizes.length < 1 || sizes.length > 4) throw fail('--pools takes 1 to 4 sizes, e.g. 2G,12G');
  return sizes.map((s) => {
    const bytes = parseByteSize(s);
    if (bytes === undefined) throw fail(`--pools: ${JSON.stringify(s)} is not a size like 2G or 512M`);
    if (bytes < 32 * MIB) throw fail(`--pools: ${s} is below the 32M MariaDB accepts for the bench`);
    return bytes;
  });
}

function phasesOf(raw: string | undefined, fallback: BenchPhase[]): BenchPhase[] {
  if (raw === undefined) return fallback;
  const asked = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const p of asked) if (!(PHASES as readonly string[]).includes(p)) throw fail(`--phases: ${JSON.stringify(p)} is not one of ${PHASES.join(', ')}`);
  if (asked.length === 0) throw fail('--phases needs at least one phase');
  // The peer phase reports end to end ÷ peer: it needs the end-to-end hour of the same run.
  if (asked.includes('peer')) asked.push('end-to-end');
  return PHASES.filter((p) => asked.includes(p));
}

/** Parses the CLI flags (after `npm run bench --`); throws BenchUsageError naming the bad flag. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean', short: 'h' },
        quick: { type: 'boolean' },
        accounts: { type: 'string' },
        agents: { type: 'string' },
        metrics: { type: 'string' },
        minutes: { type: 'string' },
        pools: { type: 'string' },
        phases: { type: 'string' },
        'flush-log': { type: 'string' },
        concurrency: { type: 'string' },
        'ceiling-connections': { type: 'string' },
        'beacon-seconds': { type: 'string' },
        'dashboard-requests': { type: 'string' },
        'alert-policies': { type: 'string' },
        'phase-timeout': { type: 'string' },
        deadline: { type: 'string' },
        generator: { type: 'string' },
        'collector-processes': { type: 'string' },
        out: { type: 'string' },
        data: { type: 'string' },
        'keep-data': { type: 'boolean' },
        'tenant-accounts': { type: 'string' },
        'tenant-days': { type: 'string' },
        'tenant-registry-only': { type: 'boolean' },
        replicas: { type: 'boolean' },
      },
    });
  } catch (err) {
    throw fail((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  const base = v.quick ? QUICK_DEFAULTS : FULL_DEFAULTS;
  const flushLog = v['flush-log'];
  if (flushLog !== undefined && flushLog !== '1' && flushLog !== '2') throw fail(`--flush-log must be 1 or 2, got ${JSON.stringify(flushLog)}`);
  const generator = v.generator;
  if (generator !== undefined && generator !== 'child' && generator !== 'inline') throw fail(`--generator must be child or inline, got ${JSON.stringify(generator)}`);
  const o: BenchOptions = {
    ...base,
    accounts: whole('accounts', v.accounts, 1, 10_000, base.accounts),
    agents: whole('agents', v.agents, 1, 1_000, base.agents),
    metrics: whole('metrics', v.metrics, 7, 5_000, base.metrics),
    minutes: whole('minutes', v.minutes, 1, 60, base.minutes),
    bufferPools: pools(v.pools, base.bufferPools),
    phases: phasesOf(v.phases, base.phases),
    flushLogAtTrxCommit: flushLog === undefined ? base.flushLogAtTrxCommit : (Number(flushLog) as 1 | 2),
    concurrency: whole('concurrency', v.concurrency, 1, 1_000, base.concurrency),
    ceilingConnections: whole('ceiling-connections', v['ceiling-connections'], 1, 64, base.ceilingConnections),
    beaconSeconds: seconds('beacon-seconds', v['beacon-seconds'], 0.1, 600, base.beaconSeconds),
    dashboardRequests: whole('dashboard-requests', v['dashboard-requests'], 1, 10_000, base.dashboardRequests),
    alertPolicies: whole('alert-policies', v['alert-policies'], 5, 1_000_000, base.alertPolicies),
    phaseTimeoutSeconds: seconds('phase-timeout', v['phase-timeout'], 1, 86_400, base.phaseTimeoutSeconds),
    deadlineSeconds: seconds('deadline', v.deadline, 1, 86_400, base.deadlineSeconds),
    generator: generator ?? base.generator,
    outDir: v.out ?? base.outDir,
    dataDir: v.data ?? base.dataDir,
    keepData: v['keep-data'] ?? base.keepData,
    tenantAccounts: whole('tenant-accounts', v['tenant-accounts'], 1, 20_000, base.tenantAccounts),
    tenantDays: whole('tenant-days', v['tenant-days'], 1, 60, base.tenantDays),
    tenantRegistryOnly: v['tenant-registry-only'] ?? base.tenantRegistryOnly,
    ...(v.replicas ? { replicas: true } : {}),
    ...(v['collector-processes'] !== undefined ? { collectorProcesses: whole('collector-processes', v['collector-processes'], 1, 64, 1) } : {}),
  };
  o.probeAccounts = Math.min(o.probeAccounts, o.accounts);
  return o;
}

/** Rows one simulated minute stores: a row per (agent, metric) plus one per metric for the application. */
export function rowsPerMinute(o: Pick<BenchOptions, 'accounts' | 'agents' | 'metrics'>): number {
  return o.accounts * (o.agents * o.metrics + o.metrics);
}
