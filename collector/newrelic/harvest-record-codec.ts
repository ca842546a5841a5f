import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { HarvestPiece, HarvestRecord } from './harvest-plan.js';
import type { HarvestMetric } from './metric-data.js';

/**
 * The stored form of a harvest record (harvest_records.state). One is written per harvest, so its
 * encoding is on the collector's hot path.
 *
 * Format 2 (this one): binary, no number ever printed or parsed as text, nothing compressed:
 *   byte 0     0x07 — never the first byte of format 1 (a raw deflate stream's block type 11 is
 *              reserved), so both formats are told apart by it
 *   u32 LE     length of the header, then the header as JSON: {s, e, d, k, p, own}
 *              (start, end, seen digests, pending key and period; own: the pending piece has its
 *              own metrics, stored after the cumulative ones; otherwise they are the cumulative ones)
 *   list       cumulative metrics; then, when `own`, the pending piece's metrics
 * A list: u32 LE count n, u32 LE byte length of the names, the names as UTF-8 ("name\0scope\0" per
 * metric: validated names never hold U+0000), then 6 × n float64 LE (count, total, exclusive, min,
 * max, sum of squares per metric). Doubles are stored bit for bit.
 *
 * Format 1 (collectors before this one): the record as compact JSON, raw-deflated. Still read, never
 * written. A collector of format 1 cannot read format 2 (it answers 503 for that run, which the agent
 * retries, until it is upgraded): upgrade every collector of a fleet before mixed versions serve one agent.
 */

const FORMAT_2 = 0x07;
const inflate = promisify(zlib.inflateRaw);

export function encodeRecord(r: HarvestRecord): Buffer {
  const own = r.pending.metrics !== r.cumulative;
  const header = Buffer.from(JSON.stringify({ s: r.start, e: r.end, d: r.seen, k: r.pending.key, p: r.pending.period, own }), 'utf8');
  const parts: Buffer[] = [Buffer.from([FORMAT_2, 0, 0, 0, 0]), header, encodeList(r.cumulative)];
  parts[0]!.writeUInt32LE(header.length, 1);
  if (own) parts.push(encodeList(r.pending.metrics));
  return Buffer.concat(parts);
}

export async function decodeRecord(blob: Buffer): Promise<HarvestRecord> {
  if (blob.length > 0 && blob[0] === FORMAT_2) return decodeFormat2(blob);
  return decodeFormat1(blob);
}

function encodeList(ms: readonly HarvestMetric[]): Buffer {
  let names = '';
  for (const m of ms) names += `${m.name}\u0000${m.scope}\u0000`;
  const nameBytes = Buffer.byteLength(names, 'utf8');
  const out = Buffer.allocUnsafe(8 + nameBytes + 48 * ms.length);
  out.writeUInt32LE(ms.length, 0);
  out.writeUInt32LE(nameBytes, 4);
  out.write(names, 8, 'utf8');
  let o = 8 + nameBytes;
  for (const m of ms) {
    const s = m.stats;
    o = out.writeDoubleLE(s.callCount, o);
    o = out.writeDoubleLE(s.totalTime, o);
    o = out.writeDoubleLE(s.exclusiveTime, o);
    o = out.writeDoubleLE(s.minTime, o);
    o = out.writeDoubleLE(s.maxTime, o);
    o = out.writeDoubleLE(s.sumOfSquares, o);
  }
  return out;
}

function decodeList(blob: Buffer, at: number): { metrics: HarvestMetric[]; end: number } {
  const n = blob.readUInt32LE(at);
  const nameBytes = blob.readUInt32LE(at + 4);
  const fields = blob.toString('utf8', at + 8, at + 8 + nameBytes).split('\u0000');
  if (fields.length !== 2 * n + 1) throw new Error(`cannot decode harvest record: ${fields.length - 1} name fields for ${n} metrics`);
  let o = at + 8 + nameBytes;
  if (blob.length < o + 48 * n) throw new Error('cannot decode harvest record: stats cut short');
  const metrics: HarvestMetric[] = new Array(n);
  for (let i = 0; i < n; i++, o += 48) {
    metrics[i] = {
      name: fields[2 * i]!,
      scope: fields[2 * i + 1]!,
      stats: {
        callCount: blob.readDoubleLE(o),
        totalTime: blob.readDoubleLE(o + 8),
        exclusiveTime: blob.readDoubleLE(o + 16),
        minTime: blob.readDoubleLE(o + 24),
        maxTime: blob.readDoubleLE(o + 32),
        sumOfSquares: blob.readDoubleLE(o + 40),
      },
    };
  }
  return { metrics, end: o };
}

function decodeFormat2(blob: Buffer): HarvestRecord {
  const headerLength = blob.readUInt32LE(1);
  const h = JSON.parse(blob.toString('utf8', 5, 5 + headerLength)) as { s: number; e: number; d: string[]; k: string; p: number; own: boolean };
  const cumulative = decodeList(blob, 5 + headerLength);
  const pending: HarvestPiece = { key: h.k, period: h.p, metrics: h.own ? decodeList(blob, cumulative.end).metrics : cumulative.metrics };
  return { start: h.s, end: h.e, seen: h.d, cumulative: cumulative.metrics, pending };
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
