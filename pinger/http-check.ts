export interface CheckTarget {
  url: string;
  timeoutMs: number;
  expectedStatus: number;
  bodyContains: string | null;
}

export interface CheckResult {
  ok: boolean;
  /** Seconds from the request to the end of the body (or to the failure). */
  seconds: number;
  /** HTTP status, or null when no answer came. */
  status: number | null;
  /** Why it failed ('' when ok). */
  error: string;
}

/** Bytes of the body read to look for the substring (and to drain the connection). */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * One availability check: a GET that must answer `expectedStatus` (redirects are not followed: a 301
 * is a 301) within `timeoutMs`, with `bodyContains` in the first MAX_BODY_BYTES of the body when set.
 * Never throws.
 */
export async function checkUrl(t: CheckTarget): Promise<CheckResult> {
  const start = performance.now();
  const seconds = () => (performance.now() - start) / 1000;
  let status: number | null = null;
  try {
    const r = await fetch(t.url, { method: 'GET', redirect: 'manual', headers: { 'user-agent': 'apm-pinger/1' }, signal: AbortSignal.timeout(t.timeoutMs) });
    status = r.status;
    const body = await readBounded(r);
    if (r.status !== t.expectedStatus) return { ok: false, seconds: seconds(), status, error: `HTTP ${r.status}, expected ${t.expectedStatus}` };
    if (t.bodyContains !== null && !body.includes(t.bodyContains)) return { ok: false, seconds: seconds(), status, error: `body does not contain ${JSON.stringify(t.bodyContains)}` };
    return { ok: true, seconds: seconds(), status, error: '' };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.name === 'TimeoutError' ? `no answer within ${t.timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
    return { ok: false, seconds: seconds(), status, error: why.slice(0, 200) };
  }
}

async function readBounded(r: Response): Promise<string> {
  if (!r.body) return '';
  const reader = r.body.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    n += value.byteLength;
    if (n >= MAX_BODY_BYTES) {
      await reader.cancel().catch(() => undefined);
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES).toString('utf8');
}
