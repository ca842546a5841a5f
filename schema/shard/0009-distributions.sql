-- Distributions (percentiles that survive rollups): per (metric, agent, period) the count of values in
-- each bucket of the one log-linear scheme of lib/distribution/log-buckets.ts (bucket i holds
-- (γ^(i−1), γ^i], γ = 1.01/0.99: every quantile read back is within 1 % of the exact one; bucket −691
-- holds 0 and values ≤ 1 µs). Rows add per bucket, so merging minutes into hours and hours into days is
-- SUM(count) GROUP BY bucket: the rollup merges them in SQL like the timeslices. At most 1,498 rows
-- per (metric, agent, period).
--
-- Tables of their own kinds, one per account per span like the timeslice tables, created LIKE these
-- templates: dm_<account>_<YYYYMMDDHH> (minute rows), dh_<account>_<YYYYMM> (hour rows),
-- dd_<account>_<YYYY> (day rows). The timeslice templates and table_registry are unchanged: old
-- tables stay readable, and every reader of table_registry sees only timeslice tables.
CREATE TABLE IF NOT EXISTS template_dist_minute_v1 (
  metric_id INT UNSIGNED NOT NULL,
  agent_id INT UNSIGNED NOT NULL,
  period INT UNSIGNED NOT NULL,
  bucket SMALLINT NOT NULL,
  count BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (metric_id, agent_id, period, bucket)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS template_dist_hour_v1 LIKE template_dist_minute_v1;

CREATE TABLE IF NOT EXISTS template_dist_day_v1 LIKE template_dist_minute_v1;

-- Which distribution tables exist (the dashboard reads only registered ones; purge drops them with
-- the timeslice table of the same kind and span).
CREATE TABLE IF NOT EXISTS dist_tables (
  name VARCHAR(64) NOT NULL PRIMARY KEY,
  account_id INT UNSIGNED NOT NULL,
  kind ENUM('minute', 'hour', 'day') NOT NULL,
  period_start INT UNSIGNED NOT NULL,
  template_version SMALLINT UNSIGNED NOT NULL,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  KEY dist_tables_account (account_id, kind, period_start)
) ENGINE=InnoDB;
