import { InputError } from '../lib/errors.js';

export type ChannelType = 'email' | 'webhook' | 'pagerduty';

export type ChannelConfig =
  | { type: 'email'; to: string[] }
  | { type: 'webhook'; url: string; secret: string; format: 'json' | 'slack' }
  | { type: 'pagerduty'; routingKey: string };

export interface ChannelDraft {
  name: string;
  config: ChannelConfig;
}

const EMAIL = /^[^\s@<>(),;:"]{1,64}@[A-Za-z0-9.-]{1,253}$/;

/** A URL the process may POST to: http or https only, with a host. */
export function httpUrl(field: string, raw: unknown, what: string): string {
  const text = typeof raw === 'string' ? raw.trim() : '';
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new InputError(`cannot accept ${what}: ${field} ${JSON.stringify(text.slice(0, 80))} is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InputError(`cannot accept ${what}: ${field} must be an http or https URL, not ${u.protocol}`);
  if (text.length > 2048) throw new InputError(`cannot accept ${what}: ${field} is longer than 2048 characters`);
  return u.toString();
}

/**
 * Validates a channel; messages name the field. email: `to` (one or more addresses, comma-separated);
 * webhook: `url` (http/https), `secret` (HMAC key, at least 16 characters; generated when absent),
 * `format` json or slack; pagerduty: `routingKey` (the integration key of a PagerDuty service).
 */
export function validateChannel(input: Record<string, unknown>, newSecret: () => string): ChannelDraft {
  const name = typeof input.name === 'string' ? input.name.trim() : '';
  if (name.length === 0 || name.length > 128) throw new InputError('cannot accept channel: name must be 1 to 128 characters');
  const type = input.type;
  if (type === 'email') {
    const raw = Array.isArray(input.to) ? input.to : typeof input.to === 'string' ? input.to.split(',') : [];
    const to = raw.map((s) => String(s).trim()).filter(Boolean);
    if (to.length === 0 || to.length > 50) throw new InputError('cannot accept channel: to must list 1 to 50 email addresses');
    for (const a of to) if (!EMAIL.test(a)) throw new InputError(`cannot accept channel: to ${JSON.stringify(a)} is not an email address`);
    return { name, config: { type, to } };
  }
  if (type === 'webhook') {
    const url = httpUrl('url', input.url, 'channel');
    const format = input.format === undefined ? 'json' : input.format;
    if (format !== 'json' && format !== 'slack') throw new InputError(`cannot accept channel: format ${JSON.stringify(format)} must be json or slack`);
    const secret = input.secret === undefined || input.secret === '' ? newSecret() : String(input.secret);
    if (secret.length < 16 || secret.length > 256) throw new InputError('cannot accept channel: secret must be 16 to 256 characters');
    return { name, config: { type, url, secret, format } };
  }
  if (type === 'pagerduty') {
    const key = typeof input.routingKey === 'string' ? input.routingKey.trim() : '';
    if (!/^[A-Za-z0-9]{20,64}$/.test(key)) throw new InputError('cannot accept channel: routingKey must be the 32-character integration key of a PagerDuty service');
    return { name, config: { type, routingKey: key } };
  }
  throw new InputError(`cannot accept channel: type ${JSON.stringify(type ?? '')} is unknown (known: email, webhook, pagerduty)`);
}
