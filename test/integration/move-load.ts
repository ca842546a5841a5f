import { RetryableError } from '../../lib/errors.js';
import type { ShardRegistry } from '../../lib/shard/shard-registry.js';
import type { ShardWriter, WriteRequest } from '../../lib/shard/shard-writer.js';
import { mergeInto, type Timeslice } from '../../lib/timeslice/timeslice.js';

/**
 * A load generator for move tests: posts timeslices for one account continuously through a
 * "collector process" (its own ShardRegistry and ShardWriter, so its account → shard cache is its
 * own), exactly as the collector does: resolve the account's shard, resolve names and agents there,
 * write with a dedupe key, and on RetryableError wait and resend the same delivery (re-resolving
 * everything). What was acknowledged is recorded by (metric name, agent host, period); values are
 * multiples of 1/64 s, so sums are exact in any order.
 */
export interface Process {
  shards: ShardRegistry;
  writer: ShardWriter;
}

export interface Acked {
  /** `${name}|${host}|${period}` → merged timeslice of every acknowledged delivery. */
  rows: Map<string, Timeslice>;
  deliveries: number;
  /** Deliveries answered 503 at least once (and resent). */
  retried: number;
  /** Resends of an acknowledged delivery (a lost acknowledgement) answered 'duplicate'. */
  duplicates: number;
  /** Resends of an acknowledged delivery that were written again (must stay 0). */
  doubleCounted: number;
  /** Error messages of refused attempts, by message prefix. */
  refusals: Map<string, number>;
}

interface Delivery {
  key: string;
  period: number;
  parts: Array<{ name: string; host: string; slice: Timeslice }>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class LoadGenerator {
  readonly acked: Acked = { rows: new Map(), deliveries: 0, retried: 0, duplicates: 0, doubleCounted: 0, refusals: new Map() };
  #stop = false;
  #seq = 0;
  #loop: Promise<void> | undefined;
  /** Acknowledged deliveries kept to resend later as "lost acknowledgements". */
  readonly #resend: Delivery[] = [];

  constructor(
    private readonly p: Process,
    private readonly accountId: number,
    private readonly applicationId: number,
    private readonly tag: string,
    private readonly o: { intervalMs: number; names: number; newNameEvery: number },
  ) {}

  start(): void {
    this.#loop = this.#run();
  }

  /** Stops after the delivery in progress is acknowledged; resends the kept deliveries once more. */
  async stop(): Promise<Acked> {
    this.#stop = true;
    await this.#loop;
    for (const d of this.#resend.splice(0)) await this.#deliver(d, true);
    return this.acked;
  }

  /** Resends every kept (already acknowledged) delivery now, as agents do after a lost answer. */
  async resendKept(): Promise<void> {
    for (const d of this.#resend.splice(0)) await this.#deliver(d, true);
  }

  async #run(): Promise<void> {
    while (!this.#stop) {
      await this.#deliver(this.#next(), false);
      await sleep(this.o.intervalMs);
    }
  }

  #next(): Delivery {
    const n = ++this.#seq;
    const period = Math.floor(Date.now() / 60000) * 60;
    const parts: Delivery['parts'] = [];
    for (let i = 0; i < 3; i++) {
      const idx = (n * 7 + i * 13) % this.o.names;
      const name = `Custom/${this.tag}/m${idx}`;
      const t = ((n % 17) + 1) / 64;
      parts.push({ name, host: i % 2 === 0 ? 'h1' : 'h2', slice: { callCount: 1 + (n % 3), totalTime: t, exclusiveTime: t / 2, minTime: t / 4, maxTime: t, sumOfSquares: t * t } });
    }
    if (n % this.o.newNameEvery === 0) {
      parts.push({ name: `Custom/${this.tag}/new${n}`, host: 'h1', slice: { callCount: 1, totalTime: 0.5, exclusiveTime: 0.5, minTime: 0.5, maxTime: 0.5, sumOfSquares: 0.25 } });
    }
    return { key: `${this.tag}:${n}`, period, parts };
  }

  async #request(d: Delivery): Promise<WriteRequest> {
    const { account, store } = await this.p.shards.storeForAccount(this.accountId);
    const ids = await store.metricIds(this.accountId, d.parts.map((x) => ({ name: x.name, scope: '' })), { applicationId: this.applicationId });
    const agents = new Map<string, number>();
    for (const host of new Set(d.parts.map((x) => x.host))) {
      agents.set(host, await store.agentId(this.accountId, { applicationId: this.applicationId, host, pid: 1, language: 'nodejs' }));
    }
    return {
      accountId: this.accountId,
      shardId: account.shardId,
      dedupeKey: d.key,
      rows: d.parts.map((x, i) => ({ kind: 'minute' as const, t: d.period, row: { ...x.slice, metricId: ids[i]!, agentId: agents.get(x.host)!, period: d.period } })),
    };
  }

