/**
 * The page-origin check against an application's allowed origins (exact origins such as
 * `https://shop.example` or `http://127.0.0.1:8080`, as the directory stores them). An empty list
 * allows nothing: beacons report only for applications an operator configured (`apm apps set`).
 * POST beacons carry `Origin`; image GETs carry none, so the Referer's origin is used.
 * This is a browser-side check only: scripts can forge both headers.
 */
export function originAllowed(allowed: readonly string[], origin: string | undefined): boolean {
  if (!origin || origin === 'null') return false;
  const o = normalOrigin(origin);
  return allowed.some((a) => normalOrigin(a) === o);
}

/** Lower case, no trailing slash, default ports (80 for http, 443 for https) left out. */
export function normalOrigin(origin: string): string {
  return origin
    .trim()
    .toLowerCase()
    .replace(/\/+$/, '')
    .replace(/^(http:\/\/[^/]+):80$/, '$1')
    .replace(/^(https:\/\/[^/]+):443$/, '$1');
}

/** The origin of a Referer header value, or undefined. */
export function originOfReferer(referer: string | undefined): string | undefined {
  if (!referer) return undefined;
  try {
    const u = new URL(referer);
    return u.origin === 'null' ? undefined : u.origin;
  } catch {
    return undefined;
  }
}
