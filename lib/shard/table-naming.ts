/**
 * The only place that names per-period tables, with its inverse. Identifiers are built from
 * integers and fixed prefixes only, so they are safe to splice into SQL.
 *
 * | kind   | one table per account per | name                      | row period |
 * |--------|---------------------------|---------------------------|------------|
 * | minute | UTC hour                  | ts_<account>_<YYYYMMDDHH> | minute     |
 * | hour   | UTC month                 | th_<account>_<YYYYMM>     | hour       |
 * | day    | UTC year                  | td_<account>_<YYYY>       | day        |
 *
 * All times are Unix seconds (UTC).
 */
export type TableKind = 'minute' | 'hour' | 'day';
export const TABLE_KINDS: readonly TableKind[] = ['minute', 'hour', 'day'];

const PREFIX: Record<TableKind, string> = { minute: 'ts', hour: 'th', day: 'td' };
const DIGITS: Record<TableKind, number> = { minute: 10, hour: 6, day: 4 };
/** Seconds in one row period of each kind. */
export const ROW_PERIOD_SECONDS: Record<TableKind, number> = { minute: 60, hour: 3600, day: 86400 };

const NAME_RE = /^(ts|th|td)_([1-9][0-9]{0,9})_([0-9]{4,10})$/;
const TEMPLATE_RE = /^template_(minute|hour|day)_v([1-9][0-9]{0,5})$/;

export interface ParsedTableName {
  kind: TableKind;
  accountId: number;
  /** Start of the span the table covers (hour, month or year). */
  start: number;
  /** Start of the next span: the table covers [start, end). */
  end: number;
}

export function assertId(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n <= 0 || n > 4_294_967_295) {
    throw new Error(`BUG: ${what} must be a positive 32-bit integer, got ${String(n)}`);
  }
}

/** Start of the row period (minute, hour or day) containing t. */
export function rowPeriodStart(kind: TableKind, t: number): number {
  const p = ROW_PERIOD_SECONDS[kind];
  return Math.floor(t / p) * p;
}

/** Start of the table span (hour, month or year) containing t. */
export function tableSpanStart(kind: TableKind, t: number): number {
  const d = new Date(Math.floor(t) * 1000);
  if (kind === 'minute') return Math.floor(t / 3600) * 3600;
  if (kind === 'hour') return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / 1000;
  return Date.UTC(d.getUTCFullYear(), 0, 1) / 1000;
}

/** Start of the table span after the one containing t. */
export function nextTableSpanStart(kind: TableKind, t: number): number {
  const s = tableSpanStart(kind, t);
  const d = new Date(s * 1000);
  if (kind === 'minute') return s + 3600;
  if (kind === 'hour') return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) / 1000;
  return Date.UTC(d.getUTCFullYear() + 1, 0, 1) / 1000;
}

function stamp(kind: TableKind, t: number): string {
  const d = new Date(tableSpanStart(kind, t) * 1000);
  const y = String(d.getUTCFullYear()).padStart(4, '0');
  const m = String(d.getUTCMonth() + 1).padStart(2, '0');
  const day = String(d.getUTCDate()).padStart(2, '0');
  const h = String(d.getUTCHours()).padStart(2, '0');
  if (kind === 'minute') return `${y}${m}${day}${h}`;
  if (kind === 'hour') return `${y}${m}`;
  return y;
}

/** Name of the table of `kind` holding account's rows at time t. */
export function tableName(kind: TableKind, accountId: number, t: number): string {
  assertId('account id', accountId);
  if (!Number.isFinite(t) || t < 0) throw new Error(`BUG: table time must be finite and >= 0, got ${t}`);
  return `${PREFIX[kind]}_${accountId}_${stamp(kind, t)}`;
}

/** Inverse of tableName; undefined for anything that is not one of our period tables. */
export function parseTableName(name: string): ParsedTableName | undefined {
  const m = NAME_RE.exec(name);
  if (!m) return undefined;
  const kind = (Object.keys(PREFIX) as TableKind[]).find((k) => PREFIX[k] === m[1])!;
  const digits = m[3]!;
  if (digits.length !== DIGITS[kind]) return undefined;
  const y = Number(digits.slice(0, 4));
  const mo = kind === 'day' ? 1 : Number(digits.slice(4, 6));
  const d = kind === 'minute' ? Number(digits.slice(6, 8)) : 1;
  const h = kind === 'minute' ? Number(digits.slice(8, 10)) : 0;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || y < 1970) return undefined;
  const start = Date.UTC(y, mo - 1, d, h) / 1000;
  const back = new Date(start * 1000);
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return undefined; // e.g. Feb 30
  const accountId = Number(m[2]);
  if (accountId > 4_294_967_295) return undefined;
  return { kind, accountId, start, end: nextTableSpanStart(kind, start) };
}

/** Name of template version `version` of `kind`. */
export function templateName(kind: TableKind, version: number): string {
  assertId('template version', version);
  return `template_${kind}_v${version}`;
}

export function parseTemplateName(name: string): { kind: TableKind; version: number } | undefined {
  const m = TEMPLATE_RE.exec(name);
  return m ? { kind: m[1] as TableKind, version: Number(m[2]) } : undefined;
}

/**
 * The write ledger of a shard for one UTC day (of the written data): which deduplication keys were
 * committed. One small table per day, dropped whole after a few days (retries come within minutes).
 */
export function ledgerTableName(t: number): string {
  const d = new Date(Math.floor(t / 86400) * 86400 * 1000);
  return `wl_${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
}

/** Day start (Unix seconds) of a ledger table name, or undefined. */
export function parseLedgerTableName(name: string): number | undefined {
  const m = /^wl_([0-9]{4})([0-9]{2})([0-9]{2})$/.exec(name);
  if (!m) return undefined;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / 1000;
  return ledgerTableName(t) === name ? t : undefined;
}
