import type { Account, Directory } from '../lib/directory/directory.js';
import { keyEpoch } from '../lib/directory/key-epoch.js';
import { AuthError, InputError } from '../lib/errors.js';
import { parseCookies, type Session, type SessionStore } from './session-store.js';

export const SESSION_COOKIE = 'apm_session';
/** Longest key we look up; anything longer is refused without touching the directory. */
const MAX_KEY_LENGTH = 256;
/** How long a checked key (and a session's key) is trusted before the directory is asked again. */
const RECHECK_SECONDS = 60;
const MAX_CACHED_KEYS = 10_000;

/** What a request carries to authenticate, read synchronously from the uWebSockets.js request. */
export interface Credentials {
  /** `X-Api-Key: <read key>` or `Authorization: Bearer <read key>` (API clients). */
  apiKey: string;
  /** The Cookie header (the web UI's session). */
  cookie: string;
}

/**
 * Authentication by the account's read API key: directly (a header) or through a session made by
 * signing in with it. A key sees only its own account. Checked keys are cached briefly (bounded).
 */
export class ReadAuth {
  readonly #keys = new Map<string, { account: Account; at: number; epoch: number }>();

  constructor(
    private readonly directory: Directory,
    readonly sessions: SessionStore,
    private readonly now: () => number,
  ) {}

  /** The account of a read key; AuthError (401) when the key is unknown. */
  async accountOf(key: string): Promise<Account> {
    const k = key.trim();
    if (k.length === 0 || k.length > MAX_KEY_LENGTH) throw new AuthError('cannot authenticate: the read API key is missing or malformed');
    const now = this.now();
    const hit = this.#keys.get(k);
    // Trusted only while no key was rotated (key-epoch.ts).
    const epoch = await keyEpoch(this.directory);
    if (hit && now - hit.at < RECHECK_SECONDS && hit.epoch === epoch) return hit.account;
    const account = await this.directory.accountByReadKey(k);
    if (!account) {
      this.#keys.delete(k);
      throw new AuthError('cannot authenticate: unknown read API key');
    }
    if (this.#keys.size >= MAX_CACHED_KEYS) this.#keys.clear();
    this.#keys.set(k, { account, at: now, epoch });
    return account;
  }

  /** Signs in: checks the key and opens a session holding it. */
  async signIn(key: unknown): Promise<{ account: Account; session: Session }> {
    if (typeof key !== 'string') throw new InputError('cannot sign in: the body must be JSON {"key": "<read API key>"}');
    const account = await this.accountOf(key);
    return { account, session: this.sessions.create(account.id, key.trim()) };
  }

  /** The session named by the request's cookie, if any and live. */
  sessionOf(c: Credentials): Session | undefined {
    const id = parseCookies(c.cookie).get(SESSION_COOKIE);
    return id ? this.sessions.get(id) : undefined;
  }

  /** The caller's account: an API key header wins, otherwise the session cookie; AuthError otherwise. */
  async authenticate(c: Credentials): Promise<Account> {
    if (c.apiKey) return this.accountOf(c.apiKey);
    const s = this.sessionOf(c);
    if (!s) throw new AuthError('cannot authenticate: sign in with your read API key (or send it in the X-Api-Key header)');
    try {
      const account = await this.accountOf(s.readKey);
      if (account.id !== s.accountId) throw new AuthError('cannot authenticate: the session\'s key now belongs to another account');
      s.verifiedAt = this.now();
      return account;
    } catch (err) {
      if (err instanceof AuthError) this.sessions.delete(s.id);
      throw err;
    }
  }
}

/** The key from `X-Api-Key` or `Authorization: Bearer …` ('' when neither). */
export function apiKeyOf(xApiKey: string, authorization: string): string {
  if (xApiKey) return xApiKey;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  return m ? m[1]! : '';
}
