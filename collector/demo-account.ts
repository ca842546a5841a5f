import fs from 'node:fs';
import path from 'node:path';
import type { Directory } from '../lib/directory/directory.js';

export const DEMO_ACCOUNT_NAME = 'demo';

export interface DemoAccount {
  accountId: number;
  licenseKey: string;
  browserKey: string;
  readKey: string;
  /** True only for the call that created the account (its keys may be shown, once). */
  created?: boolean;
}

/** What a log line may show of a secret key: its first characters. */
export function keyPrefix(key: string): string {
  return `${key.slice(0, key.startsWith('apm') ? 9 : 6)}…`;
}

/** A shell command printing one demo key from the keys file (so no log holds the key). */
export function demoKeyCommand(file: string, which: 'licenseKey' | 'browserKey' | 'readKey'): string {
  return `node -p 'require(${JSON.stringify(path.resolve(file))}).${which}'`;
}

/** Where the embedded default keeps the demo account's keys (mode 0600). */
export function demoKeysFile(dataDir: string): string {
  return path.join(dataDir, 'demo-account.json');
}

/**
 * The embedded default's demo account, so `npm start` can print keys that work (agents, rum.js, the
 * dashboard's sign-in): created once (when no account named "demo" exists yet), its keys kept in
 * `file` (mode 0600) because the directory stores the secret ones hashed. Returns undefined when the
 * keys are not known (the demo account was made elsewhere).
 */
export async function ensureDemoAccount(directory: Directory, file: string): Promise<DemoAccount | undefined> {
  if (fs.existsSync(file)) {
    try {
      const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as DemoAccount;
      const account = await directory.accountByLicenseKey(String(saved.licenseKey));
      if (account && account.id === saved.accountId) return saved;
    } catch {
      // unreadable: fall through and decide from the directory
    }
  }
  if ((await directory.listAccounts()).some((a) => a.name === DEMO_ACCOUNT_NAME)) return undefined;
  const made = await directory.createAccount({ name: DEMO_ACCOUNT_NAME });
  const demo: DemoAccount = { accountId: made.account.id, licenseKey: made.licenseKey, browserKey: made.browserKey, readKey: made.readKey };
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, `${JSON.stringify(demo)}\n`, { mode: 0o600 });
  return { ...demo, created: true };
}
