import { InputError } from '../lib/errors.js';
import { httpUrl } from '../alerts/channel-input.js';
import { parseChannels } from '../alerts/policy-input.js';

export interface MonitorDraft {
  name: string;
  url: string;
  intervalSeconds: number;
  timeoutMs: number;
  expectedStatus: number;
  bodyContains: string | null;
  channels: number[];
  enabled: boolean;
}

export const MIN_INTERVAL_SECONDS = 10;
export const DEFAULT_INTERVAL_SECONDS = 30;

/** Whether `host` is allowed by APM_PINGER_ALLOWED_HOSTS (empty: any host; `.example.com` matches subdomains). */
export function hostAllowed(host: string, allowed: readonly string[]): boolean {
  if (allowed.length === 0) return true;
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return allowed.some((a) => {
    const x = a.toLowerCase();
    return x.startsWith('.') ? h.endsWith(x) || h === x.slice(1) : h === x;
  });
}

function int(field: string, raw: unknown, fallback: number, min: number, max: number, unit: string): number {
  if (raw === undefined || raw === null || raw === '') return fallback;
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^[0-9]{1,9}$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!(Number.isInteger(n) && n >= min && n <= max)) throw new InputError(`cannot accept monitor: ${field} ${JSON.stringify(raw)} must be a whole number of ${unit} from ${min} to ${max}`);
  return n;
}

/**
 * Validates a monitor; messages name the field. The name becomes the metric `Availability/<name>`, so
 * it is 1 to 100 letters, digits, spaces, dots, dashes or underscores. Only http and https URLs, and
 * only hosts APM_PINGER_ALLOWED_HOSTS allows.
 */
export function validateMonitor(input: Record<string, unknown>, knownChannels: ReadonlySet<number>, allowedHosts: readonly string[]): MonitorDraft {
  const name = typeof input.name === 'string' ? input.name.trim() : '';
  if (!/^[A-Za-z0-9 ._-]{1,100}$/.test(name)) throw new InputError('cannot accept monitor: name must be 1 to 100 letters, digits, spaces, dots, dashes or underscores');
  const url = httpUrl('url', input.url, 'monitor');
  const host = new URL(url).hostname;
  if (!hostAllowed(host, allowedHosts)) throw new InputError(`cannot accept monitor: url host ${host} is not allowed by APM_PINGER_ALLOWED_HOSTS`);
  const intervalSeconds = int('interval', input.interval, DEFAULT_INTERVAL_SECONDS, MIN_INTERVAL_SECONDS, 3600, 'seconds');
  const timeoutMs = int('timeout', input.timeout, Math.min(10_000, intervalSeconds * 1000), 100, 60_000, 'milliseconds');
  if (timeoutMs > intervalSeconds * 1000) throw new InputError(`cannot accept monitor: timeout ${timeoutMs} ms must not exceed the interval (${intervalSeconds} s)`);
  const expectedStatus = int('expectedStatus', input.expectedStatus, 200, 100, 599, 'HTTP status');
  const body = input.bodyContains;
  if (body !== undefined && body !== null && (typeof body !== 'string' || body.length > 255)) throw new InputError('cannot accept monitor: bodyContains must be a string of at most 255 characters');
  const channels = parseChannels(input.channels, knownChannels, 'monitor');
  const enabled = input.enabled === undefined ? true : input.enabled === true || input.enabled === 'true';
  return { name, url, intervalSeconds, timeoutMs, expectedStatus, bodyContains: typeof body === 'string' && body.length > 0 ? body : null, channels, enabled };
}
