import fs from 'node:fs';
import path from 'node:path';

/**
 * Who owns a local MariaDB server directory (<baseDir>/shard-<n>/): a lock file `owner.json` made
 * with O_EXCL by the process that starts the server, holding its pid, the server's pid and port.
 * A live owner (or a live server whose owner has exited) means the directory is in use: nobody else
 * starts a server over it, and nobody stops a server it did not start.
 */
export interface DataDirOwner {
  /** The process that started (or is starting) the server. */
  ownerPid: number;
  /** The owner's command line, to name it in messages. */
  command: string;
  /** The mariadbd process, once spawned. */
  mariadbPid?: number;
  port: number;
  startedAt: string;
}

export const LOCK_FILE = 'owner.json';

export function processAlive(pid: number | undefined): boolean {
  if (pid === undefined || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, owned by another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function readOwner(dir: string): DataDirOwner | undefined {
  try {
    const o = JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8')) as DataDirOwner;
    return Number.isInteger(o.ownerPid) && Number.isInteger(o.port) ? o : undefined;
  } catch {
    return undefined;
  }
}

/** The pid in the server's own pid file, when that process is alive. */
export function liveServerPid(pidFile: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    return processAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The port a live mariadbd was started with (its command line), when readable. */
function portOf(pid: number): number | undefined {
  try {
    const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const arg = args.find((a) => a.startsWith('--port='));
    return arg ? Number(arg.slice('--port='.length)) : undefined;
  } catch {
    return undefined;
  }
}

export interface DirInUse {
  dir: string;
  index: number;
  /** The live server (mariadbd) pid, when it runs. */
  serverPid: number | undefined;
  port: number | undefined;
  owner: DataDirOwner | undefined;
  ownerAlive: boolean;
}

/** Whether a server directory is in use by another process, and by whom; undefined when free. */
export function dirInUse(dir: string, index: number): DirInUse | undefined {
  const owner = readOwner(dir);
  const ownerAlive = owner !== undefined && owner.ownerPid !== process.pid && processAlive(owner.ownerPid);
  const serverPid = liveServerPid(path.join(dir, 'mariadb.pid')) ?? (processAlive(owner?.mariadbPid) ? owner?.mariadbPid : undefined);
  // A live owner holds the directory even while its server is starting (or after it crashed).
  if (serverPid === undefined && !ownerAlive) return undefined;
  return { dir, index, serverPid, port: owner?.port ?? (serverPid ? portOf(serverPid) : undefined), owner, ownerAlive };
}

/** "MariaDB pid 123 on port 13306, started by pid 456 (node dist/bin/start.js)" and the like. */
export function describeUse(u: DirInUse): string {
  const server = u.serverPid ? `MariaDB pid ${u.serverPid}${u.port ? ` on port ${u.port}` : ''}` : `a MariaDB server being started${u.port ? ` on port ${u.port}` : ''}`;
  if (!u.owner) return `${server} (started by no process of this system that left an ${LOCK_FILE})`;
  return `${server}, started by ${u.ownerAlive ? '' : 'exited '}process ${u.owner.ownerPid} (${u.owner.command})`;
}

/** Every server directory under baseDir (shard-1, shard-2, …) that is in use, in index order. */
export function serversInUse(baseDir: string): DirInUse[] {
  let names: string[];
  try {
    names = fs.readdirSync(baseDir);
  } catch {
    return [];
  }
  return names
    .map((n) => /^shard-([0-9]{1,3})$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => dirInUse(path.join(baseDir, m[0]), Number(m[1]) - 1))
    .filter((u): u is DirInUse => u !== undefined)
    .sort((a, b) => a.index - b.index);
}

export class DataDirInUseError extends Error {
  constructor(readonly use: DirInUse) {
    super(
      `cannot start MariaDB in ${use.dir}: it is in use by ${describeUse(use)}. ` +
        'This process does not stop a server it did not start. Use that system (the `apm` CLI finds its servers ' +
        'through the same APM_DATA_DIR), or give this one its own APM_DATA_DIR and APM_EMBEDDED_BASE_PORT' +
        (use.serverPid && !use.ownerAlive ? `, or stop the left-over server yourself (kill ${use.serverPid})` : '') +
        '.',
    );
  }
}

/**
 * Takes the directory's lock for this process (O_EXCL; a lock left by an exited owner whose server
 * no longer runs is replaced). Throws DataDirInUseError when another process holds it.
 */
export function acquireDir(dir: string, index: number, port: number): { update(mariadbPid: number): void; release(): void } {
  const file = path.join(dir, LOCK_FILE);
  const owner: DataDirOwner = { ownerPid: process.pid, command: process.argv.slice(1).join(' ').slice(0, 300), port, startedAt: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    const use = dirInUse(dir, index);
    if (use) throw new DataDirInUseError(use);
    try {
      fs.writeFileSync(file, JSON.stringify(owner), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 3) throw err;
      // Stale (its owner and server are gone, checked above) or being replaced by another process.
      const stale = readOwner(dir);
      if (stale?.ownerPid === process.pid) break;
      if (!stale || !processAlive(stale.ownerPid)) fs.rmSync(file, { force: true });
    }
  }
  // A server without a lock (started before locks existed) could have taken the pid file meanwhile.
  const serverPid = liveServerPid(path.join(dir, 'mariadb.pid'));
  if (serverPid !== undefined) {
    fs.rmSync(file, { force: true });
    throw new DataDirInUseError({ dir, index, serverPid, port: portOf(serverPid), owner: undefined, ownerAlive: false });
  }
  return {
    update(mariadbPid) {
      fs.writeFileSync(file, JSON.stringify({ ...owner, mariadbPid }));
    },
    release() {
      if (readOwner(dir)?.ownerPid === process.pid) fs.rmSync(file, { force: true });
    },
  };
}
