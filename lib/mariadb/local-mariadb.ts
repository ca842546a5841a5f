import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { acquireDir } from './data-dir-lock.js';
import { ensureMariadb } from './mariadb-install.js';
import { mariadbArgs, type MariadbSettings } from './mariadb-settings.js';
import type { ServerAddress } from '../db/connect.js';
import { silentLog, type Log } from '../log/log.js';

export interface LocalMariadbOptions {
  /** Each server gets <baseDir>/shard-<n>/ (data, socket, logs). Reused when it exists. */
  baseDir: string;
  ports: number[];
  bufferPoolBytes: number;
  logFileBytes: number;
  flushLogAtTrxCommit: 1 | 2;
  tableCache: number;
  log?: Log;
  /** Milliseconds to wait for each server to accept connections. */
  startTimeoutMs?: number;
  /** More server options for server `index` (replication: lib/mariadb/local-replicas.ts). */
  extraArgs?: (index: number) => string[];
}

export interface LocalServer {
  index: number;
  address: ServerAddress;
  dataDir: string;
  socket: string;
  errorLog: string;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** If the parent dies without stop(), ask every child server to shut down cleanly (SIGTERM). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGTERM');
  });
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

function tail(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no error log)';
  }
}

/**
 * N local MariaDB servers as child processes, each with its own data directory, port and socket,
 * started with --no-defaults and the settings of mariadb-settings.ts. Starting again on an existing
 * data directory reuses it. stop() shuts every server down cleanly and is idempotent.
 */
export class LocalMariadb {
  readonly servers: LocalServer[] = [];
  /** Servers started beside these (their read replicas), stopped first by stop(). */
  readonly companions: LocalMariadb[] = [];
  readonly #children: ChildProcess[] = [];
  readonly #locks: Array<{ release(): void }> = [];
  #stopping: Promise<void> | undefined;

  private constructor(private readonly log: Log) {}

  static async start(opts: LocalMariadbOptions): Promise<LocalMariadb> {
    const log = opts.log ?? silentLog;
    const bins = ensureMariadb(log);
    const self = new LocalMariadb(log);
    installExitHook();
    try {
      await Promise.all(opts.ports.map((port, index) => self.#startOne(bins, opts, index, port)));
    } catch (err) {
      await self.stop();
      throw err;
    }
    self.servers.sort((a, b) => a.index - b.index);
    return self;
  }

  async #startOne(bins: { mariadbd: string; installDb: string }, opts: LocalMariadbOptions, index: number, port: number): Promise<void> {
    const dir = path.resolve(opts.baseDir, `shard-${index + 1}`);
    const dataDir = path.join(dir, 'data');
    fs.mkdirSync(dir, { recursive: true });
    const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    const settings: MariadbSettings = {
      dataDir,
      port,
      socket: path.join(dir, 'mariadb.sock'),
      tmpDir: path.join(dir, 'tmp'),
      pidFile: path.join(dir, 'mariadb.pid'),
      errorLog: path.join(dir, 'error.log'),
      bufferPoolBytes: opts.bufferPoolBytes,
      logFileBytes: opts.logFileBytes,
      flushLogAtTrxCommit: opts.flushLogAtTrxCommit,
      tableCache: opts.tableCache,
      ...(isRoot ? { user: 'root' } : {}),
    };
    fs.mkdirSync(settings.tmpDir, { recursive: true });
    // Never a server over a directory another process uses, and never stop what we did not start.
    const lock = acquireDir(dir, index, port);
    this.#locks.push(lock);
    if (await accepts(port)) throw new Error(`cannot start MariaDB on port ${port}: another server already listens there (set APM_EMBEDDED_BASE_PORT to free ports)`);
    if (!fs.existsSync(path.join(dataDir, 'mysql'))) {
      fs.rmSync(dataDir, { recursive: true, force: true });
      const args = ['--no-defaults', `--datadir=${dataDir}`, '--auth-root-authentication-method=normal', '--skip-test-db'];
      if (isRoot) args.push('--user=root');
      // A private tmpdir: concurrent bootstraps (parallel test files) collide on temp table names in /tmp.
      const r = spawnSync(bins.installDb, args, { encoding: 'utf8', env: { ...process.env, TMPDIR: settings.tmpDir } });
      if (r.status !== 0) throw new Error(`cannot initialise MariaDB data directory ${dataDir}: ${r.stderr || r.stdout}`);
    }
    const child = spawn(bins.mariadbd, [...mariadbArgs(settings), ...(opts.extraArgs?.(index) ?? [])], { stdio: 'ignore' });
    if (child.pid !== undefined) lock.update(child.pid);
    live.add(child);
    this.#children.push(child);
    let exited: string | undefined;
    child.on('exit', (code, signal) => {
      live.delete(child);
      exited = `exited with ${code ?? signal}`;
    });
    const address = { host: '127.0.0.1', port };
    const deadline = Date.now() + (opts.startTimeoutMs ?? 120_000);
    for (;;) {
      if (exited) throw new Error(`cannot start MariaDB on port ${port}: mariadbd ${exited}\n${tail(settings.errorLog)}`);
      try {
        const c = await mysql.createConnection({ ...address, user: 'root', password: '', connectTimeout: 1000 });
        await c.end();
        break;
      } catch {
        if (Date.now() > deadline) throw new Error(`cannot start MariaDB on port ${port}: not accepting connections\n${tail(settings.errorLog)}`);
        await sleep(100);
      }
    }
    this.log.info(`MariaDB shard server ${index + 1} listening on 127.0.0.1:${port} (data ${dataDir})`);
    this.servers.push({ index, address, dataDir, socket: settings.socket, errorLog: settings.errorLog });
  }

  /** Clean shutdown of the servers this object started (SIGTERM, wait; SIGKILL only after 60 s), then
   * their directory locks are released. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= Promise.all(this.companions.map((c) => c.stop())).then(() => Promise.all(
      this.#children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const done = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
        await done;
        clearTimeout(timer);
      }),
    )).then(() => {
      for (const lock of this.#locks) lock.release();
    });
    return this.#stopping;
  }
}
