import os from 'node:os';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { MetricName } from '../../lib/shard/metric-dictionary.js';
import { canonicalMetricName } from '../../lib/shard/metric-name.js';
import type { HarvestPiece, HarvestRecord } from './harvest-plan.js';
import type { HarvestMetric } from './metric-data.js';

/**
 * The stored form of a harvest record (harvest_records.state). One is written per harvest, so its
 * encoding is on the collector's hot path.
 *
 * Formats 5 and 6 are formats 4 and 2 with another first byte (0x0e, 0x0f), written since a record's
 * piece is no longer also keyed in the write ledger (its guard, the record's version, refuses a second
 * delivery): a collector of the formats 2 and 4 would write such a record's pending piece again on a
 * resend, where the ledger no longer holds its key, so it must not read them (it answers 503). Every
 * record of formats 2 and later was saved in the transaction of its pending piece (the record is the
 * piece's guard), so its pending piece is committed whenever the record is (`pendingCommitted`).
 *
 * Format 4 (a new harvest's record, the usual case): the metrics by dictionary id, not by name:
 *   byte 0     0x08 (format 5: 0x0e)
 *   u32 LE     length of the header, then the header as JSON: {s, e, d, k, p} (as format 2's; the
 *              pending piece is the cumulative metrics)
 *   u32 LE     count n, then n × u32 LE metric ids, then 6 × n float64 LE stats (as format 2's)
 * Written only when the ids name the metrics one to one: the record's piece is its whole payload
 * (a new harvest), no name was folded into the overflow metric, the ids are distinct, and every name
 * and scope is in canonical form (metric-name.ts), so the dictionary gives back exactly the names the
 * agent sent. Reading it takes the names of the ids from the dictionary (`namesOf`, a query: records
 * are read only off the usual path). About half the bytes of format 2 (the names were 47 % of a bench
 * harvest's record), which the server parses as hex and writes per harvest.
 *
 * Format 2 (every other record: a merged resend's, or one with folded or non-canonical names):
 * binary, no number ever printed or parsed as text, nothing compressed:
 *   byte 0     0x07 (format 6: 0x0f) — never the first byte of format 1 (a raw deflate stream's
 *              block type 11 is reserved: 0x07, 0x0e and 0x0f all say it; zlib pads a stored block's
 *              header with zeros, so no stream of it starts 0x08), so the formats are told apart by it
 *   u32 LE     length of the header, then the header as JSON: {s, e, d, k, p, own}
 *              (start, end, seen digests, pending key and period; own: the pending piece has its
 *              own metrics, stored after the cumulative ones; otherwise they are the cumulative ones)
 *   list       cumulative metrics; then, when `own`, the pending piece's metrics
 * A list: u32 LE count n, u32 LE byte length of the names, the names as UTF-8 ("name\0scope\0" per
 * metric: validated names never hold U+0000), then 6 × n float64 LE (count, total, exclusive, min,
 * max, sum of squares per metric). Doubles are stored bit for bit.
 *
 * Format 1 (collectors before format 2): the record as compact JSON, raw-deflated. Still read, never
 * written; its pending piece may be uncommitted (those collectors saved the record before the rows).
 * A collector reads the formats of its own version and earlier ones only (one of format 1 answers 503
 * for a run with a newer record, which the agent retries, until it is upgraded): upgrade every
 * collector of a fleet before mixed versions serve one agent. (A format 3, the names in a table
 * of their own, was measured and not kept: docs/benchmark.md.)
 */

/** Names of an account's metric ids (ShardStore.metricNames). */
export type MetricNamesOf = (ids: readonly number[]) => Promise<ReadonlyMap<number, MetricName>>;

const FORMAT_4 = 0x08;
const FORMAT_2 = 0x07;
/** What this collector writes: format 4's and 2's layouts. */
const FORMAT_5 = 0x0e;
const FORMAT_6 = 0x0f;
const inflate = promisify(zlib.inflateRaw);

/**
 * `ids`: the dictionary ids of the record's cumulative metrics, same order, when they name them one to
 * one (no name folded): the record is then written in format 4 if it qualifies (above), else format 2.
 */
export function encodeRecord(r: HarvestRecord, ids?: readonly number[]): Buffer {
  const own = r.pending.metrics !== r.cumulative;
  if (!own && ids !== undefined && byIds(r.cumulative, ids)) return encodeFormat4(r, ids);
  const header = Buffer.from(JSON.stringify({ s: r.start, e: r.end, d: r.seen, k: r.pending.key, p: r.pending.period, own }), 'utf8');
  const parts: Buffer[] = [Buffer.from([FORMAT_6, 0, 0, 0, 0]), header, encodeList(r.cumulative)];
  parts[0]!.writeUInt32LE(header.length, 1);
  if (own) parts.push(encodeList(r.pending.metrics));
  return Buffer.concat(parts);
}

