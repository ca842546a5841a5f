import type { TimesliceRow } from '../timeslice/timeslice.js';
import type { TableKind } from './table-naming.js';

export interface WriteRow {
  kind: TableKind;
  /** Any second inside the row's table span (usually the row's period). */
  t: number;
  row: TimesliceRow;
  /**
   * Minute rows of an agent: its application's pseudo-agent. The application-wide row is not written
   * per request: the minute seal (rollup/minute-seal.ts) derives it once the minute has closed; only a
   * row for a minute already sealed also adds to the pseudo-agent's row (late data stays exact).
   * Absent: the row is written as is (rows of the pseudo-agent itself, other kinds).
   */
  applicationAgentId?: number;
}

/**
 * A statement that must change exactly one row for the request to be written, run in the request's
 * transaction before its rows (e.g. an optimistic update of the collector's harvest record). When it
 * changes none, nothing of the request is written and the request resolves 'conflict'. Parameters are
 * bound; the statement text must name no request value. It changes at most one row (a row by its key):
 * the bulk trip checks the guards of one text by the rows they changed together.
 */
export interface WriteGuard {
  sql: string;
  params: readonly unknown[];
  /**
   * A read that returns a row exactly when the guard's change is committed (the harvest record's row
   * holding its new state). A request keyed by its guard alone (no dedupe key: the guard's condition
   * already refuses a second delivery) is proved committed by it after a COMMIT
   * whose answer was lost, as a keyed one is by its ledger key.
   */
  committed?: { sql: string; params: readonly unknown[] };
  /**
   * The same check as another statement, for the bulk trip (shard-writer-bulk-trip.ts), which runs the
   * guards of one text as one bulk statement: when `sql` would change its row, it makes the same change
   * and reports `changes` affected rows; otherwise it reports another count, and whatever it did then
   * is rolled back with the trip, which goes statement by statement with `sql`. (The harvest record's
   * conditional upsert: MariaDB runs a bulk UPDATE as one statement a row, a bulk INSERT as one.)
   */
  bulk?: { sql: string; params: readonly unknown[]; changes: number };
}

export interface WriteRequest {
  accountId: number;
  shardId: number;
  rows: WriteRow[];
  /**
   * Identifies a delivery: a request whose key was already committed for this account is
   * acknowledged without writing (see "Retries and deduplication" in schema/README.md). A request
   * whose guard refuses every second delivery (a versioned record) needs none: its guard's
   * `committed` read then proves a lost COMMIT.
   */
  dedupeKey?: string;
  guard?: WriteGuard;
}

export interface WriterOptions {
  batchRows: number;
  flushMs: number;
  maxPendingRows: number;
  connections: number;
  timeoutMs: number;
  now: () => number;
  /** Append-only tables by LOAD DATA LOCAL INFILE from memory (default true; APM_WRITER_LOAD_DATA). */
  loadData?: boolean;
  /** Each transaction tried in one round trip first (default true; APM_WRITER_ONE_TRIP): shard-writer-one-trip.ts. */
  oneTrip?: boolean;
  /** The one trip's rows as MariaDB bulk statements (default true; APM_WRITER_BULK): shard-writer-bulk-trip.ts. */
  bulk?: boolean;
  /** Where the writer says once that a server refuses LOAD DATA LOCAL INFILE. */
  log?: import('../log/log.js').Log;
  registry?: import('prom-client').Registry;
}

/**
 * 'committed': the rows are committed. 'duplicate': the dedupe key was committed before (nothing
 * written). 'conflict': the request's guard changed no row (nothing written).
 */
export type WriteOutcome = 'committed' | 'duplicate' | 'conflict';

/** A queued request and the promise it answers. */
export interface Pending {
  req: WriteRequest;
  /** SHA-256 of the dedupe key (what the ledger stores). */
  digest: Buffer | undefined;
  /** Time of the request's earliest row, Unix s: its UTC day names the ledger table. */
  ledgerT: number;
  deadline: number;
  resolve: (r: WriteOutcome) => void;
  reject: (e: Error) => void;
}

/** How a request ended: an outcome, or the error its caller gets. */
export type Settled = { outcome: WriteOutcome } | { error: Error; reason: 'fenced' | 'failed' | 'unwritable' };
