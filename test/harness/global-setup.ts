import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { buildRumFile } from '../../beacon/rum-build.js';
import { ensureMariadb } from '../../lib/mariadb/mariadb-install.js';
import { lineLog } from '../../lib/log/log.js';
import { ensureDebianBinary } from '../../lib/system/debian-package.js';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Runs once before the suite:
 * - a fresh machine has Node and npm only, so install Debian's mariadb-server (its service is not
 *   started) and chromium when missing and we are root;
 * - compile to dist/ when sources are newer: tests that need several real processes (races between
 *   processes, services under a real agent) run the compiled code in child processes;
 * - build dist/beacon/rum/rum.min.js from beacon/rum/rum.js (what the beacon serves), every run.
 */
export default function setup(): void {
  const log = (l: string) => console.log(`[test setup] ${l}`);
  ensureMariadb(lineLog(log));
  ensureDebianBinary({ pkg: 'chromium', paths: ['/usr/bin/chromium'], purpose: 'run the browser tests', log });
  const root = path.resolve(import.meta.dirname, '..', '..');
  const stamp = path.join(root, 'dist', '.built');
  const sources = Math.max(...['lib', 'bin', 'collector', 'beacon', 'rollup', 'dashboard', 'bench', 'admin', 'alerts', 'pinger'].filter((d) => fs.existsSync(path.join(root, d))).map((d) => newestMtime(path.join(root, d))));
  if (!fs.existsSync(stamp) || fs.statSync(stamp).mtimeMs < sources) {
    log('compiling to dist/ for the multi-process tests');
    const r = spawnSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
    if (!fs.existsSync(path.join(root, 'dist', 'lib', 'storage.js'))) throw new Error(`cannot compile: tsc exited with ${r.status}`);
    fs.writeFileSync(stamp, new Date().toISOString());
  }
  // The browser script the beacon serves, built as `npm run build` builds it (a few ms, so always).
  buildRumFile();
}
