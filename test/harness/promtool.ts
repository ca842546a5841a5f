import { execFile } from 'node:child_process';
import { ensureDebianBinary } from '../../lib/system/debian-package.js';

/** Debian's `promtool` (package prometheus), installed when missing and we run as root (its service never started). */
export function ensurePromtool(): string {
  return ensureDebianBinary({ pkg: 'prometheus', paths: ['/usr/bin/promtool', '/usr/local/bin/promtool'], purpose: 'run promtool' });
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
