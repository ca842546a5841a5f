import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPool } from '../../lib/db/connect.js';
import { Directory } from '../../lib/directory/directory.js';
import { LocalMariadb } from '../../lib/mariadb/local-mariadb.js';
import { freePort } from '../harness/ports.js';
import { deltaCounter, exportBody, otlpPost, str } from './otlp-helpers.js';

// Real processes from dist/ (compiled by the test setup): `npm start`'s bin/start.js for two embedded
// systems side by side, and the `apm` CLI run as a stray process without the system's settings.
const root = path.resolve(import.meta.dirname, '..', '..');
const dirs: string[] = [];
const children: ChildProcess[] = [];
const small = { APM_MARIADB_BUFFER_POOL: '64M', APM_EMBEDDED_SHARDS: '2' };

afterAll(async () => {
  for (const ch of children) if (ch.exitCode === null && ch.signalCode === null) ch.kill('SIGTERM');
  await Promise.all(children.map((ch) => (ch.exitCode === null && ch.signalCode === null ? new Promise((r) => ch.once('exit', r)) : undefined)));
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** The environment without any APM_* setting of the machine, plus `env`. */
function envOf(env: Record<string, string>): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('APM_')));
  return { ...clean, ...env };
}

async function twoFreePorts(): Promise<number> {
  for (;;) {
    const p = await freePort();
    const free = await new Promise<boolean>((r) => {
      const s = net.createServer().once('error', () => r(false)).listen(p + 1, '127.0.0.1', () => s.close(() => r(true)));
    });
    if (free) return p;
  }
}

interface Started {
  child: ChildProcess;
  out: string[];
  stdout: string[];
  exited: Promise<number | null>;
}

