import { createHash, randomBytes } from 'node:crypto';

/** Ingest license key: 40 hex characters (160 random bits), the form New Relic agents expect. */
export function newLicenseKey(): string {
  return randomBytes(20).toString('hex');
}

/** Browser key: public (it is in every page); 128 random bits. */
export function newBrowserKey(): string {
  return `apmb_${randomBytes(16).toString('hex')}`;
}

/** Read API key: secret; 160 random bits. */
export function newReadKey(): string {
  return `apmr_${randomBytes(20).toString('hex')}`;
}

/** Keys are high-entropy random strings, so a plain SHA-256 is a safe one-way lookup hash. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}