/** `namesOf` is asked only for a format 4 record (the names of its ids). */
export async function decodeRecord(blob: Buffer, namesOf?: MetricNamesOf): Promise<HarvestRecord> {
  const format = blob.length > 0 ? blob[0] : undefined;
  if (format === FORMAT_5 || format === FORMAT_4) return decodeFormat4(blob, namesOf);
  if (format === FORMAT_6 || format === FORMAT_2) return decodeFormat2(blob);
  return decodeFormat1(blob);
}

/** Whether `ids` name `metrics` one to one and give back their names exactly (format 4's condition). */
function byIds(metrics: readonly HarvestMetric[], ids: readonly number[]): boolean {
  if (ids.length !== metrics.length) return false;
  const seen = new Set<number>();
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    const { name, scope } = metrics[i]!;
    if (!Number.isInteger(id) || id < 0 || id > 0xffffffff || seen.has(id)) return false;
    if (canonicalMetricName(name) !== name || canonicalMetricName(scope) !== scope) return false;
    seen.add(id);
  }
  return true;
}

function encodeFormat4(r: HarvestRecord, ids: readonly number[]): Buffer {
  const header = JSON.stringify({ s: r.start, e: r.end, d: r.seen, k: r.pending.key, p: r.pending.period });
  const headerBytes = Buffer.byteLength(header, 'utf8');
  const n = ids.length;
  const out = Buffer.allocUnsafe(5 + headerBytes + 4 + 4 * n + 48 * n);
  out[0] = FORMAT_5;
  out.writeUInt32LE(headerBytes, 1);
  out.write(header, 5, 'utf8');
  let o = out.writeUInt32LE(n, 5 + headerBytes);
  for (let i = 0; i < n; i++) o = out.writeUInt32LE(ids[i]!, o);
  writeStats(out, o, r.cumulative);
  return out;
}

async function decodeFormat4(blob: Buffer, namesOf: MetricNamesOf | undefined): Promise<HarvestRecord> {
  if (!namesOf) throw new Error('BUG: a format 4 harvest record read without the dictionary');
  const headerLength = blob.readUInt32LE(1);
  const h = JSON.parse(blob.toString('utf8', 5, 5 + headerLength)) as { s: number; e: number; d: string[]; k: string; p: number };
  let o = 5 + headerLength;
  const n = blob.readUInt32LE(o);
  o += 4;
  if (blob.length < o + 52 * n) throw new Error('cannot decode harvest record: stats cut short');
  const ids: number[] = new Array(n);
  for (let i = 0; i < n; i++, o += 4) ids[i] = blob.readUInt32LE(o);
  const names = await namesOf(ids);
  const metrics: HarvestMetric[] = new Array(n);
  for (let i = 0; i < n; i++, o += 48) {
    const name = names.get(ids[i]!);
    if (!name) throw new Error(`cannot decode harvest record: metric id ${ids[i]} is not in the account's dictionary`);
    // Canonical, as the dictionary reads its rows (one stored before names were canonical may hold
    // trailing spaces): the names the record was written for, which were canonical.
    metrics[i] = { name: canonicalMetricName(name.name), scope: canonicalMetricName(name.scope), stats: readStats(blob, o) };
  }
  return { start: h.s, end: h.e, seen: h.d, cumulative: metrics, pending: { key: h.k, period: h.p, metrics }, pendingCommitted: true };
}

function encodeList(ms: readonly HarvestMetric[]): Buffer {
  let names = '';
  for (const m of ms) names += `${m.name}\u0000${m.scope}\u0000`;
  const nameBytes = Buffer.byteLength(names, 'utf8');
  const out = Buffer.allocUnsafe(8 + nameBytes + 48 * ms.length);
  out.writeUInt32LE(ms.length, 0);
  out.writeUInt32LE(nameBytes, 4);
  out.write(names, 8, 'utf8');
  writeStats(out, 8 + nameBytes, ms);
  return out;
}

/** Doubles kept for writeStats between calls (a harvest's stats up to 4,096 metrics: 192 KiB). */
const SCRATCH_DOUBLES = 6 * 4096;
let scratch = new Float64Array(0);
const LITTLE_ENDIAN = os.endianness() === 'LE';

