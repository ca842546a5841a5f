import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { transformSync } from 'esbuild';
import { RUM_BUILT_PATH, RUM_SOURCE_PATH } from './rum-script.js';

/**
 * Build time only (esbuild is a development dependency; the beacon never imports this module): the
 * minification of beacon/rum/rum.js into the file the beacon serves. `npm run build` runs it through
 * bin/build-rum.ts, and the test setup through the same function, so tests never see a stale build.
 */

/** esbuild's minification of the source; ES5 in, ES5 out, so every browser parses it. */
export function minifyScript(source: string): string {
  return transformSync(source, { minify: true, target: 'es5', legalComments: 'inline', charset: 'ascii' }).code;
}

/** Minifies `source` into `out` (written whole: a reader sees the old file or the new one). */
export function buildRumFile(source: string = RUM_SOURCE_PATH, out: string = RUM_BUILT_PATH): { file: string; bytes: number } {
  const code = minifyScript(readFileSync(source, 'utf8'));
  mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  writeFileSync(tmp, code);
  renameSync(tmp, out);
  return { file: out, bytes: Buffer.byteLength(code) };
}
