import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { ensureMariadb } from './mariadb-install.js';
import { mariadbArgs, type MariadbSettings } from './mariadb-settings.js';
import type { ServerAddress } from '../db/connect.js';

export interface LocalMariadbOptions {
  /** Each server gets <baseDir>/shard-<n>/ (data, socket, logs). Reused when it exists. */
  baseDir: string;
  ports: number[];
  bufferPoolBytes: number;
  logFileBytes: number;
  flushLogAtTrxCommit: 1 | 2;
  tableCache: number;
  log?: (line: string) => void;
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

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** A server left running by a parent that was killed outright: stop it before reusing its data. */
async function stopStale(pidFile: string, log: (l: string) => void): Promise<void> {
  if (!fs.existsSync(pidFile)) return;
  const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0 || !processAlive(pid)) return;
  log(`stopping a MariaDB server left running (pid ${pid}) before reusing its data directory`);
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 600 && processAlive(pid); i++) await sleep(100);
  if (processAlive(pid)) process.kill(pid, 'SIGKILL');
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
  #stopping: Promise<void> | undefined;

  private constructor(private readonly log: (line: string) => void) {}

  static async start(opts: LocalMariadbOptions): Promise<LocalMariadb> {
    const log = opts.log ?? (() => {});
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
    await stopStale(settings.pidFile, this.log);
    if (!fs.existsSync(path.join(dataDir, 'mysql'))) {
      fs.rmSync(dataDir, { recursive: true, force: true });
      const args = ['--no-defaults', `--datadir=${dataDir}`, '--auth-root-authentication-method=normal', '--skip-test-db'];
      if (isRoot) args.push('--user=root');
      // A private tmpdir: concurrent bootstraps (parallel test files) collide on temp table names in /tmp.
      const r = spawnSync(bins.installDb, args, { encoding: 'utf8', env: { ...process.env, TMPDIR: settings.tmpDir } });
      if (r.status !== 0) throw new Error(`cannot initialise MariaDB data directory ${dataDir}: ${r.stderr || r.stdout}`);
    }
    const child = spawn(bins.mariadbd, [...mariadbArgs(settings), ...(opts.extraArgs?.(index) ?? [])], { stdio: 'ignore' });
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
    this.log(`MariaDB shard server ${index + 1} listening on 127.0.0.1:${port} (data ${dataDir})`);
    this.servers.push({ index, address, dataDir, socket: settings.socket, errorLog: settings.errorLog });
  }

  /** Clean shutdown (SIGTERM, wait; SIGKILL only after 60 s). Idempotent. */
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
    )).then(() => undefined);
    return this.#stopping;
  }
}
