import { describe, expect, it } from 'vitest';
import { columnKinds, writeBulkExecute } from '../../lib/db/wire/bulk-execute.js';
import { ConnectionError, PacketFramer, PacketReader } from '../../lib/db/wire/packet-reader.js';
import { MAX_PAYLOAD, PacketWriter } from '../../lib/db/wire/packet-writer.js';
import { bulkRows, bulkUpsertSql } from '../../lib/shard/shard-writer-bulk-trip.js';
import type { TimesliceRow } from '../../lib/timeslice/timeslice.js';

/** The packets of `buf`: [sequence, payload]. */
function packets(buf: Buffer): [number, Buffer][] {
  const out: [number, Buffer][] = [];
  for (let pos = 0; pos < buf.length; ) {
    const len = buf.readUIntLE(pos, 3);
    out.push([buf[pos + 3]!, buf.subarray(pos + 4, pos + 4 + len)]);
    pos += 4 + len;
  }
  expect(out.reduce((n, [, p]) => n + 4 + p.length, 0)).toBe(buf.length);
  return out;
}

describe('bulk client packets (lib/db/wire)', () => {
  it('a bulk command: 0xfa, the statement id, SEND_TYPES_TO_SERVER, one type a column, then each row\'s null flags and binary values', () => {
    const w = new PacketWriter(16);
    const rows = [
      [1, 0.5, Buffer.from([0, 255]), 'é', null],
      [-1, 2, Buffer.alloc(0), '', 7n],
    ];
    expect(writeBulkExecute(w, 0x01020304, 5, rows)).toBe(1);
    const buf = w.take();
    const [[seq, p]] = packets(buf) as [[number, Buffer]];
    expect(seq).toBe(0);
    const expected = Buffer.concat([
      Buffer.from([0xfa, 4, 3, 2, 1, 128, 0]),
      // Types: BIGINT (8) for the safe integers, DOUBLE (5) for a column mixing 0.5 and 2, BLOB (252), VAR_STRING (253), BIGINT for a bigint column.
      Buffer.from([8, 0, 5, 0, 252, 0, 253, 0, 8, 0]),
      Buffer.from([0, 1, 0, 0, 0, 0, 0, 0, 0]),
      Buffer.from([0, 0, 0, 0, 0, 0, 0, 0xe0, 0x3f]),
      Buffer.from([0, 2, 0, 255]),
      Buffer.from([0, 2, 0xc3, 0xa9]),
      Buffer.from([1]),
      Buffer.from([0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
      Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0x40]),
      Buffer.from([0, 0]),
      Buffer.from([0, 0]),
      Buffer.from([0, 7, 0, 0, 0, 0, 0, 0, 0]),
    ]);
    expect(p.toString('hex')).toBe(expected.toString('hex'));
    expect(buf.length).toBe(4 + expected.length);
  });

  it('rows of numbers only (the writer\'s timeslices) take the same encoding: null flags, 64-bit integers, little-endian doubles', () => {
    const w = new PacketWriter(8);
    expect(writeBulkExecute(w, 7, 3, [[1, 0.5, null], [-(2 ** 40), 2, 3]])).toBe(1);
    const [[, p]] = packets(w.take()) as [[number, Buffer]];
    const expected = Buffer.concat([
      Buffer.from([0xfa, 7, 0, 0, 0, 128, 0, 8, 0, 5, 0, 8, 0]),
      Buffer.from([0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xe0, 0x3f, 1]),
      Buffer.from([0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 3, 0, 0, 0, 0, 0, 0, 0]),
    ]);
    expect(p.toString('hex')).toBe(expected.toString('hex'));
  });

  it('one type a column from all its rows: integers with fractions are DOUBLE, -0 and integers past 2^53 are DOUBLE, nulls take no part; mixing anything else is refused, naming the parameter', () => {
    expect(columnKinds([[1, 2 ** 53 - 1, null, 3], [2, 1, null, 0.25]], 4)).toEqual(['int', 'int', 'none', 'double']);
    expect(columnKinds([[-0], [2 ** 53]], 1)).toEqual(['double']);
    expect(columnKinds([[true, 'x', new Uint8Array(1), 5n], [false, null, null, 6]], 4)).toEqual(['boolean', 'string', 'bytes', 'bigint']);
    expect(() => columnKinds([[true], [1]], 1)).toThrow('cannot send parameter 1 of a bulk statement: its rows mix boolean and int values');
    expect(() => columnKinds([[1, 'a'], [2, 3]], 2)).toThrow('cannot send parameter 2 of a bulk statement: its rows mix string and int values');
    expect(() => columnKinds([[1, 2, 3]], 2)).toThrow('cannot send a bulk row of 3 parameters to a statement of 2');
    expect(() => columnKinds([[new Date(0)]], 1)).toThrow('cannot send a parameter of type [object Date] in a bulk statement');
    expect(() => writeBulkExecute(new PacketWriter(), 1, 1, [])).toThrow('cannot send a bulk statement of no rows');
  });

  it('rows past the command size go on in further commands of the same types, each row whole in one', () => {
    const w = new PacketWriter(16);
    const rows = Array.from({ length: 10 }, (_, i) => [i, 'x'.repeat(20)]);
    // Each row is 9 + 22 bytes after a 13-byte head: 3 rows reach 100 bytes, so 3, 3, 3, 1.
    expect(writeBulkExecute(w, 9, 2, rows, 100)).toBe(4);
    const got = packets(w.take()).map(([seq, p]) => {
      const r = new PacketReader(p);
      expect([seq, r.u8(), r.u32(), r.u16(), r.u16(), r.u16()]).toEqual([0, 0xfa, 9, 128, 8, 253]);
      const ids: number[] = [];
      while (r.left > 0) {
        expect(r.u8()).toBe(0);
        ids.push(r.u32() + r.u32() * 2 ** 32);
        expect([r.u8(), r.lenencText()]).toEqual([0, 'x'.repeat(20)]);
      }
      return ids;
    });
    expect(got).toEqual([[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]);
  });

  it('length-encoded integers at each width, 64-bit integers either side of zero, packets above the protocol\'s limit refused', () => {
    const w = new PacketWriter(4).begin(3);
    for (const n of [0, 250, 251, 65535, 65536, 16777215, 16777216, 2 ** 53 - 1]) w.lenenc(n);
    w.i64(-1).i64(-(2 ** 53) + 1).i64(2 ** 40 + 5).end();
    const [[seq, p]] = packets(w.take()) as [[number, Buffer]];
    expect(seq).toBe(3);
    const r = new PacketReader(p);
    expect(Array.from({ length: 8 }, () => r.lenenc())).toEqual([0, 250, 251, 65535, 65536, 16777215, 16777216, 2 ** 53 - 1]);
    expect([p.readBigInt64LE(r.pos), p.readBigInt64LE(r.pos + 8), p.readBigInt64LE(r.pos + 16)]).toEqual([-1n, -(2n ** 53n) + 1n, 2n ** 40n + 5n]);
    const big = new PacketWriter(16).begin(0).bytes(Buffer.alloc(MAX_PAYLOAD + 1));
    expect(() => big.end()).toThrow(`cannot send a packet of ${MAX_PAYLOAD + 1} bytes: the limit of one packet is ${MAX_PAYLOAD}`);
  });

  it('answers framed across reads: a packet split over chunks, several in one; one of 16 MiB or more is refused', () => {
    const a = new PacketWriter().begin(1).text('first').end().begin(2).text('second').end().take();
    const seen: string[] = [];
    const f = new PacketFramer();
    for (const chunk of [a.subarray(0, 2), a.subarray(2, 7), a.subarray(7, 13), a.subarray(13)]) f.push(chunk, (p) => seen.push(p.toString()));
    expect(seen).toEqual(['first', 'second']);
    expect(() => new PacketFramer().push(Buffer.from([0xff, 0xff, 0xff, 0]), () => undefined)).toThrow(ConnectionError);
  });

  it('the writer\'s rows in the upsert\'s column order, written from the row objects: the key and whole call counts as BIGINT, the times as DOUBLE', () => {
    const row: TimesliceRow = { metricId: 9, agentId: 7, period: 1_796_572_860, callCount: 1, totalTime: 0.125, exclusiveTime: 0.25, minTime: 0.5, maxTime: 1.5, sumOfSquares: 0.75 };
    /** The command's 9 types and each row's 9 values (each with its null flag 0). */
    const sent = (rows: readonly TimesliceRow[]) => {
      const w = new PacketWriter(8);
      expect(writeBulkExecute(w, 3, 9, bulkRows(rows))).toBe(1);
      const [[, p]] = packets(w.take()) as [[number, Buffer]];
      const types = Array.from({ length: 9 }, (_, i) => p.readUInt16LE(7 + 2 * i));
      const values = rows.map((_, r) =>
        Array.from({ length: 9 }, (_, i) => {
          const at = 25 + 81 * r + 9 * i;
          expect(p[at]).toBe(0);
          return types[i] === 8 ? Number(p.readBigInt64LE(at + 1)) : p.readDoubleLE(at + 1);
        }),
      );
      expect(p.length).toBe(25 + 81 * rows.length);
      return { types, values };
    };
    expect(sent([row, { ...row, metricId: 10, totalTime: 2, minTime: 0 }])).toEqual({
      types: [8, 8, 8, 8, 5, 5, 5, 5, 5],
      values: [
        [9, 7, 1_796_572_860, 1, 0.125, 0.25, 0.5, 1.5, 0.75],
        [10, 7, 1_796_572_860, 1, 2, 0.25, 0, 1.5, 0.75],
      ],
    });
    // A call count that is not a safe integer makes its column DOUBLE; a key that is not whole is refused.
    expect(sent([row, { ...row, callCount: 2 ** 53 }]).types).toEqual([8, 8, 8, 5, 5, 5, 5, 5, 5]);
    expect(sent([row, { ...row, callCount: 2 ** 53 }]).values[1]![3]).toBe(2 ** 53);
    expect(() => bulkRows([{ ...row, agentId: 1.5 }])).toThrow('cannot send a timeslice row keyed (9, 1.5, 1796572860): its key must be whole numbers');
    expect(() => writeBulkExecute(new PacketWriter(), 3, 8, bulkRows([row]))).toThrow('cannot send bulk rows of 9 parameters to a statement of 8');
    expect(bulkUpsertSql('minute_1_2')).toBe(
      'INSERT INTO minute_1_2 (metric_id, agent_id, period, call_count, total_time, exclusive_time, min_time, max_time, sum_of_squares) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE ' +
        'call_count = call_count + VALUES(call_count), total_time = total_time + VALUES(total_time), exclusive_time = exclusive_time + VALUES(exclusive_time), ' +
        'min_time = LEAST(min_time, VALUES(min_time)), max_time = GREATEST(max_time, VALUES(max_time)), sum_of_squares = sum_of_squares + VALUES(sum_of_squares)',
    );
  });
});
