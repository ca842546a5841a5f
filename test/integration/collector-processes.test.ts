import fs from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownerOf } from '../../collector/otlp/otlp-owner.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';
import { agentPost, committed, connectAgent, scrape } from './collector-newrelic-helpers.js';
import { startTestProcesses, type RunningProcesses } from './collector-processes-helpers.js';
import { deltaCounter, exportBody, nanos, otlpPost, str } from './otlp-helpers.js';

/**
 * The collector as several real processes (issue #20, "Collectors on every core"): they share one
 * port, a crashed one is restarted, and what one process acknowledged is exact whichever process
 * gets the next request (agent harvests deduplicated through the shard, OTLP cumulative state at
 * one owner process).
 */
let c: TestCluster;
const running: RunningProcesses[] = [];
beforeAll(async () => {
  c = await startTestCluster({ shards: 1 });
});
afterAll(async () => {
  for (const r of running) await r.procs.stop();
  await c?.stop();
});

async function until(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A process's arguments (Node flags included) from /proc. */
function cmdline(pid: number): string[] {
  return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
}

describe('N collector processes', () => {
  it('share one port (SO_REUSEPORT), each with its own /metrics; a killed one is restarted with backoff; stop ends all', async () => {
    const r = await startTestProcesses(c, { count: 2, own: false });
    running.push(r);
    const [p0, p1] = r.procs.ports();
    // Process 1 listened on the port process 0 took: uWebSockets.js sets SO_REUSEPORT (it would fail with "address in use").
    expect(p1!.port).toBe(p0!.port);
    expect(p1!.otlpPort).toBe(p0!.otlpPort);
    expect(p1!.metricsPort).not.toBe(p0!.metricsPort);
    const [pid0, pid1] = r.procs.pids();
    expect(new Set([pid0, pid1, process.pid]).size).toBe(3);
    // Each starts with the collector's heap setting (collector-heap.ts, issue #20's peak RSS).
    for (const pid of [pid0!, pid1!]) expect(cmdline(pid)).toContain('--heap-growing-percent=100');
    // Both answer on the shared port: fresh connections are spread by the kernel; each process counts its own.
    const made = await c.directory.createAccount({ name: 'shared-port' });
    for (let i = 0; i < 40; i++) await connectAgent(r.at(0), made.licenseKey, { apps: ['app'], host: 'h', pid: i + 1 });
    const per = [await scrape(r.at(0), 'apm_collector_connects_total'), await scrape(r.at(1), 'apm_collector_connects_total')];
    expect(per[0]! + per[1]!).toBe(40);
    expect(per[0]).toBeGreaterThan(0);
    expect(per[1]).toBeGreaterThan(0);

    process.kill(pid1!, 'SIGKILL');
    await until('the restart', () => r.procs.restarts() === 1 && r.procs.ports()[1]!.port !== 0);
    expect(r.lines.some((l) => /collector process 1 exited with SIGKILL; restarting it in 50 ms/.test(l))).toBe(true);
    const again = r.procs.pids()[1]!;
    expect(again).not.toBe(pid1);
    expect(r.procs.ports()[1]!.port).toBe(p0!.port);
    expect(cmdline(again)).toContain('--heap-growing-percent=100');
    await r.procs.stop();
    for (const pid of [pid0!, again]) expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
  }, 120_000);

  it('agent protocol: connect at process 0, harvest at 1, the same harvest resent to 0 is a duplicate: exact counts', async () => {
    const r = await startTestProcesses(c, { count: 2, own: true });
    running.push(r);
    const made = await c.directory.createAccount({ name: 'nr-procs' });
    const { store } = await c.registry.storeForAccount(made.account.id);
    const run = await connectAgent(r.at(0), made.licenseKey, { apps: ['app'], host: 'web-1', pid: 7 });
    const m = Math.floor(Date.now() / 60_000) * 60 - 120;
    const harvest = (start: number, calls: number) => [run, start, start + 60, [[{ name: 'WebTransaction' }, [calls, calls * 0.5, calls * 0.25, 0.5, 0.5, calls * 0.25]]]];
    const post = (i: number, body: unknown) => agentPost(r.at(i), 'metric_data', body, { licenseKey: made.licenseKey, runId: run });
    expect((await post(1, harvest(m, 3))).status).toBe(200);
    expect((await post(0, harvest(m, 3))).status).toBe(200); // the agent's retry, landing on the other process
    expect((await post(0, harvest(m + 60, 4))).status).toBe(200);
    expect((await post(1, harvest(m + 60, 4))).status).toBe(200);
    const app = (await c.directory.findApplication(made.account.id, 'app'))!;
    const agentId = await store.agentId(made.account.id, { applicationId: app.id, host: 'web-1', pid: 7, language: 'nodejs' });
    for (const id of [agentId, await store.applicationAgentId(made.account.id, app.id)]) {
      expect((await committed(store, made.account.id, id)).get('WebTransaction|')).toMatchObject({ count: 7, total: 3.5, exclusive: 1.75 });
    }
    // Each process answered two harvests 200 (one of them a duplicate, not written again).
    for (const i of [0, 1]) expect(await scrape(r.at(i), 'apm_collector_requests_total', { method: 'metric_data', status: '200' })).toBe(2);
    for (const i of [0, 1]) {
      expect(await scrape(r.at(i), 'apm_collector_harvests_total', { kind: 'new' })).toBe(1);
      expect(await scrape(r.at(i), 'apm_collector_harvests_total', { kind: 'duplicate' })).toBe(1);
      // Each process's own writer, on its own /metrics: one harvest's rows committed.
      expect(await scrape(r.at(i), 'apm_writer_requests_total', { outcome: 'committed' })).toBe(1);
    }
  }, 120_000);

  it('OTLP cumulative: exports alternating between processes, one split across owners, a resend: exact', async () => {
    const r = await startTestProcesses(c, { count: 2, own: true });
    running.push(r);
    const made = await c.directory.createAccount({ name: 'otlp-procs' });
    const { store } = await c.registry.storeForAccount(made.account.id);
    const id = made.account.id;
    // One service owned by each process.
    const names = Array.from({ length: 20 }, (_, i) => `svc-${i}`);
    const a = names.find((n) => ownerOf(id, { serviceName: n, instance: 'i-1', pid: 0, language: 'otlp' }, 2) === 0)!;
    const b = names.find((n) => ownerOf(id, { serviceName: n, instance: 'i-1', pid: 0, language: 'otlp' }, 2) === 1)!;
    const start = Date.now() / 1000;
    const counter = (value: number, at: number) => ({
      name: 'jobs',
      unit: '1',
      sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [{ attributes: [], startTimeUnixNano: nanos(start), timeUnixNano: nanos(at), asInt: value }] },
    });
    const resource = (svc: string, value: number, at: number) => exportBody([str('service.name', svc), str('service.instance.id', 'i-1')], [counter(value, at)]).resourceMetrics[0];
    const body = (...rs: unknown[]) => JSON.stringify({ resourceMetrics: rs });
    const post = async (i: number, json: string) => {
      const answer = await otlpPost(r.procs.ports()[i]!.otlpPort, json, { apiKey: made.licenseKey });
      expect([answer.status, answer.body.toString()]).toEqual([200, '{}']);
    };
    await post(1, body(resource(a, 5, start + 1), resource(b, 10, start + 1))); // split: a's part goes to process 0
    const second = body(resource(a, 12, start + 2), resource(b, 13, start + 2));
    await post(0, second); // split: b's part goes to process 1
    await post(1, second); // resent elsewhere: both parts duplicates
    await post(1, body(resource(a, 20, start + 3))); // wholly owned by process 0: forwarded
    await post(0, body(resource(b, 21, start + 3))); // wholly owned by process 1: forwarded
    for (const [svc, total, count] of [[a, 20, 3], [b, 21, 3]] as const) {
      const appId = (await c.directory.findApplication(id, svc))!.id;
      const rows = await committed(store, id, await store.applicationAgentId(id, appId));
      expect(rows.get('OTLP/jobs|')).toMatchObject({ count, total });
    }
    // The resent points were recognised as already counted by their owners' state (no write at all).
    const dup = { outcome: 'duplicate' };
    expect((await scrape(r.at(0), 'apm_collector_otlp_points_total', dup)) + (await scrape(r.at(1), 'apm_collector_otlp_points_total', dup))).toBe(2);
  }, 120_000);

  it('an export split across owners is 2xx only when every part committed: owner down → 503; the resend counts each part once', async () => {
    const r = await startTestProcesses(c, { count: 2, own: true, backoff: { firstMs: 1500, maxMs: 1500 } });
    running.push(r);
    const made = await c.directory.createAccount({ name: 'otlp-owner-down' });
    const { store } = await c.registry.storeForAccount(made.account.id);
    const id = made.account.id;
    const names = Array.from({ length: 20 }, (_, i) => `svc-${i}`);
    const [a, b] = [0, 1].map((o) => names.find((n) => ownerOf(id, { serviceName: n, instance: 'i-1', pid: 0, language: 'otlp' }, 2) === o)!);
    const start = Date.now() / 1000 - 30;
    const resource = (svc: string, v: number) => exportBody([str('service.name', svc), str('service.instance.id', 'i-1')], [deltaCounter('orders', start, start + 10, [[[], v]])]).resourceMetrics[0];
    const body = JSON.stringify({ resourceMetrics: [resource(a!, 5), resource(b!, 10)] });
    const port0 = r.procs.ports()[0]!.otlpPort;

    process.kill(r.procs.pids()[1]!, 'SIGKILL');
    await until('process 1 to exit', () => r.procs.pids()[1] === undefined);
    const refused = await otlpPost(port0, body, { apiKey: made.licenseKey });
    expect([refused.status, refused.headers['retry-after']]).toEqual([503, '1']);
    expect(refused.body.toString()).toMatch(/collector process 1 is restarting/);
    await until('the restart', () => r.procs.restarts() === 1 && r.procs.ports()[1]!.port !== 0);
    const resent = await otlpPost(port0, body, { apiKey: made.licenseKey });
    expect([resent.status, resent.body.toString()]).toEqual([200, '{}']);
    // a's part was committed with the 503 and is a duplicate in the resend; b's is committed by the resend.
    for (const [svc, total] of [[a!, 5], [b!, 10]] as const) {
      const appId = (await c.directory.findApplication(id, svc))!.id;
      expect((await committed(store, id, await store.applicationAgentId(id, appId))).get('OTLP/orders|')).toMatchObject({ count: 1, total });
    }
    expect(await scrape(r.at(0), 'apm_collector_otlp_duplicate_exports_total')).toBe(1);
  }, 120_000);

  it('a restart that fails (its port taken) is logged and retried with a longer delay until it succeeds', async () => {
    const r = await startTestProcesses(c, { count: 2, own: true, backoff: { firstMs: 300, maxMs: 2000 } });
    running.push(r);
    const port = r.procs.ports()[1]!.port;
    process.kill(r.procs.pids()[1]!, 'SIGKILL');
    await until('process 1 to exit', () => r.procs.pids()[1] === undefined);
    // Taken without SO_REUSEPORT: the restarted process cannot listen there.
    const blocker = net.createServer();
    await new Promise<void>((ok, fail) => blocker.once('error', fail).listen(port, '127.0.0.1', () => ok()));
    await until('a failed restart', () => r.lines.some((l) => /collector process 1 could not be restarted \(.*cannot listen on 127\.0\.0\.1:[0-9]+.*\); restarting it in 600 ms/.test(l)));
    await new Promise<void>((ok) => blocker.close(() => ok()));
    await until('the restart', () => r.procs.ports()[1]!.port === port);
    expect(r.lines.filter((l) => /collector process 1 restarted/.test(l))).toHaveLength(1);
    expect(r.lines.some((l) => /collector process 1 exited with SIGKILL; restarting it in 300 ms/.test(l))).toBe(true);
  }, 120_000);
});
