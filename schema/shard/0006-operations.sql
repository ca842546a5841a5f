-- Operations: the per-account write fence of online account moves (lib/ops/account-fence.ts).
-- Adds a table only: template versions are unchanged. No row = 'open'. The ShardWriter reads the rows
-- of a batch's accounts with LOCK IN SHARE MODE as the first statement of every write transaction, so
-- a move's UPDATE of a row waits for every transaction in flight, and every later transaction sees it.
CREATE TABLE IF NOT EXISTS account_fences (
  account_id INT UNSIGNED NOT NULL PRIMARY KEY,
  -- open: the account lives here; fenced: a move is switching it away (writes refused while the lease
  -- runs); away: the account lives on another shard (writes refused, the writer re-reads the directory)
  state ENUM('open', 'fenced', 'away') NOT NULL DEFAULT 'open',
  -- the move (directory account_moves.id) that set the state, NULL for 'open' rows never moved
  move_id INT UNSIGNED NULL,
  -- end of a 'fenced' lease (server clock): past it the fence no longer holds, so a mover that died
  -- mid-switch never blocks the account for long; the mover extends it while it works
  fenced_until TIMESTAMP(3) NULL,
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3)
) ENGINE=InnoDB;
