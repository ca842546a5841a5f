import http from 'node:http';
import https from 'node:https';
import type { ShardStore } from '../../lib/shard/shard-store.js';

export { mulberry32 as prng } from '../harness/prng.js';

export class Gen {
  constructor(readonly r: () => number) {}
  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.r() < p;
  }
  /** A number that breaks something: overflow, sign, type, precision, NaN in disguise. */
  nastyNumber(): unknown {
    return this.pick([1e308, -1e308, 1.7e308, -1, -0.5, 0, 1.5, 2 ** 53, 2 ** 64, 1e-320, Number.MAX_SAFE_INTEGER, 1e15, 1e16, 'NaN', 'Infinity', '1', null, true, [], {}, -(2 ** 31), 3600e10]);
  }
  /** Text that breaks names: surrogates, controls, spaces, length, escapes. */
  nastyText(): string {
    return this.pick([
      '/\ud800', '/good/page ', 'Custom/pad ', 'Custom/pad', ' ', '', 'a\u0000b', 'x\ny', 'tab\t', '\u007f', '\u0085', '\udc00', '😀\ud83d', '%2F,=/',
      'x'.repeat(256), 'é'.repeat(200), '\ufffd', 'WebTransaction/Go/a b  ', 'Apdex', 'Apdex/x', '../..', '\u202e', '0', 'null',
    ]);
  }
}

/** POSTs over one keep-alive agent (thousands of cases in seconds). */
export function poster(o: { port: number; tls?: { ca: string } }) {
  const agent = o.tls ? new https.Agent({ keepAlive: true, maxSockets: 4, ca: o.tls.ca }) : new http.Agent({ keepAlive: true, maxSockets: 4 });
  return {
    post(path: string, body: Buffer | string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
      const bytes = typeof body === 'string' ? Buffer.from(body) : body;
      const mod = o.tls ? https : http;
      return new Promise((resolve, reject) => {
        const req = mod.request(
          { host: '127.0.0.1', port: o.port, method: 'POST', path, agent, headers: { 'Content-Length': String(bytes.length), ...headers } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(bytes);
      });
    },
    close: () => agent.destroy(),
  };
}

/** What an account has stored: dictionary names and minute rows (to prove a 4xx wrote nothing). */
export async function footprint(store: ShardStore, accountId: number): Promise<string> {
  const [names] = await store.pool.query<any[]>('SELECT COUNT(*) AS n FROM metric_names WHERE account_id = ?', [accountId]);
  let rows = 0;
  let calls = 0;
  for (const t of await store.listTables({ accountId, kind: 'minute' })) {
    const [r] = await store.pool.query<any[]>(`SELECT COUNT(*) AS n, COALESCE(SUM(call_count), 0) AS c FROM ${t.name}`);
    rows += Number(r[0].n);
    calls += Number(r[0].c);
  }
  return `${Number(names[0].n)} names, ${rows} rows, ${calls} calls`;
}
