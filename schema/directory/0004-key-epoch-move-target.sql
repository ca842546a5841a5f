-- Operations (#17): a stamp bumped by every key rotation, so each process's key caches notice a
-- rotated (revoked) key within seconds (lib/directory/key-epoch.ts); and what an account move found
-- on its target before it began, so a rollback leaves the target as it was (lib/ops/move-cleanup.ts).
CREATE TABLE IF NOT EXISTS key_epoch (
  id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
  version BIGINT UNSIGNED NOT NULL
) ENGINE=InnoDB;

INSERT IGNORE INTO key_epoch (id, version) VALUES (1, 0);

-- JSON {"fence": null | {"state": ..., "moveId": ...}, "counters": true|false}; NULL for older moves.
ALTER TABLE account_moves ADD COLUMN target_before TEXT NULL;
