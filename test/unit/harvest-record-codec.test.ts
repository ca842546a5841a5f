import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeRecord, encodeRecord } from '../../collector/newrelic/harvest-record-codec.js';
import { payloadDigest, pieceKey, planHarvest, type HarvestRecord } from '../../collector/newrelic/harvest-plan.js';
import { parseMetricData, type HarvestMetric } from '../../collector/newrelic/metric-data.js';
import { bodyText, capture } from '../harness/newrelic-captures.js';
import { HarvestRecords } from '../../collector/newrelic/harvest-records.js';
import { createPool } from '../../lib/db/connect.js';

const m = (name: string, scope: string, s: [number, number, number, number, number, number]): HarvestMetric => ({
  name,
  scope,
  stats: { callCount: s[0], totalTime: s[1], exclusiveTime: s[2], minTime: s[3], maxTime: s[4], sumOfSquares: s[5] },
});

/** What collectors before format 2 wrote: compact JSON, raw-deflated at level 1. */
function format1(r: HarvestRecord): Buffer {
  const wire = (ms: readonly HarvestMetric[]) => ms.map((x) => [x.name, x.scope, x.stats.callCount, x.stats.totalTime, x.stats.exclusiveTime, x.stats.minTime, x.stats.maxTime, x.stats.sumOfSquares]);
  const q = { k: r.pending.key, p: r.pending.period, m: r.pending.metrics === r.cumulative ? null : wire(r.pending.metrics) };
  return deflateRawSync(Buffer.from(JSON.stringify({ s: r.start, e: r.end, d: r.seen, c: wire(r.cumulative), q })), { level: 1 });
}

describe('harvest record codec (format 2)', () => {
  it('round-trips a record built from capture 23 exactly, in 5 + header + 8 + names + 48 bytes a metric', async () => {
    const c = capture('23');
    const harvest = parseMetricData(c.body, 'fake-run-1', { now: c.body[2] + 1, maxFutureSeconds: 300, maxAgeSeconds: 86400 });
    const plan = planHarvest(undefined, harvest, payloadDigest(bodyText(c)), (end, d) => pieceKey(7, 'n0nce', harvest.start, end, d));
    if (plan.kind !== 'new') throw new Error('expected new');
    const blob = encodeRecord(plan.save);
    expect(blob[0]).toBe(0x0f);
    const header = blob.readUInt32LE(1);
    const names = harvest.metrics.reduce((n, x) => n + Buffer.byteLength(`${x.name}\u0000${x.scope}\u0000`), 0);
    expect(blob.length).toBe(5 + header + 8 + names + 48 * harvest.metrics.length);
    const back = await decodeRecord(blob);
    // Read back, a record says its pending piece is committed (saved in its transaction).
    expect(back).toEqual({ ...plan.save, pendingCommitted: true });
    expect(back.pending.metrics).toBe(back.cumulative); // a new harvest's piece is its whole payload: stored once
  });

  it('keeps every double bit for bit, non-ASCII names, empty scopes, and a merged piece with metrics of its own', async () => {
    const cumulative = [m('Custom/ü/日本', '', [3, 0.1 + 0.2, 1e-300, 5e-324, Number.MAX_VALUE, 1e30]), m('Datastore/all', 'WebTransaction/Expressjs/GET//', [2 ** 53 - 1, 1 / 3, 0, 0, 2 / 3, 7])];
    const r: HarvestRecord = { start: 1764000000.123, end: 1764000060.987, seen: ['a'.repeat(64), 'b'.repeat(64)], cumulative, pending: { key: 'k'.repeat(40), period: 1764000000, metrics: [cumulative[1]!] } };
    const back = await decodeRecord(encodeRecord(r));
    expect(back).toEqual({ ...r, pendingCommitted: true });
    expect(Object.is(back.cumulative[0]!.stats.totalTime, 0.1 + 0.2)).toBe(true);
    expect(back.pending.metrics).not.toBe(back.cumulative);
  });

  it('writes the stats of a harvest larger than the kept scratch, and of a small one after it, exactly', async () => {
    const many = Array.from({ length: 5000 }, (_, i) => m(`Custom/m${i}`, '', [i + 1, i / 7, i / 11, 1 / (i + 3), i + 0.5, (i + 1) * 1e6]));
    const big: HarvestRecord = { start: 1, end: 2, seen: ['d'], cumulative: many, pending: { key: 'k', period: 0, metrics: many } };
    const backBig = await decodeRecord(encodeRecord(big));
    expect(backBig).toEqual({ ...big, pendingCommitted: true });
    expect(backBig.cumulative[4999]!.stats).toEqual({ callCount: 5000, totalTime: 4999 / 7, exclusiveTime: 4999 / 11, minTime: 1 / 5002, maxTime: 4999.5, sumOfSquares: 5e9 });
    const few = many.slice(0, 2);
    expect(await decodeRecord(encodeRecord({ ...big, cumulative: few, pending: { key: 'k', period: 0, metrics: few } }))).toEqual({ ...big, cumulative: few, pending: { key: 'k', period: 0, metrics: few }, pendingCommitted: true });
  });

  it('still reads format 1 records (written by earlier collectors), and no format 1 record starts with the format 2 byte', async () => {
    const cumulative = [m('WebTransaction', '', [4, 0.5, 0.25, 0.01, 0.3, 0.11])];
    const records: HarvestRecord[] = [
      { start: 10, end: 70, seen: ['d1'], cumulative, pending: { key: 'k1', period: 0, metrics: cumulative } },
      { start: 10, end: 130, seen: ['d1', 'd2'], cumulative, pending: { key: 'k2', period: 60, metrics: [m('WebTransaction', '', [1, 0.1, 0.1, 0.1, 0.1, 0.01])] } },
    ];
    for (const r of records) {
      const old = format1(r);
      expect(old[0]! & 0b110).not.toBe(0b110); // block type 11 is reserved in deflate: 0x07, 0x0e, 0x0f can never lead
      // Saved before the rows by those collectors: its pending piece is not known to be committed.
      expect(await decodeRecord(old)).toEqual(r);
    }
  });

  it('refuses a cut-short record instead of decoding garbage', async () => {
    const cumulative = [m('A', '', [1, 1, 1, 1, 1, 1]), m('B', '', [1, 2, 2, 2, 2, 4])];
    const blob = encodeRecord({ start: 1, end: 2, seen: ['x'], cumulative, pending: { key: 'k', period: 0, metrics: cumulative } });
    await expect(decodeRecord(blob.subarray(0, blob.length - 8))).rejects.toThrow('cannot decode harvest record: stats cut short');
  });
});

