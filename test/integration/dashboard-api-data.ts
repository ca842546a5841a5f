import type { TestCluster } from '../harness/mariadb.js';
import { Seeder, ts, web } from './dashboard-fixture.js';

/** The dashboard API tests' clock and data (dashboard-api.test.ts): two accounts on one shard. */
export const M = 60;
export const H = 3600;
export const D = 86400;
export const T = Date.UTC(2026, 10, 23) / 1000; // Monday 2026-11-23 00:00 UTC
export const NOW = T + 10 * H + 30 * M + 20; // 10:30:20
export const utc = (...a: [number, number, number, number?]) => Date.UTC(a[0], a[1], a[2], a[3] ?? 0) / 1000;
export const TXN = 'WebTransaction/Expressjs/GET//users';

/**
 * Seeds accounts A ('acme', application 'shop', plus 'admin') and B ('globex', 'shop'): minute rows
 * through the shared writer, hour and day rows as the rollup writes them, rollup states.
 */
export async function seedDashboardApi(cluster: TestCluster, a: { account: { id: number; shardId: number } }, b: { account: { id: number } }, appA: number, appB: number): Promise<void> {
  const store = await cluster.registry.storeFor(a.account.shardId);
  const A = new Seeder(store, cluster.writer, a.account.id, appA);
  const B = new Seeder(store, cluster.writer, b.account.id, appB);

  // Minute rows (the shared writer). 08:00 is rolled ('done'), 09:00 got a late row after its rollup
  // ('dirty'), 10:00 is the current hour ('open').
  await A.minute(T + 10 * H + 10 * M, [
    ...web(64, 32, 8, 4, 2, [48, 8, 8]),
    { name: TXN, t: ts(48, 24, 24, 0.25, 1) },
    { name: 'WebTransaction/Expressjs/POST//orders', t: ts(16, 8, 8, 0.25, 0.75) },
    { name: 'Apdex/Expressjs/GET//users', t: ts(40, 4, 4, 0.5, 0.5) },
    { name: 'Datastore/statement/MySQL/users/select', scope: TXN, t: ts(96, 12, 12) },
    { name: 'External/api.example.com/http', scope: TXN, t: ts(48, 6, 6) },
    { name: 'Custom/Custom/Research/Value', t: ts(4, 10, 10, 1, 4, 30) },
    { name: 'Browser/PageLoad', t: ts(8, 16) },
    { name: 'Browser/Network', t: ts(8, 2) },
    { name: 'Browser/Backend', t: ts(8, 4) },
    { name: 'Browser/DOMProcessing', t: ts(8, 6) },
    { name: 'Browser/Rendering', t: ts(8, 4) },
    { name: 'Browser/LCP', t: ts(8, 12) },
    { name: 'Browser/CLS', t: ts(8, 1) },
    { name: 'Browser/Apdex', t: ts(6, 2, 0, 2, 2) },
    { name: 'Browser/ByBrowser/Chrome', t: ts(6, 12) },
    { name: 'Browser/ByBrowser/Firefox', t: ts(2, 4) },
    { name: 'Browser/ByCountry/DE', t: ts(8, 16) },
    { name: 'Browser/PageLoad', scope: '/products/{id}', t: ts(5, 10) },
    { name: 'Browser/PageLoad', scope: '/', t: ts(3, 6) },
  ]);
  await A.minute(T + 10 * H + 29 * M, web(32, 8, 2, 0, 0, [32, 0, 0]));
  await A.minute(T + 9 * H + 15 * M, web(128, 64, 16, 8, 4, [112, 8, 8]));
  await A.minute(T + 9 * H + 59 * M, web(64, 16, 4, 2, 0, [64, 0, 0]));
  await A.minute(T + 8 * H + 30 * M, web(8, 4, 1, 1, 1, [8, 0, 0])); // superseded by its hour row (rolled)
  await B.minute(T + 10 * H + 10 * M, web(1000, 1000, 100, 100, 500, [0, 0, 1000]));
  // A second application of account A: its names stay out of "shop"'s listings.
  const admin = new Seeder(store, cluster.writer, a.account.id, (await cluster.directory.ensureApplication(a.account.id, 'admin')).id);
  await admin.minute(T + 10 * H + 10 * M, [{ name: 'WebTransaction/Custom/admin-only', t: ts(2, 1) }]);

  // Hour rows: November's table is template v2 (ensureTable), October's an old v1 table.
  await A.rolled('hour', T + 8 * H, web(512, 128, 32, 16, 8, [448, 32, 32]));
  await A.rolled('hour', T + 9 * H, web(128, 64, 16, 8, 4, [112, 8, 8])); // stale: before 09:59 arrived
  await A.rolled('hour', T, web(256, 128, 32, 16, 4, [224, 16, 16]));
  await A.rolled('hour', T - D + 12 * H, web(1024, 256, 64, 32, 16, [960, 32, 32]));
  await A.rolled('hour', T - 7 * D + 12 * H, web(128, 64, 16, 8, 0, [128, 0, 0]));
  await A.rolled('hour', utc(2026, 10, 1, 1), web(128, 32, 8, 4, 4, [112, 8, 8]));
  const october = await A.oldHourTable(utc(2026, 9, 1), utc(2026, 9, 1));
  await A.rolled('hour', utc(2026, 9, 30, 13), web(256, 64, 16, 8, 8, [224, 16, 16]), october);
  await A.rolled('hour', utc(2026, 9, 31, 22), web(64, 16, 4, 2, 0, [64, 0, 0]), october);

  // Day rows; 30 October is 'dirty' (an hour re-rolled after the day): its daily row is stale.
  await A.rolled('day', utc(2026, 9, 30), web(100, 50, 10, 5, 1, [90, 5, 5]));
  await A.rolled('day', utc(2026, 9, 31), web(64, 16, 4, 2, 0, [64, 0, 0]));
  await A.rolled('day', utc(2026, 10, 1), web(128, 32, 8, 4, 4, [112, 8, 8]));
  await A.rolled('day', T - 7 * D, web(128, 64, 16, 8, 0, [128, 0, 0]));
  await A.rolled('day', T - D, web(32768, 8192, 2048, 1024, 512, [30720, 1024, 1024]));
  for (const d of [utc(2026, 9, 31), utc(2026, 10, 1), T - 7 * D, T - D]) await A.day(d, 'done');
  await A.day(utc(2026, 9, 30), 'dirty');
  await A.day(T, 'pending');
  await A.state('minute', T + 8 * H, 'done');
  await A.state('minute', T + 9 * H, 'dirty');

}
