-- Template v3: minute tables keyed in arrival order. The primary key starts with the period, so the
-- rows of one minute are written next to each other and the write working set is the current minute
-- instead of the whole hour (a 512 MiB buffer pool no longer thrashes late in the hour). The dashboard
-- reads one agent's metrics over a window: the secondary key (agent_id, metric_id) keeps that a range
-- read (its leaves are a fraction of the rows' size). Hour and day tables are unchanged (v3 = v2), and
-- v1/v2 minute tables keep their key until purged: the columns are the same, so readers need nothing new.
CREATE TABLE IF NOT EXISTS template_minute_v3 (
  metric_id INT UNSIGNED NOT NULL,
  agent_id INT UNSIGNED NOT NULL,
  period INT UNSIGNED NOT NULL,
  call_count BIGINT UNSIGNED NOT NULL,
  total_time DOUBLE NOT NULL,
  exclusive_time DOUBLE NOT NULL,
  min_time DOUBLE NOT NULL,
  max_time DOUBLE NOT NULL,
  sum_of_squares DOUBLE NOT NULL,
  PRIMARY KEY (period, agent_id, metric_id),
  KEY by_series (agent_id, metric_id)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS template_hour_v3 LIKE template_hour_v2;

CREATE TABLE IF NOT EXISTS template_day_v3 LIKE template_day_v2;
