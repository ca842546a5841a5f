import type { RowDataPacket } from 'mysql2/promise';

/**
 * SQL text of the write ledger's statements (lib/shard/shard-writer-ledger.ts) on its per-day
 * `wl_<YYYYMMDD>` tables (names from table-naming.ts ledgerTableName; the DDL is ledgerDdl in
 * shard-writer-sql.ts). Every value is a parameter: (account_id, dedupe_key) pairs, in order.
 */
export interface LedgerStatement {
  sql: string;
  params: unknown[];
}

/** A (account_id, dedupe_key) key of a ledger table. */
export interface LedgerKey {
  accountId: number;
  digest: Buffer;
}

/** A key read back from a ledger table (dedupe_key is BINARY(32)). */
export interface LedgerKeyRow extends RowDataPacket {
  account_id: number;
  dedupe_key: Buffer;
}

/** A row of ledgerLookup: its key is there. */
export interface LedgerHitRow extends RowDataPacket {
  1: number;
}

const LEDGER_TABLE = /^wl_\d{8}$/;

function ledgerTable(name: string): string {
  if (!LEDGER_TABLE.test(name)) throw new Error(`BUG: ${JSON.stringify(name)} is not a ledger table name`);
  return name;
}

function keyParams(keys: readonly LedgerKey[]): unknown[] {
  if (keys.length === 0) throw new Error('BUG: a ledger statement of no key');
  return keys.flatMap((k) => [k.accountId, k.digest]);
}

function tuples(n: number): string {
  return Array.from({ length: n }, () => '(?, ?)').join(', ');
}

/** INSERT (IGNORE: keys already there are skipped, affectedRows counts the new ones) of `keys`. */
export function ledgerInsert(name: string, keys: readonly LedgerKey[], ignore: boolean): LedgerStatement {
  return { sql: insertText(name, keys.length, ignore), params: keyParams(keys) };
}

function insertText(name: string, keys: number, ignore: boolean): string {
  return `INSERT${ignore ? ' IGNORE' : ''} INTO ${ledgerTable(name)} (account_id, dedupe_key) VALUES ${tuples(keys)}`;
}

/**
 * INSERT IGNORE of one key (`?, ?`: account_id, dedupe_key), for a bulk statement executed over many
 * keys (lib/shard/shard-writer-bulk-trip.ts): its affected rows are summed, the new keys.
 */
export function ledgerInsertRow(name: string): string {
  return insertText(name, 1, true);
}

/** The `keys` present, read with an exclusive lock (a resend's keys: held until the transaction ends). */
export function ledgerLockedRead(name: string, keys: readonly LedgerKey[]): LedgerStatement {
  return {
    sql: `SELECT account_id, dedupe_key FROM ${ledgerTable(name)} WHERE (account_id, dedupe_key) IN (${tuples(keys.length)}) FOR UPDATE`,
    params: keyParams(keys),
  };
}

/** One row when `key` is committed. */
export function ledgerLookup(name: string, key: LedgerKey): LedgerStatement {
  return { sql: `SELECT 1 FROM ${ledgerTable(name)} WHERE account_id = ? AND dedupe_key = ?`, params: [key.accountId, key.digest] };
}

/** A ledger table's newest commit time (Unix seconds; null when empty): whether it may be dropped. */
export function ledgerLastCommit(name: string): LedgerStatement {
  return { sql: `SELECT UNIX_TIMESTAMP(MAX(committed_at)) AS last FROM ${ledgerTable(name)}`, params: [] };
}

/** A row of ledgerLastCommit. */
export interface LedgerLastRow extends RowDataPacket {
  last: string | number | null;
}

export function ledgerDrop(name: string): LedgerStatement {
  return { sql: `DROP TABLE IF EXISTS ${ledgerTable(name)}`, params: [] };
}
