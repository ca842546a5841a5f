import { canonicalMetricName } from '../lib/shard/metric-name.js';
import type { BeaconAggregator } from './beacon-aggregator.js';
import type { AppLookup, BeaconApps } from './beacon-apps.js';
import type { BeaconMetrics } from './beacon-metrics.js';
import { decodeBeacon, type BeaconView } from './beacon-payload.js';
import { BeaconRejection } from './beacon-rejection.js';
import type { BrowserFamilyCache } from './browser-family.js';
import type { CountryOf } from './country-lookup.js';
import { originAllowed } from './origin-allowed.js';
import { OVERFLOW_GROUP, pageGroupOf, type PageGroupLimiter } from './page-group.js';
import { computePhases } from './page-phases.js';

const STOPPING = () => new BeaconRejection('unavailable', 'cannot accept beacon: the beacon service is stopping');

/** What the HTTP edge read from the request before any asynchronous step. */
export interface BeaconRequestMeta {
  /** The page's origin: the Origin header (POST) or the Referer's origin (image GET). */
  origin: string | undefined;
  userAgent: string;
  /** Client address for the country lookup (never stored). */
  address: string;
}

export interface BeaconIntakeDeps {
  apps: BeaconApps;
  aggregator: BeaconAggregator;
  limiter: PageGroupLimiter;
  families: BrowserFamilyCache;
  /** undefined when the country breakdown is off. */
  countryOf: CountryOf | undefined;
  metrics: BeaconMetrics;
  /** Clock in Unix seconds: page views are bucketed by server receive time. */
  now: () => number;
}

/**
 * From a beacon's text to the in-memory aggregates: decode and check, resolve the browser key and
 * application (synchronous on a cache hit), check the page's origin, compute the phases, group the
 * page, enrich with browser family and country, fold in. Every beacon is counted once by outcome.
 * Returns undefined when accepted, or the rejection (never throws for bad input).
 */
export class BeaconIntake {
  #closed = false;

  constructor(private readonly d: BeaconIntakeDeps) {}

  /** From now on every beacon is refused (503): the final flush of stop() must see everything accepted. */
  close(): void {
    this.#closed = true;
  }

  get closed(): boolean {
    return this.#closed;
  }

  accept(body: string, meta: BeaconRequestMeta): BeaconRejection | undefined | Promise<BeaconRejection | undefined> {
    if (this.#closed) return this.reject(STOPPING());
    let view: BeaconView;
    try {
      view = decodeBeacon(body);
    } catch (err) {
      return this.reject(err);
    }
    const lookup = this.d.apps.resolve(view.browserKey, view.application);
    if (lookup instanceof Promise) return lookup.then((l) => this.#fold(view, meta, l));
    return this.#fold(view, meta, lookup);
  }

  /** Counts and returns a rejection; anything that is not a BeaconRejection is a bug, counted as bad_payload. */
  reject(err: unknown): BeaconRejection {
    const r = err instanceof BeaconRejection ? err : new BeaconRejection('bad_payload', `cannot accept beacon: ${(err as Error)?.message ?? String(err)}`);
    this.d.metrics.beacons.inc({ outcome: 'rejected', reason: r.reason });
    return r;
  }

  #fold(view: BeaconView, meta: BeaconRequestMeta, lookup: AppLookup): BeaconRejection | undefined {
    if (this.#closed) return this.reject(STOPPING());
    if (lookup instanceof BeaconRejection) return this.reject(lookup);
    if (!originAllowed(lookup.allowedOrigins, meta.origin)) {
      return this.reject(
        new BeaconRejection(
          'origin_not_allowed',
          `cannot accept beacon: origin ${meta.origin === undefined ? '(none sent)' : JSON.stringify(meta.origin)} is not allowed for application ${JSON.stringify(view.application)}`,
        ),
      );
    }
    // The dictionary's canonical form (no lone surrogate, no trailing space), so the limiter counts what is stored.
    const group = this.d.limiter.limit(`${lookup.accountId}:${lookup.applicationId}`, canonicalMetricName(pageGroupOf(view.path)) || '/');
    const added = this.d.aggregator.add({
      accountId: lookup.accountId,
      applicationId: lookup.applicationId,
      apdexT: lookup.apdexT,
      group,
      minute: Math.floor(this.d.now() / 60) * 60,
      phases: computePhases(view.marks),
      fcp: view.fcp === null ? null : view.fcp / 1000,
      lcp: view.lcp === null ? null : view.lcp / 1000,
      inp: view.inp === null ? null : view.inp / 1000,
      cls: view.cls,
      browserFamily: this.d.families.familyOf(meta.userAgent),
      country: this.d.countryOf ? this.d.countryOf(meta.address) : null,
    });
    if (!added) {
      return this.reject(new BeaconRejection('overloaded', `cannot accept beacon: ${this.d.aggregator.maxOpenKeys} aggregates are already open`));
    }
    if (group === OVERFLOW_GROUP) this.d.metrics.groupOverflow.inc();
    this.d.metrics.beacons.inc({ outcome: 'accepted', reason: 'none' });
    return undefined;
  }
}
