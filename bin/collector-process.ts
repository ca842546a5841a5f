#!/usr/bin/env node
/**
 * One collector process of several (forked by collector/collector-processes.ts; argv[2] is its
 * CollectorProcessSpec as JSON, its configuration the APM_ variables of its environment). Opens its
 * own storage (writer connections), starts the collector on the shared ports, and stores the OTLP
 * export parts it owns for its siblings (relayed by the supervisor). SIGTERM, or the supervisor going
 * away, stops it: the collector first (flushing), then the writer. SIGINT is the supervisor's (a
 * terminal's Ctrl-C reaches the whole process group): the supervisor sends SIGTERM in its own order.
 */
import { loadAppConfig } from './app-variables.js';
import { logFromConfig } from './app-log.js';
import { startCollector, type CollectorHandle } from '../collector/collector.js';
import type { CollectorProcessSpec, FromCollector, ToCollector } from '../collector/collector-process-messages.js';
import { errorFromWire, errorToWire, type OtlpOwners, type OwnedPart } from '../collector/otlp/otlp-owner.js';
import type { PartialSuccess } from '../collector/otlp/otlp-codec.js';
import type { Log, LogFields } from '../lib/log/log.js';
import { createServiceRegistry } from '../lib/metrics/registry.js';
import { openStorage, type Storage } from '../lib/storage.js';

/** A forwarded part not answered in this long fails (retryable); the owner's own statements are bounded at 5 s. */
const FORWARD_TIMEOUT_MS = 30_000;

function post(m: FromCollector): void {
  if (process.connected) process.send!(m);
}

/** Every line carries `process` and the service name gets `#index` (readable in the pretty format too). */
function indexed(log: Log, index: number): Log {
  const child = (b: LogFields): Log => indexed(log.child(typeof b.service === 'string' ? { ...b, service: `${b.service}#${index}` } : b), index);
  return { debug: log.debug, info: log.info, warn: log.warn, error: log.error, child };
}

/** Forwards to siblings through the supervisor, answers bounded in time. */
function ownersVia(spec: CollectorProcessSpec): OtlpOwners & { answer(m: Extract<ToCollector, { t: 'answer' }>): void } {
  let next = 1;
  const waiting = new Map<number, { resolve: (p: PartialSuccess | undefined) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  return {
    index: spec.index,
    count: spec.count,
    forward(owner: number, part: OwnedPart) {
      const id = next++;
      return new Promise<PartialSuccess | undefined>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(errorFromWire({ status: 503, message: `cannot store metrics export: collector process ${owner} did not answer in time; retry`, retryAfter: 5 }));
        }, FORWARD_TIMEOUT_MS);
        waiting.set(id, { resolve, reject, timer });
        post({ t: 'forward', id, owner, part });
      });
    },
    answer(m) {
      const w = waiting.get(m.id);
      if (!w) return;
      waiting.delete(m.id);
      clearTimeout(w.timer);
      if (m.error) w.reject(errorFromWire(m.error));
      else w.resolve(m.partial);
    },
  };
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '{}') as CollectorProcessSpec;
  const config = loadAppConfig(process.env);
  const log = indexed(logFromConfig(config).child({ process: spec.index }), spec.index);
  let storage: Storage | undefined;
  let collector: CollectorHandle | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (why: string) => {
    stopping ??= (async () => {
      log.info(`collector process ${spec.index}: ${why}: stopping`);
      await collector?.stop().catch((e: Error) => log.warn(`cannot stop the collector: ${e.message}`));
      await storage?.close().catch((e: Error) => log.warn(`cannot close storage: ${e.message}`));
    })();
    return stopping;
  };
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => void stop('SIGTERM').then(() => process.exit(0)));
  process.on('disconnect', () => void stop('supervisor gone').then(() => process.exit(0)));
  try {
    const fixed = spec.fixedNow;
    const now = fixed !== undefined ? () => fixed : () => Date.now() / 1000;
    // Its own writer, whose metrics are served on this process's /metrics beside the collector's.
    const writerRegistry = createServiceRegistry('writer', { defaultMetrics: false });
    storage = await openStorage(config, { ...(spec.shardAddresses ? { shardAddresses: spec.shardAddresses } : {}), registerShards: false, registry: writerRegistry, now, log });
    const owners = ownersVia(spec);
    collector = await startCollector(
      { config, directory: storage.directory, shards: storage.shards, writer: storage.writer, now, dataDir: config.str('APM_DATA_DIR'), log },
      { demoAccount: spec.demoAccount, owners, registries: [writerRegistry] },
    );
    const receiver = collector.otlp;
    process.on('message', (m: ToCollector) => {
      if (m.t === 'answer') owners.answer(m);
      else if (m.t === 'store') {
        const done = (partial: PartialSuccess | undefined, error: ReturnType<typeof errorToWire> | undefined) => post({ t: 'stored', id: m.id, to: m.from, partial, error });
        receiver.storeOwned(m.part).then(
          (partial) => done(partial, undefined),
          (err: unknown) => {
            const w = errorToWire(err);
            if (w.status === 500) log.error(`otlp: cannot store a part for process ${m.from}: ${(err as Error)?.stack ?? String(err)}`);
            done(undefined, w);
          },
        );
      }
    });
    post({ t: 'ready', addresses: collector.addresses, ...collector.ports });
  } catch (err) {
    post({ t: 'failed', message: (err as Error).message });
    await stop('start-up failed');
    process.exit(1);
  }
}

void main();
