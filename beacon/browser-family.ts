import { LRUCache } from 'lru-cache';
import Bowser from 'bowser';

/**
 * Browser family of a User-Agent for Browser/ByBrowser/<family>, with bounded cardinality: one of
 * bowser's known browser names (its BROWSER_MAP, ~70 names), "Bot" for anything bowser classes as a
 * bot, "Other" for the rest (bowser's generic fallback would echo arbitrary UA tokens).
 * Parsing costs ~10 µs, so results are cached per UA string in a bounded map.
 */
export const BOT_FAMILY = 'Bot';
export const OTHER_FAMILY = 'Other';
const KNOWN = new Set(Object.values(Bowser.BROWSER_MAP).filter((n) => n !== 'Generic'));

export function browserFamilyOf(userAgent: string): string {
  if (userAgent.length === 0) return OTHER_FAMILY;
  try {
    const parser = Bowser.getParser(userAgent);
    if (parser.getPlatformType(true) === 'bot') return BOT_FAMILY;
    const name = parser.getBrowserName();
    return KNOWN.has(name) ? name : OTHER_FAMILY;
  } catch {
    return OTHER_FAMILY;
  }
}

/** browserFamilyOf with an LRU cache of at most `capacity` UA strings (each cut to 512 characters). */
export class BrowserFamilyCache {
  readonly #cache: LRUCache<string, string>;
  constructor(readonly capacity = 5000) {
    this.#cache = new LRUCache<string, string>({ max: capacity });
  }

  familyOf(userAgent: string): string {
    const ua = userAgent.length > 512 ? userAgent.slice(0, 512) : userAgent;
    let family = this.#cache.get(ua);
    if (family === undefined) {
      family = browserFamilyOf(ua);
      this.#cache.set(ua, family);
    }
    return family;
  }
}
