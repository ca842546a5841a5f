-- Rollup state of each (account, UTC day): hour tables hold a month, so the registry's per-table
-- rollup_state cannot say which days of it are rolled into the day table. Written only by rollup
-- workers (holding the shard's rollup lock): an hour rolled into its hour table sets its day 'pending'
-- (or 'dirty' when the day was 'done'), in the same transaction; the day rollup sets it 'done'.
CREATE TABLE IF NOT EXISTS rollup_days (
  account_id INT UNSIGNED NOT NULL,
  -- day start, Unix seconds UTC (a multiple of 86400)
  day INT UNSIGNED NOT NULL,
  state ENUM('pending', 'dirty', 'done') NOT NULL,
  -- how many times the day was rolled (1 + re-rolls after late data)
  rolls INT UNSIGNED NOT NULL DEFAULT 0,
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  rolled_at TIMESTAMP(3) NULL,
  PRIMARY KEY (account_id, day),
  KEY rollup_days_state (state, account_id, day)
) ENGINE=InnoDB;
