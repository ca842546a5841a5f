import { LRUCache } from 'lru-cache';

/**
 * Page grouping: a page's path becomes a bounded-cardinality group name, the scope of the per-page
 * Browser/* metrics. Query strings and fragments are dropped; empty segments (`//`, trailing `/`)
 * are dropped; each segment that looks like an identifier becomes a placeholder:
 *
 * | segment                                                       | becomes   |
 * |---------------------------------------------------------------|-----------|
 * | digits only (`42`)                                            | `{id}`    |
 * | a UUID (`123e4567-e89b-12d3-a456-426614174000`)               | `{uuid}`  |
 * | 12+ hex digits with at least one digit and one letter a–f (hashes, Mongo ids) | `{hash}` |
 * | 16+ of `[A-Za-z0-9_-]` with 3+ digits and no `-`-separated words of letters only (tokens) | `{token}` |
 * | longer than MAX_SEGMENT_LENGTH                                | `{long}`  |
 *
 * At most MAX_SEGMENTS segments and MAX_GROUP_LENGTH characters are kept (the dictionary's scope
 * column holds 255); longer paths end in `/{more}`. PageGroupLimiter bounds the
 * groups per application; past the bound views fold into OVERFLOW_GROUP.
 */
export const OVERFLOW_GROUP = '(overflow)';
export const MAX_SEGMENTS = 12;
export const MAX_SEGMENT_LENGTH = 64;
export const MAX_GROUP_LENGTH = 200;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX = /^[0-9a-f]{12,}$/i;
const TOKEN = /^[A-Za-z0-9_-]{16,}$/;
const WORDY = /(^|-)[A-Za-z]{3,}(-|$)/;

function placeholderOf(segment: string): string {
  if (/^[0-9]+$/.test(segment)) return '{id}';
  if (UUID.test(segment)) return '{uuid}';
  if (HEX.test(segment) && /[0-9]/.test(segment) && /[a-f]/i.test(segment)) return '{hash}';
  if (TOKEN.test(segment) && (segment.match(/[0-9]/g)?.length ?? 0) >= 3 && !WORDY.test(segment)) return '{token}';
  if (segment.length > MAX_SEGMENT_LENGTH) return '{long}';
  return segment;
}

/** The group of a page path (or a full URL's path part). Always starts with `/`. */
export function pageGroupOf(path: string): string {
  const cut = path.search(/[?#]/);
  const bare = cut >= 0 ? path.slice(0, cut) : path;
  const segments = bare.split('/').filter((s) => s.length > 0);
  let group = '';
  for (let i = 0; i < segments.length; i++) {
    const next = '/' + placeholderOf(segments[i]!);
    if (i === MAX_SEGMENTS || group.length + next.length > MAX_GROUP_LENGTH) return group + '/{more}';
    group += next;
  }
  return group || '/';
}

/**
 * Bounds distinct page groups per application (the first `maxPerApplication` seen since start-up
 * keep their names; later ones fold into OVERFLOW_GROUP). Owned by one beacon process; its memory is
 * at most maxPerApplication names per application.
 */
export class PageGroupLimiter {
  /**
   * Per application, its groups; LRU-bounded by the groups held in all (`maxGroups`). An application
   * evicted (idle while many others report) starts over: its bound then counts from there, and the
   * dictionary's per-application bound still applies on top.
   */
  readonly #groups: LRUCache<string, Set<string>>;
  #overflowed = 0;

  constructor(
    readonly maxPerApplication: number,
    maxGroups = 1_000_000,
  ) {
    if (!Number.isInteger(maxPerApplication) || maxPerApplication < 1) {
      throw new Error(`BUG: maxPerApplication must be a positive integer, got ${maxPerApplication}`);
    }
    this.#groups = new LRUCache<string, Set<string>>({ maxSize: maxGroups, sizeCalculation: (set) => set.size + 1 });
  }

  /** The group to record for `group` of application `applicationKey` (e.g. "<account>:<application id>"). */
  limit(applicationKey: string, group: string): string {
    let set = this.#groups.get(applicationKey);
    if (!set) this.#groups.set(applicationKey, (set = new Set()));
    if (set.has(group)) return group;
    if (set.size < this.maxPerApplication) {
      set.add(group);
      this.#groups.set(applicationKey, set); // re-measured: it grew
      return group;
    }
    this.#overflowed++;
    return OVERFLOW_GROUP;
  }

  /** Page views folded into the overflow group so far. */
  get overflowed(): number {
    return this.#overflowed;
  }
}
