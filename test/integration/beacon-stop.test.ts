import { afterAll, beforeAll, expect, it } from 'vitest';
import { startBeacon, type BeaconHandle } from '../../beacon/beacon.js';
import type { WriteRequest } from '../../lib/shard/shard-writer.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';
import { findRow, minuteRows } from './beacon-helpers.js';

const ORIGIN = 'http://127.0.0.1:5556';
const T0 = Date.UTC(2030, 0, 3, 8, 30, 5) / 1000;

let c: TestCluster;
let beacon: BeaconHandle;
let account: { id: number };
let browserKey: string;
/** Writes wait on this gate while it is closed, as a slow shard would. */
let gate: Promise<void> = Promise.resolve();

beforeAll(async () => {
  c = await startTestCluster({ shards: 1 });
  const made = await c.directory.createAccount({ name: 'beacon-stop' });
  account = made.account;
  browserKey = made.browserKey;
  const app = await c.directory.ensureApplication(account.id, 'Shop');
  await c.directory.updateApplication(app.id, { allowedOrigins: [ORIGIN] });
  const writer = new Proxy(c.writer, {
    get(target, prop) {
      if (prop !== 'write') return Reflect.get(target, prop);
      return async (req: WriteRequest) => {
        await gate;
        return target.write(req);
      };
    },
  });
  const config = c.config.with({ APM_BEACON_PORT: '0', APM_BEACON_METRICS_PORT: '0', APM_BEACON_FLUSH_SECONDS: '60' });
  beacon = await startBeacon(c.deps({ config, writer, now: () => T0 }));
});
afterAll(async () => {
  await beacon?.stop();
  await c?.stop();
});

async function views(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const body = JSON.stringify({ v: 1, k: browserKey, a: 'Shop', u: '/cart', t: 'navigate', m: [0, 10, 222, 324, 390, 579] });
    const r = await fetch(`${beacon.url}/beacon`, { method: 'POST', body, headers: { 'content-type': 'text/plain', origin: ORIGIN } });
    expect(r.status).toBe(204);
  }
}

it('writes on stop the page views that arrived while a timed flush was still writing', async () => {
  let open!: () => void;
  gate = new Promise<void>((r) => (open = r));
  await views(3);
  const running = beacon.flush(); // drains the 3 views, then waits on the gate
  await views(2); // acknowledged while that flush is still in progress
  const stopped = beacon.stop();
  open();
  await Promise.all([running, stopped]);
  const { store } = await c.registry.storeForAccount(account.id);
  const row = findRow(await minuteRows(store, account.id, T0), 'Browser/PageLoad');
  expect(row?.callCount).toBe(5);
});
