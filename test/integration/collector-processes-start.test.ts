import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../harness/ports.js';

// `npm start` (compiled dist/bin/start.js, embedded default) with APM_COLLECTOR_PROCESSES=2: the start
// process forks and supervises the collector processes (issue #20, "Collectors on every core").
const root = path.resolve(import.meta.dirname, '..', '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'apm-procs-start-'));
let child: ChildProcess | undefined;

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child!.once('exit', r));
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until(what: string, ok: () => boolean, out: string[]): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!ok()) {
    if (Date.now() > deadline || (child && child.exitCode !== null)) throw new Error(`no ${what}:\n${out.join('')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('npm start with APM_COLLECTOR_PROCESSES=2', () => {
  it('both processes listen before "ready"; one killed is restarted (logged); SIGTERM stops them all', async () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('APM_')));
    const port = await freePort();
    const base = await freePort();
    child = spawn(process.execPath, [path.join(root, 'dist', 'bin', 'start.js')], {
      env: {
        ...env,
        APM_DATA_DIR: dir,
        APM_EMBEDDED_SHARDS: '1',
        APM_EMBEDDED_BASE_PORT: String(base),
        APM_MARIADB_BUFFER_POOL: '64M',
        APM_SERVICES: 'collector',
        APM_COLLECTOR_PROCESSES: '2',
        APM_COLLECTOR_PORT: String(port),
        APM_COLLECTOR_METRICS_PORT: '0',
        APM_OTLP_HTTP_PORT: '0',
        APM_WRITER_METRICS_PORT: '0',
        APM_LOG_FORMAT: 'json',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: string[] = [];
    child.stdout!.on('data', (d: Buffer) => out.push(d.toString()));
    child.stderr!.on('data', (d: Buffer) => out.push(d.toString()));
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    const lines = () => out.join('').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string; process?: number; service?: string });
    await until('"ready"', () => lines().some((l) => l.msg.startsWith('ready (')), out);
    const readyAt = lines().findIndex((l) => l.msg.startsWith('ready ('));
    const pids = [0, 1].map((i) => {
      const at = lines().findIndex((l) => l.msg.startsWith(`collector process ${i} ready (pid `));
      expect(at).toBeGreaterThanOrEqual(0);
      expect(at).toBeLessThan(readyAt);
      return Number(/pid ([0-9]+)/.exec(lines()[at]!.msg)![1]);
    });
    expect(pids.every(alive)).toBe(true);
    // Their own lines carry the index.
    expect(lines().some((l) => l.process === 1 && l.service === 'collector#1')).toBe(true);
    // Both on the configured port: nothing else can bind it now.
    const taken = await new Promise<boolean>((r) => {
      const s = net.createServer().once('error', () => r(true)).listen(port, '127.0.0.1', () => s.close(() => r(false)));
    });
    expect(taken).toBe(true);

    process.kill(pids[1]!, 'SIGKILL');
    await until('the restart', () => lines().some((l) => l.msg.startsWith('collector process 1 restarted (pid ')), out);
    expect(lines().some((l) => l.msg === 'collector process 1 exited with SIGKILL; restarting it in 1000 ms')).toBe(true);
    const again = Number(/pid ([0-9]+)/.exec(lines().find((l) => l.msg.startsWith('collector process 1 restarted'))!.msg)![1]);
    expect(alive(again)).toBe(true);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    for (const pid of [pids[0]!, again]) expect(alive(pid)).toBe(false);
  }, 180_000);
});
