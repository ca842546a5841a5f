import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

/**
 * The browser script as served: beacon/rum/rum.js with its `//` comment lines, indentation and blank
 * lines removed (the source keeps no code and comment on one line, no multi-line strings, so this is
 * safe without a minifier dependency), a content-hash version, and a pre-compressed gzip copy.
 * Built once at start-up; the issue's budget is 2.5 KB gzipped (test/unit/rum-script.test.ts).
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

/** Strips comment-only lines, leading indentation and blank lines; keeps the `/*!` banner. */
export function compactScript(source: string): string {
  const out: string[] = [];
  for (const raw of source.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('//')) continue;
    out.push(line.replace(/\s+\/\*[^*]*\*\/\s*(?=[;})\s]|$)/g, ' ').trimEnd());
  }
  return out.join('\n') + '\n';
}

export function buildRumScript(source: string): RumScript {
  const text = Buffer.from(compactScript(source), 'utf8');
  const version = createHash('sha256').update(text).digest('hex').slice(0, 12);
  return { text, gzip: gzipSync(text, { level: 9 }), version, etag: `"${version}"` };
}

export function loadRumScript(): RumScript {
  return buildRumScript(readFileSync(RUM_SOURCE_URL, 'utf8'));
}