/**
 * 6 float64 LE per metric at `o`: count, total, exclusive, min, max, sum of squares. On a little-endian
 * host they are gathered in a Float64Array and copied in one go (a hundred metrics: 0.7 µs against
 * 11.5–12 µs written one by one with writeDoubleLE, node 20, this machine).
 */
function writeStats(out: Buffer, o: number, ms: readonly HarvestMetric[]): void {
  const n = 6 * ms.length;
  if (LITTLE_ENDIAN) {
    if (scratch.length < n) scratch = new Float64Array(Math.max(n, Math.min(SCRATCH_DOUBLES, 2 * n)));
    const f = scratch;
    let k = 0;
    for (const m of ms) {
      const s = m.stats;
      f[k++] = s.callCount;
      f[k++] = s.totalTime;
      f[k++] = s.exclusiveTime;
      f[k++] = s.minTime;
      f[k++] = s.maxTime;
      f[k++] = s.sumOfSquares;
    }
    out.set(new Uint8Array(f.buffer, 0, 8 * n), o);
    if (f.length > SCRATCH_DOUBLES) scratch = new Float64Array(0);
    return;
  }
  for (const m of ms) {
    const s = m.stats;
    o = out.writeDoubleLE(s.callCount, o);
    o = out.writeDoubleLE(s.totalTime, o);
    o = out.writeDoubleLE(s.exclusiveTime, o);
    o = out.writeDoubleLE(s.minTime, o);
    o = out.writeDoubleLE(s.maxTime, o);
    o = out.writeDoubleLE(s.sumOfSquares, o);
  }
}

function readStats(blob: Buffer, o: number): HarvestMetric['stats'] {
  return {
    callCount: blob.readDoubleLE(o),
    totalTime: blob.readDoubleLE(o + 8),
    exclusiveTime: blob.readDoubleLE(o + 16),
    minTime: blob.readDoubleLE(o + 24),
    maxTime: blob.readDoubleLE(o + 32),
    sumOfSquares: blob.readDoubleLE(o + 40),
  };
}

function decodeList(blob: Buffer, at: number): { metrics: HarvestMetric[]; end: number } {
  const n = blob.readUInt32LE(at);
  const nameBytes = blob.readUInt32LE(at + 4);
  const fields = blob.toString('utf8', at + 8, at + 8 + nameBytes).split('\u0000');
  if (fields.length !== 2 * n + 1) throw new Error(`cannot decode harvest record: ${fields.length - 1} name fields for ${n} metrics`);
  let o = at + 8 + nameBytes;
  if (blob.length < o + 48 * n) throw new Error('cannot decode harvest record: stats cut short');
  const metrics: HarvestMetric[] = new Array(n);
  for (let i = 0; i < n; i++, o += 48) metrics[i] = { name: fields[2 * i]!, scope: fields[2 * i + 1]!, stats: readStats(blob, o) };
  return { metrics, end: o };
}

function decodeFormat2(blob: Buffer): HarvestRecord {
  const headerLength = blob.readUInt32LE(1);
  const h = JSON.parse(blob.toString('utf8', 5, 5 + headerLength)) as { s: number; e: number; d: string[]; k: string; p: number; own: boolean };
  const cumulative = decodeList(blob, 5 + headerLength);
  const pending: HarvestPiece = { key: h.k, period: h.p, metrics: h.own ? decodeList(blob, cumulative.end).metrics : cumulative.metrics };
  return { start: h.s, end: h.e, seen: h.d, cumulative: cumulative.metrics, pending, pendingCommitted: true };
}

type WireMetric = [string, string, number, number, number, number, number, number];
/** m: null when the piece's metrics are the record's cumulative ones. */
type WirePiece = { k: string; p: number; m: WireMetric[] | null };
type Wire = { s: number; e: number; d: string[]; c: WireMetric[]; q: WirePiece };

const fromWire = (ms: WireMetric[]): HarvestMetric[] =>
  ms.map(([name, scope, callCount, totalTime, exclusiveTime, minTime, maxTime, sumOfSquares]) => ({
    name,
    scope,
    stats: { callCount, totalTime, exclusiveTime, minTime, maxTime, sumOfSquares },
  }));

async function decodeFormat1(blob: Buffer): Promise<HarvestRecord> {
  const w = JSON.parse((await inflate(blob)).toString('utf8')) as Wire;
  const cumulative = fromWire(w.c);
  return { start: w.s, end: w.e, seen: w.d, cumulative, pending: { key: w.q.k, period: w.q.p, metrics: w.q.m === null ? cumulative : fromWire(w.q.m) } };
}
