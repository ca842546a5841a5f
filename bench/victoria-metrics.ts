import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ensureDebianBinary } from '../lib/system/debian-package.js';

const BINARIES = ['/usr/bin/victoria-metrics', '/usr/local/bin/victoria-metrics'];

/**
 * The peer the bench compares with: Debian's `victoria-metrics` (single-node), installed when missing
 * and running as root (lib/system/debian-package.ts: its service is never started); otherwise the
 * error says what to install.
 */
export function ensureVictoriaMetrics(log: (line: string) => void): string {
  return ensureDebianBinary({ pkg: 'victoria-metrics', paths: BINARIES, purpose: 'run the peer phase', log });
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
