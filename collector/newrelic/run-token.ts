import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { AuthError } from '../../lib/errors.js';

/** The ids an agent run reports under, per application it named at connect. */
export interface RunApplication {
  applicationId: number;
  /** This agent's row in the shard's agents table for that application. */
  agentId: number;
  /** The application-wide pseudo-agent. */
  applicationAgentId: number;
}

/** Everything a data request needs, carried by the agent as its run id: no lookup per request. */
export interface RunClaims {
  accountId: number;
  /** Fingerprint of the license key that connected: a run id only works with that key. */
  keyFingerprint: string;
  applications: RunApplication[];
  /** Random per connect; names the run (harvest records, dedupe keys). 16 hex characters. */
  nonce: string;
  /** Unix seconds of the connect. */
  issuedAt: number;
}

const VERSION = 'r1';
const MAC_BYTES = 16;

export function keyFingerprint(licenseKey: string): string {
  return createHash('sha256').update(licenseKey).digest('hex').slice(0, 16);
}

export function newRunNonce(): string {
  return randomBytes(8).toString('hex');
}

/**
 * Run ids are `r1.<claims as base64url JSON>.<HMAC-SHA256 of both, 128 bits, base64url>` signed with
 * the collector's run secret (shared by every collector behind one load balancer). A forged,
 * altered or foreign run id is an AuthError (401: the agent reconnects).
 */
export class RunToken {
  readonly #secret: Buffer;
  /**
   * Claims of run ids verified with their license key (the key, a newline, the run id): an agent's
   * harvests carry the same pair every minute, so the HMAC, the key's fingerprint and the claims' JSON
   * are computed once per run, not per post. Verifying is deterministic, so a hit answers what
   * verifying again would; the claims are frozen. Bounded by count and bytes.
   */
  readonly #verified = new LRUCache<string, RunClaims>({ max: 20_000, maxSize: 16 * 1024 * 1024, sizeCalculation: (_c, k) => 2 * k.length + 512 });

  constructor(secret: string | Buffer) {
    this.#secret = Buffer.isBuffer(secret) ? secret : Buffer.from(secret, 'utf8');
    if (this.#secret.length < 32) throw new Error('BUG: run secret must be at least 32 bytes');
  }

  sign(claims: RunClaims): string {
    const body = `${VERSION}.${Buffer.from(JSON.stringify(encode(claims))).toString('base64url')}`;
    return `${body}.${this.#mac(body).toString('base64url')}`;
  }

  /** The claims of a run id this collector signed for `licenseKey`, or AuthError. */
  verify(runId: string, licenseKey: string): RunClaims {
    const pair = `${licenseKey}\n${runId}`;
    const known = this.#verified.get(pair);
    if (known) return known;
    const claims = this.#check(runId, licenseKey);
    this.#verified.set(pair, claims);
    return claims;
  }

  #check(runId: string, licenseKey: string): RunClaims {
    const parts = runId.split('.');
    if (parts.length !== 3 || parts[0] !== VERSION) throw unknownRun('it was not issued by this collector');
    const body = `${parts[0]}.${parts[1]}`;
    const mac = Buffer.from(parts[2]!, 'base64url');
    if (mac.length !== MAC_BYTES || !timingSafeEqual(mac, this.#mac(body))) throw unknownRun('its signature does not match');
    const claims = decode(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
    if (claims === undefined) throw unknownRun('its claims are malformed');
    if (claims.keyFingerprint !== keyFingerprint(licenseKey)) throw unknownRun('it belongs to another license key');
    return claims;
  }

  #mac(body: string): Buffer {
    return createHmac('sha256', this.#secret).update(body).digest().subarray(0, MAC_BYTES);
  }
}

function unknownRun(why: string): AuthError {
  return new AuthError(`cannot accept run id: ${why} (reconnect)`);
}

type Wire = { a: number; k: string; p: number[][]; n: string; t: number };

function encode(c: RunClaims): Wire {
  return { a: c.accountId, k: c.keyFingerprint, p: c.applications.map((x) => [x.applicationId, x.agentId, x.applicationAgentId]), n: c.nonce, t: c.issuedAt };
}

function decode(json: string): RunClaims | undefined {
  let w: Partial<Wire>;
  try {
    w = JSON.parse(json) as Partial<Wire>;
  } catch {
    return undefined;
  }
  const id = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n > 0;
  if (!id(w.a) || typeof w.k !== 'string' || typeof w.n !== 'string' || typeof w.t !== 'number' || !Array.isArray(w.p) || w.p.length === 0) return undefined;
  if (!w.p.every((x) => Array.isArray(x) && x.length === 3 && x.every(id))) return undefined;
  return Object.freeze({
    accountId: w.a!,
    keyFingerprint: w.k,
    applications: Object.freeze(w.p.map(([applicationId, agentId, applicationAgentId]) => Object.freeze({ applicationId: applicationId!, agentId: agentId!, applicationAgentId: applicationAgentId! }))),
    nonce: w.n,
    issuedAt: w.t,
  }) as RunClaims;
}
