import type { ServerAddress } from '../lib/db/connect.js';
import type { ServiceDeps, ServiceHandle } from '../lib/services.js';
import { startCollector } from './collector.js';
import { applyCollectorHeapFlags } from './collector-heap.js';
import { collectorProcessCount } from './collector-process-messages.js';
import { startCollectorProcesses } from './collector-processes.js';

/**
 * The collector as `npm start` runs it: inside the start process when APM_COLLECTOR_PROCESSES is 1
 * (the default on a 2-core machine beside the embedded MariaDB), else as that many supervised
 * processes sharing the ports (collector-processes.ts).
 */
export async function startCollectorService(deps: ServiceDeps, o: { demoAccount: boolean; shardAddresses?: ServerAddress[] }): Promise<ServiceHandle> {
  const count = collectorProcessCount(deps.config, o.shardAddresses !== undefined);
  if (count <= 1) {
    // This process hosts the collector: its heap setting (collector-heap.ts) from the next full collection on.
    applyCollectorHeapFlags();
    return startCollector(deps, { demoAccount: o.demoAccount });
  }
  return startCollectorProcesses({ count, config: deps.config, log: deps.log, demoAccount: o.demoAccount, ...(o.shardAddresses ? { shardAddresses: o.shardAddresses } : {}) });
}
