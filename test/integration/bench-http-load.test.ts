import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpLoader, type LoadRequest } from '../../bench/http-load.js';
import { freePort } from '../harness/ports.js';

let server: http.Server;
let origin: string;
let inFlight = 0;
let maxInFlight = 0;
const seen = new Map<string, number>();

beforeAll(async () => {
  const port = await freePort();
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const body = Buffer.concat(chunks).toString();
      const n = (seen.get(body) ?? 0) + 1;
      seen.set(body, n);
      setTimeout(() => {
        inFlight--;
        if (req.url === '/bad') return res.writeHead(400).end('{"error":"cannot accept: bad"}');
        // Every third body is refused once with 503, as an overloaded collector would.
        if (Number(body) % 3 === 0 && n === 1) return res.writeHead(503, { 'Retry-After': '1' }).end('busy');
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ echo: body }));
      }, 5);
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  origin = `http://127.0.0.1:${port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function* posts(n: number, path = '/ok'): Generator<LoadRequest> {
  for (let i = 0; i < n; i++) yield { method: 'POST', path, headers: { 'Content-Type': 'text/plain' }, body: String(i), tag: i };
}

describe('closed-loop HTTP load', () => {
  it('keeps at most `concurrency` requests in flight, re-sends 503s unchanged and counts every answer', async () => {
    const loader = new HttpLoader({ origin }, 4);
    const echoed: number[] = [];
    const stats = await loader.run(posts(30), { concurrency: 4, deadline: Date.now() + 30_000, onOk: (req, body) => echoed.push(req.tag! * 1000 + Number(JSON.parse(body.toString()).echo)) });
    loader.close();
    expect(stats).toMatchObject({ ok: 30, failed: 0, retries: 10, abandoned: 0, notStarted: false, statuses: { '200': 30, '503': 10 } });
    expect(echoed.sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i * 1001));
    expect(stats.latency.count).toBe(30);
    expect(maxInFlight).toBe(4);
    expect([...seen.values()].filter((n) => n === 2)).toHaveLength(10);
  });

  it('fails a 400 without retrying and stops starting requests at the deadline', async () => {
    const loader = new HttpLoader({ origin }, 2);
    const bad = await loader.run(posts(3, '/bad'), { concurrency: 2, deadline: Date.now() + 30_000 });
    expect(bad).toMatchObject({ ok: 0, failed: 3, retries: 0, statuses: { '400': 3 } });
    expect(bad.failures[0]).toBe('POST /bad: 400 {"error":"cannot accept: bad"}');
    const late = await loader.run(posts(5), { concurrency: 2, deadline: Date.now() - 1 });
    expect(late).toMatchObject({ ok: 0, notStarted: true });
    loader.close();
  });

  it('sends load to 127.0.0.1 only', () => {
    expect(() => new HttpLoader({ origin: 'http://example.com:80' }, 1)).toThrow('BUG: the bench sends load to 127.0.0.1 only, not example.com');
  });
});
