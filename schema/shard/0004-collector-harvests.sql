-- Collector (New Relic agent protocol): one row per agent run, the latest harvest it sent, so a
-- merged resend (same start time, more data) is written as a delta. See "Retries and deduplication"
-- in schema/README.md. Adds a table only: template versions are unchanged.
CREATE TABLE IF NOT EXISTS harvest_records (
  account_id INT UNSIGNED NOT NULL,
  -- the run's random nonce (16 hex characters, from its signed run id)
  run_nonce CHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  -- optimistic concurrency: every update checks and bumps it
  version INT UNSIGNED NOT NULL,
  -- harvest start as the agent sent it, Unix seconds
  harvest_start DOUBLE NOT NULL,
  -- the record (start, end, seen digests, cumulative stats, pending piece) as deflated JSON
  state MEDIUMBLOB NOT NULL,
  updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (account_id, run_nonce),
  KEY harvest_records_updated (updated_at)
) ENGINE=InnoDB;