describe('harvest record codec (format 4: metrics by dictionary id)', () => {
  const cumulative = [m('WebTransaction/Expressjs/GET//users', '', [3, 0.1 + 0.2, 1e-300, 5e-324, Number.MAX_VALUE, 1e30]), m('Datastore/all', 'WebTransaction/Expressjs/GET//', [2 ** 53 - 1, 1 / 3, 0, 0, 2 / 3, 7]), m('Custom/ü/日本', '', [1, 2, 2, 2, 2, 4])];
  const ids = [7, 4_000_000_000, 12];
  const record = (ms: HarvestMetric[]): HarvestRecord => ({ start: 1764000000.123, end: 1764000060.987, seen: ['a'.repeat(64)], cumulative: ms, pending: { key: 'k'.repeat(40), period: 1764000000, metrics: ms } });
  /** The dictionary of the test: id → name as stored. */
  const dictionary = new Map(ids.map((id, i) => [id, { name: cumulative[i]!.name, scope: cumulative[i]!.scope }]));
  const asked: number[][] = [];
  const namesOf = async (wanted: readonly number[]) => {
    asked.push([...wanted]);
    return new Map([...dictionary].filter(([id]) => wanted.includes(id)));
  };

  it('a new harvest with ids one to one: 5 + header + 4 + 52 bytes a metric, read back exactly through the dictionary', async () => {
    const r = record(cumulative);
    const blob = encodeRecord(r, ids);
    expect(blob[0]).toBe(0x0e);
    expect(blob.length).toBe(5 + blob.readUInt32LE(1) + 4 + 52 * cumulative.length);
    expect(blob.length).toBeLessThan(encodeRecord(r).length);
    asked.length = 0;
    const back = await decodeRecord(blob, namesOf);
    expect(asked).toEqual([ids]);
    expect(back).toEqual({ ...r, pendingCommitted: true });
    expect(Object.is(back.cumulative[0]!.stats.totalTime, 0.1 + 0.2)).toBe(true);
    expect(Object.is(back.cumulative[0]!.stats.minTime, 5e-324)).toBe(true);
    expect(back.pending.metrics).toBe(back.cumulative);
    // A dictionary row stored before names were canonical (trailing spaces) reads back canonical, as the dictionary reads it.
    const legacy = async (wanted: readonly number[]) => new Map([...(await namesOf(wanted))].map(([id, n]) => [id, { name: `${n.name}  `, scope: n.scope === '' ? '' : `${n.scope} ` }]));
    expect(await decodeRecord(blob, legacy)).toEqual({ ...r, pendingCommitted: true });
  });

  it('format 2 (names) whenever ids could not give the names back: a merged piece, folded or repeated ids, names not in canonical form', async () => {
    const merged: HarvestRecord = { ...record(cumulative), pending: { key: 'k', period: 0, metrics: [cumulative[1]!] } };
    const trailing = [m('Custom/padded ', '', [1, 1, 1, 1, 1, 1])];
    const lone = [m('Custom/\ud800x', '', [1, 1, 1, 1, 1, 1])];
    const cases: Array<[HarvestRecord, number[]]> = [
      [merged, ids],
      [record(cumulative), [7, 7, 12]], // two names on one id: an overflow fold
      [record(cumulative), [7, 12]], // not one id a metric
      [record(cumulative), [7, -1, 12]],
      [record(cumulative), [7, 2 ** 32, 12]],
      [record(trailing), [5]], // stored without its trailing space
    ];
    for (const [r, i] of cases) {
      const blob = encodeRecord(r, i);
      expect(blob[0]).toBe(0x0f);
      expect(await decodeRecord(blob)).toEqual({ ...r, pendingCommitted: true });
    }
    expect(encodeRecord(record(lone), [5])[0]).toBe(0x0f); // stored with U+FFFD in its place
  });

  it('refuses an id the dictionary does not have, a cut-short record, and a read without the dictionary', async () => {
    const blob = encodeRecord(record(cumulative), [7, 4_000_000_000, 13]);
    await expect(decodeRecord(blob, namesOf)).rejects.toThrow("cannot decode harvest record: metric id 13 is not in the account's dictionary");
    await expect(decodeRecord(blob.subarray(0, blob.length - 8), namesOf)).rejects.toThrow('cannot decode harvest record: stats cut short');
    await expect(decodeRecord(blob)).rejects.toThrow('BUG: a format 4 harvest record read without the dictionary');
  });
});

