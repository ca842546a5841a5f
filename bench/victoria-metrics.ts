import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const BINARIES = ['/usr/bin/victoria-metrics', '/usr/local/bin/victoria-metrics'];

/**
 * The peer the bench compares with: Debian's `victoria-metrics` (single-node). Installed when missing
 * and running as root (apt-get update first; the package's service is never started: a policy-rc.d
 * denies starts while apt runs); otherwise the error says what to install.
 */
export function ensureVictoriaMetrics(log: (line: string) => void): string {
  const found = BINARIES.find((p) => fs.existsSync(p));
  if (found) return found;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !fs.existsSync('/usr/bin/apt-get')) {
    throw new Error('cannot run the peer phase: victoria-metrics is not installed. Install it with `sudo apt-get install victoria-metrics`.');
  }
  log('victoria-metrics is missing: installing Debian victoria-metrics (the system service is not started)');
  const policy = '/usr/sbin/policy-rc.d';
  const hadPolicy = fs.existsSync(policy);
  if (!hadPolicy) fs.writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'victoria-metrics'], { stdio: 'inherit', env });
    if (r.status !== 0) throw new Error(`cannot install victoria-metrics: apt-get exited with ${r.status}`);
  } finally {
    if (!hadPolicy) fs.rmSync(policy, { force: true });
  }
  const after = BINARIES.find((p) => fs.existsSync(p));
  if (!after) throw new Error('cannot run the peer phase: victoria-metrics was installed but its binary was not found');
  return after;
}

export interface VictoriaMetrics {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts VictoriaMetrics on 127.0.0.1:port with its own data directory; resolves once /health answers. */
export async function startVictoriaMetrics(dir: string, port: number, log: (line: string) => void): Promise<VictoriaMetrics> {
  const bin = ensureVictoriaMetrics(log);
  fs.mkdirSync(dir, { recursive: true });
  const child: ChildProcess = spawn(
    bin,
    [
      `-storageDataPath=${path.join(dir, 'data')}`,
      `-httpListenAddr=127.0.0.1:${port}`,
      '-retentionPeriod=100y',
      '-search.maxUniqueTimeseries=100000000',
      '-search.maxSamplesPerQuery=10000000000',
      '-search.latencyOffset=0s',
      '-loggerLevel=ERROR',
    ],
    { stdio: ['ignore', 'ignore', fs.openSync(path.join(dir, 'victoria-metrics.log'), 'a')] },
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error('cannot start victoria-metrics: no process id');
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    process.kill(pid, 'SIGTERM'); // by its own PID, never by name
    const timer = setTimeout(() => child.exitCode === null && process.kill(pid, 'SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`cannot start victoria-metrics: it exited with ${child.exitCode} (see ${path.join(dir, 'victoria-metrics.log')})`);
    try {
      if ((await fetch(`${url}/health`)).ok) {
        log(`victoria-metrics listening on 127.0.0.1:${port} (pid ${pid}, data ${dir})`);
        return { url, pid, stop };
      }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error('cannot start victoria-metrics: /health did not answer within 30 s');
}
