import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { silentLog, type Log } from '../log/log.js';

export interface MariadbBinaries {
  mariadbd: string;
  installDb: string;
}

const CANDIDATES = {
  mariadbd: ['/usr/sbin/mariadbd', '/usr/bin/mariadbd', '/usr/local/bin/mariadbd', '/usr/local/mysql/bin/mariadbd'],
  installDb: ['/usr/bin/mariadb-install-db', '/usr/local/bin/mariadb-install-db', '/usr/scripts/mariadb-install-db'],
};

function find(names: string[]): string | undefined {
  return names.find((p) => fs.existsSync(p));
}

/** Finds mariadbd and mariadb-install-db; undefined when either is missing. */
export function findMariadb(): MariadbBinaries | undefined {
  const mariadbd = find(CANDIDATES.mariadbd);
  const installDb = find(CANDIDATES.installDb);
  return mariadbd && installDb ? { mariadbd, installDb } : undefined;
}

/**
 * Returns the MariaDB binaries, installing Debian's mariadb-server when they are missing and we run
 * as root. The package's service is not started: a policy-rc.d that denies starts is in place while
 * apt runs. Not root: throws saying exactly what to install.
 */
export function ensureMariadb(log: Log = silentLog): MariadbBinaries {
  const found = findMariadb();
  if (found) return found;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !fs.existsSync('/usr/bin/apt-get')) {
    throw new Error(
      'cannot start MariaDB: mariadbd is not installed. Install it with `sudo apt-get install mariadb-server` ' +
        '(Debian/Ubuntu) or point APM_SHARDS at existing servers.',
    );
  }
  log.info('mariadbd is missing: installing Debian mariadb-server (the system service is not started)');
  const policy = '/usr/sbin/policy-rc.d';
  const hadPolicy = fs.existsSync(policy);
  if (!hadPolicy) fs.writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'mariadb-server'], { stdio: 'inherit', env });
    if (r.status !== 0) throw new Error(`cannot install mariadb-server: apt-get exited with ${r.status}`);
  } finally {
    if (!hadPolicy) fs.rmSync(policy, { force: true });
  }
  const after = findMariadb();
  if (!after) throw new Error('cannot start MariaDB: mariadb-server was installed but mariadbd was not found');
  return after;
}
