import { ConnectionError, eofStatus, isEof, isErr, PacketReader, readErr, readOk, SERVER_MORE_RESULTS_EXISTS, type ServerError } from './packet-reader.js';

/**
 * How the bulk client (lib/db/wire/wire-connection.ts) reads each command's answer: packet by packet,
 * in the order the commands were sent.
 */

/** A result row of a text query: column name → value as text (null for NULL). */
export type TextRow = Record<string, string | null>;

export interface BulkAnswer {
  /** Rows the command changed, summed over its parameter rows (as found rows: CLIENT_FOUND_ROWS). */
  affectedRows: number;
}

export interface Handler {
  /** Takes one answer packet; true when the command's answer is complete. */
  onPacket(p: Buffer): boolean;
  fail(err: Error): void;
}

/** The answers of `n` commands that each answer OK or an error: the OKs' changed rows summed. */
export function okAnswers(n: number, resolve: (a: BulkAnswer) => void, reject: (e: Error) => void): Handler {
  let left = n;
  let affectedRows = 0;
  let error: ServerError | undefined;
  return {
    onPacket(p) {
      if (isErr(p)) error ??= readErr(p);
      else affectedRows += readOk(p).affectedRows;
      if (--left > 0) return false;
      if (error) reject(error);
      else resolve({ affectedRows });
      return true;
    },
    fail: reject,
  };
}

/** The answer of a text query: OKs, result sets (rows as text) or an error, results chained by a status flag. */
export function textAnswer(resolve: (rows: TextRow[]) => void, reject: (e: Error) => void): Handler {
  let state: 'head' | 'columns' | 'columnsEnd' | 'rows' = 'head';
  let names: string[] = [];
  let columns = 0;
  let rows: TextRow[] = [];
  let last: TextRow[] = [];
  const more = (status: number): boolean => {
    if (status & SERVER_MORE_RESULTS_EXISTS) {
      state = 'head';
      return false;
    }
    resolve(last);
    return true;
  };
  return {
    onPacket(p) {
      if (isErr(p)) return reject(readErr(p)), true;
      const r = new PacketReader(p);
      switch (state) {
        case 'head':
          if (p[0] === 0x00) return more(readOk(p).status);
          if (p[0] === 0xfb) throw new ConnectionError('the server asked for a local file, which the bulk client never sends');
          columns = r.lenenc() ?? 0;
          names = [];
          state = 'columns';
          return false;
        case 'columns':
          for (let i = 0; i < 4; i++) r.lenencText(); // catalog, schema, table, original table
          names.push(r.lenencText() ?? '');
          if (names.length === columns) state = 'columnsEnd';
          return false;
        case 'columnsEnd':
          rows = [];
          state = 'rows';
          return false;
        case 'rows': {
          if (isEof(p)) {
            last = rows;
            return more(eofStatus(p));
          }
          const row: TextRow = {};
          for (const n of names) row[n] = r.lenencText();
          rows.push(row);
          return false;
        }
      }
    },
    fail: reject,
  };
}

/** A statement the server prepared: its id and how many parameters it takes. */
export interface PreparedStatement {
  id: number;
  params: number;
}

/** The answer to COM_STMT_PREPARE: the statement, once the definitions that follow it were read. */
export function preparedAnswer(resolve: (st: PreparedStatement) => void, reject: (e: Error) => void): Handler {
  let st: PreparedStatement | undefined;
  let defs = 0;
  return {
    onPacket(p) {
      if (!st) {
        if (isErr(p)) return reject(readErr(p)), true;
        const r = new PacketReader(p).skip(1);
        const id = r.u32();
        const columns = r.u16();
        const params = r.u16();
        st = { id, params };
        // Definitions follow: the parameters' then the columns', each list ended by an EOF.
        defs = (params > 0 ? params + 1 : 0) + (columns > 0 ? columns + 1 : 0);
      } else defs--;
      if (defs > 0) return false;
      resolve(st);
      return true;
    },
    fail: reject,
  };
}
