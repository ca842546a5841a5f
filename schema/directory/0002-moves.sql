-- Operations: the journal of account moves between shards (lib/ops/move-journal.ts). One row per move;
-- `active` is 1 while the move is unfinished and NULL after (NULLs never collide in a unique key), so an
-- account has at most one unfinished move. A crashed mover leaves its row as it was: the state says
-- whether the move can be resumed, rolled back, or both.
CREATE TABLE IF NOT EXISTS account_moves (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  account_id INT UNSIGNED NOT NULL,
  from_shard INT UNSIGNED NOT NULL,
  to_shard INT UNSIGNED NOT NULL,
  -- copying: closed tables copied in the background; syncing: every table compared and repaired under
  -- the source's rollup lock; switching: writes fenced, open period copied, both sides compared;
  -- switched: the directory points at the new shard, old tables not yet dropped; done; rolled_back
  state ENUM('copying', 'syncing', 'switching', 'switched', 'done', 'rolled_back') NOT NULL,
  active TINYINT UNSIGNED NULL DEFAULT 1,
  tables_total INT UNSIGNED NOT NULL DEFAULT 0,
  tables_done INT UNSIGNED NOT NULL DEFAULT 0,
  rows_copied BIGINT UNSIGNED NOT NULL DEFAULT 0,
  -- milliseconds the account's writes were fenced during the switch
  fenced_ms INT UNSIGNED NULL,
  -- what was compared before the switch (JSON: tables, rows, per-account tables)
  verified TEXT NULL,
  -- the last error of an interrupted or failed attempt
  error TEXT NULL,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  finished_at TIMESTAMP(3) NULL,
  UNIQUE KEY account_moves_active (account_id, active),
  KEY account_moves_account (account_id, id)
) ENGINE=InnoDB;
