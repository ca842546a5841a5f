import type { TableKind } from '../lib/shard/table-naming.js';

/**
 * table_registry.rollup_state of a period table:
 * - minute tables: 'open' (being written) → 'rolling' (a worker is rolling it into its hour) → 'done';
 *   the ShardWriter sets 'dirty' when late rows arrive after 'rolling'/'done'.
 * - hour and day tables: 'open' while any period inside their span may still change, 'done' once their
 *   span has ended and everything inside it is rolled up ("sealed"); set back to 'dirty' by a re-roll.
 */
export type RollupState = 'open' | 'rolling' | 'done' | 'dirty';

/** One period table on a shard, as the rollup planners see it. Times are Unix seconds UTC. */
export interface TableState {
  name: string;
  accountId: number;
  kind: TableKind;
  /** The table covers [start, end): an hour, a month or a year. */
  start: number;
  end: number;
  state: RollupState;
}

/**
 * rollup_days.state of one (account, UTC day): 'pending' = hours were rolled into it and the day is not
 * rolled yet; 'dirty' = an hour was re-rolled after the day was rolled; 'done' = rolled into the day table.
 */
export type DayState = 'pending' | 'dirty' | 'done';

export interface DayPeriod {
  accountId: number;
  /** Day start, Unix seconds (a multiple of 86400). */
  day: number;
  state: DayState;
}

export const HOUR = 3600;
export const DAY = 86400;
