-- Periodic work proportional to what changed, not to what exists (issue #19). Adds indexes only:
-- template versions are unchanged.
-- The rollup reads the tables that are not 'done' (a few per active account) and the 'done' tables
-- past a retention cutoff, never the whole registry (rollup/rollup-state.ts).
ALTER TABLE table_registry ADD KEY table_registry_state (rollup_state, kind, period_start);

-- The accounts that wrote in an hour, and which of them have the next hour's table already
-- (pre-creation before the top of the hour, rollup/precreate-plan.ts); the admin table counts by kind.
ALTER TABLE table_registry ADD KEY table_registry_period (kind, period_start, account_id);
