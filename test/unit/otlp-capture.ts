import fs from 'node:fs';
import path from 'node:path';

/** The real OTLP captures (copied from shared/reference/otlp-capture; see its README). */
export const CAPTURE_DIR = path.resolve(import.meta.dirname, '../fixtures/otlp-capture');

export interface Capture {
  headers: Record<string, string>;
  body: unknown;
}

export function capture(name: string): Capture {
  return JSON.parse(fs.readFileSync(path.join(CAPTURE_DIR, name), 'utf8')) as Capture;
}

export function captureBytes(name: string): Buffer {
  return fs.readFileSync(path.join(CAPTURE_DIR, name));
}

/** The exports' clock: every capture was recorded around this Unix second. */
export const CAPTURE_NOW = 1795393660;
export const CAPTURE_WINDOW = { nowSeconds: CAPTURE_NOW, maxAgeSeconds: 86400, maxFutureSeconds: 300 };
/** The minute every capture's points fall into. */
export const CAPTURE_MINUTE = 1795393620;
