import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { ensureMariadb } from '../../lib/mariadb/mariadb-install.js';

/**
 * Runs once before the suite: a fresh machine has Node and npm only, so install Debian's
 * mariadb-server (without starting its service) and chromium when missing and we are root.
 */
export default function setup(): void {
  const log = (l: string) => console.log(`[test setup] ${l}`);
  ensureMariadb(log);
  if (!fs.existsSync('/usr/bin/chromium')) {
    const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    if (!isRoot) throw new Error('cannot run browser tests: /usr/bin/chromium is missing; install it with `sudo apt-get install chromium`');
    log('chromium is missing: installing Debian chromium');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env });
    if (r.status !== 0) throw new Error(`cannot install chromium: apt-get exited with ${r.status}`);
  }
}
