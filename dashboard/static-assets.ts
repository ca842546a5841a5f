import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The web UI's files, read once at start-up and served from memory: our own HTML/JS/CSS from
 * dashboard/ui/ and uPlot's browser build from node_modules (bundled with the service, no CDN).
 */
export interface Asset {
  body: Buffer;
  contentType: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** URL path → asset. "/" is the single page; everything else lives under /assets/. */
export function loadAssets(): Map<string, Asset> {
  const ui = uiDir();
  const require = createRequire(import.meta.url);
  const uplot = path.dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
  const files: Array<[string, string]> = [
    ['/', path.join(ui, 'index.html')],
    ['/assets/uPlot.iife.min.js', path.join(uplot, 'uPlot.iife.min.js')],
    ['/assets/uPlot.min.css', path.join(uplot, 'uPlot.min.css')],
    // The icon at the root too: browsers ask for /favicon.ico when a page (an error page, a JSON
    // answer) names none.
    ['/favicon.svg', path.join(ui, 'favicon.svg')],
    ['/favicon.ico', path.join(ui, 'favicon.svg')],
  ];
  for (const f of fs.readdirSync(ui).sort()) if (/^[a-z][a-z0-9-]*\.(js|css|svg)$/.test(f)) files.push([`/assets/${f}`, path.join(ui, f)]);
  const out = new Map<string, Asset>();
  for (const [url, file] of files) {
    out.set(url, { body: fs.readFileSync(file), contentType: TYPES[path.extname(file)] ?? 'application/octet-stream' });
  }
  return out;
}

/** dashboard/ui next to this module when run from source, or from dist/dashboard after a build. */
function uiDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const dir of [path.join(here, 'ui'), path.join(here, '..', '..', 'dashboard', 'ui')]) {
    if (fs.existsSync(path.join(dir, 'index.html'))) return dir;
  }
  throw new Error(`cannot start dashboard: web UI files not found near ${here} (expected dashboard/ui/index.html)`);
}
