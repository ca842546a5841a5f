-- Shard schema v1: registry, dictionary, agents, write ledger support and template tables v1.
CREATE TABLE IF NOT EXISTS table_registry (
  name VARCHAR(64) NOT NULL PRIMARY KEY,
  account_id INT UNSIGNED NOT NULL,
  kind ENUM('minute', 'hour', 'day') NOT NULL,
  -- start of the span the table covers (hour, month or year), Unix seconds UTC
  period_start INT UNSIGNED NOT NULL,
  template_version SMALLINT UNSIGNED NOT NULL,
  rollup_state ENUM('open', 'rolling', 'done', 'dirty') NOT NULL DEFAULT 'open',
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  rolled_at TIMESTAMP(3) NULL,
  KEY table_registry_account (account_id, kind, period_start)
) ENGINE=InnoDB;

-- Id allocation per account (ids are per account so an account's data moves between shards unchanged).
CREATE TABLE IF NOT EXISTS account_counters (
  account_id INT UNSIGNED NOT NULL PRIMARY KEY,
  next_metric_id INT UNSIGNED NOT NULL DEFAULT 1,
  next_agent_id INT UNSIGNED NOT NULL DEFAULT 1
) ENGINE=InnoDB;

-- Per-account metric-name dictionary: (name, scope) -> id. scope '' = unscoped.
CREATE TABLE IF NOT EXISTS metric_names (
  account_id INT UNSIGNED NOT NULL,
  id INT UNSIGNED NOT NULL,
  name VARCHAR(255) NOT NULL,
  scope VARCHAR(255) NOT NULL DEFAULT '',
  PRIMARY KEY (account_id, id),
  UNIQUE KEY metric_names_name (account_id, name, scope)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Which metric ids each application has used: the per-application cardinality bound counts these.
CREATE TABLE IF NOT EXISTS application_metrics (
  account_id INT UNSIGNED NOT NULL,
  application_id INT UNSIGNED NOT NULL,
  metric_id INT UNSIGNED NOT NULL,
  PRIMARY KEY (account_id, application_id, metric_id)
) ENGINE=InnoDB;

-- Per-account agents: (application, host, pid, language) -> id. The application-wide pseudo-agent
-- has host '', pid 0, language ''.
CREATE TABLE IF NOT EXISTS agents (
  account_id INT UNSIGNED NOT NULL,
  id INT UNSIGNED NOT NULL,
  application_id INT UNSIGNED NOT NULL,
  host VARCHAR(255) NOT NULL,
  pid INT UNSIGNED NOT NULL,
  language VARCHAR(32) NOT NULL,
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (account_id, id),
  UNIQUE KEY agents_identity (account_id, application_id, host, pid, language)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS template_minute_v1 (
  metric_id INT UNSIGNED NOT NULL,
  agent_id INT UNSIGNED NOT NULL,
  period INT UNSIGNED NOT NULL,
  call_count BIGINT UNSIGNED NOT NULL,
  total_time DOUBLE NOT NULL,
  exclusive_time DOUBLE NOT NULL,
  min_time DOUBLE NOT NULL,
  max_time DOUBLE NOT NULL,
  sum_of_squares DOUBLE NOT NULL,
  PRIMARY KEY (metric_id, agent_id, period)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS template_hour_v1 LIKE template_minute_v1;

CREATE TABLE IF NOT EXISTS template_day_v1 LIKE template_minute_v1;
