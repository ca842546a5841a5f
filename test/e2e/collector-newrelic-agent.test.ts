import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';
import { committed, scrape, startTestCollector, type RunningCollector } from '../integration/collector-newrelic-helpers.js';
import { AGENT_NO_UTILIZATION_PROBES } from '../harness/newrelic-env.js';

const APP = path.join(path.dirname(fileURLToPath(import.meta.url)), 'collector-newrelic-app.cjs');
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const APP_NAME = 'e2e-shop';

let c: TestCluster;
let col: RunningCollector;
const children: ChildProcess[] = [];

beforeAll(async () => {
  c = await startTestCluster({ shards: 1 });
  col = await startTestCollector(c);
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await col?.handle.stop();
  await c?.stop();
});

interface RunningAgent {
  child: ChildProcess;
  port: number;
  exited: Promise<number | null>;
  logFile: string;
}

/** Starts the instrumented app with nothing but the NEW_RELIC_* settings the collector prints. */
async function startAgentApp(licenseKey: string, name: string): Promise<RunningAgent> {
  const logFile = path.join(c.dataDir, `newrelic-${name}.log`);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: c.dataDir,
    NEW_RELIC_NO_CONFIG_FILE: 'true',
    NEW_RELIC_APP_NAME: APP_NAME,
    NEW_RELIC_LICENSE_KEY: licenseKey,
    NEW_RELIC_HOST: 'localhost',
    NEW_RELIC_PORT: String(col.port),
    NEW_RELIC_CERTIFICATES: col.caPem,
    NEW_RELIC_LOG: logFile,
    NEW_RELIC_LOG_LEVEL: 'info',
    ...AGENT_NO_UTILIZATION_PROBES,
  };
  const child = spawn(process.execPath, [APP], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`agent app ${name} not ready in 30 s: ${stderr}\n${readLog(logFile)}`)), 30_000);
    child.stdout!.on('data', (d) => {
      out += String(d);
      const m = /READY ([0-9]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    void exited.then((code) => reject(new Error(`agent app ${name} exited with ${code}: ${stderr}\n${readLog(logFile)}`)));
  });
  return { child, port, exited, logFile };
}

function readLog(file: string): string {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').slice(-20).join('\n') : '(no agent log)';
}

async function hit(agent: RunningAgent, route: string, times: number): Promise<void> {
  for (let i = 0; i < times; i++) {
    const r = await fetch(`http://127.0.0.1:${agent.port}${route}`);
    await r.text();
  }
}

async function shutdown(agent: RunningAgent): Promise<void> {
  agent.child.stdin!.end('shutdown\n');
  const code = await agent.exited;
  expect(code, readLog(agent.logFile)).toBe(0);
}

describe('an unmodified newrelic agent reports into our shard', () => {
  it('commits the exact call counts of two agents, per agent and application-wide', async () => {
    const made = await c.directory.createAccount({ name: 'e2e' });
    // Apdex T of 10 s (handed to the agents at connect) keeps every successful request satisfied
    // however loaded the machine is, so the Apdex slots are exact.
    const shop = await c.directory.ensureApplication(made.account.id, APP_NAME);
    await c.directory.updateApplication(shop.id, { apdexT: 10 });
    const [a, b] = await Promise.all([startAgentApp(made.licenseKey, 'a'), startAgentApp(made.licenseKey, 'b')]);
    await Promise.all([
      (async () => {
        await hit(a, '/fast', 7);
        await hit(a, '/error', 3);
      })(),
      (async () => {
        await hit(b, '/fast', 4);
        await hit(b, '/custom', 2);
      })(),
    ]);
    await Promise.all([shutdown(a), shutdown(b)]);

    const { store } = await c.registry.storeForAccount(made.account.id);
    const app = (await c.directory.findApplication(made.account.id, APP_NAME))!;
    const agents = await store.listAgents(made.account.id, app.id);
    const idOf = (pid: number | undefined) => agents.find((x) => x.pid === pid && x.language === 'nodejs')!.id;
    expect(agents).toHaveLength(3);
    const appAgent = agents.find((x) => x.host === '' && x.pid === 0)!.id;
    const ra = await committed(store, made.account.id, idOf(a.child.pid));
    const rb = await committed(store, made.account.id, idOf(b.child.pid));
    const rapp = await committed(store, made.account.id, appAgent);
    const count = (m: Map<string, { count: number }>, k: string) => m.get(k)?.count ?? 0;

    // Agent A: 7 fast + 3 failing requests.
    expect(count(ra, 'HttpDispatcher|')).toBe(10);
    expect(count(ra, 'WebTransaction|')).toBe(10);
    expect(count(ra, 'WebTransaction/Custom/fast|')).toBe(7);
    expect(count(ra, 'WebTransaction/Custom/error|')).toBe(3);
    expect(count(ra, 'Errors/all|')).toBe(3);
    expect(ra.get('Apdex|')).toMatchObject({ count: 7, total: 0, exclusive: 3, min: 10, max: 10 });
    // Agent B: 4 fast + 2 requests recording a custom metric.
    expect(count(rb, 'HttpDispatcher|')).toBe(6);
    expect(count(rb, 'WebTransaction/Custom/fast|')).toBe(4);
    expect(count(rb, 'WebTransaction/Custom/custom|')).toBe(2);
    expect(count(rb, 'Errors/all|')).toBe(0);
    expect(rb.get('Custom/Known/Value|')).toMatchObject({ count: 2, total: 0.5, min: 0.25, max: 0.25 });
    expect(rb.get('Apdex|')).toMatchObject({ count: 6, total: 0, exclusive: 0, min: 10, max: 10 });
    // Application-wide: both agents merged.
    expect(count(rapp, 'HttpDispatcher|')).toBe(16);
    expect(count(rapp, 'WebTransaction/Custom/fast|')).toBe(11);
    expect(count(rapp, 'Errors/all|')).toBe(3);
    expect(rapp.get('Apdex|')).toMatchObject({ count: 13, total: 0, exclusive: 3, min: 10, max: 10 });
    expect(rapp.get('Custom/Known/Value|')).toMatchObject({ count: 2, total: 0.5 });
    // Every agent request was answered; nothing refused.
    expect(await scrape(col, 'apm_collector_requests_total', { method: 'connect', status: '200' })).toBe(2);
    expect(await scrape(col, 'apm_collector_requests_total', { method: 'shutdown', status: '200' })).toBe(2);
    expect(await scrape(col, 'apm_collector_rejected_total', { reason: 'bad_input' })).toBe(0);
  }, 90_000);
});