function run(script: string, args: string[], env: Record<string, string>): Started {
  const child = spawn(process.execPath, [path.join(root, 'dist', 'bin', script), ...args], { env: envOf(env), stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const out: string[] = [];
  const stdout: string[] = [];
  child.stdout!.on('data', (d: Buffer) => (out.push(d.toString()), stdout.push(d.toString())));
  child.stderr!.on('data', (d: Buffer) => out.push(d.toString()));
  return { child, out, stdout, exited: new Promise((r) => child.once('exit', (code) => r(code))) };
}

async function startSystem(env: Record<string, string>): Promise<Started> {
  const s = run('start.js', [], { APM_SERVICES: 'admin', APM_ADMIN_PORT: '0', APM_ADMIN_METRICS_PORT: '0', APM_WRITER_METRICS_PORT: '0', ...small, ...env });
  const deadline = Date.now() + 120_000;
  while (!s.out.join('').includes('ready (')) {
    if (s.child.exitCode !== null || Date.now() > deadline) throw new Error(`start.js did not get ready:\n${s.out.join('')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return s;
}

async function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string; stdout: string }> {
  const s = run('apm.js', args, env);
  const code = await s.exited;
  return { code, out: s.out.join(''), stdout: s.stdout.join('') };
}

function pidOf(dataDir: string, shard: number): number {
  return Number(fs.readFileSync(path.join(dataDir, 'mariadb', `shard-${shard}`, 'mariadb.pid'), 'utf8').trim());
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

function tmp(name: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `apm-${name}-`));
  dirs.push(d);
  return d;
}

describe('two embedded systems and a stray CLI on one machine', () => {
  it('the CLI without the settings uses the running servers (stops none, registers none); a second start over a data directory in use refuses', async () => {
    const dirA = tmp('sys-a');
    const dirB = tmp('sys-b');
    const [portA, portB] = [await twoFreePorts(), await twoFreePorts()];
    const a = await startSystem({ APM_DATA_DIR: dirA, APM_EMBEDDED_BASE_PORT: String(portA) });
    const b = await startSystem({ APM_DATA_DIR: dirB, APM_EMBEDDED_BASE_PORT: String(portB) });
    const pids = [pidOf(dirA, 1), pidOf(dirA, 2), pidOf(dirB, 1), pidOf(dirB, 2)];
    expect(pids.every(alive)).toBe(true);

    // A stray CLI: only the data directory (no ports); the default port 13306 is not A's.
    const stray = await cli(['shards', 'list', '--json', '--sample', '0'], { APM_DATA_DIR: dirA });
    expect(stray.out).toContain(`using the running MariaDB servers in ${path.join(dirA, 'mariadb')}`);
    expect(stray.code).toBe(0);
    const listed = JSON.parse(stray.stdout);
    expect(listed.map((s: any) => [s.id, s.address, s.health.reachable])).toEqual([
      [1, `127.0.0.1:${portA}`, true],
      [2, `127.0.0.1:${portA + 1}`, true],
    ]);
    expect(stray.out).not.toContain('stopping');
    expect(pids.every(alive)).toBe(true);

    // The same system started again over A's data directory (other ports): refused, nothing stopped.
    const again = run('start.js', [], { APM_DATA_DIR: dirA, APM_EMBEDDED_BASE_PORT: String(await twoFreePorts()), APM_SERVICES: 'admin', APM_ADMIN_PORT: '0', APM_ADMIN_METRICS_PORT: '0', APM_WRITER_METRICS_PORT: '0', ...small });
    expect(await again.exited).toBe(1);
    expect(again.out.join('')).toMatch(new RegExp(`cannot start: cannot start MariaDB in .*shard-[12]: it is in use by MariaDB pid (${pids[0]}|${pids[1]}) on port (${portA}|${portA + 1}), started by process ${a.child.pid} `));
    expect(pids.every(alive)).toBe(true);

    // Still exactly A's two shards (no address registered by the CLI or the refused start).
    const after = await cli(['shards', 'list', '--json', '--sample', '0'], { APM_DATA_DIR: dirA, APM_EMBEDDED_BASE_PORT: '13306' });
    expect(after.code).toBe(0);
    expect(JSON.parse(after.stdout).map((s: any) => s.address)).toEqual([`127.0.0.1:${portA}`, `127.0.0.1:${portA + 1}`]);

    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    expect(await b.exited).toBe(0);
    expect(pids.some(alive)).toBe(false);
    expect(fs.existsSync(path.join(dirA, 'mariadb', 'shard-1', 'owner.json'))).toBe(false);
  }, 300_000);
});

describe('start with a registered shard that refuses connections', () => {
  it('starts, serves the healthy shards, answers 503 + Retry-After for the down one, shows it DOWN, and reconnects without a restart', async () => {
    const dir = tmp('down');
    const base = await twoFreePorts();
    const dead = await freePort();
    // Prepare the directory as an earlier version left it: a third shard registered at an address
    // that does not answer, holding an account.
    const m = await LocalMariadb.start({ baseDir: path.join(dir, 'mariadb'), ports: [base, base + 1], bufferPoolBytes: 64 << 20, logFileBytes: 32 << 20, flushLogAtTrxCommit: 2, tableCache: 200 });
    const keys: Record<string, string> = {};
    try {
      const pool = createPool<any>({ host: '127.0.0.1', port: base }, { user: 'root', password: '' });
      await pool.promise.query('CREATE DATABASE IF NOT EXISTS apm_directory');
      await pool.end();
      const directory = new Directory(createPool({ host: '127.0.0.1', port: base }, { user: 'root', password: '', database: 'apm_directory' }));
      await directory.migrate();
      for (const p of [base, base + 1, dead]) await directory.addShard(`127.0.0.1:${p}`);
      for (let i = 1; i <= 3; i++) {
        const made = await directory.createAccount({ name: `acct-${i}` });
        keys[made.account.shardId === 3 ? 'down' : `up${i}`] = made.licenseKey;
      }
      await directory.close();
    } finally {
      await m.stop();
    }
    expect(Object.keys(keys).sort()).toEqual(['down', 'up1', 'up2']);
    const otlpPort = await freePort();
    const sys = await startSystem({
      APM_DATA_DIR: dir,
      APM_EMBEDDED_BASE_PORT: String(base),
      APM_SERVICES: 'collector',
      APM_COLLECTOR_PORT: String(await freePort()),
      APM_COLLECTOR_METRICS_PORT: '0',
      APM_OTLP_HTTP_PORT: String(otlpPort),
    });
    expect(sys.out.join('')).toMatch(new RegExp(`shard 3 at 127.0.0.1:${dead} is DOWN \\(connect ECONNREFUSED`));
    const t = Date.now() / 1000;
    const body = (n: number) => JSON.stringify(exportBody([str('service.name', 'svc')], [deltaCounter('jobs', t - 61 + n, t - 60 + n, [[[], 1]])]));
    expect((await otlpPost(otlpPort, body(0), { apiKey: keys.up1 })).status).toBe(200);
    const down = await otlpPost(otlpPort, body(0), { apiKey: keys.down });
    expect(down.status).toBe(503);
    expect(Number(down.headers['retry-after'])).toBeGreaterThan(0);
    const listed = await cli(['shards', 'list', '--sample', '0'], { APM_DATA_DIR: dir });
    expect(listed.code).toBe(0);
    expect(listed.out).toMatch(new RegExp(`3\\s+127\\.0\\.0\\.1:${dead}\\s+open\\s+DOWN`));
    // The server comes up: the same process serves the account, no restart.
    const revived = await LocalMariadb.start({ baseDir: path.join(dir, 'revived'), ports: [dead], bufferPoolBytes: 64 << 20, logFileBytes: 32 << 20, flushLogAtTrxCommit: 2, tableCache: 200 });
    try {
      let status = 0;
      for (let i = 0; i < 40 && status !== 200; i++) {
        status = (await otlpPost(otlpPort, body(1), { apiKey: keys.down })).status;
        if (status !== 200) await new Promise((r) => setTimeout(r, 500));
      }
      expect(status).toBe(200);
      sys.child.kill('SIGTERM');
      expect(await sys.exited).toBe(0);
    } finally {
      await revived.stop();
    }
  }, 300_000);
});
