import type { Generated } from 'kysely';
import type { TableKind } from './table-naming.js';

/** Kysely types of a shard's fixed tables. Per-period tables are typed by TimesliceTable below. */
export interface ShardDatabase {
  table_registry: {
    name: string;
    account_id: number;
    kind: TableKind;
    period_start: number;
    template_version: number;
    rollup_state: Generated<RollupState>;
    created_at: Generated<string>;
    rolled_at: string | null;
    /** schema/shard/0011-minute-seal.sql (minute tables): rows of minutes before it are sealed; NULL: none. */
    sealed_through: number | null;
  };
  metric_names: { account_id: number; id: number; name: string; scope: string };
  application_metrics: { account_id: number; application_id: number; metric_id: number };
  agents: { account_id: number; id: number; application_id: number; host: string; pid: number; language: string; created_at: Generated<string> };
  account_counters: { account_id: number; next_metric_id: Generated<number>; next_agent_id: Generated<number> };
  /** schema/shard/0003-rollup-days.sql */
  rollup_days: { account_id: number; day: number; state: 'pending' | 'dirty' | 'done'; rolls: Generated<number>; updated_at: Generated<string>; rolled_at: string | null };
  /** schema/shard/0004-collector-harvests.sql: state is a harvest record, format 2 (collector/newrelic/harvest-record-codec.ts; format 1, deflated JSON, still read). */
  harvest_records: { account_id: number; run_nonce: string; version: number; harvest_start: number; state: Buffer; updated_at: Generated<string> };
  /** schema/shard/0006-operations.sql */
  account_fences: { account_id: number; state: Generated<FenceState>; move_id: number | null; fenced_until: string | null; updated_at: Generated<string> };
  /** schema/shard/0009-distributions.sql */
  dist_tables: { name: string; account_id: number; kind: TableKind; period_start: number; template_version: number; created_at: Generated<string> };
  /** schema/shard/0010-replica-heartbeat.sql */
  replica_heartbeat: { id: number; beat_ms: number; writer: string; server_id: number };
}

export type FenceState = 'open' | 'fenced' | 'away';

export type RollupState = 'open' | 'rolling' | 'done' | 'dirty';

/** Columns of a per-period table; `periods` exists in hour/day tables from template v2 on. */
export interface TimesliceTable {
  metric_id: number;
  agent_id: number;
  period: number;
  call_count: number;
  total_time: number;
  exclusive_time: number;
  min_time: number;
  max_time: number;
  sum_of_squares: number;
  periods?: number;
}

export interface TableInfo {
  name: string;
  accountId: number;
  kind: TableKind;
  /** The table covers [start, end). */
  start: number;
  end: number;
  version: number;
  /** Column names of this table's template version, in order. */
  columns: readonly string[];
  rollupState: RollupState;
  /** Chart reads list this table's periods instead of a range (ShardTemplates.listsPeriods of its version). */
  listsPeriods: boolean;
  /**
   * Minute tables: the registry's sealed_through as read with this record (minutes before it are sealed;
   * it only grows), or undefined when none is (or was not read). A hint for readers, never a bound they
   * trust: dashboard/series-sql.ts checks it inside its statement.
   */
  sealedThrough?: number;
}
