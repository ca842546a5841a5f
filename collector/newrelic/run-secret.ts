import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * The secret that signs run ids: the configured one, else the one kept in `file` (created once,
 * mode 0600, 32 random bytes as hex). Several processes starting at once agree: the first
 * exclusive create wins and everyone reads the file.
 */
export function ensureRunSecret(configured: string | undefined, file: string): string {
  if (configured !== undefined) return configured;
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    try {
      fs.writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') throw err;
    }
  }
  const secret = fs.readFileSync(file, 'utf8').trim();
  if (secret.length < 32) throw new Error(`cannot start collector: run secret file ${file} holds fewer than 32 characters`);
  return secret;
}
