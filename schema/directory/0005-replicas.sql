-- Read replicas of shard servers (lib/replica/replica-directory.ts): `apm shards replicas add|remove|list`
-- and the admin API. A replica is a MySQL/MariaDB server replicating its shard's primary asynchronously
-- (GTID); the dashboard reads from it while its heartbeat lag allows (docs/operations.md, "Read replicas").
CREATE TABLE IF NOT EXISTS shard_replicas (
  shard_id INT UNSIGNED NOT NULL,
  -- host:port, normalised like shards.address
  address VARCHAR(255) NOT NULL,
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (shard_id, address),
  UNIQUE KEY shard_replicas_address (address)
) ENGINE=InnoDB;
