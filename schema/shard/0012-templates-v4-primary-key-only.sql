-- Template v4: minute tables keyed by their primary key alone, (period, agent_id, metric_id), without v3's
-- secondary key by_series (agent_id, metric_id). Every row a writer stores cost one more B-tree insert for
-- that key (about 0.9 µs of the shard's 7 µs a row end to end, docs/benchmark.md). Readers no longer need
-- it: a minute table holds at most 60 periods, so a chart read lists them (`period IN (…)` with the agent
-- and the metric ids: one primary-key lookup per row read, dashboard/series-sql.ts), as v3's secondary key
-- read one row of the clustered index per row it found. Hour and day tables are unchanged (v4 = v3), and
-- v3 minute tables keep their key until purged: the columns are the same.
CREATE TABLE IF NOT EXISTS template_minute_v4 (
  metric_id INT UNSIGNED NOT NULL,
  agent_id INT UNSIGNED NOT NULL,
  period INT UNSIGNED NOT NULL,
  call_count BIGINT UNSIGNED NOT NULL,
  total_time DOUBLE NOT NULL,
  exclusive_time DOUBLE NOT NULL,
  min_time DOUBLE NOT NULL,
  max_time DOUBLE NOT NULL,
  sum_of_squares DOUBLE NOT NULL,
  PRIMARY KEY (period, agent_id, metric_id)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS template_hour_v4 LIKE template_hour_v3;

CREATE TABLE IF NOT EXISTS template_day_v4 LIKE template_day_v3;
