import { randomBytes } from 'node:crypto';

/**
 * Signed-in browser sessions, in memory: a random 256-bit id (the cookie) → the account and its read
 * key. The key stays on the server (the browser holds only the HttpOnly cookie, never the key, and it
 * never appears in a URL); it is re-checked against the directory now and then so a revoked key signs
 * its sessions out. Bounded: past `maxSessions` the least recently used session goes; idle sessions
 * expire. Kept per process: behind a load balancer, use sticky sessions or sign in again.
 */
export interface Session {
  id: string;
  accountId: number;
  readKey: string;
  /** Unix seconds of the last request and of the last check of the key. */
  lastSeen: number;
  verifiedAt: number;
}

export interface SessionStoreOptions {
  maxSessions: number;
  idleSeconds: number;
  now: () => number;
}

export class SessionStore {
  /** Insertion order = least recently used first (get() re-inserts). */
  readonly #sessions = new Map<string, Session>();

  constructor(private readonly opts: SessionStoreOptions) {}

  get size(): number {
    return this.#sessions.size;
  }

  create(accountId: number, readKey: string): Session {
    while (this.#sessions.size >= this.opts.maxSessions) {
      const oldest = this.#sessions.keys().next().value;
      if (oldest === undefined) break;
      this.#sessions.delete(oldest);
    }
    const now = this.opts.now();
    const s: Session = { id: randomBytes(32).toString('base64url'), accountId, readKey, lastSeen: now, verifiedAt: now };
    this.#sessions.set(s.id, s);
    return s;
  }

  /** The live session of that id (marking it used), or undefined when unknown or idle too long. */
  get(id: string): Session | undefined {
    const s = this.#sessions.get(id);
    if (!s) return undefined;
    const now = this.opts.now();
    this.#sessions.delete(id);
    if (now - s.lastSeen > this.opts.idleSeconds) return undefined;
    s.lastSeen = now;
    this.#sessions.set(id, s);
    return s;
  }

  delete(id: string): void {
    this.#sessions.delete(id);
  }
}

/** Cookie header → name/value map (first value of a name wins, as browsers send the most specific first). */
export function parseCookies(header: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!out.has(name)) out.set(name, part.slice(eq + 1).trim());
  }
  return out;
}