describe('the harvest record save statement (collector/newrelic/harvest-records.ts)', () => {
  it('an update is the same text every time, compiled once, its values in place; a first save is an INSERT IGNORE', async () => {
    const pool = createPool({ host: '127.0.0.1', port: 9 }, { user: 'nobody', password: '' }); // never connects
    try {
      const records = new HarvestRecords(pool.promise);
      const record = (start: number): HarvestRecord => ({ start, end: start + 60, seen: ['d'], cumulative: [m('WebTransaction', '', [1, 2, 2, 2, 2, 4])], pending: { key: 'k', period: start, metrics: [] } });
      // updated_at moves once an hour (UPDATED_AT_REFRESH_SECONDS), not with every save.
      const text =
        'update `harvest_records` set `version` = `version` + ?, `harvest_start` = ?, `state` = ?, `updated_at` = IF(updated_at < NOW() - INTERVAL 3600 SECOND, NOW(), updated_at) where `account_id` = ? and `run_nonce` = ? and `version` = ?';
      const committedSql = 'SELECT 1 AS committed FROM harvest_records WHERE account_id = ? AND run_nonce = ? AND version = ? AND state = ?';
      const a = records.saveStatement(12, 'nonce-a', record(1_795_000_020), 4);
      const b = records.saveStatement(13, 'nonce-b', record(1_795_000_080), 9);
      expect([a.sql, a.params]).toEqual([text, [1, 1_795_000_020, encodeRecord(record(1_795_000_020)), 12, 'nonce-a', 4]]);
      expect([b.sql, b.params]).toEqual([text, [1, 1_795_000_080, encodeRecord(record(1_795_000_080)), 13, 'nonce-b', 9]]);
      // What proves the save committed after a lost COMMIT: the record at the next version with this state.
      expect(a.committed).toEqual({ sql: committedSql, params: [12, 'nonce-a', 5, encodeRecord(record(1_795_000_020))] });
      // With the metrics' ids (a new harvest's record): the same text, the record in format 4.
      const byId = records.saveStatement(12, 'nonce-a', record(1_795_000_200), 5, [31]);
      expect([byId.sql, byId.params]).toEqual([text, [1, 1_795_000_200, encodeRecord(record(1_795_000_200), [31]), 12, 'nonce-a', 5]]);
      const first = records.saveStatement(12, 'nonce-c', record(1_795_000_140), undefined);
      expect(first.sql).toBe('insert ignore into `harvest_records` (`account_id`, `run_nonce`, `version`, `harvest_start`, `state`) values (?, ?, ?, ?, ?)');
      expect(first.params).toEqual([12, 'nonce-c', 1, 1_795_000_140, encodeRecord(record(1_795_000_140))]);
      expect(first.committed).toEqual({ sql: committedSql, params: [12, 'nonce-c', 1, encodeRecord(record(1_795_000_140))] });
    } finally {
      await pool.end();
    }
  });
});
