import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../lib/config/config.js';
import type { ServerAddress } from '../lib/db/connect.js';
import type { Log } from '../lib/log/log.js';
import { freePort } from '../lib/net/free-port.js';
import type { ServiceHandle } from '../lib/services.js';
import { collectorHeapFlags } from './collector-heap.js';
import type { CollectorProcessSpec, FromCollector, ToCollector } from './collector-process-messages.js';

export interface CollectorProcessesOptions {
  count: number;
  config: Config;
  log: Log;
  shardAddresses?: ServerAddress[];
  demoAccount?: boolean;
  fixedNow?: number;
  /** Variables of process i on top of the shared ones (tests: a port of its own, to address one process). */
  envFor?: (index: number) => Record<string, string>;
  /** Restart backoff: first delay, doubled per quick crash up to max (ms). */
  backoff?: { firstMs: number; maxMs: number };
}

/** The ports one collector process listens on (the first two shared by all, unless envFor says otherwise). */
export interface CollectorProcessPorts {
  port: number;
  otlpPort: number;
  metricsPort: number;
}

export interface CollectorProcesses extends ServiceHandle {
  ports(): CollectorProcessPorts[];
  /** pids by index; undefined while a process is restarting. */
  pids(): Array<number | undefined>;
  /** Restarts so far (crashed processes started again). */
  restarts(): number;
}

const READY_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 30_000;
/** A process that ran this long before crashing restarts after the first delay again. */
const STABLE_MS = 60_000;

/** The compiled entry of one collector process (dist/bin/collector-process.js), from source or from dist. */
export function collectorProcessScript(): string {
  const here = fileURLToPath(import.meta.url);
  const root = path.resolve(path.dirname(here), '..');
  return here.endsWith('.ts') ? path.join(root, 'dist', 'bin', 'collector-process.js') : path.join(root, 'bin', 'collector-process.js');
}

interface Slot {
  index: number;
  env: Record<string, string>;
  child: ChildProcess | undefined;
  ports: CollectorProcessPorts | undefined;
  startedAt: number;
  crashes: number;
  /** Store requests relayed to this process, not answered yet: [from, id]. */
  relayed: Map<string, [number, number]>;
}

/**
 * Forks and supervises N collector processes (bin/collector-process.ts) that share the collector's
 * ports: uWebSockets.js listens with SO_REUSEPORT on Linux (uSockets' LIBUS_LISTEN_DEFAULT), so the
 * kernel spreads connections over them (a port configured 0 is replaced by a free one first). Each has its
 * own writer connections and its own /metrics (APM_COLLECTOR_METRICS_PORT + index, or a free port
 * when 0). Process 0 starts first (it creates the TLS files and the run secret), then the others.
 * A crashed process is restarted with backoff; stop() ends them all (SIGTERM, then SIGKILL
 * after 30 s). OTLP parts are relayed between processes here (otlp-owner.ts).
 */
