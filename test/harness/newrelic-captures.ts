import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** One captured agent request (test/fixtures/newrelic-capture/, see its README). */
export interface Capture {
  url: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  rawBodyBytes: number;
  decodedBodyBytes: number;
  body: any;
  responseStatus: number;
  responseBody: any;
}

export const CAPTURE_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'newrelic-capture');

/** Loads a capture by file name prefix, e.g. '05' or 'restart-409/013'. */
export function capture(prefix: string): Capture {
  const dir = path.join(CAPTURE_DIR, path.dirname(prefix));
  const base = path.basename(prefix);
  const file = fs.readdirSync(dir).find((f) => f.startsWith(base) && f.endsWith('.json'));
  if (!file) throw new Error(`no capture ${prefix} in ${dir}`);
  return JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as Capture;
}

/** The capture's body as the agent serialised it (JSON text). */
export function bodyText(c: Capture): string {
  return JSON.stringify(c.body);
}

/** A metric_data body with its window moved so it ends `endsAgo` seconds before `now` (same length). */
export function shiftedMetricData(c: Capture, runId: string, now: number, endsAgo = 1): unknown[] {
  const [, start, end, metrics] = c.body as [string, number, number, unknown[]];
  const shift = now - endsAgo - end;
  return [runId, start + shift, end + shift, metrics];
}

/** Sum of call counts per "name|scope" over a metric_data body. */
export function countsOf(body: unknown[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const [spec, stats] of body[3] as Array<[{ name: string; scope?: string }, number[]]>) {
    const k = `${spec.name}|${spec.scope ?? ''}`;
    out.set(k, (out.get(k) ?? 0) + stats[0]!);
  }
  return out;
}
