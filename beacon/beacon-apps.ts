import { LRUCache } from 'lru-cache';
import type { Directory } from '../lib/directory/directory.js';
import { keyEpoch } from '../lib/directory/key-epoch.js';
import { BeaconRejection } from './beacon-rejection.js';

/** Where a beacon's page views go, and what its application allows. */
export interface AppTarget {
  accountId: number;
  applicationId: number;
  /** Browser Apdex threshold T, seconds (Application.browserApdexT). */
  apdexT: number;
  allowedOrigins: readonly string[];
}

export type AppLookup = AppTarget | BeaconRejection;

export interface BeaconAppsOptions {
  /** How long an answer (found or not) is trusted, seconds. */
  ttlSeconds: number;
  /** Clock in seconds. */
  now: () => number;
  /** Cached (browser key, application) pairs; past it the oldest tenth is forgotten. */
  maxEntries?: number;
  /** Directory look-ups in flight at once; past it beacons are refused as overloaded. */
  maxInflight?: number;
}

interface Entry {
  value: AppLookup;
  until: number;
  refreshing: boolean;
}

/**
 * (browser key, application name) → account and application, from the Directory, cached so the hot
 * path answers synchronously. Unknown keys and applications are cached too (as rejections), so junk
 * keys cost one look-up per TTL. A stale entry is served while one background refresh runs; only a
 * key never seen waits for the directory (concurrent waits share one look-up). The beacon never
 * creates applications: an operator configures them (allowed origins) with `apm apps set`.
 */
export class BeaconApps {
  /** LRU-bounded by count: a key is ≤ 128 + 100 characters, an entry one application's settings. */
  readonly #cache: LRUCache<string, Entry>;
  readonly #inflight = new Map<string, Promise<AppLookup>>();
  readonly #maxEntries: number;
  readonly #maxInflight: number;
  #epoch: number | undefined;
  #epochCheck: Promise<void> | undefined;

  constructor(
    private readonly directory: Directory,
    private readonly o: BeaconAppsOptions,
  ) {
    this.#maxEntries = o.maxEntries ?? 50_000;
    this.#maxInflight = o.maxInflight ?? 1_000;
    this.#cache = new LRUCache<string, Entry>({ max: this.#maxEntries });
  }

  /** The cached answer when there is one (refreshing it in the background when stale), else a look-up. */
  resolve(browserKey: string, application: string): AppLookup | Promise<AppLookup> {
    this.#watchKeyEpoch();
    const k = `${browserKey}\u0000${application}`;
    const hit = this.#cache.get(k);
    if (hit) {
      if (hit.until <= this.o.now() && !hit.refreshing) {
        hit.refreshing = true;
        this.#lookup(k, browserKey, application).then(
          () => (hit.refreshing = false),
          () => (hit.refreshing = false),
        );
      }
      return hit.value;
    }
    return this.#lookup(k, browserKey, application);
  }

  /**
   * A key rotated anywhere (key-epoch.ts, re-read at most every 2 s) empties the cache, so a rotated
   * browser key is refused within seconds. Checked in the background: the hot path stays synchronous.
   */
  #watchKeyEpoch(): void {
    if (this.#epochCheck) return;
    this.#epochCheck = keyEpoch(this.directory)
      .then(
        (e) => {
          if (this.#epoch !== undefined && e !== this.#epoch) this.#cache.clear();
          this.#epoch = e;
        },
        () => undefined,
      )
      .finally(() => (this.#epochCheck = undefined));
  }

  /** Forgets every cached answer (tests; after `apm apps set` in the same process). */
  clear(): void {
    this.#cache.clear();
  }

  get size(): number {
    return this.#cache.size;
  }

  #lookup(k: string, browserKey: string, application: string): Promise<AppLookup> {
    const running = this.#inflight.get(k);
    if (running) return running;
    if (this.#inflight.size >= this.#maxInflight) {
      return Promise.resolve(new BeaconRejection('overloaded', `cannot check browser key: ${this.#inflight.size} directory look-ups are already waiting`));
    }
    const p = this.#ask(browserKey, application).then(
      (value) => {
        this.#remember(k, value);
        return value;
      },
      () => {
        // Not cached: the next beacon asks again. A stale entry, if any, keeps serving meanwhile.
        // The answer names the problem, not the driver's text (#18 part 9).
        const stale = this.#cache.get(k);
        return stale ? stale.value : new BeaconRejection('unavailable', 'cannot check browser key: the account directory is unavailable');
      },
    );
    this.#inflight.set(k, p);
    void p.finally(() => this.#inflight.delete(k));
    return p;
  }

  async #ask(browserKey: string, application: string): Promise<AppLookup> {
    const account = await this.directory.accountByBrowserKey(browserKey);
    if (!account) return new BeaconRejection('bad_key', 'cannot accept beacon: unknown browser key');
    const app = await this.directory.findApplication(account.id, application);
    if (!app) {
      return new BeaconRejection(
        'unknown_app',
        `cannot accept beacon: account ${account.id} has no application ${JSON.stringify(application)} (create it with \`apm apps set\`)`,
      );
    }
    return { accountId: account.id, applicationId: app.id, apdexT: app.browserApdexT, allowedOrigins: app.allowedOrigins };
  }

  #remember(k: string, value: AppLookup): void {
    this.#cache.set(k, { value, until: this.o.now() + this.o.ttlSeconds, refreshing: false });
  }
}
