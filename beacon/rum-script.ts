import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { transformSync } from 'esbuild';

/**
 * The browser script as served: beacon/rum/rum.js minified by esbuild (ES5 target, the `/*!` banner
 * kept), a content-hash version, and a pre-compressed gzip copy. Built once when the beacon starts
 * (a few milliseconds); the budget is 2.5 KB gzipped (test/unit/rum-script.test.ts).
 */
export interface RumScript {
  /** The served JavaScript. */
  text: Buffer;
  gzip: Buffer;
  /** First 12 hex digits of the SHA-256 of `text`; the versioned URL is /rum-<version>.js. */
  version: string;
  /** Quoted strong ETag. */
  etag: string;
}

/**
 * beacon/rum/rum.js beside this module (tests, tsx) or, from the compiled dist/beacon/, in the source
 * tree (tsc does not copy .js files).
 */
export const RUM_SOURCE_URL = [new URL('./rum/rum.js', import.meta.url), new URL('../../beacon/rum/rum.js', import.meta.url)].find((u) => existsSync(u)) ?? new URL('./rum/rum.js', import.meta.url);

/** esbuild's minification of the source; ES5 in, ES5 out, so every browser parses it. */
export function minifyScript(source: string): string {
  return transformSync(source, { minify: true, target: 'es5', legalComments: 'inline', charset: 'ascii' }).code;
}

export function buildRumScript(source: string): RumScript {
  const text = Buffer.from(minifyScript(source), 'utf8');
  const version = createHash('sha256').update(text).digest('hex').slice(0, 12);
  return { text, gzip: gzipSync(text, { level: 9 }), version, etag: `"${version}"` };
}

export function loadRumScript(): RumScript {
  return buildRumScript(readFileSync(RUM_SOURCE_URL, 'utf8'));
}
