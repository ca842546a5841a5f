import { PacketWriter } from './packet-writer.js';

/**
 * MariaDB's COM_STMT_BULK_EXECUTE: one prepared statement executed over an array of parameter rows,
 * binary values the server does not parse, one answer (an OK with the affected rows summed, or an
 * error) per command. The parameters carry one type each for the whole command (sent once, flag
 * SEND_TYPES_TO_SERVER), chosen here per column from all its rows: numbers that are all safe integers
 * go as BIGINT, any other number column as DOUBLE (exact: a JavaScript number is a double, and a DOUBLE
 * column or an integer column takes an integral double exactly), booleans as BIGINT 0 or 1, strings as VAR_STRING, bytes as BLOB.
 * So one statement's rows never split into several commands by their values (MariaDB's own connector
 * picks a type per value and starts a new command whenever a row's types differ: an Apdex row's
 * integral times among the others cost a command of their own).
 *
 * A command's packet stays below `maxBytes` (rows are split over several commands, their answers
 * summed by the caller); a single row larger than that goes alone, up to the protocol's packet limit.
 */

const COM_STMT_BULK_EXECUTE = 0xfa;
const SEND_TYPES_TO_SERVER = 128;
const TYPE_DOUBLE = 5;
const TYPE_LONGLONG = 8;
const TYPE_BLOB = 252;
const TYPE_VAR_STRING = 253;

/** Bytes of one bulk command's packet before the rows go on in another: well within any max_allowed_packet. */
export const BULK_COMMAND_BYTES = 1 << 20;

type Kind = 'none' | 'int' | 'double' | 'bigint' | 'boolean' | 'string' | 'bytes';

/**
 * Rows that write themselves, for a caller that knows its columns: no array a row, no look at every
 * value to choose the types. Every value is a number: a safe integer in an 'int' column (sent as
 * BIGINT), any number in a 'double' one.
 */
export interface TypedRows {
  readonly length: number;
  readonly kinds: readonly ('int' | 'double')[];
  /** Writes row `i`, its values in column order (PacketWriter.numberValue). */
  write(w: PacketWriter, i: number): void;
}

/** A bulk statement's parameter rows: arrays of values (types chosen by columnKinds) or TypedRows. */
export type BulkRows = readonly (readonly unknown[])[] | TypedRows;

/** Parameters a row of `rows` has (0 when there is no row). */
export function paramsOf(rows: BulkRows): number {
  return isTyped(rows) ? rows.kinds.length : (rows[0]?.length ?? 0);
}

function isTyped(rows: BulkRows): rows is TypedRows {
  return !Array.isArray(rows);
}

function kindOf(v: unknown): Kind {
  switch (typeof v) {
    case 'number':
      return Number.isSafeInteger(v) && !Object.is(v, -0) ? 'int' : 'double';
    case 'bigint':
      return 'bigint';
    case 'string':
      return 'string';
    case 'boolean':
      return 'boolean';
    default:
      if (v === null || v === undefined) return 'none';
      if (v instanceof Uint8Array) return 'bytes';
      throw new TypeError(`cannot send a parameter of type ${Object.prototype.toString.call(v)} in a bulk statement`);
  }
}

/** One kind a column: int with double is double, int with bigint is bigint; anything else mixed is a caller's error. */
export function columnKinds(rows: readonly (readonly unknown[])[], params: number): Kind[] {
  const kinds: Kind[] = new Array<Kind>(params).fill('none');
  for (const row of rows) {
    if (row.length !== params) throw new TypeError(`cannot send a bulk row of ${row.length} parameters to a statement of ${params}`);
    for (let i = 0; i < params; i++) {
      const v = row[i];
      const was = kinds[i]!;
      // The common case first, without a call: a number in a number column.
      if (typeof v === 'number' && (was === 'double' || (was === 'int' && Number.isSafeInteger(v) && (v !== 0 || 1 / v > 0)))) continue;
      const k = kindOf(v);
      if (k === was || k === 'none') continue;
      if (was === 'none' || (was === 'int' && (k === 'double' || k === 'bigint'))) kinds[i] = k;
      else if (!((was === 'double' || was === 'bigint') && k === 'int')) throw new TypeError(`cannot send parameter ${i + 1} of a bulk statement: its rows mix ${was} and ${k} values`);
    }
  }
  return kinds;
}

function typeCode(k: Kind): number {
  switch (k) {
    case 'int':
    case 'bigint':
    case 'boolean':
      return TYPE_LONGLONG;
    case 'double':
      return TYPE_DOUBLE;
    case 'bytes':
      return TYPE_BLOB;
    default:
      return TYPE_VAR_STRING;
  }
}

function writeValue(w: PacketWriter, k: Kind, v: unknown): void {
  if (v === null || v === undefined) {
    w.u8(1);
    return;
  }
  w.u8(0);
  switch (k) {
    case 'int':
      w.i64(v as number);
      return;
    case 'boolean':
      w.i64(v ? 1 : 0);
      return;
    case 'double':
      w.f64(Number(v));
      return;
    case 'bigint':
      if (typeof v === 'bigint') w.bigint64(v);
      else w.i64(v as number);
      return;
    case 'bytes':
      w.lenencBytes(v as Uint8Array);
      return;
    default:
      w.lenencText(v as string);
  }
}

/**
 * Writes the bulk commands of `rows` for statement `stmtId` (with `params` parameters) into `w`, each a
 * packet of sequence 0. Returns how many commands (one answer each).
 */
export function writeBulkExecute(w: PacketWriter, stmtId: number, params: number, rows: BulkRows, maxBytes = BULK_COMMAND_BYTES): number {
  if (rows.length === 0) throw new Error('cannot send a bulk statement of no rows');
  const typed = isTyped(rows) ? rows : undefined;
  if (typed && typed.kinds.length !== params) throw new TypeError(`cannot send bulk rows of ${typed.kinds.length} parameters to a statement of ${params}`);
  const kinds: readonly Kind[] = typed ? typed.kinds : columnKinds(rows as readonly (readonly unknown[])[], params);
  const numbers = kinds.every((k) => k === 'int' || k === 'double' || k === 'none');
  const doubles = kinds.map((k) => k === 'double');
  let commands = 0;
  let r = 0;
  while (r < rows.length) {
    w.begin(0).u8(COM_STMT_BULK_EXECUTE).u32(stmtId).u16(SEND_TYPES_TO_SERVER);
    for (const k of kinds) w.u16(typeCode(k));
    const first = r;
    for (; r < rows.length; r++) {
      if (r > first && w.payloadLength >= maxBytes) break;
      if (typed) {
        typed.write(w, r);
        continue;
      }
      const row = (rows as readonly (readonly unknown[])[])[r]!;
      if (numbers) w.numberRow(row, doubles);
      else for (let i = 0; i < params; i++) writeValue(w, kinds[i]!, row[i]);
    }
    w.end();
    commands++;
  }
  return commands;
}