  async #deliver(d: Delivery, resend: boolean): Promise<void> {
    let refused = false;
    for (;;) {
      try {
        const outcome = await this.p.writer.write(await this.#request(d));
        if (resend) {
          if (outcome === 'duplicate') this.acked.duplicates++;
          else this.acked.doubleCounted++;
          return;
        }
        // 'duplicate' after a refused attempt: that attempt committed after all (an unknown outcome).
        if (outcome !== 'committed' && !refused) throw new Error(`BUG: first delivery ${d.key} answered ${outcome}`);
        break;
      } catch (err) {
        if (!(err instanceof RetryableError)) throw err;
        refused = true;
        const prefix = err.message.replace(/[0-9]+/g, 'N').slice(0, 80);
        this.acked.refusals.set(prefix, (this.acked.refusals.get(prefix) ?? 0) + 1);
        await sleep(Math.min(100, err.retryAfterSeconds * 50));
      }
    }
    this.acked.deliveries++;
    if (refused) this.acked.retried++;
    for (const x of d.parts) {
      const k = `${x.name}|${x.host}|${d.period}`;
      const have = this.acked.rows.get(k);
      if (have) mergeInto(have, x.slice);
      else this.acked.rows.set(k, { ...x.slice });
    }
    if (this.#seq % 10 === 0 && this.#resend.length < 50) this.#resend.push(d);
  }
}

/** Every minute row of the account on its current shard, keyed like Acked.rows. */
export async function storedRows(shards: ShardRegistry, accountId: number): Promise<Map<string, Timeslice>> {
  const { store } = await shards.storeForAccount(accountId);
  const tables = await store.listTables({ accountId, kind: 'minute' });
  const agents = new Map((await store.listAgents(accountId)).map((a) => [a.id, a.host]));
  const out = new Map<string, Timeslice>();
  for (const t of tables) {
    const [rows] = await store.pool.query<any[]>(`SELECT * FROM ${t.name}`);
    const names = await store.metricNames(accountId, [...new Set(rows.map((r) => Number(r.metric_id)))]);
    for (const r of rows) {
      out.set(`${names.get(Number(r.metric_id))?.name}|${agents.get(Number(r.agent_id))}|${r.period}`, {
        callCount: Number(r.call_count),
        totalTime: r.total_time,
        exclusiveTime: r.exclusive_time,
        minTime: r.min_time,
        maxTime: r.max_time,
        sumOfSquares: r.sum_of_squares,
      });
    }
  }
  return out;
}

/**
 * The same through the collector's OTLP/HTTP endpoint: delta counter exports (one point each, its value
 * 1..9, a unique start time so every body differs), resent unchanged on 503 (the exporter's retry) and
 * acknowledged on 200. Acknowledged counts and values are kept per minute of the point's end.
 */
export class OtlpLoad {
  readonly acked = new Map<number, { count: number; total: number }>();
  readonly statuses = new Map<number, number>();
  duplicatesResent = 0;
  #stop = false;
  #seq = 0;
  #loop: Promise<void> | undefined;
  readonly #kept: string[] = [];

  constructor(
    private readonly post: (body: string) => Promise<{ status: number; retryAfter?: string }>,
    private readonly service: string,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.#loop = (async () => {
      while (!this.#stop) {
        await this.#send();
        await sleep(this.intervalMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await this.#loop;
  }

  /** Resends acknowledged bodies (lost answers): each must be answered 200 and counted nothing. */
  async resendKept(): Promise<void> {
    for (const body of this.#kept.splice(0)) {
      const r = await this.post(body);
      this.statuses.set(r.status, (this.statuses.get(r.status) ?? 0) + 1);
      if (r.status === 200) this.duplicatesResent++;
    }
  }

  async #send(): Promise<void> {
    const n = ++this.#seq;
    const endMs = Date.now();
    const v = (n % 9) + 1;
    const ns = (ms: number, extra = 0n) => String(BigInt(ms) * 1_000_000n + extra);
    const body = JSON.stringify({
      resourceMetrics: [{
        resource: { attributes: [{ key: 'service.name', value: { stringValue: this.service } }, { key: 'service.instance.id', value: { stringValue: 'pod-1' } }] },
        scopeMetrics: [{ scope: { name: 'move-load' }, metrics: [{ name: 'moves.test', unit: '1', sum: { aggregationTemporality: 1, isMonotonic: true, dataPoints: [{ attributes: [], startTimeUnixNano: ns(endMs - 1000, BigInt(n)), timeUnixNano: ns(endMs), asInt: v }] } }] }],
      }],
    });
    for (;;) {
      const r = await this.post(body);
      this.statuses.set(r.status, (this.statuses.get(r.status) ?? 0) + 1);
      if (r.status === 200) break;
      if (r.status !== 503 && r.status !== 429) throw new Error(`OTLP export answered ${r.status}`);
      await sleep(Math.min(100, Number(r.retryAfter ?? 1) * 50));
    }
    const minute = Math.floor(endMs / 60000) * 60;
    const have = this.acked.get(minute) ?? { count: 0, total: 0 };
    this.acked.set(minute, { count: have.count + 1, total: have.total + v });
    if (n % 10 === 0 && this.#kept.length < 30) this.#kept.push(body);
  }
}
