import { AuthError, InputError, NotFoundError, RetryableError } from '../../lib/errors.js';
import type { Account, Directory } from '../../lib/directory/directory.js';
import { keyEpoch, knownKeyEpoch } from '../../lib/directory/key-epoch.js';
import type { ShardRegistry } from '../../lib/shard/shard-registry.js';
import type { CollectorMetrics } from '../collector-metrics.js';
import { connectReply } from './agent-replies.js';
import { parseConnectRequest } from './connect-request.js';
import { keyFingerprint, newRunNonce, type RunApplication, type RunToken } from './run-token.js';

export interface HandshakeDeps {
  directory: Directory;
  shards: ShardRegistry;
  token: RunToken;
  metrics: CollectorMetrics;
  now: () => number;
  eventPeriodMs: number;
  maxPayloadBytes: number;
}

const KEY_TTL_MS = 60_000;
const MAX_CACHED_KEYS = 10_000;

/**
 * preconnect and connect: the only requests that touch the directory. connect resolves the account
 * from the license key, the applications from app_name, the agent from (host, pid, language) on the
 * account's shard, and signs all of it into the run id.
 */
export class AgentHandshake {
  readonly #keys = new Map<string, { account: Account; until: number; epoch: number }>();

  constructor(private readonly d: HandshakeDeps) {}

  /**
   * The account of a license key when `account` would answer it from its cache without reading
   * anything (the epoch read less than 2 s ago, the entry fresh): the harvest path's usual case, with
   * no promise. Otherwise undefined: call `account`.
   */
  cachedAccount(licenseKey: string): Account | undefined {
    const hit = this.#keys.get(licenseKey);
    if (!hit || hit.until <= Date.now()) return undefined;
    return knownKeyEpoch(this.d.directory) === hit.epoch ? hit.account : undefined;
  }

  /**
   * The account of a license key (cached for a minute, and only while no key was rotated: key-epoch.ts);
   * AuthError (401) when unknown. While the directory cannot be read, a cached answer is used.
   */
  async account(licenseKey: string): Promise<Account> {
    const hit = this.#keys.get(licenseKey);
    let epoch: number;
    try {
      epoch = await directoryCall(() => keyEpoch(this.d.directory));
    } catch (err) {
      if (hit) return hit.account;
      throw err;
    }
    if (hit && hit.until > Date.now() && hit.epoch === epoch) return hit.account;
    let account: Account | undefined;
    try {
      account = await directoryCall(() => this.d.directory.accountByLicenseKey(licenseKey));
    } catch (err) {
      if (hit && err instanceof RetryableError) return hit.account;
      throw err;
    }
    if (!account) {
      this.#keys.delete(licenseKey);
      throw new AuthError('cannot connect agent: unknown license key');
    }
    if (this.#keys.size >= MAX_CACHED_KEYS) this.#keys.clear();
    this.#keys.set(licenseKey, { account, until: Date.now() + KEY_TTL_MS, epoch });
    return account;
  }

  async connect(licenseKey: string, body: unknown): Promise<unknown> {
    const account = await this.account(licenseKey);
    const facts = parseConnectRequest(body);
    const { store } = await directoryCall(() => this.d.shards.storeForAccount(account.id));
    const apps = [];
    const runApps: RunApplication[] = [];
    for (const name of facts.appNames) {
      const app = await directoryCall(() => this.d.directory.ensureApplication(account.id, name));
      const agentId = await directoryCall(() =>
        store.agentId(account.id, { applicationId: app.id, host: facts.host, pid: facts.pid, language: facts.language }),
      );
      const applicationAgentId = await directoryCall(() => store.applicationAgentId(account.id, app.id));
      apps.push({ id: app.id, name: app.name, apdexT: app.apdexT });
      runApps.push({ applicationId: app.id, agentId, applicationAgentId });
    }
    const runId = this.d.token.sign({
      accountId: account.id,
      keyFingerprint: keyFingerprint(licenseKey),
      applications: runApps,
      nonce: newRunNonce(),
      issuedAt: Math.floor(this.d.now()),
    });
    this.d.metrics.connects.inc();
    return connectReply({ runId, accountId: account.id, applications: apps, eventPeriodMs: this.d.eventPeriodMs, maxPayloadBytes: this.d.maxPayloadBytes });
  }
}

/** Directory or shard trouble during a handshake is retryable (the agent backs off and retries). */
async function directoryCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof InputError || err instanceof AuthError || err instanceof RetryableError) throw err;
    if (err instanceof NotFoundError) throw new AuthError(`cannot connect agent: ${err.message}`);
    if (err instanceof Error && err.message.startsWith('BUG:')) throw err;
    throw Object.assign(new RetryableError('cannot connect agent: storage is unavailable', 15), { cause: err });
  }
}
