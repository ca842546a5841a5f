import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const MIN_TOKEN_LENGTH = 24;

/**
 * The admin token: APM_ADMIN_TOKEN when set (refused when shorter than 24 characters), otherwise the
 * one kept in <dataDir>/admin-token, made on first start (32 random bytes, base64url, file mode 0600).
 * The token itself is never logged; the file's path is.
 */
export function adminToken(configured: string | undefined, dataDir: string): { token: string; file?: string } {
  if (configured !== undefined) {
    if (configured.length < MIN_TOKEN_LENGTH) throw new Error(`cannot start admin: APM_ADMIN_TOKEN must be at least ${MIN_TOKEN_LENGTH} characters`);
    return { token: configured };
  }
  const file = path.join(dataDir, 'admin-token');
  if (fs.existsSync(file)) {
    const token = fs.readFileSync(file, 'utf8').trim();
    if (token.length < MIN_TOKEN_LENGTH) throw new Error(`cannot start admin: ${file} holds a token shorter than ${MIN_TOKEN_LENGTH} characters`);
    return { token, file };
  }
  fs.mkdirSync(dataDir, { recursive: true });
  const token = randomBytes(32).toString('base64url');
  fs.writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  return { token, file };
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time comparison (of SHA-256 digests, so lengths never leak). */
export function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string): string | undefined {
  const m = /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(header);
  return m ? m[1] : undefined;
}
