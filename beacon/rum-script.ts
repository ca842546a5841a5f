import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/**
 * The browser script as served: beacon/rum/rum.js minified by esbuild at build time (`npm run build`,
 * beacon/rum-build.ts) into dist/beacon/rum/rum.min.js, a content-hash version, and a pre-compressed
 * gzip copy. The beacon reads the built file when it starts and refuses to start without it; the
 * budget is 2.5 KB gzipped (test/unit/rum-script.test.ts).
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

/** The package root (the folder holding beacon/rum/rum.js), from the sources (tests) or from dist/. */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(path.join(dir, 'beacon', 'rum', 'rum.js')) && existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error(`cannot find the package root (with beacon/rum/rum.js) above ${fileURLToPath(import.meta.url)}`);
}

const ROOT = packageRoot();
/** The source, plain ES5 (tsc does not copy it to dist/). */
export const RUM_SOURCE_PATH = path.join(ROOT, 'beacon', 'rum', 'rum.js');
/** What `npm run build` writes and the beacon serves. */
export const RUM_BUILT_PATH = path.join(ROOT, 'dist', 'beacon', 'rum', 'rum.min.js');
export const RUM_BUILD_COMMAND = 'npm run build';

/** The served form of an already minified script. */
export function rumScriptOf(minified: string): RumScript {
  const text = Buffer.from(minified, 'utf8');
  const version = createHash('sha256').update(text).digest('hex').slice(0, 12);
  return { text, gzip: gzipSync(text, { level: 9 }), version, etag: `"${version}"` };
}

/** The built script; throws, naming the build command, when it has not been built. */
export function loadRumScript(file: string = RUM_BUILT_PATH): RumScript {
  if (!existsSync(file)) throw new Error(`the browser script is not built: ${file} is missing (run \`${RUM_BUILD_COMMAND}\`, which builds it with esbuild)`);
  return rumScriptOf(readFileSync(file, 'utf8'));
}
