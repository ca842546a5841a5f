import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';

export interface DebianBinary {
  /** Debian package that ships the binary (mariadb-server, victoria-metrics, prometheus, chromium). */
  pkg: string;
  /** Where the binary may be, first found wins. */
  paths: readonly string[];
  /** What needs it, for messages: "start MariaDB", "run the peer phase". */
  purpose: string;
  log?: (line: string) => void;
}

/**
 * The path of a binary from one of Debian's packages, installing the package when it is missing and we
 * run as root: apt-get update first, and the package's system service is never started (a policy-rc.d
 * that denies starts is in place while apt runs). Not root (or no apt): throws saying what to install.
 */
export function ensureDebianBinary(b: DebianBinary): string {
  const found = b.paths.find((p) => fs.existsSync(p));
  if (found) return found;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !fs.existsSync('/usr/bin/apt-get')) {
    throw new Error(`cannot ${b.purpose}: ${b.paths[0]} is missing; install it with \`sudo apt-get install ${b.pkg}\``);
  }
  b.log?.(`${b.paths[0]} is missing: installing Debian ${b.pkg} (its system service is not started)`);
  const policy = '/usr/sbin/policy-rc.d';
  const hadPolicy = fs.existsSync(policy);
  if (!hadPolicy) fs.writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', b.pkg], { stdio: 'inherit', env });
    if (r.status !== 0) throw new Error(`cannot install ${b.pkg}: apt-get exited with ${r.status}`);
  } finally {
    if (!hadPolicy) fs.rmSync(policy, { force: true });
  }
  const after = b.paths.find((p) => fs.existsSync(p));
  if (!after) throw new Error(`cannot ${b.purpose}: ${b.pkg} was installed but ${b.paths.join(' or ')} was not found`);
  return after;
}
