import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBeacon, type BeaconHandle } from '../../beacon/beacon.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';
import { findRow, minuteRows, sample } from './beacon-helpers.js';

/**
 * Issue #18, parts 2 and 8 at the beacon: odd paths never cost an account its page views, and an
 * oversized body's 413 never hangs the keep-alive connection.
 */
const ORIGIN = 'http://127.0.0.1:5556';
const T0 = Date.UTC(2030, 0, 3, 10, 7, 15) / 1000;
const MINUTE = Math.floor(T0 / 60) * 60;

let c: TestCluster;
let beacon: BeaconHandle;
let accountId: number;
let browserKey: string;

const view = (u: string) => ({ v: 1, k: browserKey, a: 'Shop', u, t: 'navigate', m: [0, 10, 222, 324, 390, 579], fcp: 288, lcp: 592, inp: null, cls: 0.1 });
const post = (body: unknown) =>
  fetch(`${beacon.url}/beacon`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'text/plain;charset=UTF-8', origin: ORIGIN } });
const metricsText = async () => (await fetch(beacon.metricsUrl)).text();

beforeAll(async () => {
  c = await startTestCluster({ shards: 1 });
  const made = await c.directory.createAccount({ name: 'iso-beacon' });
  accountId = made.account.id;
  browserKey = made.browserKey;
  const shop = await c.directory.ensureApplication(accountId, 'Shop');
  await c.directory.updateApplication(shop.id, { allowedOrigins: [ORIGIN] });
  const config = c.config.with({ APM_BEACON_PORT: '0', APM_BEACON_METRICS_PORT: '0', APM_BEACON_FLUSH_SECONDS: '60', APM_BEACON_MAX_BODY_BYTES: '1024' });
  beacon = await startBeacon(c.deps({ config, now: () => T0 }));
});

afterAll(async () => {
  await beacon?.stop();
  await c?.stop();
});

describe('beacon names', () => {
  it('a lone surrogate or a trailing space in the path never fails the flush: every page view answered 204 is written', async () => {
    const paths = ['/\ud800', '/good/page ', '/good/page', '/ok', '/x\udc00y/ ', '/good/page  '];
    for (const u of paths) expect((await post(view(u))).status).toBe(204);
    await beacon.flush();
    await beacon.flush(); // a failed batch would be retried here, and fail again
    const text = await metricsText();
    expect(sample(text, 'apm_beacon_flush_failures_total')).toBe(0);
    expect(sample(text, 'apm_beacon_pending_batches')).toBe(0);
    const { store } = await c.registry.storeForAccount(accountId);
    const rows = await minuteRows(store, accountId, MINUTE);
    expect(findRow(rows, 'Browser/PageLoad')!.callCount).toBe(paths.length);
    // One canonical group per distinct path: U+FFFD for a lone surrogate, no trailing space.
    const groups = rows.filter((r) => r.name === 'Browser/PageLoad' && r.scope !== '').map((r) => [r.scope, r.callCount]);
    expect(groups.sort()).toEqual([['/good/page', 3], ['/ok', 1], ['/x\ufffdy/', 1], ['/\ufffd', 1]].sort());
  });
});

/** Sends raw HTTP/1.1 on one socket and collects what comes back until `done(text)` or the socket closes. */
function rawExchange(port: number, requests: Buffer[], done: (text: string) => boolean, afterFirstAnswer: Buffer[] = []): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let text = '';
    let settled = false;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ text, closed });
    };
    // A bound on the wait, not a sleep: the assertion is on what arrived before it.
    const timer = setTimeout(() => finish(false), 5000);
    sock.on('data', (d) => {
      const first = text === '';
      text += d.toString('latin1');
      if (done(text)) finish(false);
      else if (first) for (const r of afterFirstAnswer) sock.write(r);
    });
    sock.on('close', () => finish(true));
    // The server may close right after its answer: writing the rest then fails (EPIPE, ECONNRESET).
    sock.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? finish(true) : reject(err)));
    sock.on('connect', () => {
      for (const r of requests) sock.write(r);
    });
  });
}

describe('beacon 413', () => {
  it('answers 413 to an oversized Content-Length and closes the connection, so the next request is never stuck behind it', async () => {
    const port = Number(new URL(beacon.url).port);
    const big = Buffer.alloc(5000, 'x');
    const head = Buffer.from(`POST /beacon HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: ${big.length}\r\n\r\n`);
    const next = Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    // The body and the next request leave after the 413 arrived (as a client streaming its body does).
    const got = await rawExchange(port, [head], (t) => t.includes('ok\n'), [big, next]);
    expect(got.text).toMatch(/^HTTP\/1\.1 413 /);
    expect(got.text).toContain('over the 1024-byte limit');
    // Either the server closed after the 413 (the client reconnects) or it answered the next request; never a hang.
    expect(got.closed || got.text.includes('ok\n')).toBe(true);
    expect(got.text.match(/HTTP\/1\.1 /g)!.length).toBe(got.closed ? 1 : 2);
  });

  it('a client that stops sending its body on the 413 (as HTTP clients do) is not left hanging on its next request', async () => {
    const port = Number(new URL(beacon.url).port);
    const head = Buffer.from('POST /beacon HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n');
    const next = Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    const got = await rawExchange(port, [head], (t) => t.includes('ok\n'), [next]);
    expect(got.text).toMatch(/^HTTP\/1\.1 413 /);
    // Closed right after the 413 (a reconnect follows); before the fix the next request was read as body: a hang.
    expect(got.closed).toBe(true);
  });
});
