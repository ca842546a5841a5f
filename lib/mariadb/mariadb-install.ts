import fs from 'node:fs';
import { silentLog, type Log } from '../log/log.js';
import { ensureDebianBinary } from '../system/debian-package.js';

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
 * as root (lib/system/debian-package.ts: its service is never started). Not root: throws saying
 * exactly what to install (or to point APM_SHARDS at existing servers).
 */
export function ensureMariadb(log: Log = silentLog): MariadbBinaries {
  const found = findMariadb();
  if (found) return found;
  try {
    ensureDebianBinary({ pkg: 'mariadb-server', paths: CANDIDATES.mariadbd, purpose: 'start MariaDB', log: (l) => log.info(l) });
  } catch (err) {
    throw new Error(`${(err as Error).message} (or point APM_SHARDS at existing servers)`);
  }
  const after = findMariadb();
  if (!after) throw new Error('cannot start MariaDB: mariadb-server was installed but mariadb-install-db was not found');
  return after;
}