export async function startCollectorProcesses(o: CollectorProcessesOptions): Promise<CollectorProcesses> {
  const log = o.log.child({ service: 'collector-processes' });
  const backoff = o.backoff ?? { firstMs: 1000, maxMs: 30_000 };
  const script = collectorProcessScript();
  // uSockets sets SO_REUSEPORT only when listening on a given port (not on port 0): a free port is picked here first.
  const host = o.config.str('APM_BIND_HOST');
  const base = o.config.toEnv();
  for (const name of ['APM_COLLECTOR_PORT', 'APM_OTLP_HTTP_PORT']) if (o.config.num(name) === 0) base[name] = String(await freePort(host));
  const baseMetrics = o.config.num('APM_COLLECTOR_METRICS_PORT');
  const slots: Slot[] = [];
  let stopping = false;
  let restarts = 0;
  // When the host process stops on a signal (npm start handles SIGINT/SIGTERM), processes that exit
  // meanwhile are not restarted. Only added beside the host's own handlers: a listener would otherwise
  // take away Node's default exit on the signal.
  const markStopping = () => void (stopping = true);
  const signals = (['SIGINT', 'SIGTERM'] as const).filter((sig) => process.listenerCount(sig) > 0);
  for (const sig of signals) process.on(sig, markStopping);

  const send = (slot: Slot, m: ToCollector) => {
    if (slot.child?.connected) slot.child.send(m);
  };
  const unavailable = (owner: number) => ({ status: 503, message: `cannot store metrics export: collector process ${owner} is restarting; retry`, retryAfter: 1 });

  const onMessage = (slot: Slot, m: FromCollector) => {
    if (m.t === 'forward') {
      const owner = slots[m.owner];
      if (!owner?.child?.connected || !owner.ports) return send(slot, { t: 'answer', id: m.id, partial: undefined, error: unavailable(m.owner) });
      owner.relayed.set(`${slot.index}:${m.id}`, [slot.index, m.id]);
      send(owner, { t: 'store', id: m.id, from: slot.index, part: m.part });
    } else if (m.t === 'stored') {
      slot.relayed.delete(`${m.to}:${m.id}`);
      const to = slots[m.to];
      if (to) send(to, { t: 'answer', id: m.id, partial: m.partial, error: m.error });
    }
  };

  const spawn = (slot: Slot): Promise<CollectorProcessPorts> => {
    const spec: CollectorProcessSpec = {
      index: slot.index,
      count: o.count,
      ...(o.shardAddresses ? { shardAddresses: o.shardAddresses } : {}),
      demoAccount: (o.demoAccount ?? false) && slot.index === 0,
      ...(o.fixedNow !== undefined ? { fixedNow: o.fixedNow } : {}),
    };
    // The collector's heap setting (collector-heap.ts) on top of this process's own Node flags.
    const execArgv = [...process.execArgv, ...collectorHeapFlags()];
    const child = fork(script, [JSON.stringify(spec)], { env: { ...envWithoutApm(), ...slot.env }, execArgv, serialization: 'advanced', stdio: 'inherit' });
    slot.child = child;
    slot.startedAt = Date.now();
    return new Promise<CollectorProcessPorts>((resolve, reject) => {
      let ready = false;
      const timer = setTimeout(() => {
        reject(new Error(`collector process ${slot.index} not ready in ${READY_TIMEOUT_MS / 1000} s`));
        child.kill('SIGKILL');
      }, READY_TIMEOUT_MS);
      child.on('message', (m: FromCollector) => {
        if (m.t === 'ready') {
          ready = true;
          clearTimeout(timer);
          slot.ports = { port: m.port, otlpPort: m.otlpPort, metricsPort: m.metricsPort };
          resolve(slot.ports);
        } else if (m.t === 'failed') {
          clearTimeout(timer);
          reject(new Error(`collector process ${slot.index}: ${m.message}`));
        } else onMessage(slot, m);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (slot.child !== child) return; // an earlier start that failed, exiting after its replacement began
        slot.child = undefined;
        slot.ports = undefined;
        for (const [from, id] of slot.relayed.values()) {
          const to = slots[from];
          if (to) send(to, { t: 'answer', id, partial: undefined, error: unavailable(slot.index) });
        }
        slot.relayed.clear();
        if (!ready) return reject(new Error(`collector process ${slot.index} exited with ${signal ?? code} before it was ready`));
        if (!stopping) scheduleRestart(slot, `exited with ${signal ?? `code ${code}`}`);
      });
    });
  };

  /** Starts the process again after the backoff; a start that fails is retried the same way (longer each time). */
  const scheduleRestart = (slot: Slot, why: string) => {
    slot.crashes = Date.now() - slot.startedAt > STABLE_MS ? 1 : slot.crashes + 1;
    const delay = Math.min(backoff.maxMs, backoff.firstMs * 2 ** (slot.crashes - 1));
    log.warn(`collector process ${slot.index} ${why}; restarting it in ${delay} ms`, { process: slot.index });
    setTimeout(() => {
      if (stopping) return;
      restarts++;
      spawn(slot).then(
        () => log.info(`collector process ${slot.index} restarted (pid ${slot.child?.pid})`, { process: slot.index }),
        (err: Error) => {
          if (!stopping) scheduleRestart(slot, `could not be restarted (${err.message})`);
        },
      );
    }, delay).unref();
  };

  const stopAll = async () => {
    stopping = true;
    for (const sig of signals) process.off(sig, markStopping);
    await Promise.all(slots.map((s) => stopChild(s.child)));
  };

  try {
    for (let i = 0; i < o.count; i++) {
      const env: Record<string, string> = {
        ...base,
        APM_COLLECTOR_METRICS_PORT: String(baseMetrics === 0 ? 0 : baseMetrics + i),
        ...o.envFor?.(i),
      };
      const slot: Slot = { index: i, env, child: undefined, ports: undefined, startedAt: 0, crashes: 0, relayed: new Map() };
      slots.push(slot);
      const ports = await spawn(slot);
      log.info(`collector process ${i} ready (pid ${slot.child?.pid}, /metrics on port ${ports.metricsPort})`, { process: i });
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  const p0 = slots[0]!.ports!;
  let stopped: Promise<void> | undefined;
  return {
    name: 'collector',
    addresses: [
      `https://${o.config.str('APM_BIND_HOST')}:${p0.port}/agent_listener/invoke_raw_method (New Relic agents, protocol 17; ${o.count} processes)`,
      `http://${o.config.str('APM_BIND_HOST')}:${p0.otlpPort}/v1/metrics (OTLP/HTTP; ${o.count} processes)`,
      ...slots.map((s) => `http://${o.config.str('APM_BIND_HOST')}:${s.ports?.metricsPort}/metrics (self-metrics of collector process ${s.index})`),
    ],
    ports: () => slots.map((s) => s.ports ?? { port: 0, otlpPort: 0, metricsPort: 0 }),
    pids: () => slots.map((s) => s.child?.pid),
    restarts: () => restarts,
    stop() {
      stopped ??= stopAll();
      return stopped;
    },
  };
}

/** SIGTERM (the process stops its collector, flushing, and exits), SIGKILL when it takes too long. */
function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** The parent's environment without its APM_ variables: a process gets exactly the resolved Config. */
function envWithoutApm(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => !e[0].startsWith('APM_') && e[1] !== undefined));
}
