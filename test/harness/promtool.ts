import { execFile, execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';

/**
 * Debian's `promtool` (package prometheus), installed when missing and we run as root, like
 * lib/mariadb/mariadb-install.ts installs MariaDB: apt-get update first, and the package's service
 * is never started (a policy-rc.d denying starts is in place while apt runs).
 */
const CANDIDATES = ['/usr/bin/promtool', '/usr/local/bin/promtool'];

export function ensurePromtool(): string {
  const found = CANDIDATES.find((p) => fs.existsSync(p));
  if (found) return found;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !fs.existsSync('/usr/bin/apt-get')) throw new Error('cannot run promtool: install Debian\'s prometheus package (`sudo apt-get install prometheus`)');
  const policy = '/usr/sbin/policy-rc.d';
  const hadPolicy = fs.existsSync(policy);
  if (!hadPolicy) fs.writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'prometheus'], { stdio: 'inherit', env });
    if (r.status !== 0) throw new Error(`cannot install prometheus: apt-get exited with ${r.status}`);
  } finally {
    if (!hadPolicy) fs.rmSync(policy, { force: true });
  }
  const after = CANDIDATES.find((p) => fs.existsSync(p));
  if (!after) throw new Error('cannot run promtool: the prometheus package was installed but promtool was not found');
  return after;
}

/** Runs promtool with `args`; resolves with its stdout (rejects with its stderr on failure). */
export function promtool(bin: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`promtool ${args.join(' ')} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}
